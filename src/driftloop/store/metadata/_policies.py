"""The loop's policies kept in the workspace: set (created or replaced), read, deleted; each change an event.

The repository stores a policy's mapping as it is given; :mod:`driftloop.loop` checks it before (a policy that does
not parse, or watches an unregistered model, is never stored).
"""

from __future__ import annotations

import json
import time
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa

from driftloop.entities import StoredPolicy
from driftloop.errors import NotFound
from driftloop.names import validate_name
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._events import append_event
from driftloop.store.metadata._schema import policies

__all__ = ["PolicyRepository"]


class PolicyRepository:
    """Sets, reads and deletes stored policies, one row a policy name."""

    def __init__(self, database: Database) -> None:
        self._db = database

    def set(self, name: str, document: Mapping[str, Any], *, actor: str) -> StoredPolicy:
        """Create the policy ``name`` or replace its document; the event keeps the new document and the revision."""
        validate_name("policy", name)
        text = json.dumps(dict(document), sort_keys=True)
        now = time.time()
        with self._db.write() as conn:
            row = conn.execute(sa.select(policies.c.revision).where(policies.c.name == name)).first()
            revision = 1 if row is None else row.revision + 1
            values = {"document": text, "revision": revision, "updated_at": now, "updated_by": actor}
            if row is None:
                conn.execute(policies.insert().values(name=name, **values))
            else:
                conn.execute(policies.update().where(policies.c.name == name).values(**values))
            append_event(
                conn,
                actor=actor,
                action="policy.set",
                object_type="policy",
                object_id=name,
                details={"revision": revision, "document": json.loads(text)},
                at=now,
            )
        return StoredPolicy(name, json.loads(text), revision, now, actor)

    def get(self, name: str) -> StoredPolicy:
        with self._db.read() as conn:
            row = conn.execute(sa.select(policies).where(policies.c.name == name)).first()
        if row is None:
            raise NotFound(f"No policy {name!r} is stored in this workspace.")
        return _policy(row._mapping)

    def list(self) -> list[StoredPolicy]:
        """Every stored policy, by name."""
        with self._db.read() as conn:
            rows = conn.execute(sa.select(policies).order_by(policies.c.name)).all()
        return [_policy(row._mapping) for row in rows]

    def delete(self, name: str, *, actor: str) -> StoredPolicy:
        """Remove the policy; the ``policy.delete`` event keeps its last document."""
        with self._db.write() as conn:
            row = conn.execute(sa.select(policies).where(policies.c.name == name)).first()
            if row is None:
                raise NotFound(f"No policy {name!r} is stored in this workspace.")
            stored = _policy(row._mapping)
            conn.execute(policies.delete().where(policies.c.name == name))
            append_event(
                conn,
                actor=actor,
                action="policy.delete",
                object_type="policy",
                object_id=name,
                details={"revision": stored.revision, "document": stored.document},
            )
        return stored


def _policy(row: sa.RowMapping) -> StoredPolicy:
    return StoredPolicy(row["name"], json.loads(row["document"]), row["revision"], row["updated_at"], row["updated_by"])
