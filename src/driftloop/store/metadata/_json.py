"""JSON text for the store's free-form columns (evidence, outputs, costs): valid JSON on every backend."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

__all__ = ["json_text"]


def json_text(value: Mapping[str, Any]) -> str:
    """``value`` as JSON text, NaN and infinities as null (JSON has no such numbers), keys sorted.

    >>> json_text({"b": float("nan"), "a": [1.0, float("inf")]})
    '{"a": [1.0, null], "b": null}'
    """
    return json.dumps(_finite(dict(value)), default=str, sort_keys=True, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(key): _finite(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(item) for item in value]
    return value
