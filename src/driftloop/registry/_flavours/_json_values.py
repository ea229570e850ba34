"""Turning model attributes (numpy scalars, label arrays, estimator parameters) into plain JSON values and back."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = ["NotJson", "changed_params", "labels_array", "labels_to_json", "to_json_value"]


class NotJson(ValueError):
    """A value has no faithful plain-JSON form."""


def to_json_value(value: object) -> Any:
    """Return ``value`` as plain JSON (dict with text keys, list, text, finite number, bool, None).

    Numpy scalars and arrays become Python numbers and lists; tuples become lists. Anything else, a dict
    with non-text keys, or a non-finite float raises :class:`NotJson`, so that nothing is silently changed
    on the way through JSON.

    >>> to_json_value({"a": (np.int64(1), np.float32(0.5)), "b": np.array(["x", "y"])})
    {'a': [1, 0.5], 'b': ['x', 'y']}
    """
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, np.generic):
        return to_json_value(value.item())
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise NotJson(f"the number {value} has no JSON form")
        return float(value)
    if isinstance(value, np.ndarray):
        return [to_json_value(item) for item in value.tolist()]
    if isinstance(value, list | tuple):
        return [to_json_value(item) for item in value]
    if isinstance(value, dict):
        result = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise NotJson(f"the key {key!r} is not text")
            result[key] = to_json_value(item)
        return result
    raise NotJson(f"a {type(value).__name__} has no JSON form")


def labels_to_json(labels: npt.ArrayLike) -> tuple[list[Any], str]:
    """Return class labels as a JSON list and the numpy dtype to rebuild them with."""
    array = np.asarray(labels)
    if array.ndim != 1:
        raise NotJson(f"class labels must be one-dimensional; got shape {array.shape}")
    return [to_json_value(label) for label in array.tolist()], array.dtype.str if array.dtype.kind != "O" else "O"


def labels_array(labels: Sequence[Any], dtype: str | None) -> npt.NDArray[Any]:
    """Rebuild the class labels array written by :func:`labels_to_json`."""
    if dtype is None:
        return np.asarray(labels)
    if dtype == "O":
        array = np.empty(len(labels), dtype=object)
        array[:] = list(labels)
        return array
    return np.asarray(labels, dtype=np.dtype(dtype))


def changed_params(estimator: Any) -> tuple[dict[str, Any], list[str]]:
    """Return the constructor parameters of ``estimator`` that differ from its defaults, as JSON.

    Only those are kept: they say what the user chose, and a default stays the default of the library
    version that loads the model. Parameters with no JSON form (a callable, a dict keyed by integers) are
    left out and named in the second value.
    """
    defaults = type(estimator)().get_params(deep=False)
    kept: dict[str, Any] = {}
    dropped: list[str] = []
    for name, value in estimator.get_params(deep=False).items():
        if name in defaults and _same(value, defaults[name]):
            continue
        try:
            kept[name] = to_json_value(value)
        except NotJson:
            dropped.append(name)
    return kept, dropped


def _same(first: object, second: object) -> bool:
    if isinstance(first, float) and isinstance(second, float) and math.isnan(first) and math.isnan(second):
        return True
    try:
        return bool(first == second) and type(first) is type(second)
    except (TypeError, ValueError):
        return False
