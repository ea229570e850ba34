"""The step base class: declared hyperparameters, their canonical form, and the fit/apply protocol."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import polars as pl

from driftloop.errors import InvalidInput

__all__ = ["Scalar", "Statistics", "Step", "canonical_json", "check_choice", "check_positive_int", "check_threshold"]

Scalar = str | int | float | bool
"""A value a transform can declare, such as the constant an imputation fills in."""

Statistics = dict[str, Any]
"""What a step learns at fit, as JSON-able data (one mapping per step)."""


def canonical_json(value: object) -> str:
    """JSON with sorted keys and no spaces, the same bytes for the same data in every process."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


@dataclass(frozen=True, eq=False, repr=False)
class Step:
    """One declared step of a :class:`~driftloop.data.transforms.Transform`.

    Subclasses are frozen dataclasses whose fields are the step's hyperparameters; column lists are kept as
    tuples. Two steps are equal, and hash alike, when their canonical form (:meth:`to_dict`) is the same.

    The transform drives two internal methods: ``_fit`` learns the step's statistics from a polars frame,
    validating the step against that frame's schema, and ``_apply`` runs the step on one batch with them.
    """

    kind: ClassVar[str] = "step"

    def to_dict(self) -> dict[str, Any]:
        """``{"kind": ..., **hyperparameters}``, leaving out those left at their defaults.

        Leaving defaults out keeps hashes stable when a later version adds a hyperparameter.
        """
        declared: dict[str, Any] = {"kind": self.kind}
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.default is not dataclasses.MISSING and value == field.default:
                continue
            if isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, dict):
                value = dict(value)
            declared[field.name] = value
        return declared

    def _fit(self, frame: pl.DataFrame) -> Statistics:
        """Learn this step's statistics from ``frame`` (the output of the steps before it)."""
        return {}

    def _apply(self, frame: pl.DataFrame, statistics: Mapping[str, Any]) -> pl.DataFrame:
        """Run this step on one batch with the statistics ``_fit`` learned."""
        raise NotImplementedError

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Step):
            return NotImplemented
        return type(self) is type(other) and canonical_json(self.to_dict()) == canonical_json(other.to_dict())

    def __hash__(self) -> int:
        return hash(canonical_json(self.to_dict()))

    def __repr__(self) -> str:
        arguments = ", ".join(f"{key}={value!r}" for key, value in self.to_dict().items() if key != "kind")
        return f"{type(self).__name__}({arguments})"

    def _set(self, name: str, value: object) -> None:
        """Normalise a field in ``__post_init__`` (the dataclass is frozen)."""
        object.__setattr__(self, name, value)


def check_choice(kind: str, parameter: str, value: object, choices: Collection[str]) -> str:
    """Return ``value`` when it is one of ``choices``, else raise :class:`InvalidInput`."""
    if not isinstance(value, str) or value not in choices:
        allowed = ", ".join(repr(choice) for choice in choices)
        raise InvalidInput(f"The {parameter!r} of {kind} must be one of {allowed}; got {value!r}.")
    return value


def check_positive_int(kind: str, parameter: str, value: object) -> int:
    """Return ``value`` when it is a whole number of at least 1, else raise :class:`InvalidInput`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"The {parameter!r} of {kind} must be a whole number of at least 1; got {value!r}.")
    return value


def check_threshold(kind: str, value: object) -> float | None:
    """Return ``value`` as a float when it is a positive finite number (or None), else raise :class:`InvalidInput`."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise InvalidInput(f"The 'threshold' of {kind} must be a positive number; got {value!r}.")
    return float(value)
