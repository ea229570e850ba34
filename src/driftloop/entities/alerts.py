"""Alerts: what a monitoring rule raised, who was told, and where each rule stands."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

__all__ = ["Alert", "AlertDelivery", "AlertObservation", "AlertState", "AlertStatus", "Severity"]

AlertStatus = Literal["open", "acknowledged", "resolved"]
Severity = Literal["info", "warning", "critical"]


@dataclass(frozen=True, slots=True)
class Alert:
    """One alert of a rule about a subject (a model name, ``"server"``…).

    While it is active (``open`` or ``acknowledged``) every further breaching window updates it:
    ``count`` grows, ``last_value`` and ``last_seen_at`` follow. Times are seconds since the epoch.
    ``notified_at`` is when its channels were last told (None: never), which the cooldown counts from.

    >>> alert = Alert(1, "drift", "houses", "warning", "open", 10.0, 70.0, count=2, last_value=0.6)
    >>> alert.active, alert.to_dict()["count"]
    (True, 2)
    """

    id: int
    rule: str
    subject: str
    severity: Severity
    status: AlertStatus
    opened_at: float
    last_seen_at: float
    count: int = 1
    last_value: float | None = None
    message: str = ""
    evidence: dict[str, Any] = field(default_factory=dict)
    resolved_at: float | None = None
    resolved_by: str | None = None
    acked_at: float | None = None
    acked_by: str | None = None
    notified_at: float | None = None

    @property
    def active(self) -> bool:
        """True while open or acknowledged: the condition has not been resolved."""
        return self.status != "resolved"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {
            "id": self.id,
            "rule": self.rule,
            "subject": self.subject,
            "severity": self.severity,
            "status": self.status,
            "opened_at": self.opened_at,
            "last_seen_at": self.last_seen_at,
            "count": self.count,
            "last_value": self.last_value,
            "message": self.message,
            "evidence": dict(self.evidence),
            "resolved_at": self.resolved_at,
            "resolved_by": self.resolved_by,
            "acked_at": self.acked_at,
            "acked_by": self.acked_by,
            "notified_at": self.notified_at,
        }


@dataclass(frozen=True, slots=True)
class AlertDelivery:
    """One attempt to tell ``channel`` about an alert; ``error`` (secrets redacted) when it failed.

    ``kind`` is what was told: ``opened``, ``repeated`` (still breaching after the cooldown) or ``resolved``.
    """

    id: int
    alert_id: int
    channel: str
    kind: str
    attempt: int
    at: float
    ok: bool
    error: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {
            "id": self.id,
            "alert_id": self.alert_id,
            "channel": self.channel,
            "kind": self.kind,
            "attempt": self.attempt,
            "at": self.at,
            "ok": self.ok,
            "error": self.error,
        }


@dataclass(frozen=True, slots=True)
class AlertState:
    """How many windows in a row a rule has found its subject breaching (or back within bounds)."""

    rule: str
    subject: str
    breaches: int
    recoveries: int
    last_value: float | None
    updated_at: float


@dataclass(frozen=True, slots=True)
class AlertObservation:
    """What one window did to a (rule, subject).

    ``change`` is ``"opened"``, ``"updated"`` (an active alert breached again), ``"resolved"``,
    ``"pending"`` (breaching, but fewer windows in a row than the rule needs) or ``"ok"``.
    ``notify`` names what the channels must be told now (``"opened"``, ``"repeated"``, ``"resolved"``)
    or is None; the store claimed that notification atomically, so exactly one process sends it.
    """

    state: AlertState
    change: str
    alert: Alert | None = None
    notify: str | None = None
