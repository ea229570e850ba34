"""Ground-truth labels by request id: one table for every source (feedback now, the label queue later).

A label may arrive at any time: seconds after its prediction (before the prediction log was even flushed) or
weeks later, and more than once (a correction). Every label is kept; the one that counts for a request id is the
latest (by ``at``, then by when it was recorded). Nothing checks that the request id was logged: a label for a
prediction still in another server's buffer must not be refused.

Labels are appended the buffered way, like predictions, rather than committed one by one: a labelling job that
posts one label per request would otherwise make one Delta commit and one file per label, each costing tens of
milliseconds of the request and racing the prediction log's commits. They get the same promise as predictions:
on disk within about a second, none lost on a graceful shutdown. A caller that must know a label is on disk
before answering calls :meth:`LabelStore.flush`.

>>> import tempfile
>>> from driftloop.store.tables import TableStore
>>> with tempfile.TemporaryDirectory() as folder:
...     labels = LabelStore(TableStore(folder))
...     _ = labels.record("r1", 200.0)
...     _ = labels.record("r1", 210.0, actor="ana")  # a correction: the latest label counts
...     labels.close()
...     labels.latest().select(["request_id", "label", "actor"]).to_pylist()
[{'request_id': 'r1', 'label': '210.0', 'actor': 'ana'}]
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import orjson
import pyarrow as pa
import pyarrow.compute as pc

from driftloop.errors import InvalidInput
from driftloop.serving._buffered_table_writer import BufferedTableWriter, WriterStats
from driftloop.serving._log_tables import (
    DEFAULT_RETAIN_HOURS,
    TIMESTAMP,
    MaintenanceReport,
    maintain_table,
    read_committed,
    time_conditions,
)

if TYPE_CHECKING:
    from driftloop.store.tables import TableStore

__all__ = ["LABEL_COLUMNS", "LABEL_SCHEMA", "LabelRecord", "LabelStore"]

LABEL_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("label", pa.string(), nullable=False),  # JSON: a number or a label
        pa.field("source", pa.string(), nullable=False),  # feedback, label_queue, ...
        pa.field("at", TIMESTAMP, nullable=False),  # when the label was true (when it was recorded by default)
        pa.field("actor", pa.string()),  # who gave it, when known
        pa.field("recorded_at", TIMESTAMP, nullable=False),
    ]
)
"""The labels table's columns."""
LABEL_COLUMNS = ("label", "source", "at", "actor")
"""The columns a label adds to a prediction when they are joined (prefixed ``label_`` there)."""
MAX_TEXT = 256


@dataclass(frozen=True, slots=True)
class LabelRecord:
    """One label, as the labels table stores it (``label`` is JSON text)."""

    request_id: str
    label: str
    source: str
    at: datetime
    actor: str | None
    recorded_at: datetime


class LabelStore:
    """The labels table: every label of every source, by request id. Building it does no I/O.

    Args:
        tables: The workspace's table store.
        table: The table's name.
        flush_interval: Seconds between two commits of the buffered labels.
        max_rows: The most labels held while the storage fails; beyond it the oldest are dropped and counted.
    """

    def __init__(
        self, tables: TableStore, *, table: str = "_labels", flush_interval: float = 0.5, max_rows: int = 50_000
    ) -> None:
        self.tables = tables
        self.table = table
        self.flush_interval = flush_interval
        self.max_rows = max_rows
        self._writer = BufferedTableWriter(
            tables,
            table,
            encode=encode_labels,
            schema=LABEL_SCHEMA,
            flush_interval=flush_interval,
            max_rows=max_rows,
            properties={"driftloop.operation": "labels"},
        )

    def __repr__(self) -> str:
        return f"LabelStore({self.tables.uri(self.table)!r})"

    # -- writing ----------------------------------------------------------------------------------------

    def record(
        self,
        request_id: str,
        label: Any,
        *,
        source: str = "feedback",
        at: datetime | None = None,
        actor: str | None = None,
    ) -> LabelRecord:
        """Record ``label`` as the ground truth of ``request_id``; it is on disk within about a second.

        Args:
            request_id: The prediction's request id (it need not be in the log yet).
            label: A number, a string or a boolean (any JSON value but null and non-finite numbers).
            source: Where the label comes from: ``feedback`` (the feedback endpoint), ``label_queue``...
            at: When the label was true (now by default); of several labels, the latest counts.
            actor: Who gave it.

        Raises:
            InvalidInput: An argument is not acceptable (the message says which); nothing was recorded.
            InvalidState: The store was closed.
        """
        return self.record_many({request_id: label}, source=source, at=at, actor=actor)[0]

    def record_many(
        self,
        labels: Mapping[str, Any] | Iterable[tuple[str, Any]],
        *,
        source: str = "feedback",
        at: datetime | None = None,
        actor: str | None = None,
    ) -> list[LabelRecord]:
        """Record several labels (request id → label, or pairs), all or none; returns what was recorded."""
        _check_text("source", source)
        if actor is not None:
            _check_text("actor", actor)
        now = datetime.now(UTC)
        if at is not None and (not isinstance(at, datetime) or at.tzinfo is None):
            raise InvalidInput(f"The 'at' of a label must be a timezone-aware datetime; got {at!r}.")
        pairs = labels.items() if isinstance(labels, Mapping) else labels
        records = [
            LabelRecord(
                request_id=_check_text("request_id", request_id),
                label=_label_text(request_id, label),
                source=source,
                at=now if at is None else at,
                actor=actor,
                recorded_at=now,
            )
            for request_id, label in pairs
        ]
        self._writer.append(records)
        return records

    def flush(self) -> int:
        """Commit every label recorded so far, now; returns how many this call committed."""
        return self._writer.flush()

    def close(self, *, timeout: float = 30.0) -> None:
        """Commit what is buffered (retrying for up to ``timeout`` seconds) and stop the flushing thread."""
        self._writer.close(timeout=timeout)

    @property
    def stats(self) -> WriterStats:
        return self._writer.stats

    # -- reading ----------------------------------------------------------------------------------------

    def read(
        self,
        *,
        request_ids: Sequence[str] | None = None,
        source: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        recorded_since: datetime | None = None,
        recorded_until: datetime | None = None,
        table_version: int | None = None,
    ) -> pa.Table:
        """Every committed label (corrections included) matching the filters, in :data:`LABEL_SCHEMA`.

        ``since`` and ``until`` bound ``at``, the moment the label was true; ``recorded_since`` and
        ``recorded_until`` bound ``recorded_at``, the moment it reached driftloop (``since <= moment < until``).
        """
        conditions = time_conditions(since, until)
        conditions.extend(time_conditions(recorded_since, recorded_until, column="recorded_at"))
        if request_ids is not None:
            conditions.append(pc.field("request_id").isin(list(request_ids)))
        if source is not None:
            conditions.append(pc.field("source") == source)
        where = None
        for condition in conditions:
            where = condition if where is None else where & condition
        return read_committed(self.tables, self.table, LABEL_SCHEMA, where=where, table_version=table_version)

    def latest(self, *, source: str | None = None, table_version: int | None = None) -> pa.Table:
        """The label that counts for each request id: the latest by ``at``, then by when it was recorded."""
        import polars as pl

        every = cast(pl.DataFrame, pl.from_arrow(self.read(source=source, table_version=table_version)))
        latest = every.sort(["at", "recorded_at"], maintain_order=True).unique(
            subset="request_id", keep="last", maintain_order=True
        )
        return latest.to_arrow().cast(LABEL_SCHEMA)

    # -- upkeep -----------------------------------------------------------------------------------------

    def maintain(
        self, *, target_rows: int = 500_000, retain_hours: int = DEFAULT_RETAIN_HOURS, keep_versions: Sequence[int] = ()
    ) -> MaintenanceReport:
        """Compact, checkpoint and vacuum the table (see :meth:`PredictionLog.maintain`)."""
        return maintain_table(
            self.tables, self.table, target_rows=target_rows, retain_hours=retain_hours, keep_versions=keep_versions
        )


def encode_labels(records: Sequence[LabelRecord]) -> pa.RecordBatch:
    """The record batch of ``records`` in :data:`LABEL_SCHEMA` (runs on the flushing thread)."""
    columns = [
        pa.array([record.request_id for record in records], pa.string()),
        pa.array([record.label for record in records], pa.string()),
        pa.array([record.source for record in records], pa.string()),
        pa.array([record.at for record in records], TIMESTAMP),
        pa.array([record.actor for record in records], pa.string()),
        pa.array([record.recorded_at for record in records], TIMESTAMP),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=LABEL_SCHEMA)


def _check_text(name: str, value: Any) -> str:
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_TEXT:
        raise InvalidInput(
            f"The '{name}' of a label must be a non-empty string of at most {MAX_TEXT} characters; got {value!r}."
        )
    return value


def _label_text(request_id: str, label: Any) -> str:
    """The label as JSON text; null and non-finite numbers are refused (they are no ground truth)."""
    if label is None or (isinstance(label, float) and not math.isfinite(label)):
        raise InvalidInput(
            f"The label of request {request_id!r} must be a number, a string or a boolean; got {label!r}."
        )
    try:
        return orjson.dumps(label, option=orjson.OPT_SERIALIZE_NUMPY).decode()
    except TypeError as error:
        raise InvalidInput(
            f"The label of request {request_id!r} must be a JSON value (a number, a string, a boolean); "
            f"got a {type(label).__name__}."
        ) from error
