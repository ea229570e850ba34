"""Keys the workspace generates once and every process on the same store shares."""

from __future__ import annotations

import secrets
import time

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from driftloop.store.metadata._database import Database
from driftloop.store.metadata._schema import workspace_keys

__all__ = ["KeyRepository"]


class KeyRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def get_or_create(self, name: str, *, size: int = 32) -> bytes:
        """The key called ``name``, generated (``size`` random bytes) by whichever process asks first."""
        query = sa.select(workspace_keys.c.value).where(workspace_keys.c.name == name)
        with self._db.read() as conn:
            value = conn.execute(query).scalar()
        if value is not None:
            return bytes(value)
        try:
            with self._db.write() as conn:
                if conn.execute(query).scalar() is None:
                    conn.execute(
                        workspace_keys.insert().values(
                            name=name, value=secrets.token_bytes(size), created_at=time.time()
                        )
                    )
        except SqlIntegrityError:
            pass  # another process created it first; read theirs
        with self._db.read() as conn:
            return bytes(conn.execute(query).scalar_one())
