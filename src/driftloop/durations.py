"""Durations as people write them in options and policy files: ``90`` (seconds), ``30m``, ``2h``, ``1d``."""

from __future__ import annotations

import math
import re
from typing import Any, Final

from driftloop.errors import InvalidInput

__all__ = ["parse_duration"]

_DURATION: Final = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_SECONDS: Final = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}


def parse_duration(value: Any, what: str) -> float:
    """Seconds from a number or a text such as ``90``, ``30m``, ``2h``, ``1d``.

    >>> parse_duration("2h", "a cooldown"), parse_duration(45, "a cooldown")
    (7200.0, 45.0)
    """
    if isinstance(value, int | float) and not isinstance(value, bool):
        seconds = float(value)
    elif isinstance(value, str) and (match := _DURATION.match(value)):
        seconds = float(match[1]) * _SECONDS[match[2]]
    else:
        raise InvalidInput(f"{what[0].upper()}{what[1:]} must be seconds or a duration such as 30m; got {value!r}.")
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidInput(f"{what[0].upper()}{what[1:]} must be a duration >= 0; got {value!r}.")
    return seconds
