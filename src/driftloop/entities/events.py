"""The audit event: who did what, when, to which object."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Event"]


@dataclass(frozen=True, slots=True)
class Event:
    """One line of the append-only event log.

    ``action`` is a dotted verb such as ``run.start`` or ``experiment.delete``; ``object_type`` and
    ``object_id`` name what it acted on; ``details`` holds the evidence (a status, counts, a reason).
    """

    id: int
    at: datetime
    actor: str
    action: str
    object_type: str
    object_id: str
    details: dict[str, Any] = field(default_factory=dict)
