"""Metric series and their points: bulk appends and columnar history reads.

Points are written with the driver directly (``executemany`` on SQLite, ``COPY`` on PostgreSQL):
building a SQLAlchemy parameter dict per point would cost more than the insert itself.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from driftloop.entities import MetricHistory, MetricSummary
from driftloop.errors import NotFound
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._schema import metrics, runs

__all__ = ["MetricRepository", "Point"]

Point = tuple[str, float, int, float]
"""A metric point as the logger batches it: (key, value, step, timestamp)."""


class MetricRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def append(self, run_id: str, points: Sequence[Point]) -> None:
        """Append points to a run's series in one transaction, creating series on first sight."""
        if not points:
            return
        with self._db.write() as conn:
            append_points(conn, run_id, points)

    def history(self, run_id: str, key: str) -> MetricHistory:
        """Every point of ``key`` in ``run_id``, ordered by step then insertion."""
        with self._db.read() as conn:
            series_id = conn.execute(
                sa.select(metrics.c.id).where(metrics.c.run_id == run_id, metrics.c.key == key)
            ).scalar()
            if series_id is None:
                if conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                    raise NotFound(f"No run with id {run_id!r}.")
                raise NotFound(f"The run {run_id!r} has no metric {key!r}.")
            # The raw cursor: 100,000 rows through SQLAlchemy's Row objects would take several times longer.
            placeholder = "?" if conn.dialect.paramstyle == "qmark" else "%s"
            cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
            try:
                cursor.execute(
                    f"SELECT step, timestamp, value FROM metric_points WHERE series_id = {placeholder} ORDER BY step",
                    (series_id,),
                )
                rows = cursor.fetchall()
            finally:
                cursor.close()
        if rows:
            steps, timestamps, values = zip(*rows, strict=True)
        else:
            steps, timestamps, values = (), (), ()
        return MetricHistory(
            run_id=run_id,
            key=key,
            steps=np.fromiter(steps, dtype=np.int64, count=len(rows)),
            timestamps=np.fromiter(timestamps, dtype=np.float64, count=len(rows)),
            values=np.array([math.nan if v is None else v for v in values], dtype=np.float64),
        )

    def summaries(self, conn: Connection, run_ids: Iterable[str]) -> dict[str, dict[str, MetricSummary]]:
        """The latest value and range of every metric of the given runs."""
        result: dict[str, dict[str, MetricSummary]] = {}
        ids = list(run_ids)
        if not ids:
            return result
        query = sa.select(metrics).where(metrics.c.run_id.in_(ids)).order_by(metrics.c.key)
        for row in conn.execute(query):
            result.setdefault(row.run_id, {})[row.key] = MetricSummary(
                key=row.key,
                last_value=_float(row.last_value),
                last_step=int(row.last_step),
                last_timestamp=float(row.last_timestamp),
                count=int(row._mapping["count"]),
                min_value=_float(row.min_value),
                max_value=_float(row.max_value),
            )
        return result


def append_points(conn: Connection, run_id: str, points: Sequence[Point]) -> None:
    """Append points inside the caller's write transaction."""
    keys = sorted({point[0] for point in points})
    series = _series_ids(conn, run_id, keys)
    _bulk_insert(conn, [(series[key], step, timestamp, _storable(value)) for key, value, step, timestamp in points])
    _update_summaries(conn, series, points)


def _series_ids(conn: Connection, run_id: str, keys: Sequence[str]) -> dict[str, int]:
    """Series ids for the keys, inserting the missing ones (concurrent writers cannot duplicate them)."""
    insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(metrics)
    existing = _select_series(conn, run_id, keys)
    missing = [key for key in keys if key not in existing]
    if missing:
        conn.execute(
            insert.on_conflict_do_nothing(index_elements=["run_id", "key"]),
            [{"run_id": run_id, "key": key, "last_step": 0, "last_timestamp": 0.0, "count": 0} for key in missing],
        )
        existing = _select_series(conn, run_id, keys)
    return existing


def _select_series(conn: Connection, run_id: str, keys: Sequence[str]) -> dict[str, int]:
    query = sa.select(metrics.c.key, metrics.c.id).where(metrics.c.run_id == run_id, metrics.c.key.in_(keys))
    return {key: int(series_id) for key, series_id in conn.execute(query)}


def _bulk_insert(conn: Connection, rows: list[tuple[int, int, float, float | None]]) -> None:
    driver_connection: Any = conn.connection.driver_connection
    if conn.dialect.name == "postgresql":
        with (
            driver_connection.cursor() as cursor,
            cursor.copy("COPY metric_points (series_id, step, timestamp, value) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        return
    cursor = driver_connection.cursor()
    try:
        cursor.executemany("INSERT INTO metric_points (series_id, step, timestamp, value) VALUES (?, ?, ?, ?)", rows)
    finally:
        cursor.close()


def _update_summaries(conn: Connection, series: dict[str, int], points: Sequence[Point]) -> None:
    """Fold the batch into each series' latest value, count and range."""
    batch: dict[str, list[Any]] = {}  # key -> [last_value, last_step, last_timestamp, count, min, max]
    for key, value, step, timestamp in points:
        entry = batch.get(key)
        if entry is None:
            entry = batch[key] = [value, step, timestamp, 0, None, None]
        # "Latest" is the point with the highest step; among equal steps, the one logged last.
        if step >= entry[1]:
            entry[0], entry[1], entry[2] = value, step, timestamp
        entry[3] += 1
        if value == value:  # NaN takes no part in the range
            if entry[4] is None or value < entry[4]:
                entry[4] = value
            if entry[5] is None or value > entry[5]:
                entry[5] = value
    current = {row.id: row for row in conn.execute(sa.select(metrics).where(metrics.c.id.in_(list(series.values()))))}
    for key, (value, step, timestamp, count, low, high) in batch.items():
        row = current[series[key]]
        stored_count = int(row._mapping["count"])  # row.count would be the tuple method
        if stored_count and row.last_step > step:
            value, step, timestamp = _float(row.last_value), row.last_step, row.last_timestamp
        conn.execute(
            metrics.update()
            .where(metrics.c.id == series[key])
            .values(
                last_value=_storable(value),
                last_step=step,
                last_timestamp=timestamp,
                count=stored_count + count,
                min_value=_storable(_min(row.min_value, low)),
                max_value=_storable(_max(row.max_value, high)),
            )
        )


def _min(stored: float | None, batch: float | None) -> float | None:
    return batch if stored is None else stored if batch is None else min(stored, batch)


def _max(stored: float | None, batch: float | None) -> float | None:
    return batch if stored is None else stored if batch is None else max(stored, batch)


def _storable(value: float | None) -> float | None:
    # SQLite turns NaN into NULL anyway; doing it everywhere keeps one meaning of NULL across backends.
    return None if value is None or value != value else value


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)
