"""Runs and what hangs off them: params, tags, dataset inputs; search; soft delete and purge."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Iterator, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from driftloop.entities import (
    DatasetInput,
    Lifecycle,
    Resources,
    Run,
    RunEnvironment,
    RunStatus,
)
from driftloop.errors import InvalidState, NotFound, ParamConflict
from driftloop.filtering import Expression, OrderBy
from driftloop.store.metadata import _schema
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._events import append_event
from driftloop.store.metadata._guards import require_run, require_writable
from driftloop.store.metadata._metrics import MetricRepository
from driftloop.store.metadata._schema import (
    artifacts,
    experiments,
    metric_chunks,
    metrics,
    params,
    run_inputs,
    runs,
    tags,
)
from driftloop.store.metadata._search import compile_filter, compile_order_by

__all__ = ["RunRepository"]

# Bound on ids per IN (...) list: far below SQLite's and PostgreSQL's parameter limits.
_CHUNK = 5_000


class RunRepository:
    def __init__(self, database: Database, metrics_repository: MetricRepository) -> None:
        self._db = database
        self._metrics = metrics_repository

    # -- writes ------------------------------------------------------------------------------------

    def create(
        self,
        *,
        run_id: str,
        experiment_id: int,
        name: str,
        user: str,
        start_time: float,
        environment: RunEnvironment,
        parent_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        actor: str,
    ) -> Run:
        """Create a running run with its first tags and params, in one transaction."""
        with self._db.write() as conn:
            if parent_id is not None:
                require_run(conn, parent_id)
            conn.execute(
                runs.insert().values(
                    id=run_id,
                    experiment_id=experiment_id,
                    name=name,
                    status=RunStatus.RUNNING,
                    start_time=start_time,
                    user=user,
                    parent_id=parent_id,
                    lifecycle=Lifecycle.ACTIVE,
                    git_commit=environment.git_commit,
                    git_dirty=environment.git_dirty,
                    python_version=environment.python_version,
                    platform=environment.platform,
                    hostname=environment.hostname,
                    pid=environment.pid,
                    command=environment.command,
                    packages=json.dumps(dict(environment.packages), sort_keys=True),
                )
            )
            if tags:
                _upsert_key_values(conn, "tags", run_id, tags)
            if params:
                rows = [_key_value_row(run_id, key, value) for key, value in params.items()]
                conn.execute(_schema.params.insert(), rows)  # the argument shadows the table's name
            append_event(
                conn,
                actor=actor,
                action="run.start",
                object_type="run",
                object_id=run_id,
                details={
                    "experiment_id": experiment_id,
                    "name": name,
                    "parent_id": parent_id,
                    "params": sorted(params or {}),
                },
            )
            return self._load(conn, [run_id])[0]

    def end(
        self,
        run_id: str,
        *,
        status: RunStatus,
        end_time: float,
        resources: Resources,
        actor: str,
        details: Mapping[str, Any] | None = None,
    ) -> Run:
        """Mark a run terminal with what it cost; ending an ended run again is refused."""
        with self._db.write() as conn:
            row = require_run(conn, run_id)
            if row.status != RunStatus.RUNNING:
                raise InvalidState(f"The run {run_id!r} has already ended as {row.status!r}.")
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    status=status,
                    end_time=end_time,
                    wall_time=resources.wall_time,
                    cpu_time=resources.cpu_time,
                    peak_memory=resources.peak_memory,
                )
            )
            append_event(
                conn,
                actor=actor,
                action="run.end",
                object_type="run",
                object_id=run_id,
                details={"status": str(status), **(details or {})},
            )
            return self._load(conn, [run_id])[0]

    def log_params(self, run_id: str, values: Mapping[str, str], *, actor: str) -> None:
        """Record params; logging a key again is fine with the same value and a ParamConflict otherwise."""
        for _attempt in range(3):
            try:
                with self._db.write() as conn:
                    require_writable(conn, run_id, after_end=False)
                    existing = _key_values(conn, params, run_id, list(values))
                    for key, value in values.items():
                        if key in existing and existing[key] != value:
                            raise ParamConflict(
                                f"The param {key!r} of run {run_id!r} is {existing[key]!r} already; "
                                f"params are write-once, so it cannot become {value!r}. "
                                "Log the new value under another key, or start a new run."
                            )
                    new = {key: value for key, value in values.items() if key not in existing}
                    if new:
                        conn.execute(params.insert(), [_key_value_row(run_id, k, v) for k, v in new.items()])
                        append_event(
                            conn,
                            actor=actor,
                            action="run.log_params",
                            object_type="run",
                            object_id=run_id,
                            details={"keys": sorted(new)},
                        )
                    return
            except SqlIntegrityError:  # another process logged one of the keys concurrently: compare again
                continue
        raise ParamConflict(f"The params of run {run_id!r} kept changing concurrently; try again.")

    def set_tags(self, run_id: str, values: Mapping[str, str], *, actor: str) -> None:
        """Set tags; unlike params, tags may be overwritten."""
        with self._db.write() as conn:
            require_writable(conn, run_id, after_end=True)
            _upsert_key_values(conn, "tags", run_id, values)
            append_event(
                conn,
                actor=actor,
                action="run.set_tags",
                object_type="run",
                object_id=run_id,
                details={"keys": sorted(values)},
            )

    def add_inputs(self, run_id: str, inputs: Sequence[DatasetInput], *, actor: str) -> None:
        with self._db.write() as conn:
            require_writable(conn, run_id, after_end=False)
            existing = {
                (row.dataset, row.version, row.role)
                for row in conn.execute(sa.select(run_inputs).where(run_inputs.c.run_id == run_id))
            }
            new = []
            for item in inputs:
                identity = (item.dataset, item.version, item.role)
                if identity not in existing:
                    existing.add(identity)
                    new.append(item)
            if not new:
                return
            conn.execute(
                run_inputs.insert(),
                [{"run_id": run_id, "dataset": i.dataset, "version": i.version, "role": i.role} for i in new],
            )
            append_event(
                conn,
                actor=actor,
                action="run.log_inputs",
                object_type="run",
                object_id=run_id,
                details={"inputs": [f"{i.dataset}@{i.version}:{i.role}" for i in new]},
            )

    def delete(self, run_id: str, *, actor: str) -> None:
        self._set_lifecycle(run_id, Lifecycle.DELETED, actor=actor)

    def restore(self, run_id: str, *, actor: str) -> None:
        self._set_lifecycle(run_id, Lifecycle.ACTIVE, actor=actor)

    def purge(self, run_ids: Sequence[str], *, actor: str) -> int:
        """Remove runs for good, with everything they logged; returns how many went.

        Only runs that are soft-deleted, or whose experiment is, are purged; other ids are ignored.
        """
        deleted_experiments = sa.select(experiments.c.id).where(experiments.c.lifecycle == Lifecycle.DELETED)
        purged = 0
        for chunk in _chunks(list(run_ids)):
            with self._db.write() as conn:
                purgeable = sa.or_(runs.c.lifecycle == Lifecycle.DELETED, runs.c.experiment_id.in_(deleted_experiments))
                ids = [row.id for row in conn.execute(sa.select(runs.c.id).where(runs.c.id.in_(chunk), purgeable))]
                if not ids:
                    continue
                series = sa.select(metrics.c.id).where(metrics.c.run_id.in_(ids))
                conn.execute(metric_chunks.delete().where(metric_chunks.c.series_id.in_(series)))
                for table in (metrics, params, tags, artifacts, run_inputs):
                    conn.execute(table.delete().where(table.c.run_id.in_(ids)))
                conn.execute(runs.update().where(runs.c.parent_id.in_(ids)).values(parent_id=None))
                conn.execute(runs.delete().where(runs.c.id.in_(ids)))
                for run_id in ids:
                    append_event(conn, actor=actor, action="run.purge", object_type="run", object_id=run_id)
                purged += len(ids)
        return purged

    def _set_lifecycle(self, run_id: str, lifecycle: Lifecycle, *, actor: str) -> None:
        with self._db.write() as conn:
            row = require_run(conn, run_id)
            if row.lifecycle == lifecycle:
                return
            conn.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(lifecycle=lifecycle, deleted_at=time.time() if lifecycle == Lifecycle.DELETED else None)
            )
            verb = "delete" if lifecycle == Lifecycle.DELETED else "restore"
            append_event(conn, actor=actor, action=f"run.{verb}", object_type="run", object_id=run_id)

    # -- reads -------------------------------------------------------------------------------------

    def get(self, run_id: str) -> Run:
        with self._db.read() as conn:
            found = self._load(conn, [run_id])
        if not found:
            raise NotFound(f"No run with id {run_id!r}.")
        return found[0]

    def search(
        self,
        *,
        experiment_ids: Sequence[int] | None = None,
        where: Expression | None = None,
        order_by: Sequence[OrderBy] = (),
        limit: int | None = 1000,
        offset: int = 0,
        include_deleted: bool = False,
    ) -> list[Run]:
        """Runs matching the filter, ordered (newest first by default), with everything they logged."""
        query = sa.select(runs.c.id).join(experiments, experiments.c.id == runs.c.experiment_id)
        if experiment_ids is not None:
            query = query.where(runs.c.experiment_id.in_(list(experiment_ids)))
        if not include_deleted:
            query = query.where(runs.c.lifecycle == Lifecycle.ACTIVE, experiments.c.lifecycle == Lifecycle.ACTIVE)
        if where is not None:
            query = query.where(compile_filter(where))
        for clause in order_by:
            query = query.order_by(*compile_order_by(clause))
        query = query.order_by(runs.c.start_time.desc(), runs.c.id).offset(offset)
        if limit is not None:
            query = query.limit(limit)
        with self._db.read() as conn:
            ids = [row.id for row in conn.execute(query)]
            return self._load(conn, ids)

    def count(self, *, experiment_ids: Sequence[int] | None = None, include_deleted: bool = False) -> int:
        query = sa.select(sa.func.count()).select_from(runs)
        if experiment_ids is not None:
            query = query.where(runs.c.experiment_id.in_(list(experiment_ids)))
        if not include_deleted:
            query = query.where(runs.c.lifecycle == Lifecycle.ACTIVE)
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())

    def deleted_before(self, cutoff: float) -> list[str]:
        """Ids of runs soft-deleted before ``cutoff``, or belonging to experiments deleted before it."""
        deleted_experiments = sa.select(experiments.c.id).where(
            experiments.c.lifecycle == Lifecycle.DELETED, experiments.c.deleted_at <= cutoff
        )
        query = sa.select(runs.c.id).where(
            sa.or_(
                sa.and_(runs.c.lifecycle == Lifecycle.DELETED, runs.c.deleted_at <= cutoff),
                runs.c.experiment_id.in_(deleted_experiments),
            )
        )
        with self._db.read() as conn:
            return [row.id for row in conn.execute(query)]

    def _load(self, conn: Connection, run_ids: Sequence[str]) -> list[Run]:
        """Whole Run entities for the ids, in the order given (missing ids are skipped)."""
        loaded: dict[str, Run] = {}
        for chunk in _chunks(list(run_ids)):
            rows = conn.execute(
                sa.select(runs, experiments.c.name.label("experiment_name"))
                .join(experiments, experiments.c.id == runs.c.experiment_id)
                .where(runs.c.id.in_(chunk))
            ).all()
            param_values = _grouped(conn, params, chunk)
            tag_values = _grouped(conn, tags, chunk)
            summaries = self._metrics.summaries(conn, chunk)
            inputs: dict[str, list[DatasetInput]] = {}
            for row in conn.execute(
                sa.select(run_inputs).where(run_inputs.c.run_id.in_(chunk)).order_by(run_inputs.c.dataset)
            ):
                inputs.setdefault(row.run_id, []).append(DatasetInput(row.dataset, row.version, row.role))
            for row in rows:
                loaded[row.id] = _entity(
                    row,
                    params=param_values.get(row.id, {}),
                    tags=tag_values.get(row.id, {}),
                    metrics=summaries.get(row.id, {}),
                    inputs=inputs.get(row.id, []),
                )
        return [loaded[run_id] for run_id in run_ids if run_id in loaded]


def _key_value_row(run_id: str, key: str, value: str) -> dict[str, Any]:
    return {"run_id": run_id, "key": key, "value": value, "value_number": _as_number(value)}


def _as_number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _key_values(conn: Connection, table: sa.Table, run_id: str, keys: Sequence[str]) -> dict[str, str]:
    query = sa.select(table.c.key, table.c.value).where(table.c.run_id == run_id, table.c.key.in_(keys))
    return {key: value for key, value in conn.execute(query)}


def _upsert_key_values(conn: Connection, table_name: str, run_id: str, values: Mapping[str, str]) -> None:
    table = tags if table_name == "tags" else params
    conn.execute(table.delete().where(table.c.run_id == run_id, table.c.key.in_(list(values))))
    conn.execute(table.insert(), [_key_value_row(run_id, key, value) for key, value in values.items()])


def _grouped(conn: Connection, table: sa.Table, run_ids: Sequence[str]) -> dict[str, dict[str, str]]:
    grouped: dict[str, dict[str, str]] = {}
    query = sa.select(table.c.run_id, table.c.key, table.c.value).where(table.c.run_id.in_(run_ids))
    for run_id, key, value in conn.execute(query.order_by(table.c.key)):
        grouped.setdefault(run_id, {})[key] = value
    return grouped


def _entity(
    row: Any,
    *,
    params: dict[str, str],
    tags: dict[str, str],
    metrics: Mapping[str, Any],
    inputs: list[DatasetInput],
) -> Run:
    return Run(
        id=row.id,
        experiment_id=int(row.experiment_id),
        experiment_name=row.experiment_name,
        name=row.name,
        status=RunStatus(row.status),
        start_time=datetime.fromtimestamp(row.start_time, UTC),
        end_time=None if row.end_time is None else datetime.fromtimestamp(row.end_time, UTC),
        user=row.user,
        parent_id=row.parent_id,
        lifecycle=Lifecycle(row.lifecycle),
        params=params,
        tags=tags,
        metrics=dict(metrics),
        inputs=tuple(inputs),
        environment=RunEnvironment(
            git_commit=row.git_commit,
            git_dirty=row.git_dirty,
            python_version=row.python_version,
            platform=row.platform,
            hostname=row.hostname,
            pid=row.pid,
            command=row.command,
            packages=json.loads(row.packages),
        ),
        resources=Resources(wall_time=row.wall_time, cpu_time=row.cpu_time, peak_memory=row.peak_memory),
    )


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]
