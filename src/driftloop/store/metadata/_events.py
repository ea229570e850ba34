"""The append-only event log: every mutation records who did what, to which object, with details."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from driftloop.entities import Event
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._schema import events

__all__ = ["EventRepository", "append_event", "request_origin"]

request_origin: ContextVar[str | None] = ContextVar("driftloop_request_origin", default=None)
"""Where the request being served comes from (a client's address): a workspace server sets it for each request, and
every event written meanwhile records it in its details as ``from``, so the audit log says from where."""


def append_event(
    conn: Connection,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: str | int,
    details: Mapping[str, Any] | None = None,
    at: float | None = None,
) -> None:
    """Append one event inside the caller's write transaction, so it commits with the change it records."""
    recorded = dict(details or {})
    origin = request_origin.get()
    if origin is not None:
        recorded.setdefault("from", origin)
    conn.execute(
        events.insert().values(
            at=time.time() if at is None else at,
            actor=actor,
            action=action,
            object_type=object_type,
            object_id=str(object_id),
            details=json.dumps(recorded, default=str, sort_keys=True),
        )
    )


class EventRepository:
    """Reads the event log; writes happen only through :func:`append_event` inside other repositories."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def append(
        self,
        *,
        actor: str,
        action: str,
        object_type: str,
        object_id: str | int,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Record an event that is not part of another change (a garbage collection, a login…)."""
        with self._db.write() as conn:
            append_event(
                conn,
                actor=actor,
                action=action,
                object_type=object_type,
                object_id=object_id,
                details=details,
            )

    def list(
        self,
        *,
        object_type: str | None = None,
        object_id: str | int | None = None,
        action: str | None = None,
        actor: str | None = None,
        since: float | None = None,
        limit: int = 100,
    ) -> list[Event]:
        """Events matching every given criterion, newest first."""
        query = sa.select(events).order_by(events.c.id.desc()).limit(limit)
        if object_type is not None:
            query = query.where(events.c.object_type == object_type)
        if object_id is not None:
            query = query.where(events.c.object_id == str(object_id))
        if action is not None:
            query = query.where(events.c.action == action)
        if actor is not None:
            query = query.where(events.c.actor == actor)
        if since is not None:
            query = query.where(events.c.at >= since)
        with self._db.read() as conn:
            rows = conn.execute(query).all()
        return [
            Event(
                id=row.id,
                at=datetime.fromtimestamp(row.at, UTC),
                actor=row.actor,
                action=row.action,
                object_type=row.object_type,
                object_id=row.object_id,
                details=json.loads(row.details),
            )
            for row in rows
        ]
