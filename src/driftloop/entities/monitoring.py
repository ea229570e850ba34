"""Records of monitoring: what a monitor found in a window, or what a server process counted."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["MonitorKind", "MonitorRecord"]

MonitorKind = Literal["drift", "health"]
"""``drift``: a scheduled check of a served model's window (drift, quality, estimated performance).
``health``: one server process's request counters over an interval (answers by status, latency buckets)."""


@dataclass(frozen=True, slots=True)
class MonitorRecord:
    """One monitor output, kept so that every server process exports it and reports draw it over time.

    ``subject`` is a model name, or ``"server"`` for health records; ``source`` names who recorded it
    (the server process for health records, empty for a monitor's check). Times are seconds since the
    epoch; ``window_start``/``window_end`` bound the traffic it describes, when known.
    """

    id: int
    subject: str
    kind: MonitorKind
    source: str
    recorded_at: float
    window_start: float | None = None
    window_end: float | None = None
    outputs: dict[str, Any] = field(default_factory=dict)
