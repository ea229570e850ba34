"""Model references: ``"houses"`` (latest), ``"houses/3"`` (a version), ``"houses@champion"`` (an alias)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from driftloop.errors import InvalidInput
from driftloop.names import validate_name

__all__ = ["ModelReference", "parse_reference"]

_PATTERN = re.compile(r"^(?:models:/)?(?P<name>[^@/]+)(?:@(?P<alias>[^@/]+)|/(?P<version>[^@/]+))?$")


@dataclass(frozen=True, slots=True)
class ModelReference:
    """A parsed reference: exactly one of ``alias`` and ``version`` is set, or neither for the latest version."""

    name: str
    version: int | None = None
    alias: str | None = None

    def __str__(self) -> str:
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name if self.version is None else f"{self.name}/{self.version}"


def parse_reference(reference: str) -> ModelReference:
    """Parse a model reference; MLflow's ``models:/houses/3`` and ``models:/houses@champion`` are accepted too.

    >>> parse_reference("houses@champion")
    ModelReference(name='houses', version=None, alias='champion')
    >>> parse_reference("models:/houses/3").version
    3
    >>> parse_reference("houses/three")
    Traceback (most recent call last):
    ...
    driftloop.errors.InvalidInput: The model reference 'houses/three' has a version that is not a positive ...
    """
    if not isinstance(reference, str):
        raise InvalidInput(f"A model reference is a string like 'houses@champion'; got {type(reference).__name__}.")
    match = _PATTERN.match(reference.strip())
    if match is None:
        raise InvalidInput(
            f"The model reference {reference!r} is not one of NAME, NAME/VERSION or NAME@ALIAS "
            "(e.g. 'houses', 'houses/3', 'houses@champion')."
        )
    name = validate_name("model", match["name"])
    if match["version"] is not None:
        text = match["version"]
        if not text.isdigit() or int(text) < 1:
            raise InvalidInput(
                f"The model reference {reference!r} has a version that is not a positive integer: {text!r}."
            )
        return ModelReference(name, version=int(text))
    if match["alias"] is not None:
        return ModelReference(name, alias=validate_name("alias", match["alias"]))
    return ModelReference(name)
