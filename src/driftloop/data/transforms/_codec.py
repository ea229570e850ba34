"""Declared steps to and from plain data and YAML, and the hashes over their canonical JSON."""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping, Sequence
from typing import Any

import yaml

from driftloop.data.transforms._cleaning import DropDuplicates, DropMissing, Outliers
from driftloop.data.transforms._features import Encode, Scale
from driftloop.data.transforms._impute import Impute
from driftloop.data.transforms._shape import Cast, Derive, Filter, Rename, Select
from driftloop.data.transforms._step import Step, canonical_json
from driftloop.errors import InvalidInput

__all__ = ["STEP_KINDS", "digest", "load_yaml", "step_from_dict", "step_label", "steps_from_data"]

STEP_KINDS: dict[str, type[Step]] = {
    kind.kind: kind
    for kind in (Select, Rename, Cast, Filter, Derive, DropMissing, Impute, DropDuplicates, Outliers, Encode, Scale)
}
"""Each step class by the ``kind`` it is declared with."""


def digest(value: object) -> str:
    """The SHA-256 (hex) of ``value``'s canonical JSON."""
    return hashlib.sha256(canonical_json(value).encode("utf-8")).hexdigest()


def step_label(index: int, count: int, kind: str | None = None) -> str:
    """How messages name a step: ``Step 2 of 5 (impute)``, counting from 1."""
    return f"Step {index + 1} of {count}" + (f" ({kind})" if kind else "")


def step_from_dict(declared: Mapping[str, Any]) -> Step:
    """The step a mapping ``{"kind": ..., **hyperparameters}`` declares."""
    kind = declared.get("kind")
    if not isinstance(kind, str) or kind not in STEP_KINDS:
        known = ", ".join(sorted(STEP_KINDS))
        what = "has no 'kind'" if kind is None else f"has the unknown kind {kind!r}"
        raise InvalidInput(f"The step {what}; the kinds are {known}.")
    step_class = STEP_KINDS[kind]
    fields = dataclasses.fields(step_class)
    names = [field.name for field in fields]
    unknown = sorted(set(declared) - {"kind", *names})
    if unknown:
        raise InvalidInput(f"{kind} has no parameter {unknown[0]!r}; its parameters are {', '.join(names)}.")
    for field in fields:
        required = field.default is dataclasses.MISSING and field.default_factory is dataclasses.MISSING
        if required and field.name not in declared:
            raise InvalidInput(f"{kind} needs the parameter {field.name!r}.")
    return step_class(**{key: value for key, value in declared.items() if key != "kind"})


def steps_from_data(data: object) -> list[Step]:
    """Steps from a list of mappings, or a mapping whose only key is ``steps`` holding such a list."""
    if isinstance(data, Mapping):
        if set(data) != {"steps"}:
            raise InvalidInput(
                f"A transform is a list of steps, or a mapping with just the key 'steps'; got the keys {sorted(data)}."
            )
        data = data["steps"]
    if data is None:
        return []
    if isinstance(data, str | bytes) or not isinstance(data, Sequence):
        raise InvalidInput(f"A transform is a list of steps; got {type(data).__name__}.")
    steps: list[Step] = []
    for index, declared in enumerate(data):
        if isinstance(declared, Step):
            steps.append(declared)
            continue
        if not isinstance(declared, Mapping):
            raise InvalidInput(
                f"{step_label(index, len(data))} must be a mapping with a 'kind'; got {type(declared).__name__} "
                f"{declared!r}."
            )
        try:
            steps.append(step_from_dict(declared))
        except InvalidInput as error:
            kind = declared.get("kind")
            kind = kind if isinstance(kind, str) and kind in STEP_KINDS else None
            raise InvalidInput(f"{step_label(index, len(data), kind)}: {error.message}") from None
    return steps


def load_yaml(text: str) -> object:
    """Parse YAML ``text`` safely; :class:`InvalidInput` with the line and column where it does not parse."""
    if not isinstance(text, str):
        raise InvalidInput(f"The transform YAML must be text; got {type(text).__name__}.")
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        place = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(error, "problem", None) or str(error)
        raise InvalidInput(f"The transform YAML does not parse{place}: {problem}.") from None
