"""Datasets and their versions; lineage from versions to the runs that read them."""

from __future__ import annotations

import builtins
import json
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from driftloop.entities import Dataset, DatasetVersionInfo
from driftloop.errors import NotFound
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._events import append_event
from driftloop.store.metadata._schema import dataset_versions, datasets, run_inputs

__all__ = ["DatasetRepository", "NewVersion"]


@dataclass(frozen=True, slots=True)
class NewVersion:
    """What an ingest records about the version it is about to commit."""

    mode: str
    fingerprint: str
    source: str
    rows: int
    quarantined_rows: int
    arrow_schema: str
    transform_hash: str | None = None
    schema_fingerprint: str | None = None
    profile_digest: str | None = None
    report_digest: str | None = None
    transform_digest: str | None = None


class DatasetRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def get_or_create(self, name: str, *, actor: str) -> Dataset:
        for _attempt in range(3):
            with self._db.read() as conn:
                row = conn.execute(sa.select(datasets).where(datasets.c.name == name)).first()
            if row is not None:
                return self._entity(row)
            try:
                with self._db.write() as conn:
                    if conn.execute(sa.select(datasets.c.id).where(datasets.c.name == name)).first() is None:
                        result = conn.execute(
                            datasets.insert().values(
                                name=name, description="", created_at=time.time(), created_by=actor, settings="{}"
                            )
                        )
                        append_event(
                            conn,
                            actor=actor,
                            action="dataset.create",
                            object_type="dataset",
                            object_id=name,
                            details={"id": int(result.inserted_primary_key[0])},  # type: ignore[index]
                        )
            except SqlIntegrityError:
                continue
        return self.get(name)

    def get(self, name: str) -> Dataset:
        with self._db.read() as conn:
            row = conn.execute(sa.select(datasets).where(datasets.c.name == name)).first()
        if row is None:
            raise NotFound(f"No dataset named {name!r}.")
        return self._entity(row)

    def list(self) -> builtins.list[Dataset]:
        with self._db.read() as conn:
            return [self._entity(row) for row in conn.execute(sa.select(datasets).order_by(datasets.c.name))]

    def data_schema(self, name: str) -> dict[str, Any] | None:
        """The stored data schema (rules and expectations) of a dataset, or None before the first ingest."""
        with self._db.read() as conn:
            text = conn.execute(sa.select(datasets.c.data_schema).where(datasets.c.name == name)).scalar()
        return None if text is None else dict(json.loads(text))

    def set_data_schema(self, name: str, schema: Mapping[str, Any], *, actor: str) -> None:
        with self._db.write() as conn:
            updated = conn.execute(
                datasets.update().where(datasets.c.name == name).values(data_schema=json.dumps(schema, sort_keys=True))
            )
            if updated.rowcount == 0:
                raise NotFound(f"No dataset named {name!r}.")
            append_event(conn, actor=actor, action="dataset.set_schema", object_type="dataset", object_id=name)

    def versions(self, name: str) -> builtins.list[DatasetVersionInfo]:
        dataset = self.get(name)
        query = (
            sa.select(dataset_versions)
            .where(dataset_versions.c.dataset_id == dataset.id)
            .order_by(dataset_versions.c.number)
        )
        with self._db.read() as conn:
            return [_version(name, row) for row in conn.execute(query)]

    def version(self, name: str, number: int | None = None) -> DatasetVersionInfo:
        """Version ``number`` of the dataset, or its latest when None."""
        dataset = self.get(name)
        query = sa.select(dataset_versions).where(dataset_versions.c.dataset_id == dataset.id)
        if number is None:
            query = query.order_by(dataset_versions.c.number.desc()).limit(1)
        else:
            query = query.where(dataset_versions.c.number == number)
        with self._db.read() as conn:
            row = conn.execute(query).first()
        if row is None:
            what = "no versions yet" if number is None else f"no version {number}"
            raise NotFound(f"The dataset {name!r} has {what}.")
        return _version(name, row)

    def commit_version(
        self,
        name: str,
        new: NewVersion,
        *,
        commit_table: Callable[[int | None], int],
        actor: str,
    ) -> tuple[DatasetVersionInfo, bool]:
        """Record a new version under the dataset's lock; returns (version, created).

        Inside one metadata write transaction (which holds the dataset's row lock): if a version with
        the same fingerprint, mode and transform exists, nothing is committed and that version comes
        back with ``created=False``. Otherwise ``commit_table(last_recorded_delta_version)`` makes the
        Delta commit (first undoing any commit that has no version row: a crash's leftover) and
        returns its Delta version, and the row is inserted. A crash after the Delta commit rolls the
        row back; the next commit undoes the orphan Delta commit.
        """
        dataset = self.get_or_create(name, actor=actor)
        with self._db.write() as conn:
            conn.execute(sa.select(datasets.c.id).where(datasets.c.id == dataset.id).with_for_update())
            same = conn.execute(
                sa.select(dataset_versions)
                .where(
                    dataset_versions.c.dataset_id == dataset.id,
                    dataset_versions.c.fingerprint == new.fingerprint,
                    dataset_versions.c.mode == new.mode,
                    _same(dataset_versions.c.transform_hash, new.transform_hash),
                )
                .order_by(dataset_versions.c.number.desc())
                .limit(1)
            ).first()
            if same is not None:
                return _version(name, same), False
            last = conn.execute(
                sa.select(dataset_versions.c.number, dataset_versions.c.delta_version, dataset_versions.c.total_rows)
                .where(dataset_versions.c.dataset_id == dataset.id)
                .order_by(dataset_versions.c.number.desc())
                .limit(1)
            ).first()
            delta_version = commit_table(None if last is None else int(last.delta_version))
            number = 1 if last is None else int(last.number) + 1
            total = new.rows if (last is None or new.mode == "overwrite") else int(last.total_rows) + new.rows
            values = {field: getattr(new, field) for field in NewVersion.__dataclass_fields__}
            conn.execute(
                dataset_versions.insert().values(
                    dataset_id=dataset.id,
                    number=number,
                    delta_version=delta_version,
                    total_rows=total,
                    created_at=time.time(),
                    created_by=actor,
                    **values,
                )
            )
            append_event(
                conn,
                actor=actor,
                action="dataset.version",
                object_type="dataset",
                object_id=name,
                details={"version": number, "delta_version": delta_version, "rows": new.rows, "mode": new.mode},
            )
            row = conn.execute(
                sa.select(dataset_versions).where(
                    dataset_versions.c.dataset_id == dataset.id, dataset_versions.c.number == number
                )
            ).one()
            return _version(name, row), True

    def runs_using(self, name: str, number: int) -> builtins.list[str]:
        """Ids of the runs that recorded reading this version."""
        query = sa.select(run_inputs.c.run_id).where(run_inputs.c.dataset == name, run_inputs.c.version == number)
        with self._db.read() as conn:
            return sorted({run_id for (run_id,) in conn.execute(query)})

    def referenced_digests(self) -> set[str]:
        columns = (
            dataset_versions.c.profile_digest,
            dataset_versions.c.report_digest,
            dataset_versions.c.transform_digest,
        )
        with self._db.read() as conn:
            return {digest for row in conn.execute(sa.select(*columns)) for digest in row if digest}

    def _entity(self, row: Any) -> Dataset:
        with self._db.read() as conn:
            count = conn.execute(
                sa.select(sa.func.count()).select_from(dataset_versions).where(dataset_versions.c.dataset_id == row.id)
            ).scalar_one()
        return Dataset(
            id=int(row.id),
            name=row.name,
            created_at=datetime.fromtimestamp(row.created_at, UTC),
            created_by=row.created_by,
            description=row.description,
            versions=int(count),
        )


def _same(column: Any, value: str | None) -> Any:
    return column.is_(None) if value is None else column == value


def _version(name: str, row: Any) -> DatasetVersionInfo:
    fields = row._mapping
    return DatasetVersionInfo(
        dataset=name,
        number=int(fields["number"]),
        delta_version=int(fields["delta_version"]),
        mode=fields["mode"],
        fingerprint=fields["fingerprint"],
        source=fields["source"],
        rows=int(fields["rows"]),
        total_rows=int(fields["total_rows"]),
        quarantined_rows=int(fields["quarantined_rows"]),
        created_at=datetime.fromtimestamp(fields["created_at"], UTC),
        created_by=fields["created_by"],
        arrow_schema=fields["arrow_schema"],
        transform_hash=fields["transform_hash"],
        schema_fingerprint=fields["schema_fingerprint"],
        profile_digest=fields["profile_digest"],
        report_digest=fields["report_digest"],
        transform_digest=fields["transform_digest"],
    )
