"""A buffered table writer whose flushes run in a child process, off the serving process's interpreter lock.

:class:`~driftloop.serving._buffered_table_writer.BufferedTableWriter` flushes on a thread of the process that
serves requests. Encoding rows into Arrow, writing Parquet and committing to Delta is work that holds the
interpreter lock a few thousand times a second under load, and the event loop answering requests waits for it
each time: measured with the prediction log on, 78 -> 110 us a single-row request in process, and a fifth of the
server's throughput. :class:`ProcessTableWriter` keeps the same interface (``append``, ``flush``, ``close``,
``stats``) but only buffers in the serving process: a shipping thread pickles what was appended every
``ship_interval`` seconds and sends it down a pipe to a child process, which runs an ordinary
``BufferedTableWriter`` (same flushes, retries, limits and commits) on the table.

Durability is the same as in process: rows are on disk about ``ship_interval + flush_interval`` plus one commit
after they were appended, and :meth:`~ProcessTableWriter.close` ships what is left, has the child commit it,
and waits for it to exit. The child ignores SIGINT and SIGTERM (a terminal's Ctrl-C reaches the whole process
group): it stops when the server closes it, or when the pipe closes because the server died, after writing
what it received. If the child dies, the server starts another and ships the next rows to it; what the dead
child held in memory is lost and counted as dropped.
"""

from __future__ import annotations

import contextlib
import logging
import pickle
import select
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from typing import IO, Any, Generic, TypeVar

import pyarrow as pa

from driftloop.errors import InvalidState, StoreError
from driftloop.serving._buffered_table_writer import BufferedTableWriter, WriterStats

__all__ = ["ProcessTableWriter", "child_main"]

log = logging.getLogger("driftloop.serving")

Item = TypeVar("Item")
START_TIMEOUT_SECONDS = 120.0  # the child imports pyarrow and deltalake before it answers
ANSWER_TIMEOUT_SECONDS = 300.0  # a flush retries a failing storage for a while


class ProcessTableWriter(Generic[Item]):
    """Appends items to a Delta table through a child process; the interface of ``BufferedTableWriter``.

    Args:
        tables_url: The table store's URL (the child opens its own store).
        table: The table's name.
        encode: Turns items into a record batch; a module-level function (it is sent to the child).
        schema: The table's schema.
        size: How many rows an item holds; a module-level function.
        flush_interval: Seconds between two commits in the child.
        max_rows: As for ``BufferedTableWriter`` (the child's buffer).
        properties: Commit metadata.
        ship_interval: Seconds between two shipments to the child.
    """

    def __init__(
        self,
        tables_url: str,
        table: str,
        *,
        encode: Callable[[Sequence[Item]], pa.RecordBatch],
        schema: pa.Schema,
        size: Callable[[Item], int],
        flush_interval: float = 0.5,
        max_rows: int = 50_000,
        properties: dict[str, str] | None = None,
        ship_interval: float = 0.05,
    ) -> None:
        self.table = table
        self._options: dict[str, Any] = {
            "tables_url": tables_url,
            "table": table,
            "encode": encode,
            "schema": schema,
            "size": size,
            "flush_interval": flush_interval,
            "max_rows": max_rows,
            "properties": dict(properties or {}),
        }
        self.flush_interval = float(flush_interval)
        self.ship_interval = float(ship_interval)
        self._size = size
        self._lock = threading.Lock()  # the buffer
        self._pipe_lock = threading.Lock()  # one conversation with the child at a time
        self._pending: list[Item] = []
        self._closed = False
        self._lost = 0  # rows a dead child took with it, or that could not be shipped
        self._final_stats: WriterStats | None = None  # the child's last word, once closed
        self._last_error: str | None = None
        self._stopping = threading.Event()
        self._child: subprocess.Popen[bytes] | None = None
        self._thread: threading.Thread | None = None

    def __repr__(self) -> str:
        return f"ProcessTableWriter({self.table!r})"

    def start(self) -> None:
        """Start the child process and the shipping thread now (the first append does it otherwise)."""
        with self._pipe_lock:
            if self._child is None:
                self._start_child()
        if self._thread is None:
            self._thread = threading.Thread(target=self._ship_forever, name=f"driftloop-ship-{self.table}", daemon=True)
            self._thread.start()

    # -- the request path ------------------------------------------------------------------------------

    def append(self, items: Sequence[Item]) -> None:
        """Buffer ``items``; they are shipped within ``ship_interval`` and committed within a second.

        Raises:
            InvalidState: The writer was closed.
        """
        with self._lock:
            if self._closed:
                raise InvalidState(f"The writer of table {self.table!r} is closed; nothing more can be appended.")
            self._pending.extend(items)
        if self._thread is None:
            self.start()

    # -- flushing --------------------------------------------------------------------------------------

    def flush(self) -> int:
        """Ship what is buffered and have the child commit everything it holds; returns the rows it committed.

        Raises:
            StoreError: The child's commit failed (its rows stay buffered there and are retried).
            InvalidState: The writer was closed (everything was committed then).
        """
        if self._closed:
            raise InvalidState(f"The writer of table {self.table!r} is closed; its rows were committed at close.")
        self._ship()
        answer = self._ask(("flush",))
        if isinstance(answer, BaseException):
            raise answer
        return int(answer)

    def close(self, *, timeout: float = 30.0) -> None:
        """Ship what is left, have the child commit it (retrying up to ``timeout``) and wait for it to exit."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._ship()
        with self._pipe_lock:
            child = self._child
            if child is None:
                return
            try:
                self._send(("close", timeout))
                final = self._receive(timeout + 10)
                if isinstance(final, WriterStats):
                    self._final_stats = final
            except (OSError, EOFError, TimeoutError) as error:
                self._last_error = f"the writer process ended before it closed: {error}"
                log.error("table %r: %s", self.table, self._last_error)
            _end(child, timeout)
            self._child = None

    @property
    def closed(self) -> bool:
        return self._closed

    @property
    def stats(self) -> WriterStats:
        """The child's counters, plus what is still buffered here and what a dead child took with it."""
        with self._lock:
            buffered = sum(map(self._size, self._pending))
        final = self._final_stats
        child = final if final is not None or self._child is None else self._ask(("stats",))
        if not isinstance(child, WriterStats):
            child = WriterStats(0, 0, 0, 0, 0, False, None)
        return WriterStats(
            written=child.written,
            pending=child.pending + buffered,
            dropped=child.dropped + self._lost,
            flushes=child.flushes,
            failures=child.failures,
            failing=child.failing,
            last_error=self._last_error or child.last_error,
        )

    # -- internals -------------------------------------------------------------------------------------

    def _start_child(self) -> None:
        """Start a child and wait until it has opened the table store (with the pipe lock held).

        A fresh interpreter (``python -m``), not a multiprocessing child: deltalake is not fork-safe, and a
        spawned multiprocessing child would import the server's main module again.
        """
        child = subprocess.Popen(
            [sys.executable, "-m", "driftloop.serving._process_writer_main"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._child = child
        try:
            self._send(("start", self._options))
            ready = self._receive(START_TIMEOUT_SECONDS)
        except (OSError, EOFError, TimeoutError) as error:
            _end(child, 0)
            self._child = None
            raise StoreError(f"The writer process of table {self.table!r} did not start: {error}") from None
        if isinstance(ready, BaseException):
            _end(child, 5)
            self._child = None
            raise ready

    def _ship_forever(self) -> None:
        while not self._stopping.wait(self.ship_interval):
            self._ship()

    def _ship(self) -> None:
        with self._lock:
            items, self._pending = self._pending, []
        if not items:
            return
        message = pickle.dumps(("rows", items), protocol=pickle.HIGHEST_PROTOCOL)
        with self._pipe_lock:
            try:
                if self._child is None or self._child.poll() is not None:
                    self._replace_child()
                self._send_bytes(message)
            except Exception as error:  # a child that cannot be reached or restarted: these rows are lost
                self._lost += sum(map(self._size, items))
                self._last_error = f"could not ship rows to the writer process: {error}"
                log.error("table %r: %s", self.table, self._last_error)

    def _replace_child(self) -> None:
        if self._child is not None:
            self._last_error = f"the writer process of table {self.table!r} died (exit code {self._child.returncode})"
            log.error("%s; starting another", self._last_error)
            _end(self._child, 0)
            self._child = None
        self._start_child()

    def _send(self, message: tuple[Any, ...]) -> None:
        self._send_bytes(pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL))

    def _send_bytes(self, payload: bytes) -> None:
        assert self._child is not None and self._child.stdin is not None
        _write_frame(self._child.stdin, payload)

    def _receive(self, timeout: float) -> Any:
        assert self._child is not None and self._child.stdout is not None
        return pickle.loads(_read_frame(self._child.stdout, timeout))

    def _ask(self, message: tuple[Any, ...]) -> Any:
        with self._pipe_lock:
            if self._child is None:
                self._start_child()
            self._send(message)
            return self._receive(ANSWER_TIMEOUT_SECONDS)


def _end(child: subprocess.Popen[bytes], timeout: float) -> None:
    """Wait up to ``timeout`` for ``child`` to exit (then kill it), and close its pipes."""
    try:
        child.wait(timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()
    for stream in (child.stdin, child.stdout):
        if stream is not None:
            with contextlib.suppress(OSError):
                stream.close()


def _write_frame(stream: IO[bytes], payload: bytes) -> None:
    stream.write(len(payload).to_bytes(8, "big") + payload)
    stream.flush()


def _read_frame(stream: IO[bytes], timeout: float | None = None) -> bytes:
    """One message: its length in 8 bytes, then its bytes. EOFError when the other side closed the pipe."""
    if timeout is not None and not select.select([stream], [], [], timeout)[0]:
        raise TimeoutError(f"no answer within {timeout:.0f} s")
    header = stream.read(8)
    if len(header) < 8:
        raise EOFError("the pipe closed")
    size = int.from_bytes(header, "big")
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("the pipe closed mid-message")
    return payload


def child_main(inbox: IO[bytes], outbox: IO[bytes]) -> None:
    """The writer process: receive rows, write them with a ``BufferedTableWriter``, answer flushes and stats."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)

    def answer(value: Any) -> None:
        _write_frame(outbox, pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL))

    try:
        kind, options = pickle.loads(_read_frame(inbox))
        from driftloop.store.tables import TableStore

        writer: BufferedTableWriter[Any] = BufferedTableWriter(
            TableStore(options["tables_url"]),
            options["table"],
            encode=options["encode"],
            schema=options["schema"],
            size=options["size"],
            flush_interval=options["flush_interval"],
            max_rows=options["max_rows"],
            properties=options["properties"],
        )
    except Exception as error:
        answer(error)
        return
    answer("ready")
    timeout = 30.0
    while True:
        try:
            kind, *rest = pickle.loads(_read_frame(inbox))
        except (EOFError, OSError):  # the server is gone: write what arrived, then stop
            break
        if kind == "rows":
            writer.append(rest[0])
        elif kind == "flush":
            try:
                answer(writer.flush())
            except Exception as error:
                answer(StoreError(str(error)))
        elif kind == "stats":
            answer(writer.stats)
        elif kind == "close":
            timeout = float(rest[0])
            break
    started = time.monotonic()
    writer.close(timeout=timeout)
    log.debug("writer of %r closed in %.2f s", options["table"], time.monotonic() - started)
    with contextlib.suppress(OSError, EOFError, ValueError):  # nobody is listening when the server died
        answer(writer.stats)
