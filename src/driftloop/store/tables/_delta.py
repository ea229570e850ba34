"""Versioned tables on Delta Lake, written in two phases: stage the files, then commit them.

Staging writes Parquet files into the table's folder without touching the Delta log, so nobody sees
them; committing adds them in one Delta transaction (the moment the new version exists); discarding
deletes them. The caller decides in between (e.g. the content is identical to an existing version,
so nothing is committed). A crash while staging leaves only unreferenced files, which
:meth:`TableStore.vacuum_staged` removes. Reads go through the Delta log for the file list and through
pyarrow for the bytes: the deltalake-to-pyarrow dataset bridge can abort the interpreter at exit (a
thread-teardown race), and plain Parquet reads cannot.

Tables live in a local folder or under a prefix of an S3-compatible bucket (``s3://bucket/prefix``).
Parquet files go through a pyarrow filesystem (on S3 a streamed multipart upload, so memory stays
bounded by the batch); the Delta log goes through deltalake with the same endpoint and credentials.

Concurrent writers: deltalake 1.x writes each log entry with ``If-None-Match: *`` (no DynamoDB lock,
which 1.0 dropped), so of two writers racing for one version one wins and the other retries on the
next, or fails with :class:`~driftloop.errors.Conflict` when the changes conflict (an overwrite
against an append). That is safe on stores that honour conditional writes: AWS S3 (since 2024),
MinIO, Cloudflare R2. moto's server, which the tests use, honours the header but checks and writes
without a lock, so two requests inside that window could both land and one commit would be lost.
Each commit therefore carries a token that is looked up in the log afterwards: a lost commit raises
:class:`~driftloop.errors.StoreError` instead of passing for a version.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import queue
import re
import threading
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.dataset as pads
import pyarrow.parquet as pq

from driftloop.errors import InvalidData, NotFound, StoreError
from driftloop.store.tables._log import COMMIT_TOKEN, find_commit, referenced_files
from driftloop.store.tables._storage import S3Connection, parse_location, storage_errors

if TYPE_CHECKING:
    from deltalake import DeltaTable
    from deltalake.transaction import AddAction, CommitProperties, PostCommitHookProperties, RemoveAction

__all__ = ["StagedWrite", "TableStore"]

WriteMode = Literal["append", "overwrite"]
# Rows per Parquet file: big enough for fast scans, small enough that a file is written in bounded memory.
ROWS_PER_FILE = 1_000_000
STAGED_NAME = re.compile(r"part-\d{20}-[0-9a-f]{12}\.parquet")
# A staged file younger than this may belong to an ingest still running: vacuum leaves it alone.
STAGED_GRACE_SECONDS = 86_400.0


@dataclass
class StagedWrite:
    """Parquet files written for one table and not yet committed."""

    table: str
    schema: pa.Schema
    files: list[tuple[str, int, int]] = field(default_factory=list)  # (relative path, bytes, rows)
    rows: int = 0
    fingerprint: str = ""


class TableStore:
    """Delta tables under a root folder or S3 prefix, one folder per table. Building it does no I/O.

    Args:
        url: A local path, ``file://…`` or ``s3://bucket/prefix``.
        storage_options: S3 settings that override the AWS environment variables
            (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``, ``AWS_SESSION_TOKEN``,
            ``AWS_ENDPOINT_URL_S3`` or ``AWS_ENDPOINT_URL``, ``AWS_REGION``, ``AWS_ALLOW_HTTP``); other
            deltalake S3 options pass through to deltalake. Ignored for local tables.

    Raises:
        InvalidSettings: The URL is not a local path or an ``s3://`` URL.

    >>> TableStore("s3://lake/tables").uri("houses")
    's3://lake/tables/houses'
    """

    def __init__(self, url: str, *, storage_options: Mapping[str, str] | None = None) -> None:
        self._location = parse_location(url)
        self.url = self._location.url
        self._storage_options = dict(storage_options or {})
        self._connection: S3Connection | None = None
        self._filesystem_instance: Any = None
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"TableStore({self.url!r})"

    def uri(self, table: str) -> str:
        return self._location.table_uri(table)

    def exists(self, table: str) -> bool:
        from deltalake import DeltaTable

        with self.errors(f"looking for table {table!r}"):
            return bool(DeltaTable.is_deltatable(self.uri(table), storage_options=self._options()))

    # -- writing -----------------------------------------------------------------------------------

    def stage(self, table: str, batches: Iterable[pa.RecordBatch], *, fallback_schema: pa.Schema) -> StagedWrite:
        """Write ``batches`` as Parquet files in the table's folder, invisible until :meth:`commit`.

        The table's schema is the first batch's (``fallback_schema`` when there is none); every batch
        must have it. The fingerprint is a SHA-256 over every batch's Arrow IPC bytes: the same data
        read the same way gives the same fingerprint. Files are written on a background thread while
        the caller's thread produces the next batch (both mostly run outside the GIL).
        """
        folder = self._location.table_path(table)
        with self.errors(f"staging table {table!r}"):
            filesystem = self.filesystem()
            if self._location.is_local:
                Path(folder).mkdir(parents=True, exist_ok=True)
        sink = _ParquetSink(filesystem, folder, StagedWrite(table=table, schema=fallback_schema))
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
            with self.errors(f"staging table {table!r}"):
                raise sink.error
        return sink.staged

    def commit(self, staged: StagedWrite, *, mode: WriteMode, properties: Mapping[str, str]) -> int:
        """Add the staged files to the table in one Delta commit; returns the Delta version it became.

        Under concurrent writers that is this commit's own version, not merely the latest.
        """
        from deltalake.transaction import AddAction, CommitProperties, PostCommitHookProperties

        token = uuid.uuid4().hex
        now = int(time.time() * 1000)
        adds = [
            AddAction(path, size, {}, now, True, json.dumps({"numRecords": rows})) for path, size, rows in staged.files
        ]
        commit_properties = CommitProperties(custom_metadata={**properties, COMMIT_TOKEN: token}, max_commit_retries=50)
        # Expired-log cleanup would delete the JSON commits older versions are read from: a dataset
        # version must read back forever, so only checkpoints are written.
        hooks = PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False)
        table_path = self._location.table_path(staged.table)
        with self.errors(f"committing to table {staged.table!r}"):
            existing = self._open(staged.table)
            base = -1 if existing is None else int(existing.version())
            try:
                if existing is None:
                    existing = self._create(staged, adds, commit_properties, hooks, token)
                if existing is not None:
                    actions: list[AddAction | RemoveAction] = list(adds)
                    existing.create_write_transaction(
                        actions,
                        mode=mode,
                        schema=staged.schema,
                        commit_properties=commit_properties,
                        post_commithook_properties=hooks,
                    )
            except Exception:
                # The commit may have landed before the failure (a post-commit hook, a lost response);
                # its files then belong to the table and must not be discarded as if it had not.
                landed = None
                with contextlib.suppress(Exception):
                    landed = find_commit(self.filesystem(), table_path, token, after=base)
                if landed is None:
                    raise
                return landed
            version = find_commit(self.filesystem(), table_path, token, after=base)
        if version is None:
            raise StoreError(
                f"The commit to table {staged.table!r} under {self.url} is not in its Delta log: another "
                "writer overwrote it, so the storage does not honour conditional writes (If-None-Match). "
                "Nothing was committed; use storage that does (AWS S3, MinIO, Cloudflare R2)."
            )
        return version

    def discard(self, staged: StagedWrite, *, extra: Iterable[str] = ()) -> None:
        """Delete staged files that will not be committed.

        On S3, pyarrow leaves a zero-byte ``<table>/`` folder marker where it deleted a folder's last
        file; Delta readers ignore it.
        """
        folder = self._location.table_path(staged.table)
        with self.errors(f"discarding files staged for table {staged.table!r}"):
            filesystem = self.filesystem()
            for name in [path for path, _, _ in staged.files] + list(extra):
                with contextlib.suppress(FileNotFoundError):
                    filesystem.delete_file(f"{folder}/{name}")

    def vacuum_staged(self, table: str, *, older_than: float = STAGED_GRACE_SECONDS) -> list[str]:
        """Delete staged Parquet files that no version of the table refers to; returns their names.

        Only files named as :meth:`stage` names them and last modified more than ``older_than``
        seconds ago are candidates (a younger one may belong to an ingest about to commit). Files of
        old versions stay: every version remains readable.
        """
        from pyarrow import fs

        folder = self._location.table_path(table)
        with self.errors(f"vacuuming table {table!r}"):
            filesystem = self.filesystem()
            cutoff_ns = (time.time() - older_than) * 1e9
            candidates = {
                info.base_name
                for info in filesystem.get_file_info(fs.FileSelector(folder, allow_not_found=True))
                if info.type == fs.FileType.File and STAGED_NAME.fullmatch(info.base_name) and info.mtime_ns < cutoff_ns
            }
            if not candidates:
                return []
            unreferenced = sorted(candidates - referenced_files(filesystem, folder))
            for name in unreferenced:
                with contextlib.suppress(FileNotFoundError):
                    filesystem.delete_file(f"{folder}/{name}")
        return unreferenced

    def restore(self, table: str, version: int) -> None:
        """Make ``version`` the table's current state again (a new Delta commit)."""
        with self.errors(f"restoring table {table!r} to version {version}"):
            self.delta_table(table).restore(version)

    # -- reading -----------------------------------------------------------------------------------

    def latest_version(self, table: str) -> int | None:
        with self.errors(f"reading the version of table {table!r}"):
            existing = self._open(table)
            return None if existing is None else int(existing.version())

    def dataset(self, table: str, version: int) -> pads.Dataset:
        """The table as it was at Delta ``version``, as a lazily read pyarrow dataset."""
        with self.errors(f"opening version {version} of table {table!r}"):
            snapshot = self.delta_table(table, version)
            files = sorted(self._location.path_of(uri) for uri in snapshot.file_uris())
            if files:  # the files carry the exact Arrow types we wrote; Delta's schema may widen them
                return pads.dataset(files, format="parquet", filesystem=self.filesystem())
            return pads.dataset([], schema=pa.schema(snapshot.schema().to_arrow()), format="parquet")

    def read(self, table: str, version: int) -> pa.Table:
        dataset = self.dataset(table, version)
        with self.errors(f"reading version {version} of table {table!r}"):
            return dataset.to_table()

    def batches(self, table: str, version: int, *, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        dataset = self.dataset(table, version)
        with self.errors(f"reading version {version} of table {table!r}"):
            yield from dataset.to_batches(batch_size=batch_size)

    def history(self, table: str) -> list[dict[str, Any]]:
        with self.errors(f"reading the history of table {table!r}"):
            return list(self.delta_table(table).history())

    # -- internals ---------------------------------------------------------------------------------

    def _create(
        self,
        staged: StagedWrite,
        adds: list[AddAction],
        commit_properties: CommitProperties,
        hooks: PostCommitHookProperties,
        token: str,
    ) -> DeltaTable | None:
        """Create the table with the staged files; returns the table when another writer created it first."""
        from deltalake import Schema
        from deltalake.exceptions import DeltaError
        from deltalake.transaction import create_table_with_add_actions

        try:
            create_table_with_add_actions(
                self.uri(staged.table),
                Schema.from_arrow(staged.schema),
                adds,
                mode="error",
                storage_options=self._options(),
                commit_properties=commit_properties,
                post_commithook_properties=hooks,
            )
            return None
        except DeltaError:
            created_by_other = self._open(staged.table)
            table_path = self._location.table_path(staged.table)
            if created_by_other is None or find_commit(self.filesystem(), table_path, token, after=-1) is not None:
                raise
            return created_by_other

    def _open(self, table: str, version: int | None = None) -> DeltaTable | None:
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            return DeltaTable(self.uri(table), version=version, storage_options=self._options())
        except TableNotFoundError:
            return None

    # -- for the upkeep of the serving tables (compaction, vacuum, log expiry) -----------------------------

    def delta_table(self, table: str, version: int | None = None) -> DeltaTable:
        """The deltalake handle of ``table`` at ``version`` (the latest by default).

        Raises:
            NotFound: No such table (or version).
        """
        existing = self._open(table, version)
        if existing is None:
            raise NotFound(f"No table {table!r} under {self.url}.")
        return existing

    def _s3(self) -> S3Connection:
        with self._lock:
            if self._connection is None:
                self._connection = S3Connection.resolve(self._storage_options, os.environ)
            return self._connection

    def _options(self) -> dict[str, str] | None:
        return None if self._location.is_local else dict(self._s3().options)

    def table_path(self, table: str) -> str:
        """The table's folder as :meth:`filesystem` names it."""
        return self._location.table_path(table)

    def filesystem(self) -> Any:
        """The pyarrow filesystem the Parquet files are written and read through (built once)."""
        if self._filesystem_instance is None:
            if self._location.is_local:
                from pyarrow import fs

                filesystem = fs.LocalFileSystem()
            else:
                filesystem = self._s3().filesystem()
            with self._lock:
                if self._filesystem_instance is None:
                    self._filesystem_instance = filesystem
        return self._filesystem_instance

    def errors(self, action: str) -> contextlib.AbstractContextManager[None]:
        """A context that turns the storage's errors while doing ``action`` into driftloop's (secrets removed)."""
        secrets = () if self._location.is_local else self._s3().secrets
        return storage_errors(self.url, action, secrets)


class _ParquetSink:
    """Writes handed-over batches into Parquet files and the fingerprint, on the writer thread."""

    def __init__(self, filesystem: Any, folder: str, staged: StagedWrite) -> None:
        self.filesystem = filesystem
        self.folder = folder
        self.staged = staged
        self.error: BaseException | None = None
        self._digest = hashlib.sha256()
        self._stream: Any = None
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
            with contextlib.suppress(Exception):
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
            self._stream = self.filesystem.open_output_stream(f"{self.folder}/{self._current}")
            self._writer = pq.ParquetWriter(
                self._stream, batch.schema, compression="snappy", use_dictionary=_dictionary_columns(batch.schema)
            )
        self._writer.write_batch(batch)
        self._rows_in_file += batch.num_rows
        self.staged.rows += batch.num_rows

    def _close_file(self) -> None:
        if self._writer is None:
            return
        try:
            self._writer.close()
            size = int(self._stream.tell())
        finally:
            self._stream.close()  # on S3 this completes the upload
        self.staged.files.append((self._current, size, self._rows_in_file))
        self._writer, self._stream, self._current, self._rows_in_file = None, None, "", 0

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


def _dictionary_columns(schema: pa.Schema) -> list[str]:
    """The columns worth dictionary-encoding: text and categories. Numbers rarely repeat, and trying the
    dictionary on every float column cost about a second of CPU per million rows in the ingest benchmark."""
    return [
        field.name
        for field in schema
        if pa.types.is_string(field.type)
        or pa.types.is_large_string(field.type)
        or pa.types.is_dictionary(field.type)
        or pa.types.is_boolean(field.type)
    ]
