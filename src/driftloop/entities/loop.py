"""Records of the loop: the actions its policies take, and the windows of data it quarantines."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["ACTION_STATES", "FINISHED_STATES", "ActionState", "LoopAction", "Quarantine", "StoredPolicy"]

ActionState = Literal[
    "started", "trained", "gated", "rolling_out", "promoted", "rejected", "failed", "remedied", "requested", "done"
]
"""Where an action stands: ``started`` (triggered, nothing built yet), ``trained`` (a challenger is registered),
``gated`` (it passed its gates, not rolled out yet), ``rolling_out`` (serving as the challenger, a canary or a
shadow, until enough of its live predictions are labelled); finished: ``promoted``, ``rejected`` (it failed its
gates, or did worse live than the champion), ``failed`` (an error; the champion kept serving), ``remedied`` (a
data remedy: the window was quarantined), ``requested`` (active learning: predictions queued for labels) or
``done`` (a scheduled job: an ingest, a training, a check)."""
ACTION_STATES: tuple[str, ...] = (
    "started",
    "trained",
    "gated",
    "rolling_out",
    "promoted",
    "rejected",
    "failed",
    "remedied",
    "requested",
    "done",
)
FINISHED_STATES: frozenset[str] = frozenset({"promoted", "rejected", "failed", "remedied", "requested", "done"})


@dataclass(frozen=True, slots=True)
class StoredPolicy:
    """A policy kept in the workspace: its mapping as a policy file holds it, set ``revision`` times, last by
    ``updated_by`` at ``updated_at`` (seconds since the epoch)."""

    name: str
    document: dict[str, Any]
    revision: int
    updated_at: float
    updated_by: str


@dataclass(frozen=True, slots=True)
class LoopAction:
    """One action of a policy on a model, from its trigger to its end, with its evidence and its cost.

    ``evidence`` holds what triggered it (drift scores, metrics, windows) and, as it goes, the dataset version
    it trained on and the gate report; ``cost`` the wall time, CPU time and peak memory of each step. Times are
    seconds since the epoch, as the controller's clock gives them.
    """

    id: int
    policy: str
    model: str
    trigger: str
    action: str
    state: ActionState
    started_at: float
    updated_at: float
    champion_version: int | None = None
    challenger_version: int | None = None
    finished_at: float | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    cost: dict[str, Any] = field(default_factory=dict)
    error: str | None = None

    @property
    def finished(self) -> bool:
        return self.state in FINISHED_STATES


@dataclass(frozen=True, slots=True)
class Quarantine:
    """A window of a model's traffic (``window_start`` to ``window_end``) left out of every retrain window."""

    id: int
    model: str
    window_start: float
    window_end: float
    reason: str
    created_at: float
    action_id: int | None = None
