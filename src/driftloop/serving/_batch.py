"""Batch scoring: a file or a dataset version through a registered model, in streamed batches.

Memory follows the batch, not the input: rows are read ``batch_rows`` at a time (pyarrow's dataset
scanner for Parquet and CSV files, the version's own batches for a dataset) and each scored batch is written
to the output Parquet file before the next is read.

With ``log=True`` every scored row also goes to the workspace's prediction log (``protocol = "batch"``), so
labels that arrive later join them by request id like those of served predictions. The log's rows are staged
as Parquet files batch by batch while scoring and committed in one Delta commit once the output file is in
place: a failed scoring logs nothing, and a finished one is logged whole. Through a workspace server the rows are
sent to it once all are scored (``POST /api/v1/models/{name}/predictions``, :func:`log_batch_rows` there), and the
output appears only once the server has committed them.
"""

from __future__ import annotations

import contextlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any

import numpy as np
import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from driftloop.errors import DriftloopError, InvalidInput

if TYPE_CHECKING:
    from driftloop.registry import LoadedModel
    from driftloop.store.tables import StagedWrite, TableStore
    from driftloop.workspace import Workspace

__all__ = ["BatchScore", "score_batches"]

REQUEST_ID = "request_id"
"""The output column holding the generated request ids of logged rows (when the input has none)."""
# The role logged for a batch row. Not "champion": ``predict`` scores any version (houses/3, houses@challenger),
# and served_by says which role in live traffic made a prediction; a batch row had none, so it says "batch".
SERVED_BY = "batch"
ARROW_STREAM = "application/vnd.apache.arrow.stream"


@dataclass(frozen=True)
class BatchScore:
    """What a batch scoring did.

    Attributes:
        model: The model's name.
        version: The version that scored the rows.
        rows: Rows scored (and written to ``output``).
        output: The Parquet file written.
        logged: Rows appended to the prediction log (0 without ``log``).
    """

    model: str
    version: int
    rows: int
    output: str
    logged: int = 0


def score_batches(
    workspace: Workspace,
    reference: str,
    output: str | os.PathLike[str],
    *,
    input_path: str | os.PathLike[str] | None = None,
    dataset: str | None = None,
    dataset_version: int | None = None,
    batch_rows: int = 65_536,
    probabilities: bool = False,
    progress: Callable[[int], None] | None = None,
    log: bool = False,
    id_column: str | None = None,
) -> BatchScore:
    """Score every row of ``input_path`` (Parquet or CSV) or of a dataset version into the Parquet ``output``.

    The output holds the input's columns, then ``prediction``, then, with ``probabilities``, one
    ``probability_<class>`` column per class; with ``log`` and no ``id_column``, a last ``request_id`` column
    holds the id each row was logged under.

    Args:
        log: Append every scored row to the workspace's prediction log (``protocol`` and ``served_by`` are
            ``"batch"``), with its inputs, prediction and (when asked for) probabilities.
        id_column: With ``log``, the input column holding each row's request id (its values as text; they
            should be unique, as labels join by them). It is not passed to the model nor logged as an input.
            Without it, each row gets a generated id (a UUID4's hex).

    The output appears whole or not at all, and so do the logged rows: they are committed to the log, in
    one commit, only after the output file is in place. If scoring fails midway, nothing is logged (the
    files staged so far are deleted). If that final commit fails, the output stays written and the error is
    raised; scoring again logs the rows then. Through a workspace server, the commit is the server's: the rows
    are sent to it (``POST /api/v1/models/{name}/predictions``, the editor role) before the output is put in
    place, which a refusal (a role, a rule) then keeps from appearing. If the server's answer is lost after it
    committed (a dropped connection), the output is not written while the rows are logged; scoring again with
    the same ``id_column`` is then refused for ids already logged, and without one logs the rows again under
    new ids.

    Raises:
        InvalidInput: The arguments do not name exactly one input, the model gives no probabilities, the input
            has no rows, or the id column is missing or has an empty value.
        InvalidData: The input lacks a column the model takes.
        StoreError: The prediction log could not be written.
    """
    if (input_path is None) == (dataset is None):
        raise InvalidInput("Score either a file (--input) or a dataset (--dataset), exactly one of them.")
    if id_column is not None and not log:
        raise InvalidInput(f"The id column {id_column!r} names the request ids of logged rows; it takes log=True.")
    info = workspace.models.get(reference)
    model = workspace.models.load(f"{info.model}/{info.number}")
    if probabilities and not model.is_classifier:
        raise InvalidInput(f"{info.reference} is not a classifier; it gives no class probabilities.")
    batches = (
        _file_batches(input_path, batch_rows)
        if input_path is not None
        else _dataset_batches(workspace, dataset, dataset_version, batch_rows)
    )
    scorer = _Scorer(model, info.model, info.number, probabilities=probabilities, id_column=id_column, log=log)
    target = _Output(os.fspath(output))

    def scored() -> Iterator[pa.RecordBatch]:
        """Score and write each batch; yield its rows for the log (when logging)."""
        for batch in batches:
            table, logged = scorer.score(batch)
            target.write(table)
            if progress is not None:
                progress(batch.num_rows)
            if logged is not None:
                yield logged

    tables: TableStore | None = None
    staged: StagedWrite | None = None
    try:
        if log and workspace.is_remote:
            # The server commits the rows, or refuses them (a role, a rule) before the output appears.
            with _spooled(scored()) as spool:
                _send_to_the_server(workspace, info.model, spool)
        elif log:
            from driftloop.serving._prediction_log import PredictionLog
            from driftloop.serving._prediction_records import PREDICTION_SCHEMA
            from driftloop.store.tables import TableStore

            # The log's own buffered writer is made for requests: it commits every half second and drops
            # the oldest rows beyond its limit. A batch stages its rows instead, to commit them at once.
            prediction_log = PredictionLog(TableStore(workspace.settings.tables_url))
            tables = prediction_log.tables
            staged = tables.stage(prediction_log.table, scored(), fallback_schema=PREDICTION_SCHEMA)
        else:
            for _ in scored():
                pass
        target.finish()  # the output appears whole, or not at all
    except BaseException:
        target.discard()
        if tables is not None and staged is not None:
            # Files left behind belong to no version (a vacuum deletes them); the scoring's error is the news.
            with contextlib.suppress(DriftloopError):
                tables.discard(staged)
        raise
    if tables is not None and staged is not None:
        tables.commit(staged, mode="append", properties={"driftloop.operation": "prediction log"})
    return BatchScore(
        model=info.model,
        version=info.number,
        rows=target.rows,
        output=target.target,
        logged=target.rows if log else 0,
    )


class _Scorer:
    """Scores one batch into the output's table and, when logging, the log's rows."""

    def __init__(
        self, model: LoadedModel, name: str, version: int, *, probabilities: bool, id_column: str | None, log: bool
    ) -> None:
        self.model = model
        self.name = name
        self.version = version
        self.probabilities = probabilities
        self.id_column = id_column
        self.log = log
        self.classes: list[Any] = [] if model.classes_ is None else model.classes_.tolist()
        self.rows = 0  # rows scored before the current batch, to name a bad row by its place in the input

    def score(self, batch: pa.RecordBatch) -> tuple[pa.Table, pa.RecordBatch | None]:
        from driftloop.serving._prediction_records import RequestRows, encode_predictions

        started = time.perf_counter()
        request_ids = self._request_ids(batch)
        inputs = batch if self.id_column is None else batch.drop_columns([self.id_column])
        frame = inputs.to_pandas()
        predictions = np.asarray(self.model.predict(frame))
        matrix = np.asarray(self.model.predict_proba(frame)) if self.probabilities else None
        latency_ms = (time.perf_counter() - started) * 1000
        scored = pa.Table.from_batches([batch]).append_column("prediction", pa.array(predictions.tolist()))
        if matrix is not None:
            for index, label in enumerate(self.classes):
                scored = scored.append_column(f"probability_{label}", pa.array(matrix[:, index]))
        self.rows += batch.num_rows
        if request_ids is None:
            return scored, None
        if self.id_column is None:
            scored = scored.append_column(REQUEST_ID, pa.array(request_ids, pa.string()))
        rows = RequestRows(
            request_ids,
            datetime.now(UTC),
            self.name,
            self.version,
            {name: inputs.column(name).to_pylist() for name in inputs.schema.names},
            predictions,
            matrix,
            self.classes if matrix is not None else None,
            None,
            latency_ms,
            SERVED_BY,
            "batch",
        )
        return scored, encode_predictions([rows])

    def _request_ids(self, batch: pa.RecordBatch) -> list[str] | None:
        if not self.log:
            return None
        if self.id_column is None:
            if REQUEST_ID in batch.schema.names:
                raise InvalidInput(
                    f"The input has a {REQUEST_ID!r} column; name it as the id column (--id-column {REQUEST_ID}) "
                    "to log rows under those ids, or rename it."
                )
            return [uuid.uuid4().hex for _ in range(batch.num_rows)]
        if self.id_column not in batch.schema.names:
            raise InvalidInput(
                f"The input has no id column {self.id_column!r}; its columns: {', '.join(batch.schema.names)}."
            )
        ids: list[str] = batch.column(self.id_column).cast(pa.string()).to_pylist()
        for row, value in enumerate(ids):
            if value is None or not value.strip():
                raise InvalidInput(
                    f"Every row needs a request id, but the id column {self.id_column!r} is empty in row "
                    f"{self.rows + row + 1} of the input."
                )
        return ids


class _Output:
    """The output Parquet file: written to ``<target>.partial``, moved into place whole by :meth:`finish`."""

    def __init__(self, target: str) -> None:
        self.target = target
        self.partial = f"{target}.partial"
        self.rows = 0
        self._writer: pq.ParquetWriter | None = None

    def write(self, table: pa.Table) -> None:
        if self._writer is None:
            self._writer = pq.ParquetWriter(self.partial, table.schema, compression="snappy")
        self._writer.write_table(table)
        self.rows += table.num_rows

    def finish(self) -> None:
        if self._writer is None:
            raise InvalidInput("There is nothing to score: the input has no rows.")
        self._writer.close()
        self._writer = None
        os.replace(self.partial, self.target)

    def discard(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None
        if os.path.exists(self.partial):
            os.remove(self.partial)


def _file_batches(path: str | os.PathLike[str], batch_rows: int) -> Iterator[pa.RecordBatch]:
    text = os.fspath(path)
    if not os.path.exists(text):
        raise InvalidInput(f"No input file at {text!r}.")
    kind = "csv" if text.endswith((".csv", ".csv.gz")) else "parquet"
    for batch in pads.dataset(text, format=kind).to_batches(batch_size=batch_rows):
        if batch.num_rows:
            yield batch


def _dataset_batches(
    workspace: Workspace, name: str | None, version: int | None, batch_rows: int
) -> Iterator[pa.RecordBatch]:
    assert name is not None
    for batch in workspace.datasets.get(name, version).batches(batch_rows):
        if "_source_row" in batch.schema.names:
            batch = batch.drop_columns(["_source_row"])
        if batch.num_rows:
            yield batch


def _spooled(rows: Iterator[pa.RecordBatch]) -> IO[bytes]:
    """The scored rows' log records as an Arrow IPC stream in a temporary file (removed when closed)."""
    import tempfile

    from driftloop.serving._prediction_records import PREDICTION_SCHEMA

    spool = tempfile.TemporaryFile()  # noqa: SIM115 - handed to the caller, who closes it
    try:
        with pa.ipc.new_stream(spool, PREDICTION_SCHEMA) as writer:
            for batch in rows:
                writer.write_batch(batch)
    except BaseException:
        spool.close()
        raise
    spool.seek(0)
    return spool


def _send_to_the_server(workspace: Workspace, model: str, spool: IO[bytes]) -> None:
    """Send the spooled log records to the workspace server, which commits them all at once or refuses them all."""
    from driftloop.remote._client import quoted

    workspace.server.request(
        "POST",
        quoted("models", model, "predictions"),
        content=iter(lambda: spool.read(1 << 20), b""),
        headers={"Content-Type": ARROW_STREAM},
        timeout=3600.0,
    )


def log_batch_rows(workspace: Workspace, model: str, stream: Any) -> int:
    """Commit scored rows sent by a client (an Arrow IPC stream of prediction records) to ``model``'s part of the
    prediction log, all at once; returns how many.

    Every row must be a batch scoring's (``served_by`` and ``protocol`` are ``batch``) by a registered version of
    ``model``, with a request id of its own (in the stream, and not in the log yet): a client cannot pass its rows
    off as a server's traffic or another model's, nor attach its rows to labels of predictions logged before. Each
    row's time is the server's, when it takes the rows: a client cannot date rows into the future, where they
    would stay the latest window of every drift check.

    Raises:
        InvalidInput: The stream is not Arrow, lacks a column, or a row breaks a rule above; nothing is logged.
    """
    import pyarrow.compute as pc

    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.serving._prediction_records import PREDICTION_SCHEMA
    from driftloop.store.tables import TableStore

    try:
        reader = pa.ipc.open_stream(stream)
    except (pa.ArrowInvalid, OSError) as error:
        raise InvalidInput(f"The scored rows must be an Arrow IPC stream of prediction records: {error}") from None
    missing = [name for name in PREDICTION_SCHEMA.names if name not in reader.schema.names]
    if missing:
        raise InvalidInput(f"The scored rows lack the column(s) {', '.join(missing)} of the prediction log.")
    versions = {info.number for info in workspace.models.versions(model)}
    count = 0

    def batches() -> Iterator[pa.RecordBatch]:
        try:
            yield from reader
        except (pa.ArrowInvalid, OSError) as error:
            raise InvalidInput(f"The scored rows' Arrow stream breaks off or is damaged: {error}") from None

    def checked() -> Iterator[pa.RecordBatch]:
        nonlocal count
        for batch in batches():
            try:
                batch = batch.select(PREDICTION_SCHEMA.names).cast(PREDICTION_SCHEMA)
            except (pa.ArrowInvalid, pa.ArrowTypeError, ValueError) as error:
                raise InvalidInput(f"The scored rows do not fit the prediction log's columns: {error}") from None
            for column, wanted in (("model", model), ("served_by", SERVED_BY), ("protocol", "batch")):
                found = set(pc.unique(batch.column(column)).to_pylist()) - {wanted}
                if found:
                    raise InvalidInput(f"Every row's {column} must be {wanted!r} here; got {sorted(found)[:5]}.")
            unknown = set(pc.unique(batch.column("version")).to_pylist()) - versions
            if unknown:
                raise InvalidInput(f"The model {model!r} has no version {sorted(unknown)[0]}.")
            if pc.any(pc.equal(pc.utf8_length(batch.column("request_id")), 0)).as_py():
                raise InvalidInput("Every scored row needs a request id; one is empty.")
            ids.append(batch.column("request_id"))
            count += batch.num_rows
            stamped = pa.array(np.full(batch.num_rows, received), PREDICTION_SCHEMA.field("at").type)
            yield batch.set_column(PREDICTION_SCHEMA.get_field_index("at"), PREDICTION_SCHEMA.field("at"), stamped)

    prediction_log = PredictionLog(TableStore(workspace.settings.tables_url))
    tables = prediction_log.tables
    ids: list[pa.Array] = []
    received = np.datetime64(datetime.now(UTC).replace(tzinfo=None), "us")
    staged = tables.stage(prediction_log.table, checked(), fallback_schema=PREDICTION_SCHEMA)
    try:
        sent = pa.chunked_array(ids, pa.string()).combine_chunks() if ids else pa.array([], pa.string())
        if len(pc.unique(sent)) < len(sent):
            raise InvalidInput("Each scored row needs a request id of its own; the rows repeat one.")
        logged = prediction_log.read(request_ids=sent.to_pylist()) if len(sent) else None
        if logged is not None and logged.num_rows:
            taken = logged.column("request_id")[0].as_py()
            raise InvalidInput(
                f"{logged.num_rows:,} request id(s) are in the prediction log already (such as {taken!r}): "
                "scored rows are logged under ids of their own."
            )
        tables.commit(staged, mode="append", properties={"driftloop.operation": "prediction log"})
    except BaseException:
        with contextlib.suppress(DriftloopError):
            tables.discard(staged)
        raise
    return count
