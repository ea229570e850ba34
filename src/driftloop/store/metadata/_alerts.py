"""Alerts: one active alert per (rule, subject), window state shared by processes, and every delivery.

:meth:`AlertRepository.observe` is the one place where a window's verdict changes anything. It runs in
one write transaction with the (rule, subject) state row locked, so processes that evaluate the same
rules at once agree on the count of windows in a row, never open two alerts for one condition, and
claim each notification exactly once (``notified_at`` is set in the same transaction).
"""

from __future__ import annotations

import builtins
import json
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from driftloop.entities import Alert, AlertDelivery, AlertObservation, AlertState, AlertStatus, Severity
from driftloop.errors import InvalidInput, InvalidState, NotFound
from driftloop.names import validate_actor, validate_name
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._events import append_event
from driftloop.store.metadata._schema import alert_deliveries, alert_states, alerts

__all__ = ["AlertRepository"]

STATUSES: tuple[AlertStatus, ...] = ("open", "acknowledged", "resolved")
SEVERITIES: tuple[Severity, ...] = ("info", "warning", "critical")
_ACTIVE = ("open", "acknowledged")
_SYSTEM = "driftloop"


class AlertRepository:
    """Alerts, their window state and deliveries; ``clock`` (seconds since the epoch) is for tests."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self._clock = clock

    def observe(
        self,
        rule: str,
        subject: str,
        *,
        value: float | None,
        breached: bool,
        severity: Severity = "warning",
        for_windows: int = 1,
        resolve_windows: int = 1,
        cooldown: float = 0.0,
        message: str = "",
        evidence: Mapping[str, Any] | None = None,
        at: float | None = None,
    ) -> AlertObservation:
        """Record one window's verdict for ``rule`` on ``subject`` and apply what follows from it.

        A breach after ``for_windows`` breaching windows in a row opens an alert (notify
        ``"opened"``); while one is active, each breach updates it, and an open (not acknowledged)
        one is told again (``"repeated"``) once ``cooldown`` seconds passed since the last
        notification. ``resolve_windows`` windows in a row within bounds resolve it (``"resolved"``
        is told when the channels had heard of it).
        """
        rule = validate_name("alert rule", rule)
        subject = validate_name("alert subject", subject)
        if severity not in SEVERITIES:
            raise InvalidInput(f"The severity of alert rule {rule!r} must be one of {SEVERITIES}; got {severity!r}.")
        for what, count in (("for_windows", for_windows), ("resolve_windows", resolve_windows)):
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise InvalidInput(f"The {what} of alert rule {rule!r} must be an integer >= 1; got {count!r}.")
        if not math.isfinite(cooldown) or cooldown < 0:
            raise InvalidInput(f"The cooldown of alert rule {rule!r} must be seconds >= 0; got {cooldown!r}.")
        stored_value = None if value is None or not math.isfinite(value) else float(value)
        details = json.dumps(dict(evidence or {}), default=str, sort_keys=True)
        window = _Window(rule, subject, stored_value, breached, severity, for_windows, resolve_windows, cooldown)
        try:
            with self._db.write() as conn:
                return self._observe(conn, window, message, details, at)
        except SqlIntegrityError:
            # Two first observations on PostgreSQL both find no state row and both insert; the
            # loser's second attempt locks the winner's row (as leases do).
            pass
        with self._db.write() as conn:
            return self._observe(conn, window, message, details, at)

    def get(self, alert_id: int) -> Alert:
        """The alert ``alert_id``; :class:`NotFound` when there is none."""
        with self._db.read() as conn:
            return _read(conn, _checked_id(alert_id))

    def active(self, rule: str, subject: str) -> Alert | None:
        """The open or acknowledged alert of ``rule`` on ``subject``, if any."""
        with self._db.read() as conn:
            row = _active_row(conn, rule, subject, lock=False)
        return None if row is None else _alert(row)

    def list(
        self,
        *,
        status: AlertStatus | None = None,
        rule: str | None = None,
        subject: str | None = None,
        limit: int = 100,
    ) -> builtins.list[Alert]:
        """Alerts matching every given criterion, newest first."""
        if status is not None and status not in STATUSES:
            raise InvalidInput(f"An alert status is one of {', '.join(STATUSES)}; got {status!r}.")
        query = sa.select(alerts).order_by(alerts.c.id.desc()).limit(limit)
        if status is not None:
            query = query.where(alerts.c.status == status)
        if rule is not None:
            query = query.where(alerts.c.rule == rule)
        if subject is not None:
            query = query.where(alerts.c.subject == subject)
        with self._db.read() as conn:
            return [_alert(row) for row in conn.execute(query)]

    def acknowledge(self, alert_id: int, *, by: str) -> Alert:
        """Mark an open alert as seen by ``by``: no more notifications until it resolves.

        Acknowledging an acknowledged alert again is allowed (the latest name wins); a resolved one
        is :class:`InvalidState`.
        """
        alert_id = _checked_id(alert_id)
        by = validate_actor(by)
        with self._db.write() as conn:
            current = _read(conn, alert_id, lock=True)
            if current.status == "resolved":
                raise InvalidState(f"Alert {alert_id} is resolved; only an open alert can be acknowledged.")
            now = self._clock()
            conn.execute(
                alerts.update().where(alerts.c.id == alert_id).values(status="acknowledged", acked_at=now, acked_by=by)
            )
            append_event(conn, actor=by, action="alert.ack", object_type="alert", object_id=alert_id, at=now)
            return _read(conn, alert_id)

    def resolve(self, alert_id: int, *, by: str) -> Alert:
        """Resolve an active alert by hand; its rule must then breach ``for_windows`` times again to re-fire.

        A resolved alert is :class:`InvalidState`.
        """
        alert_id = _checked_id(alert_id)
        by = validate_actor(by)
        with self._db.write() as conn:
            current = _read(conn, alert_id, lock=True)
            if current.status == "resolved":
                raise InvalidState(f"Alert {alert_id} is resolved already.")
            now = self._clock()
            _resolve(conn, alert_id, now, by)
            conn.execute(
                alert_states.update()
                .where(alert_states.c.rule == current.rule, alert_states.c.subject == current.subject)
                .values(breaches=0, recoveries=0, updated_at=now)
            )
            return _read(conn, alert_id)

    def record_delivery(
        self, alert_id: int, channel: str, *, kind: str, attempt: int, ok: bool, error: str | None = None
    ) -> AlertDelivery:
        """Record one attempt to tell ``channel`` about an alert (redact secrets from ``error`` first)."""
        alert_id = _checked_id(alert_id)
        channel = validate_name("alert channel", channel)
        with self._db.write() as conn:
            _read(conn, alert_id)
            at = self._clock()
            new_id = conn.execute(
                alert_deliveries.insert().values(
                    alert_id=alert_id, channel=channel, kind=kind, attempt=attempt, at=at, ok=ok, error=error
                )
            ).inserted_primary_key[0]  # type: ignore[index]
        return AlertDelivery(int(new_id), alert_id, channel, kind, attempt, at, ok, error)

    def deliveries(self, alert_id: int) -> builtins.list[AlertDelivery]:
        """Every delivery attempt for the alert, oldest first; :class:`NotFound` for an unknown alert."""
        alert_id = _checked_id(alert_id)
        with self._db.read() as conn:
            _read(conn, alert_id)
            rows = conn.execute(
                sa.select(alert_deliveries)
                .where(alert_deliveries.c.alert_id == alert_id)
                .order_by(alert_deliveries.c.id)
            )
            return [
                AlertDelivery(
                    int(r.id), int(r.alert_id), r.channel, r.kind, int(r.attempt), float(r.at), bool(r.ok), r.error
                )
                for r in rows
            ]

    def state(self, rule: str, subject: str) -> AlertState | None:
        """Where ``rule`` stands on ``subject`` (None before its first window)."""
        with self._db.read() as conn:
            row = conn.execute(
                sa.select(alert_states).where(alert_states.c.rule == rule, alert_states.c.subject == subject)
            ).first()
        return None if row is None else _state(row)

    # -- internals ---------------------------------------------------------------------------------

    def _observe(
        self, conn: Connection, window: _Window, message: str, evidence: str, at: float | None
    ) -> AlertObservation:
        key = (alert_states.c.rule == window.rule, alert_states.c.subject == window.subject)
        row = conn.execute(sa.select(alert_states).where(*key).with_for_update()).first()
        now = self._clock() if at is None else float(at)
        breaches = 0 if row is None else int(row.breaches)
        recoveries = 0 if row is None else int(row.recoveries)
        breaches, recoveries = (breaches + 1, 0) if window.breached else (0, recoveries + 1)
        values = {"breaches": breaches, "recoveries": recoveries, "last_value": window.value, "updated_at": now}
        if row is None:
            conn.execute(alert_states.insert().values(rule=window.rule, subject=window.subject, **values))
        else:
            conn.execute(alert_states.update().where(*key).values(**values))
        state = AlertState(window.rule, window.subject, breaches, recoveries, window.value, now)
        current = _active_row(conn, window.rule, window.subject, lock=True)
        change, notify, alert_id = "ok", None, None if current is None else int(current.id)
        if window.breached and current is not None:
            change = "updated"
            update: dict[str, Any] = {
                "count": int(current.count) + 1,
                "last_value": window.value,
                "last_seen_at": now,
                "severity": window.severity,
                "message": message,
                "evidence": evidence,
            }
            due = current.notified_at is None or now - float(current.notified_at) >= window.cooldown
            if current.status == "open" and due:
                notify = "repeated"
                update["notified_at"] = now
            conn.execute(alerts.update().where(alerts.c.id == alert_id).values(**update))
        elif window.breached and breaches >= window.for_windows:
            change, notify = "opened", "opened"
            alert_id = int(
                conn.execute(
                    alerts.insert().values(
                        rule=window.rule,
                        subject=window.subject,
                        severity=window.severity,
                        status="open",
                        opened_at=now,
                        last_seen_at=now,
                        notified_at=now,
                        count=breaches,
                        last_value=window.value,
                        message=message,
                        evidence=evidence,
                    )
                ).inserted_primary_key[0]  # type: ignore[index]
            )
            details = {"rule": window.rule, "subject": window.subject, "value": window.value}
            append_event(
                conn,
                actor=_SYSTEM,
                action="alert.open",
                object_type="alert",
                object_id=alert_id,
                details=details,
                at=now,
            )
        elif window.breached:
            change = "pending"
        elif current is not None and recoveries >= window.resolve_windows:
            change = "resolved"
            notify = None if current.notified_at is None else "resolved"
            _resolve(conn, int(current.id), now, _SYSTEM, last_value=window.value)
        alert = None if alert_id is None else _read(conn, alert_id)
        return AlertObservation(state=state, change=change, alert=alert, notify=notify)


@dataclass(frozen=True, slots=True)
class _Window:
    rule: str
    subject: str
    value: float | None
    breached: bool
    severity: Severity
    for_windows: int
    resolve_windows: int
    cooldown: float


def _resolve(conn: Connection, alert_id: int, now: float, by: str, *, last_value: float | None = None) -> None:
    values: dict[str, Any] = {"status": "resolved", "resolved_at": now, "resolved_by": by}
    if by == _SYSTEM:
        values["last_value"] = last_value
    conn.execute(alerts.update().where(alerts.c.id == alert_id).values(**values))
    append_event(conn, actor=by, action="alert.resolve", object_type="alert", object_id=alert_id, at=now)


def _checked_id(alert_id: object) -> int:
    if isinstance(alert_id, bool) or not isinstance(alert_id, int) or alert_id < 1:
        raise InvalidInput(f"An alert id is a positive integer; got {alert_id!r}.")
    return alert_id


def _active_row(conn: Connection, rule: str, subject: str, *, lock: bool) -> Any:
    query = sa.select(alerts).where(alerts.c.rule == rule, alerts.c.subject == subject, alerts.c.status.in_(_ACTIVE))
    return conn.execute(query.with_for_update() if lock else query).first()


def _read(conn: Connection, alert_id: int, *, lock: bool = False) -> Alert:
    query = sa.select(alerts).where(alerts.c.id == alert_id)
    row = conn.execute(query.with_for_update() if lock else query).first()
    if row is None:
        raise NotFound(f"No alert with id {alert_id}; `driftloop alerts list` shows the alerts.")
    return _alert(row)


def _alert(row: Any) -> Alert:
    return Alert(
        id=int(row.id),
        rule=row.rule,
        subject=row.subject,
        severity=cast(Severity, row.severity),
        status=cast(AlertStatus, row.status),
        opened_at=float(row.opened_at),
        last_seen_at=float(row.last_seen_at),
        count=int(row.count),
        last_value=None if row.last_value is None else float(row.last_value),
        message=row.message,
        evidence=json.loads(row.evidence),
        resolved_at=None if row.resolved_at is None else float(row.resolved_at),
        resolved_by=row.resolved_by,
        acked_at=None if row.acked_at is None else float(row.acked_at),
        acked_by=row.acked_by,
        notified_at=None if row.notified_at is None else float(row.notified_at),
    )


def _state(row: Any) -> AlertState:
    return AlertState(
        rule=row.rule,
        subject=row.subject,
        breaches=int(row.breaches),
        recoveries=int(row.recoveries),
        last_value=None if row.last_value is None else float(row.last_value),
        updated_at=float(row.updated_at),
    )
