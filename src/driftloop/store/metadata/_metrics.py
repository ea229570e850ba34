"""Metric series and their points: chunked appends and columnar history reads.

A batch of points becomes one chunk row per series (see ``metric_chunks`` in ``_schema``), and the
series' summary row (latest value, count, range) is folded forward in the same transaction. All
per-point work happens in NumPy, so writing a million points costs a handful of rows and no Python
loop over the points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import numpy.typing as npt
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from driftloop.entities import MetricHistory, MetricSummary
from driftloop.errors import NotFound
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._schema import metric_chunks, metrics, runs
from driftloop.types import MetricRow

__all__ = ["MetricRepository"]

_STEP = np.dtype("<i8")
_FLOAT = np.dtype("<f8")


class MetricRepository:
    def __init__(self, database: Database) -> None:
        self._db = database

    def append(self, run_id: str, points: Sequence[MetricRow]) -> None:
        """Append points to a run's series in one transaction, creating series on first sight."""
        if not points:
            return
        batches = _split_by_key(points)
        with self._db.write() as conn:
            series = _series_ids(conn, run_id, sorted(batches))
            conn.execute(
                metric_chunks.insert(),
                [_chunk_row(series[key], batch) for key, batch in batches.items()],
            )
            _fold_summaries(conn, series, batches)

    def history(self, run_id: str, key: str) -> MetricHistory:
        """Every point of ``key`` in ``run_id``, ordered by step (points of equal step in logging order)."""
        with self._db.read() as conn:
            series_id = conn.execute(
                sa.select(metrics.c.id).where(metrics.c.run_id == run_id, metrics.c.key == key)
            ).scalar()
            if series_id is None:
                if conn.execute(sa.select(runs.c.id).where(runs.c.id == run_id)).first() is None:
                    raise NotFound(f"No run with id {run_id!r}.")
                raise NotFound(f"The run {run_id!r} has no metric {key!r}.")
            chunks = conn.execute(
                sa.select(metric_chunks.c.steps, metric_chunks.c.timestamps, metric_chunks.c["values"])
                .where(metric_chunks.c.series_id == series_id)
                .order_by(metric_chunks.c.id)
            ).all()
        steps = _concatenate([chunk[0] for chunk in chunks], _STEP)
        timestamps = _concatenate([chunk[1] for chunk in chunks], _FLOAT)
        values = _concatenate([chunk[2] for chunk in chunks], _FLOAT)
        if len(steps) > 1 and not bool(np.all(steps[1:] >= steps[:-1])):
            order = np.argsort(steps, kind="stable")
            steps, timestamps, values = steps[order], timestamps[order], values[order]
        return MetricHistory(run_id=run_id, key=key, steps=steps, timestamps=timestamps, values=values)

    def summaries(self, conn: Connection, run_ids: Iterable[str]) -> dict[str, dict[str, MetricSummary]]:
        """The latest value and range of every metric of the given runs (inside the caller's transaction)."""
        result: dict[str, dict[str, MetricSummary]] = {}
        ids = list(run_ids)
        if not ids:
            return result
        query = sa.select(metrics).where(metrics.c.run_id.in_(ids)).order_by(metrics.c.key)
        for row in conn.execute(query):
            fields = row._mapping  # ``row.count`` would be the tuple method, not the column
            result.setdefault(fields["run_id"], {})[fields["key"]] = MetricSummary(
                key=fields["key"],
                last_value=_float(fields["last_value"]),
                last_step=int(fields["last_step"]),
                last_timestamp=float(fields["last_timestamp"]),
                count=int(fields["count"]),
                min_value=_float(fields["min_value"]),
                max_value=_float(fields["max_value"]),
            )
        return result


class _Batch:
    """One series' points of one append, as columns in logging order."""

    __slots__ = ("steps", "timestamps", "values")

    def __init__(self, steps: npt.NDArray[Any], timestamps: npt.NDArray[Any], values: npt.NDArray[Any]) -> None:
        self.steps = steps
        self.timestamps = timestamps
        self.values = values


def _split_by_key(points: Sequence[MetricRow]) -> dict[str, _Batch]:
    # Four comprehensions transpose a batch several times faster than zip(*points).
    keys = [point[0] for point in points]
    value_array = np.array([point[1] for point in points], dtype=_FLOAT)
    step_array = np.array([point[2] for point in points], dtype=_STEP)
    time_array = np.array([point[3] for point in points], dtype=_FLOAT)
    distinct = set(keys)
    if len(distinct) == 1:
        return {keys[0]: _Batch(step_array, time_array, value_array)}
    codes_of = {key: code for code, key in enumerate(sorted(distinct))}
    codes = np.fromiter(map(codes_of.__getitem__, keys), dtype=np.int32, count=len(keys))
    order = np.argsort(codes, kind="stable")  # stable: logging order within each key survives
    bounds = np.searchsorted(codes[order], np.arange(len(codes_of) + 1))
    batches = {}
    for key, code in codes_of.items():
        selected = order[bounds[code] : bounds[code + 1]]
        batches[key] = _Batch(step_array[selected], time_array[selected], value_array[selected])
    return batches


def _chunk_row(series_id: int, batch: _Batch) -> dict[str, Any]:
    return {
        "series_id": series_id,
        "count": len(batch.steps),
        "min_step": int(batch.steps.min()),
        "max_step": int(batch.steps.max()),
        "steps": batch.steps.tobytes(),
        "timestamps": batch.timestamps.tobytes(),
        "values": batch.values.tobytes(),
    }


def _series_ids(conn: Connection, run_id: str, keys: Sequence[str]) -> dict[str, int]:
    """Series ids for the keys, inserting the missing ones (concurrent writers cannot duplicate them)."""
    existing = _select_series(conn, run_id, keys)
    missing = [key for key in keys if key not in existing]
    if missing:
        insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(metrics)
        conn.execute(
            insert.on_conflict_do_nothing(index_elements=["run_id", "key"]),
            [{"run_id": run_id, "key": key, "last_step": 0, "last_timestamp": 0.0, "count": 0} for key in missing],
        )
        existing = _select_series(conn, run_id, keys)
    return existing


def _select_series(conn: Connection, run_id: str, keys: Sequence[str]) -> dict[str, int]:
    query = sa.select(metrics.c.key, metrics.c.id).where(metrics.c.run_id == run_id, metrics.c.key.in_(keys))
    return {key: int(series_id) for key, series_id in conn.execute(query)}


def _fold_summaries(conn: Connection, series: dict[str, int], batches: dict[str, _Batch]) -> None:
    """Fold each batch into its series' latest value, count and range.

    "Latest" is the point with the highest step; among equal steps, the one logged last.
    """
    stored = {
        row._mapping["id"]: row._mapping
        # FOR UPDATE: on PostgreSQL two appends to one series must not both read the old count.
        for row in conn.execute(sa.select(metrics).where(metrics.c.id.in_(list(series.values()))).with_for_update())
    }
    for key, batch in batches.items():
        row = stored[series[key]]
        top = int(np.flatnonzero(batch.steps == batch.steps.max())[-1])
        last_value, last_step, last_timestamp = float(batch.values[top]), int(batch.steps[top]), batch.timestamps[top]
        if row["count"] and row["last_step"] > last_step:
            last_value, last_step, last_timestamp = _float(row["last_value"]), row["last_step"], row["last_timestamp"]
        finite = batch.values[~np.isnan(batch.values)]
        low = float(finite.min()) if finite.size else None
        high = float(finite.max()) if finite.size else None
        conn.execute(
            metrics.update()
            .where(metrics.c.id == series[key])
            .values(
                last_value=_storable(last_value),
                last_step=last_step,
                last_timestamp=float(last_timestamp),
                count=int(row["count"]) + len(batch.steps),
                min_value=_storable(_combine(min, row["min_value"], low)),
                max_value=_storable(_combine(max, row["max_value"], high)),
            )
        )


def _combine(pick: Any, stored: float | None, batch: float | None) -> float | None:
    if stored is None:
        return batch
    if batch is None:
        return float(stored)
    return float(pick(stored, batch))


def _concatenate(buffers: list[bytes], dtype: np.dtype[Any]) -> npt.NDArray[Any]:
    if not buffers:
        return np.empty(0, dtype=dtype.newbyteorder("="))
    joined = np.frombuffer(b"".join(buffers), dtype=dtype)
    return joined.astype(dtype.newbyteorder("="), copy=False)


def _storable(value: float | None) -> float | None:
    # SQLite turns NaN into NULL anyway; doing it everywhere keeps one meaning of NULL across backends.
    return None if value is None or math.isnan(value) else value


def _float(value: float | None) -> float:
    return math.nan if value is None else float(value)
