"""Experiments: named groups of runs, soft-deleted before they are purged."""

from __future__ import annotations

import builtins
import time
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from driftloop.entities import Experiment, Lifecycle
from driftloop.errors import AlreadyExists, InvalidState, NotFound
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._events import append_event
from driftloop.store.metadata._schema import experiments

__all__ = ["ExperimentRepository"]


class ExperimentRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def create(self, name: str, *, actor: str, description: str = "") -> Experiment:
        """Create an experiment; :class:`AlreadyExists` when the name is taken (deleted ones included)."""
        try:
            with self._db.write() as conn:
                if _select_by_name(conn, name) is not None:
                    raise AlreadyExists(_taken(conn, name))
                experiment_id = _insert(conn, name, actor=actor, description=description)
                return _entity(_select_by_id(conn, experiment_id))
        except SqlIntegrityError as error:  # a concurrent writer took the name first (PostgreSQL)
            raise AlreadyExists(f"An experiment named {name!r} exists already.") from error

    def get_or_create(self, name: str, *, actor: str) -> Experiment:
        """The active experiment named ``name``, created on first use; safe under concurrent callers."""
        for _attempt in range(3):
            with self._db.read() as conn:
                row = _select_by_name(conn, name)
            if row is not None:
                if row.lifecycle == Lifecycle.DELETED:
                    raise InvalidState(_taken_by_deleted(name))
                return _entity(row)
            try:
                with self._db.write() as conn:
                    row = _select_by_name(conn, name)
                    if row is None:
                        row = _select_by_id(conn, _insert(conn, name, actor=actor, description=""))
                    return _entity(row)
            except SqlIntegrityError:
                continue
        raise AlreadyExists(f"The experiment {name!r} was being created concurrently; try again.")

    def get(self, name_or_id: str | int) -> Experiment:
        """The experiment with this name or integer id (deleted ones too); :class:`NotFound` otherwise."""
        with self._db.read() as conn:
            row = _select_by_reference(conn, name_or_id)
        if row is None:
            raise NotFound(f"No experiment named or numbered {name_or_id!r}.")
        return _entity(row)

    def list(self, *, include_deleted: bool = False) -> list[Experiment]:
        query = sa.select(experiments).order_by(experiments.c.id)
        if not include_deleted:
            query = query.where(experiments.c.lifecycle == Lifecycle.ACTIVE)
        with self._db.read() as conn:
            return [_entity(row) for row in conn.execute(query)]

    def delete(self, name_or_id: str | int, *, actor: str) -> Experiment:
        """Soft-delete: the experiment and its runs are hidden until restored or purged."""
        return self._set_lifecycle(name_or_id, Lifecycle.DELETED, actor=actor)

    def restore(self, name_or_id: str | int, *, actor: str) -> Experiment:
        return self._set_lifecycle(name_or_id, Lifecycle.ACTIVE, actor=actor)

    def deleted_before(self, cutoff: float) -> builtins.list[Experiment]:
        """Soft-deleted experiments whose deletion is older than ``cutoff`` (epoch seconds)."""
        query = sa.select(experiments).where(
            experiments.c.lifecycle == Lifecycle.DELETED, experiments.c.deleted_at <= cutoff
        )
        with self._db.read() as conn:
            return [_entity(row) for row in conn.execute(query)]

    def purge(self, experiment_id: int, *, actor: str) -> None:
        """Remove a soft-deleted experiment row for good (its runs must have been purged first)."""
        with self._db.write() as conn:
            row = conn.execute(sa.select(experiments).where(experiments.c.id == experiment_id)).first()
            if row is None:
                return
            if row.lifecycle != Lifecycle.DELETED:
                raise InvalidState(f"The experiment {row.name!r} is not deleted; delete it before purging.")
            conn.execute(experiments.delete().where(experiments.c.id == experiment_id))
            append_event(
                conn,
                actor=actor,
                action="experiment.purge",
                object_type="experiment",
                object_id=experiment_id,
                details={"name": row.name},
            )

    def _set_lifecycle(self, name_or_id: str | int, lifecycle: Lifecycle, *, actor: str) -> Experiment:
        with self._db.write() as conn:
            row = _select_by_reference(conn, name_or_id)
            if row is None:
                raise NotFound(f"No experiment named or numbered {name_or_id!r}.")
            if row.lifecycle == lifecycle:
                return _entity(row)
            conn.execute(
                experiments.update()
                .where(experiments.c.id == row.id)
                .values(lifecycle=lifecycle, deleted_at=time.time() if lifecycle == Lifecycle.DELETED else None)
            )
            verb = "delete" if lifecycle == Lifecycle.DELETED else "restore"
            append_event(
                conn,
                actor=actor,
                action=f"experiment.{verb}",
                object_type="experiment",
                object_id=row.id,
                details={"name": row.name},
            )
            return _entity(_select_by_id(conn, row.id))


def _insert(conn: Connection, name: str, *, actor: str, description: str) -> int:
    result = conn.execute(
        experiments.insert().values(
            name=name,
            description=description,
            lifecycle=Lifecycle.ACTIVE,
            created_at=time.time(),
            created_by=actor,
        )
    )
    experiment_id = int(result.inserted_primary_key[0])  # type: ignore[index]
    append_event(
        conn,
        actor=actor,
        action="experiment.create",
        object_type="experiment",
        object_id=experiment_id,
        details={"name": name},
    )
    return experiment_id


def _select_by_name(conn: Connection, name: str) -> Any | None:
    return conn.execute(sa.select(experiments).where(experiments.c.name == name)).first()


def _select_by_id(conn: Connection, experiment_id: int) -> Any:
    return conn.execute(sa.select(experiments).where(experiments.c.id == experiment_id)).one()


def _select_by_reference(conn: Connection, name_or_id: str | int) -> Any | None:
    if isinstance(name_or_id, int):
        return conn.execute(sa.select(experiments).where(experiments.c.id == name_or_id)).first()
    row = _select_by_name(conn, name_or_id)
    if row is None and name_or_id.isdigit():
        row = conn.execute(sa.select(experiments).where(experiments.c.id == int(name_or_id))).first()
    return row


def _taken(conn: Connection, name: str) -> str:
    row = _select_by_name(conn, name)
    if row is not None and row.lifecycle == Lifecycle.DELETED:
        return _taken_by_deleted(name)
    return f"An experiment named {name!r} exists already."


def _taken_by_deleted(name: str) -> str:
    return (
        f"The experiment {name!r} is deleted; restore it (`driftloop experiments restore {name}`) "
        "or purge it (`driftloop gc`) before using the name again."
    )


def _entity(row: Any) -> Experiment:
    mapping = row._mapping
    return Experiment(
        id=int(mapping["id"]),
        name=str(mapping["name"]),
        created_at=datetime.fromtimestamp(float(mapping["created_at"]), UTC),
        created_by=str(mapping["created_by"]),
        lifecycle=Lifecycle(mapping["lifecycle"]),
        description=str(mapping["description"]),
    )
