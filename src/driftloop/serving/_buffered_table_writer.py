"""Appending rows to a Delta table off the request path: an in-memory buffer, flushed by a background thread.

:meth:`BufferedTableWriter.append` only extends a buffer under a lock (no I/O, no encoding), so a request pays
about a microsecond for it. The buffer holds items: one row, or a whole request's rows as they came (encoded
into rows on the flushing thread, so a 1,000-row request costs the request path no more than a single row).
A daemon thread flushes the buffer every ``flush_interval`` seconds as one Delta commit of one Parquet file,
so a row is on disk about ``flush_interval`` plus one commit after it was appended.
:meth:`~BufferedTableWriter.close` (the server calls it on shutdown, and an ``atexit`` hook calls it for every
writer still open) flushes what is left.

When a flush fails (a full disk, unreachable storage) the rows stay buffered and the thread retries with a
growing pause. While the storage fails the buffer holds at most ``max_rows`` rows: beyond that the oldest are
dropped and counted, so a long outage costs the oldest predictions, never the server's memory. While the storage
works, a burst (a run of 1,000-row requests) may outpace the flushes for a moment: then the buffer holds up to
``HEALTHY_HEADROOM`` times as many before it drops any.

A commit whose outcome is unknown (the storage failed while committing and while checking) may have landed:
before writing again, the writer looks for that commit's file among the table's files, so its rows are written
once, not twice. (Only a compaction that rewrote that very file in between would hide it: then the rows are
written twice, which needs an unanswered commit and a compaction within one retry pause.)
"""

from __future__ import annotations

import atexit
import collections
import contextlib
import logging
import posixpath
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, TypeVar

import pyarrow as pa

from driftloop.errors import DriftloopError, InvalidInput, InvalidState

if TYPE_CHECKING:
    from driftloop.store.tables import StagedWrite, TableStore

__all__ = ["BufferedTableWriter", "WriterStats"]

log = logging.getLogger("driftloop.serving")

Item = TypeVar("Item")
# The longest pause between two attempts while the storage keeps failing.
MAX_RETRY_PAUSE_SECONDS = 30.0
# Items encoded between two hand-overs of the interpreter lock to the request path (a millisecond or so).
ENCODE_SLICE = 128
# While the storage works, the buffer may grow to this many times ``max_rows`` before rows are dropped.
HEALTHY_HEADROOM = 10
# How long the atexit hook keeps trying to write what is left before giving the rows up.
EXIT_TIMEOUT_SECONDS = 10.0


@dataclass(frozen=True)
class WriterStats:
    """Counters of a buffered writer, read at one moment.

    Attributes:
        written: Rows committed to the table.
        pending: Rows appended and not committed yet (buffered, or being written).
        dropped: Rows given up: the oldest beyond ``max_rows`` while the storage failed, rows that could not
            be encoded, and rows still unwritten when :meth:`BufferedTableWriter.close` ran out of time.
        flushes: Commits made.
        failures: Flush attempts that failed.
        failing: Whether the latest flush attempt failed (the storage is failing now).
        last_error: The latest problem: why an attempt failed, or why rows were dropped (None if none yet).
    """

    written: int
    pending: int
    dropped: int
    flushes: int
    failures: int
    failing: bool
    last_error: str | None


@dataclass
class _Suspect:
    """A commit that raised and may have landed all the same: its files, and the leading pending items it holds."""

    staged: StagedWrite
    items: int
    rows: int


class BufferedTableWriter(Generic[Item]):
    """Buffers items and appends their rows to ``table`` in one commit per flush. Building it does no I/O.

    Args:
        tables: The table store to write to.
        table: The table's name.
        encode: Turns items into one record batch of the table's schema. It runs on the flushing thread.
        schema: The table's schema.
        size: How many rows an item holds (one by default).
        flush_interval: Seconds between two flushes of the background thread.
        max_rows: The most rows held in memory while the storage fails (``HEALTHY_HEADROOM`` times as many
            while it works); beyond it the oldest are dropped.
        properties: Commit metadata written with every commit (who wrote it).
    """

    def __init__(
        self,
        tables: TableStore,
        table: str,
        *,
        encode: Callable[[Sequence[Item]], pa.RecordBatch],
        schema: pa.Schema,
        size: Callable[[Item], int] = lambda item: 1,
        flush_interval: float = 0.5,
        max_rows: int = 50_000,
        properties: dict[str, str] | None = None,
    ) -> None:
        if not isinstance(flush_interval, int | float) or not 0 < flush_interval <= 60:
            raise InvalidInput(f"The 'flush_interval' must be a number of seconds in (0, 60]; got {flush_interval!r}.")
        if isinstance(max_rows, bool) or not isinstance(max_rows, int) or max_rows < 1:
            raise InvalidInput(f"The 'max_rows' must be an integer >= 1; got {max_rows!r}.")
        self.tables = tables
        self.table = table
        self.flush_interval = float(flush_interval)
        self.max_rows = max_rows
        self._encode = encode
        self._schema = schema
        self._size = size
        self._properties = dict(properties or {})
        self._lock = threading.Lock()  # guards the buffer and the counters; held for microseconds
        self._flushing = threading.Lock()  # one flush at a time: the thread's, an explicit one, or close()'s
        self._pending: collections.deque[Item] = collections.deque()
        self._pending_rows = 0
        self._in_flight = 0  # rows a flush is writing now
        self._suspect: _Suspect | None = None
        self._written = 0
        self._dropped = 0
        self._flushes = 0
        self._failures = 0
        self._last_error: str | None = None
        self._failing = False
        self._closed = False
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"BufferedTableWriter({self.table!r}, pending={self.stats.pending})"

    # -- the request path ------------------------------------------------------------------------------

    def append(self, items: Sequence[Item]) -> None:
        """Buffer ``items``; the background thread commits them within about ``flush_interval`` seconds.

        Raises:
            InvalidState: The writer was closed.
        """
        rows = self._size(items[0]) if len(items) == 1 else sum(map(self._size, items))
        with self._lock:
            if self._closed:
                raise InvalidState(f"The writer of table {self.table!r} is closed; nothing more can be appended.")
            self._pending.extend(items)
            self._pending_rows += rows
            limit = self.max_rows if self._failing else self.max_rows * HEALTHY_HEADROOM
            excess = self._pending_rows + self._in_flight - limit
            if excess > 0:
                self._drop_oldest(excess)
            if self._thread is None:
                self._start()

    # -- flushing --------------------------------------------------------------------------------------

    def flush(self) -> int:
        """Commit every row appended so far, now; returns how many rows this call committed.

        Raises:
            StoreError: The storage failed; the rows stay buffered and the background thread retries.
        """
        return self._flush_once()

    def close(self, *, timeout: float = 30.0) -> None:
        """Stop the background thread and commit what is left, retrying for up to ``timeout`` seconds.

        Rows still unwritten after that are counted as dropped (and logged). Closing twice does nothing.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
        deadline = time.monotonic() + timeout
        self._stopping.set()
        thread = self._thread
        if thread is not None:
            thread.join(timeout=max(0.0, deadline - time.monotonic()))
        pause = min(self.flush_interval, 0.2)
        while self._has_work():
            try:
                self._flush_once(deadline=deadline)
            except Exception as error:
                if time.monotonic() + pause >= deadline:
                    self._give_up(error)
                    break
                time.sleep(pause)
                pause = min(pause * 2, MAX_RETRY_PAUSE_SECONDS)
        _OPEN_WRITERS.discard(self)

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def stats(self) -> WriterStats:
        with self._lock:
            return WriterStats(
                written=self._written,
                pending=self._pending_rows + self._in_flight,
                dropped=self._dropped,
                flushes=self._flushes,
                failures=self._failures,
                failing=self._failing,
                last_error=self._last_error,
            )

    # -- internals -------------------------------------------------------------------------------------

    def _start(self) -> None:
        """Start the flushing thread (with the lock held: the first append starts it, construction does not)."""
        self._thread = threading.Thread(target=self._run, name=f"driftloop-writer-{self.table}", daemon=True)
        self._thread.start()
        _OPEN_WRITERS.add(self)

    def _run(self) -> None:
        consecutive_failures = 0
        next_flush = time.monotonic() + self.flush_interval
        while not self._stopping.wait(max(0.0, next_flush - time.monotonic())):
            started = time.monotonic()  # flushes start every interval, however long each one takes
            try:
                self._flush_once()
                consecutive_failures = 0
            except Exception as error:  # a thread that dies would stop the log: record, pause and retry
                consecutive_failures = min(consecutive_failures + 1, 16)
                log.warning("writing to table %r failed (%s); the rows stay buffered", self.table, error)
            next_flush = started + min(self.flush_interval * 2**consecutive_failures, MAX_RETRY_PAUSE_SECONDS)

    def _has_work(self) -> bool:
        with self._lock:
            return bool(self._pending) or self._suspect is not None

    def _flush_once(self, *, deadline: float | None = None) -> int:
        timeout = -1.0 if deadline is None else max(0.0, deadline - time.monotonic())
        if not self._flushing.acquire(timeout=timeout):
            raise InvalidState(f"A flush of table {self.table!r} is still running.")
        try:
            try:
                self._settle_suspect()
            except BaseException as error:
                self._record_failure(error)
                raise
            with self._lock:
                taken = self._pending
                if not taken:
                    return 0
                self._pending = collections.deque()
                self._in_flight, self._pending_rows = self._pending_rows, 0
            batch, valid = self._encode_valid(list(taken))
            try:
                written = self._write(batch, len(valid))
            except BaseException as error:
                with self._lock:
                    kept = collections.deque(valid)
                    kept.extend(self._pending)
                    self._pending = kept
                    self._pending_rows += batch.num_rows
                    self._in_flight = 0
                    if self._pending_rows > self.max_rows:
                        self._drop_oldest(self._pending_rows - self.max_rows)
                self._record_failure(error)
                raise
            with self._lock:
                self._in_flight = 0
                self._written += written
                self._flushes += 1 if written else 0
                self._failing = False
            return written
        finally:
            self._flushing.release()

    def _record_failure(self, error: BaseException) -> None:
        with self._lock:
            self._failures += 1
            self._failing = True
            self._last_error = _describe(error)

    def _encode_valid(self, items: list[Item]) -> tuple[pa.RecordBatch, list[Item]]:
        """The batch of ``items``; an item that cannot be encoded is dropped and counted, never retried forever."""
        try:
            return self._encode_in_slices(items), items
        except Exception as batch_error:
            error: Exception = batch_error
        valid: list[Item] = []
        for item in items:
            try:
                self._encode([item])
                valid.append(item)
            except Exception as item_error:
                error = item_error
        try:
            batch = self._encode(valid)
        except Exception as valid_error:  # items that encode alone but not together: none can be written
            error, valid, batch = valid_error, [], pa.RecordBatch.from_pylist([], schema=self._schema)
        lost = sum(self._size(item) for item in items) - batch.num_rows
        with self._lock:
            self._dropped += lost
            self._last_error = f"{lost} row(s) could not be encoded: {_describe(error)}"
        log.error("dropping %d row(s) for table %r that could not be encoded: %s", lost, self.table, error)
        return batch, valid

    def _encode_in_slices(self, items: list[Item]) -> pa.RecordBatch:
        """Encode ``items`` a slice at a time, letting the request path run between two slices.

        Encoding is Python work: done in one go, it would hold the interpreter lock for tens of milliseconds
        at a time and stall every request in flight meanwhile; ``time.sleep(0)`` hands the lock over.
        """
        if len(items) <= ENCODE_SLICE:
            return self._encode(items)
        batches = []
        for start in range(0, len(items), ENCODE_SLICE):
            batches.append(self._encode(items[start : start + ENCODE_SLICE]))
            time.sleep(0)
        return pa.Table.from_batches(batches, schema=self._schema).combine_chunks().to_batches()[0]

    def _write(self, batch: pa.RecordBatch, items: int) -> int:
        rows = int(batch.num_rows)
        if rows == 0:
            return 0
        staged = self.tables.stage(self.table, [batch], fallback_schema=self._schema)
        try:
            self.tables.commit(staged, mode="append", properties=self._properties)
        except BaseException:
            # The files stay: the commit may have landed. The next flush checks before writing the rows again,
            # and a vacuum (retaining a day or more) deletes the files once older than that if no version took them.
            with self._lock:
                self._suspect = _Suspect(staged, items, rows)
            raise
        return rows

    def _settle_suspect(self) -> None:
        """Find out whether the commit that raised landed; if it did, its rows are written, not pending."""
        with self._lock:
            suspect = self._suspect
        if suspect is None:
            return
        landed = _files_are_live(self.tables, self.table, [path for path, _, _ in suspect.staged.files])
        with self._lock:
            suspect, self._suspect = self._suspect, None
            if suspect is None or not landed:
                return
            for _ in range(min(suspect.items, len(self._pending))):
                self._pending_rows -= self._size(self._pending.popleft())
            self._written += suspect.rows
            self._flushes += 1
        log.info(
            "a commit to table %r reported as failed had landed; its %d rows count as written", self.table, suspect.rows
        )

    def _drop_oldest(self, count: int) -> None:
        """Drop the oldest buffered items, ``count`` rows or a few more (with the lock held); rows in flight stay."""
        dropped = 0
        while dropped < count and self._pending:
            rows = self._size(self._pending.popleft())
            dropped += rows
            if self._suspect is not None and self._suspect.items > 0:
                self._suspect.items -= 1
                self._suspect.rows -= rows
        self._pending_rows -= dropped
        self._dropped += dropped
        if dropped and not self._failing:  # while failing, the storage's error says more about why
            self._last_error = (
                f"the storage could not keep up: more than {self.max_rows * HEALTHY_HEADROOM:,} rows waited; "
                "the oldest were dropped"
            )

    def _give_up(self, error: BaseException) -> None:
        with self._lock:
            lost = self._pending_rows
            self._pending.clear()
            self._pending_rows = 0
            self._suspect = None
            self._dropped += lost
            self._last_error = _describe(error)
        log.error("closing the writer of table %r lost %d row(s): %s", self.table, lost, error)


def _files_are_live(tables: TableStore, table: str, paths: Sequence[str]) -> bool:
    """Whether every one of ``paths`` (relative to the table's folder) is in the table's latest version."""
    version = tables.latest_version(table)
    if version is None:
        return False
    live = {posixpath.basename(path.replace("\\", "/")) for path in tables.dataset(table, version).files}
    return all(posixpath.basename(path) in live for path in paths)


def _describe(error: BaseException | None) -> str:
    if error is None:
        return "unknown error"
    if isinstance(error, DriftloopError):
        return error.message
    return f"{type(error).__name__}: {error}"


_OPEN_WRITERS: weakref.WeakSet[BufferedTableWriter[Any]] = weakref.WeakSet()


@atexit.register
def _close_open_writers() -> None:
    """At interpreter exit, commit what every open writer still holds (a server's shutdown closes them first)."""
    for writer in list(_OPEN_WRITERS):
        with contextlib.suppress(Exception):
            writer.close(timeout=EXIT_TIMEOUT_SECONDS)
