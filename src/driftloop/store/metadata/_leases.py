"""Leases: exactly one process, among the workers and machines sharing a store, runs each stateful job.

A job (prediction-log maintenance, the loop controller, an online learner) runs only while its
process holds the job's lease. The holder renews well before expiry (every third of the time to
live is usual) and stops working as soon as a renewal returns None or its own clock passes
``expires_at``; another process may then take the lease, and the fencing ``token`` grows by one.

A holder names itself uniquely per process (``"host:pid:random"``): two processes that share a
holder name share the lease. Expiry is judged by the clock of whichever process asks
(``time.time()`` unless a ``clock`` is given), so machines sharing leases need clocks that agree
to within a small fraction of the time to live.
"""

from __future__ import annotations

import builtins
import math
import time
from collections.abc import Callable
from numbers import Real
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from driftloop.entities import Lease
from driftloop.errors import InvalidInput
from driftloop.names import validate_name
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._schema import leases

__all__ = ["LeaseRepository"]


class LeaseRepository:
    """Acquires, renews and releases named leases; ``clock`` (seconds since the epoch) is for tests."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self._clock = clock

    def acquire(self, name: str, holder: str, *, ttl: float) -> Lease | None:
        """Take the lease ``name`` for ``ttl`` seconds, or None while another holder's lease is live.

        The lease is taken when nobody ever held it, or when it expired or was released (a new
        tenure: ``token`` grows by one, even for the previous holder). When ``holder`` holds it
        already, this renews it: same token, later expiry.
        """
        name, holder, ttl = _checked(name, holder, ttl)
        try:
            with self._db.write() as conn:
                return self._acquire(conn, name, holder, ttl)
        except SqlIntegrityError:
            # On PostgreSQL two first acquisitions both find no row to lock and both insert; the
            # loser's insert fails once the winner commits. Its second attempt locks the winner's row.
            pass
        with self._db.write() as conn:
            return self._acquire(conn, name, holder, ttl)

    def renew(self, name: str, holder: str, *, ttl: float) -> Lease | None:
        """Extend ``holder``'s live lease to ``ttl`` seconds from now (same token).

        None when ``holder`` no longer holds a live lease: it expired, was released or was taken by
        someone else, or ``holder`` never had it. Then the job must stop; :meth:`acquire` may start a
        new tenure.
        """
        name, holder, ttl = _checked(name, holder, ttl)
        with self._db.write() as conn:
            row = _locked_row(conn, name)
            now = self._clock()
            if row is None or row.holder != holder or now >= row.expires_at:
                return None
            conn.execute(leases.update().where(leases.c.name == name).values(expires_at=now + ttl, renewed_at=now))
            return _read(conn, name)

    def release(self, name: str, holder: str) -> bool:
        """End ``holder``'s live lease now, so another process may take it at once.

        False (and nothing changes) when ``holder`` holds no live lease ``name``: only the holder
        can release a lease.
        """
        name = validate_name("lease", name)
        holder = validate_name("lease holder", holder)
        with self._db.write() as conn:
            row = _locked_row(conn, name)
            now = self._clock()
            if row is None or row.holder != holder or now >= row.expires_at:
                return False
            conn.execute(leases.update().where(leases.c.name == name).values(expires_at=now))
            return True

    def get(self, name: str) -> Lease | None:
        """The lease ``name`` as last written (live or not), or None when nobody ever took it."""
        name = validate_name("lease", name)
        with self._db.read() as conn:
            return _read(conn, name)

    def list(self) -> builtins.list[Lease]:
        """Every lease ever taken, live or not, by name."""
        with self._db.read() as conn:
            return [_lease(row) for row in conn.execute(sa.select(leases).order_by(leases.c.name))]

    def _acquire(self, conn: Connection, name: str, holder: str, ttl: float) -> Lease | None:
        row = _locked_row(conn, name)
        # Read the clock once the row is locked: waiting for the lock may take a while.
        now = self._clock()
        if row is None:
            conn.execute(
                leases.insert().values(
                    name=name, holder=holder, token=1, acquired_at=now, expires_at=now + ttl, renewed_at=now
                )
            )
        elif now < row.expires_at:
            if row.holder != holder:
                return None
            conn.execute(leases.update().where(leases.c.name == name).values(expires_at=now + ttl, renewed_at=now))
        else:
            conn.execute(
                leases.update()
                .where(leases.c.name == name)
                .values(holder=holder, token=row.token + 1, acquired_at=now, expires_at=now + ttl, renewed_at=now)
            )
        return _read(conn, name)


def _checked(name: object, holder: object, ttl: object) -> tuple[str, str, float]:
    name = validate_name("lease", name)
    holder = validate_name("lease holder", holder)
    if isinstance(ttl, bool) or not isinstance(ttl, Real) or not math.isfinite(ttl) or ttl <= 0:
        raise InvalidInput(f"The ttl of lease {name!r} must be a positive, finite number of seconds; got {ttl!r}.")
    return name, holder, float(ttl)


def _locked_row(conn: Connection, name: str) -> Any:
    # FOR UPDATE makes concurrent writers on PostgreSQL queue on the row; SQLite renders no clause
    # and needs none, since its write transactions start with BEGIN IMMEDIATE.
    return conn.execute(sa.select(leases).where(leases.c.name == name).with_for_update()).first()


def _read(conn: Connection, name: str) -> Lease | None:
    row = conn.execute(sa.select(leases).where(leases.c.name == name)).first()
    return None if row is None else _lease(row)


def _lease(row: Any) -> Lease:
    return Lease(
        name=row.name,
        holder=row.holder,
        token=int(row.token),
        acquired_at=float(row.acquired_at),
        expires_at=float(row.expires_at),
        renewed_at=float(row.renewed_at),
    )
