"""The prediction log: every served prediction, appended to a Delta table off the request path.

One row per scored row: its request id, time, model name and version, inputs, output, probabilities, latency,
the input check's flags, the role of the version that made it (champion, canary or shadow) and the request
format. :meth:`PredictionLog.append_request` only buffers a request's rows as they are (about a microsecond,
whatever the number of rows); a background thread commits the buffer every ``flush_interval`` seconds as one
Delta commit of one Parquet file, so an acknowledged prediction is on disk within a second, and
:meth:`PredictionLog.close` (the server's shutdown) loses none. Several server processes append to the same
table; Delta's optimistic concurrency orders their commits.

Inputs, outputs and probabilities are stored as JSON text, encoded on the flushing thread: models differ in
their columns, and one table serves them all. Monitoring reads the log with :meth:`PredictionLog.read` and
joins the ground truth with :meth:`PredictionLog.joined`.

>>> import tempfile
>>> from driftloop.store.tables import TableStore
>>> with tempfile.TemporaryDirectory() as folder:
...     log = PredictionLog(TableStore(folder))
...     log.append_request(
...         request_ids=["r1", "r2"],
...         model="houses",
...         version=3,
...         columns={"area": [75.0, 120.0]},
...         predictions=[210.5, 388.0],
...         latency_ms=1.2,
...     )
...     log.close()
...     log.read(model="houses").column("prediction").to_pylist()
['210.5', '388.0']
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import pyarrow as pa
import pyarrow.compute as pc

from driftloop.errors import InvalidInput
from driftloop.serving._buffered_table_writer import BufferedTableWriter, WriterStats
from driftloop.serving._labels import LABEL_COLUMNS, LabelStore
from driftloop.serving._log_tables import (
    DEFAULT_RETAIN_HOURS,
    TIMESTAMP,
    CompactionResult,
    MaintenanceReport,
    compact_table,
    maintain_table,
    read_committed,
    time_conditions,
)
from driftloop.serving._prediction_records import (
    PREDICTION_SCHEMA,
    EncodedRow,
    PredictionRecord,
    RequestRows,
    Values,
    encode_predictions,
    encode_row,
    rows_in,
)
from driftloop.serving._process_writer import ProcessTableWriter

if TYPE_CHECKING:
    from driftloop.store.tables import TableStore

__all__ = ["JOINED_SCHEMA", "PredictionLog"]

LoggedItem = PredictionRecord | RequestRows | EncodedRow

JOINED_SCHEMA = pa.schema(
    [
        *PREDICTION_SCHEMA,
        pa.field("label", pa.string()),
        pa.field("label_source", pa.string()),
        pa.field("label_at", TIMESTAMP),
        pa.field("label_actor", pa.string()),
    ]
)


class PredictionLog:
    """The workspace's prediction table: appended to in batches, read for monitoring. Building it does no I/O.

    Args:
        tables: The workspace's table store (``TableStore(workspace.settings.tables_url)``).
        table: The table's name.
        flush_interval: Seconds between two commits of the buffer; a prediction is on disk about this long
            (plus one commit) after it was appended.
        separate_process: Commit from a child process (:mod:`~driftloop.serving._process_writer`), so the
            encoding and committing never hold this process's interpreter lock: what a server wants.
        max_rows: The most predictions held while the storage fails; beyond it the oldest are dropped (and
            counted in :attr:`stats`).
    """

    def __init__(
        self,
        tables: TableStore,
        *,
        table: str = "_predictions",
        flush_interval: float = 0.5,
        max_rows: int = 50_000,
        separate_process: bool = False,
    ) -> None:
        self.tables = tables
        self.table = table
        self.flush_interval = flush_interval
        self.max_rows = max_rows
        options: dict[str, Any] = {
            "encode": encode_predictions,
            "schema": PREDICTION_SCHEMA,
            "size": rows_in,
            "flush_interval": flush_interval,
            "max_rows": max_rows,
            "properties": {"driftloop.operation": "prediction log"},
        }
        self._writer: BufferedTableWriter[LoggedItem] | ProcessTableWriter[LoggedItem] = (
            ProcessTableWriter(tables.url, table, **options)
            if separate_process
            else BufferedTableWriter(tables, table, **options)
        )

    def start(self) -> None:
        """Start the writer process now, while the server starts (with ``separate_process``; else nothing)."""
        if isinstance(self._writer, ProcessTableWriter):
            self._writer.start()

    def __repr__(self) -> str:
        return f"PredictionLog({self.tables.uri(self.table)!r})"

    # -- writing ----------------------------------------------------------------------------------------

    def append_request(
        self,
        *,
        request_ids: Sequence[str],
        model: str,
        version: int,
        columns: Mapping[str, Values],
        predictions: Values,
        probabilities: Values | None = None,
        classes: Values | None = None,
        flags: Sequence[Sequence[str]] | None = None,
        latency_ms: float = 0.0,
        served_by: str = "champion",
        protocol: str = "native",
        at: datetime | None = None,
    ) -> None:
        """Buffer the rows of one scored request (no I/O, no copy); they are committed within about a second.

        Args:
            request_ids: One per row.
            model: The served model's name.
            version: The version that scored the request.
            columns: The request's inputs by column, one value per row (lists or NumPy arrays).
            predictions: One output per row.
            probabilities: One row of class probabilities per row, when they were asked for.
            classes: The class of each probability column; the probabilities are then logged by class name.
            flags: Per row, what the input check flagged.
            latency_ms: The request's latency, logged with each row.
            served_by: The role of the version: ``champion``, ``canary`` or ``shadow``.
            protocol: The request format: ``native``, ``mlflow``, ``v2``, ``batch``.
            at: When the request was scored (now by default).

        The arguments are kept as they are and read when the log is flushed: they must not change afterwards.

        Raises:
            InvalidInput: The outputs do not have one entry per request id.
            InvalidState: The log was closed.
        """
        rows = len(request_ids)
        if len(predictions) != rows or (probabilities is not None and len(probabilities) != rows):
            raise InvalidInput(
                f"A request of {rows} row(s) needs as many predictions and probabilities; got {len(predictions)} "
                f"and {'none' if probabilities is None else len(probabilities)}."
            )
        moment = datetime.now(UTC) if at is None else at
        if rows == 1:
            # The common request: encoded now, in a few microseconds, the buffer holds one tuple (far fewer
            # objects for the garbage collector to scan) and the flushing thread has little left to do.
            try:
                row = encode_row(
                    request_ids[0],
                    moment,
                    model,
                    version,
                    columns,
                    predictions[0],
                    None if probabilities is None else probabilities[0],
                    classes,
                    () if flags is None else flags[0],
                    latency_ms,
                    served_by,
                    protocol,
                )
            except InvalidInput:
                pass  # kept as it came: the flush drops and counts what cannot be encoded
            else:
                self._writer.append([row])
                return
        self._writer.append(
            [
                RequestRows(
                    request_ids,
                    moment,
                    model,
                    version,
                    columns,
                    predictions,
                    probabilities,
                    classes,
                    flags,
                    latency_ms,
                    served_by,
                    protocol,
                )
            ]
        )

    def append(self, records: Sequence[PredictionRecord]) -> None:
        """Buffer ``records`` (no I/O); they are committed within about ``flush_interval`` seconds.

        Raises:
            InvalidState: The log was closed.
        """
        self._writer.append(records)

    def flush(self) -> int:
        """Commit every record appended so far, now; returns how many this call committed.

        Raises:
            StoreError: The storage failed; the records stay buffered and are retried.
        """
        return self._writer.flush()

    def close(self, *, timeout: float = 30.0) -> None:
        """Commit what is buffered (retrying for up to ``timeout`` seconds) and stop the flushing thread."""
        self._writer.close(timeout=timeout)

    @property
    def stats(self) -> WriterStats:
        """Rows written, pending and dropped, commits made, failures and the last error."""
        return self._writer.stats

    # -- reading ----------------------------------------------------------------------------------------

    def table_version(self) -> int | None:
        """The table's latest Delta version (None before the first commit): what a report refers to."""
        return self.tables.latest_version(self.table)

    def read(
        self,
        model: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        version: int | None = None,
        request_ids: Sequence[str] | None = None,
        table_version: int | None = None,
    ) -> pa.Table:
        """Committed predictions, oldest first, in :data:`PREDICTION_SCHEMA`.

        Args:
            model: Only this model's predictions.
            since: Only predictions made at or after this moment (timezone-aware).
            until: Only predictions made before this moment (timezone-aware).
            version: Only predictions of this model version.
            request_ids: Only the predictions of these requests.
            table_version: Read the table as it was at this Delta version (the latest by default).
        """
        where = _prediction_filter(model, since, until, version)
        if request_ids is not None:
            # Typed: an empty list would be an array of nulls, which Arrow cannot compare with text ids.
            wanted = pc.field("request_id").isin(pa.array(list(request_ids), type=pa.string()))
            where = wanted if where is None else where & wanted
        rows = read_committed(self.tables, self.table, PREDICTION_SCHEMA, where=where, table_version=table_version)
        return rows.sort_by([("at", "ascending"), ("request_id", "ascending")])

    def joined(
        self,
        model: str | None = None,
        *,
        since: datetime | None = None,
        until: datetime | None = None,
        version: int | None = None,
        labels: LabelStore | None = None,
    ) -> pa.Table:
        """Committed predictions left-joined with the latest committed label of each request id.

        The label columns (``label``, ``label_source``, ``label_at``, ``label_actor``) are null where no label
        arrived yet. ``labels`` defaults to the ``_labels`` table of the same store.
        """
        import polars as pl

        predictions = cast(pl.DataFrame, pl.from_arrow(self.read(model, since=since, until=until, version=version)))
        store = labels if labels is not None else LabelStore(self.tables)
        latest = cast(pl.DataFrame, pl.from_arrow(store.latest())).select(
            pl.col("request_id"),
            *(pl.col(name).alias(name if name == "label" else f"label_{name}") for name in LABEL_COLUMNS),
        )
        joined = predictions.join(latest, on="request_id", how="left", maintain_order="left")
        return joined.to_arrow().select(JOINED_SCHEMA.names).cast(JOINED_SCHEMA)

    # -- upkeep -----------------------------------------------------------------------------------------

    def compact(self, *, older_than_versions: int = 0, target_rows: int = 500_000) -> CompactionResult:
        """Rewrite runs of small files into files of about ``target_rows`` rows, in one commit.

        Raises:
            Conflict: Another process compacted the table at the same time; this call changed nothing.
        """
        return compact_table(self.tables, self.table, target_rows=target_rows, older_than_versions=older_than_versions)

    def maintain(
        self,
        *,
        target_rows: int = 500_000,
        retain_hours: int = DEFAULT_RETAIN_HOURS,
        keep_versions: Sequence[int] = (),
    ) -> MaintenanceReport:
        """Compact, checkpoint and vacuum the table: meant to run every few minutes in one process.

        Every version stays readable for ``retain_hours`` after compaction replaced its files, and the versions
        in ``keep_versions`` (those a report refers to) stay readable for good.
        """
        return maintain_table(
            self.tables, self.table, target_rows=target_rows, retain_hours=retain_hours, keep_versions=keep_versions
        )


# -- internals -------------------------------------------------------------------------------------------


def _prediction_filter(
    model: str | None, since: datetime | None, until: datetime | None, version: int | None
) -> pc.Expression | None:
    conditions: list[pc.Expression] = []
    if model is not None:
        conditions.append(pc.field("model") == model)
    if version is not None:
        if isinstance(version, bool) or not isinstance(version, int):
            raise InvalidInput(f"The 'version' must be a model version number; got {version!r}.")
        conditions.append(pc.field("version") == version)
    conditions.extend(time_conditions(since, until))
    if not conditions:
        return None
    where = conditions[0]
    for condition in conditions[1:]:
        where = where & condition
    return where
