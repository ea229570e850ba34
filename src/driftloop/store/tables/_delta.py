"""Versioned tables on Delta Lake, written in two phases: stage the files, then commit them.

Staging writes Parquet files into the table's folder without touching the Delta log, so nobody sees
them; committing adds them in one Delta transaction (the moment the new version exists); discarding
deletes them. The caller decides in between (e.g. the content is identical to an existing version,
so nothing is committed). A crash while staging leaves only unreferenced files, which ``vacuum``
removes. Reads go through the Delta log for the file list and through pyarrow for the bytes: the
deltalake-to-pyarrow dataset bridge can abort the interpreter at exit (a thread-teardown race), and
plain Parquet reads cannot.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from driftloop.errors import InvalidData, InvalidSettings, NotFound

__all__ = ["StagedWrite", "TableStore"]

WriteMode = Literal["append", "overwrite"]
# Rows per Parquet file: big enough for fast scans, small enough that a file is written in bounded memory.
ROWS_PER_FILE = 1_000_000


@dataclass
class StagedWrite:
    """Parquet files written for one table and not yet committed."""

    table: str
    schema: pa.Schema
    files: list[tuple[str, int, int]] = field(default_factory=list)  # (relative path, bytes, rows)
    rows: int = 0
    fingerprint: str = ""


class TableStore:
    """Delta tables under a root folder, one folder per table. Building it does no I/O."""

    def __init__(self, url: str) -> None:
        if "://" in url and not url.startswith("file://"):
            raise InvalidSettings(
                f"Tables can live in a local folder for now; {url!r} is not one. Object storage for tables "
                "comes with the shared-infrastructure work."
            )
        self.url = url.removeprefix("file://")

    def uri(self, table: str) -> str:
        return str(Path(self.url) / table)

    def exists(self, table: str) -> bool:
        from deltalake import DeltaTable

        return DeltaTable.is_deltatable(self.uri(table))

    # -- writing -----------------------------------------------------------------------------------

    def stage(self, table: str, batches: Iterable[pa.RecordBatch], *, fallback_schema: pa.Schema) -> StagedWrite:
        """Write ``batches`` as Parquet files in the table's folder, invisible until :meth:`commit`.

        The table's schema is the first batch's (``fallback_schema`` when there is none); every batch
        must have it. The fingerprint is a SHA-256 over every batch's Arrow IPC bytes: the same data
        read the same way gives the same fingerprint. Files are written on a background thread while
        the caller's thread produces the next batch (both mostly run outside the GIL).
        """
        folder = Path(self.uri(table))
        folder.mkdir(parents=True, exist_ok=True)
        sink = _ParquetSink(folder, StagedWrite(table=table, schema=fallback_schema))
        handoff: queue.Queue[pa.RecordBatch | None] = queue.Queue(maxsize=2)
        writer = threading.Thread(target=sink.drain, args=(handoff,), name="driftloop-table-writer", daemon=True)
        writer.start()
        schema: pa.Schema | None = None
        try:
            for batch in batches:
                if batch.num_rows == 0:
                    continue
                if schema is None:
                    schema = batch.schema
                elif not batch.schema.equals(schema):
                    raise InvalidData(f"A batch for table {table!r} has the schema {batch.schema} instead of {schema}.")
                if not _hand_over(handoff, batch, writer):
                    break  # the writer failed; its error is raised below
        except BaseException:
            sink.abandon()
            _hand_over(handoff, None, writer)
            writer.join()
            self.discard(sink.staged, extra=sink.open_files())
            raise
        _hand_over(handoff, None, writer)
        writer.join()
        if sink.error is not None:
            self.discard(sink.staged, extra=sink.open_files())
            raise sink.error
        return sink.staged

    def commit(self, staged: StagedWrite, *, mode: WriteMode, properties: Mapping[str, str]) -> int:
        """Add the staged files to the table in one Delta commit; returns the new Delta version."""
        from deltalake import DeltaTable, Schema
        from deltalake.transaction import AddAction, CommitProperties, RemoveAction, create_table_with_add_actions

        now = int(time.time() * 1000)
        actions: list[AddAction | RemoveAction] = [
            AddAction(path, size, {}, now, True, json.dumps({"numRecords": rows})) for path, size, rows in staged.files
        ]
        commit_properties = CommitProperties(custom_metadata=dict(properties), max_commit_retries=50)
        uri = self.uri(staged.table)
        if not DeltaTable.is_deltatable(uri):
            adds = [action for action in actions if isinstance(action, AddAction)]
            create_table_with_add_actions(
                uri, Schema.from_arrow(staged.schema), adds, mode="error", commit_properties=commit_properties
            )
        else:
            DeltaTable(uri).create_write_transaction(
                actions, mode=mode, schema=staged.schema, commit_properties=commit_properties
            )
        return int(DeltaTable(uri).version())

    def discard(self, staged: StagedWrite, *, extra: Iterable[str] = ()) -> None:
        """Delete staged files that will not be committed."""
        folder = Path(self.uri(staged.table))
        for name in [path for path, _, _ in staged.files] + list(extra):
            with contextlib.suppress(FileNotFoundError):
                os.remove(folder / name)

    def restore(self, table: str, version: int) -> None:
        """Make ``version`` the table's current state again (a new Delta commit)."""
        from deltalake import DeltaTable

        DeltaTable(self.uri(table)).restore(version)

    # -- reading -----------------------------------------------------------------------------------

    def latest_version(self, table: str) -> int | None:
        from deltalake import DeltaTable

        uri = self.uri(table)
        return int(DeltaTable(uri).version()) if DeltaTable.is_deltatable(uri) else None

    def dataset(self, table: str, version: int) -> pads.Dataset:
        """The table as it was at Delta ``version``, as a lazily read pyarrow dataset."""
        from deltalake import DeltaTable

        uri = self.uri(table)
        if not DeltaTable.is_deltatable(uri):
            raise NotFound(f"No table {table!r} under {self.url}.")
        snapshot = DeltaTable(uri, version=version)
        files = sorted(_local_path(uri_) for uri_ in snapshot.file_uris())
        if files:  # the files carry the exact Arrow types we wrote; Delta's schema may widen them
            return pads.dataset(files, format="parquet")
        return pads.dataset([], schema=pa.schema(snapshot.schema().to_arrow()), format="parquet")

    def read(self, table: str, version: int) -> pa.Table:
        return self.dataset(table, version).to_table()

    def batches(self, table: str, version: int, *, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        yield from self.dataset(table, version).to_batches(batch_size=batch_size)

    def history(self, table: str) -> list[dict[str, Any]]:
        from deltalake import DeltaTable

        return list(DeltaTable(self.uri(table)).history())


class _ParquetSink:
    """Writes handed-over batches into Parquet files and the fingerprint, on the writer thread."""

    def __init__(self, folder: Path, staged: StagedWrite) -> None:
        self.folder = folder
        self.staged = staged
        self.error: BaseException | None = None
        self._digest = hashlib.sha256()
        self._writer: pq.ParquetWriter | None = None
        self._current = ""
        self._rows_in_file = 0
        self._abandoned = False

    def drain(self, handoff: queue.Queue[pa.RecordBatch | None]) -> None:
        try:
            while (batch := handoff.get()) is not None:
                if not self._abandoned and self.error is None:
                    self._write(batch)
            self._finish()
        except BaseException as error:
            self.error = error
            self._close_file()

    def abandon(self) -> None:
        self._abandoned = True

    def open_files(self) -> list[str]:
        return [self._current] if self._current else []

    def _write(self, batch: pa.RecordBatch) -> None:
        if self._writer is None:
            self.staged.schema = batch.schema
            self._digest.update(batch.schema.serialize().to_pybytes())
        self._digest.update(batch.serialize().to_pybytes())
        if self._writer is None or self._rows_in_file >= ROWS_PER_FILE:
            self._close_file()
            # Names sort in staging order, so reads give rows back in the order they were ingested.
            self._current = f"part-{time.time_ns():020d}-{uuid.uuid4().hex[:12]}.parquet"
            self._writer = pq.ParquetWriter(self.folder / self._current, batch.schema, compression="snappy")
        self._writer.write_batch(batch)
        self._rows_in_file += batch.num_rows
        self.staged.rows += batch.num_rows

    def _close_file(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self.staged.files.append(_file_entry(self.folder, self._current, self._rows_in_file))
            self._writer, self._current, self._rows_in_file = None, "", 0

    def _finish(self) -> None:
        self._close_file()
        if not self.staged.files:
            self._digest.update(self.staged.schema.serialize().to_pybytes())
        self.staged.fingerprint = self._digest.hexdigest()


def _hand_over(
    handoff: queue.Queue[pa.RecordBatch | None], item: pa.RecordBatch | None, writer: threading.Thread
) -> bool:
    """Put ``item`` on the queue unless the writer thread has died; returns whether it was handed over."""
    while writer.is_alive():
        try:
            handoff.put(item, timeout=0.1)
            return True
        except queue.Full:
            continue
    return False


def _file_entry(folder: Path, name: str, rows: int) -> tuple[str, int, int]:
    return name, (folder / name).stat().st_size, rows


def _local_path(uri: str) -> str:
    return uri.removeprefix("file://")
