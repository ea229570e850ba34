"""The checks a run's values pass before they are written, shared by :class:`ActiveRun` and the tracking
service's writes by run id (a client elsewhere, through the workspace server)."""

from __future__ import annotations

import math
import numbers
from typing import Any

from driftloop.entities import RunStatus
from driftloop.errors import InvalidInput

__all__ = ["MAX_STEP", "MIN_STEP", "ending_status", "metric_step", "metric_timestamp", "metric_value"]

MIN_STEP, MAX_STEP = -(2**63), 2**63 - 1
"""A metric's step fits in 64 bits."""


def metric_value(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidInput(f"The value of metric {key!r} must be a real number; got {type(value).__name__} {value!r}.")
    return float(value)


def metric_step(key: str, step: Any) -> int:
    if isinstance(step, bool) or not isinstance(step, numbers.Integral) or not MIN_STEP <= int(step) <= MAX_STEP:
        raise InvalidInput(
            f"The step of metric {key!r} must be an integer that fits in 64 bits; got {type(step).__name__} {step!r}."
        )
    return int(step)


def metric_timestamp(key: str, timestamp: Any) -> float:
    if isinstance(timestamp, bool) or not isinstance(timestamp, numbers.Real) or not math.isfinite(timestamp):
        raise InvalidInput(
            f"The timestamp of metric {key!r} must be a finite number of seconds since the epoch; "
            f"got {type(timestamp).__name__} {timestamp!r}."
        )
    return float(timestamp)


def ending_status(status: RunStatus | str) -> RunStatus:
    try:
        parsed = RunStatus(status)
    except ValueError:
        parsed = None
    if parsed is None or not parsed.is_terminal:
        raise InvalidInput(f"A run ends as finished, failed or killed; got {status!r}.")
    return parsed
