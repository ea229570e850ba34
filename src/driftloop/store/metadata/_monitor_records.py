"""Monitor records: what each scheduled check found, and what each server process counted, over time.

Every server process exports the latest records as Prometheus gauges, so a scrape of any worker shows the
same drift scores; alert rules over the server's health read the sum of every process's latest counters;
reports draw a model's records as drift over time. Records are append-only; :meth:`prune` drops old ones.
"""

from __future__ import annotations

import builtins
import json
import math
import time
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any, get_args

import sqlalchemy as sa

from driftloop.entities import MonitorKind, MonitorRecord
from driftloop.errors import InvalidInput
from driftloop.names import validate_name
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._json import json_text
from driftloop.store.metadata._schema import monitor_records

__all__ = ["MonitorRecordRepository"]

KINDS: tuple[str, ...] = get_args(MonitorKind)


class MonitorRecordRepository:
    """Appends and reads monitor records; ``clock`` (seconds since the epoch) is for tests."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self._clock = clock

    def record(
        self,
        subject: str,
        kind: MonitorKind,
        outputs: Mapping[str, Any],
        *,
        source: str = "",
        window_start: float | None = None,
        window_end: float | None = None,
    ) -> MonitorRecord:
        """Append one record and return it; ``outputs`` must be JSON-able (non-finite numbers are kept as null)."""
        subject = validate_name("monitor subject", subject)
        _check_kind(kind)
        if source:
            source = validate_name("monitor source", source)
        bounds = [_seconds(what, value) for what, value in (("window_start", window_start), ("window_end", window_end))]
        if not isinstance(outputs, Mapping):
            raise InvalidInput(f"A monitor record's outputs must be a mapping; got {type(outputs).__name__}.")
        text = json_text(outputs)
        values = {
            "subject": subject,
            "kind": kind,
            "source": source,
            "recorded_at": self._clock(),
            "window_start": bounds[0],
            "window_end": bounds[1],
            "outputs": text,
        }
        with self._db.write() as conn:
            record_id = conn.execute(monitor_records.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
        return _record({**values, "id": record_id})

    def latest(
        self, kind: MonitorKind, *, subject: str | None = None, since: float | None = None
    ) -> builtins.list[MonitorRecord]:
        """The newest record of each (subject, source) of ``kind``, recorded at ``since`` or later; by subject."""
        _check_kind(kind)
        table = monitor_records
        newest = sa.select(sa.func.max(table.c.id)).where(table.c.kind == kind)
        if subject is not None:
            newest = newest.where(table.c.subject == validate_name("monitor subject", subject))
        if since is not None:
            newest = newest.where(table.c.recorded_at >= _seconds("since", since))
        newest = newest.group_by(table.c.subject, table.c.source)
        query = sa.select(table).where(table.c.id.in_(newest)).order_by(table.c.subject, table.c.source)
        with self._db.read() as conn:
            return [_record(dict(row._mapping)) for row in conn.execute(query)]

    def history(
        self, subject: str, kind: MonitorKind, *, since: float | None = None, limit: int = 100
    ) -> builtins.list[MonitorRecord]:
        """The records of ``subject`` and ``kind``, oldest first: the last ``limit`` of those since ``since``."""
        _check_kind(kind)
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput(f"The limit must be an integer >= 1; got {limit!r}.")
        table = monitor_records
        query = sa.select(table).where(
            table.c.kind == kind, table.c.subject == validate_name("monitor subject", subject)
        )
        if since is not None:
            query = query.where(table.c.recorded_at >= _seconds("since", since))
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(table.c.id.desc()).limit(limit)).all()
        return [_record(dict(row._mapping)) for row in reversed(rows)]

    def prune(self, before: float) -> int:
        """Delete the records made before ``before`` (seconds since the epoch); return how many."""
        cut = _seconds("before", before)
        with self._db.write() as conn:
            return int(conn.execute(monitor_records.delete().where(monitor_records.c.recorded_at < cut)).rowcount)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise InvalidInput(f"The monitor record kind must be one of {', '.join(KINDS)}; got {kind!r}.")


def _seconds(what: str, value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise InvalidInput(f"The {what} must be a finite number of seconds since the epoch; got {value!r}.")
    return float(value)


def _record(row: Mapping[str, Any]) -> MonitorRecord:
    return MonitorRecord(
        id=int(row["id"]),
        subject=row["subject"],
        kind=row["kind"],
        source=row["source"],
        recorded_at=float(row["recorded_at"]),
        window_start=row["window_start"],
        window_end=row["window_end"],
        outputs=json.loads(row["outputs"]),
    )
