"""Background batching of metric points.

``log`` only appends a tuple to a deque (thread-safe, no lock) and returns; a daemon thread wakes
every ``interval`` seconds, or as soon as ``batch_size`` points wait, and writes what has
accumulated in one transaction. ``flush`` writes everything pending from the caller's thread. A
failed write keeps its points queued and the error is raised from the next ``log``/``flush``/``close``.

After ``fork()`` the child inherits the deque but not the thread: an at-fork handler empties the
child's copy (the parent still owns and writes those points) and lets the child start its own thread.
"""

from __future__ import annotations

import os
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence

from driftloop.errors import DriftloopError, InvalidState, StoreError
from driftloop.types import MetricRow

__all__ = ["MetricLogger"]

Writer = Callable[[Sequence[MetricRow]], None]

_live_loggers: weakref.WeakSet[MetricLogger] = weakref.WeakSet()


class MetricLogger:
    """Buffers points for one run and writes them with ``writer`` in the background."""

    def __init__(
        self,
        writer: Writer,
        *,
        interval: float = 0.25,
        batch_size: int = 100_000,
        max_pending: int = 1_000_000,
    ) -> None:
        self._writer = writer
        self._interval = interval
        self._batch_size = batch_size
        self._max_pending = max_pending
        self._reset()
        _live_loggers.add(self)

    def _reset(self) -> None:
        self._pending: deque[MetricRow] = deque()
        self._write_lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._error: BaseException | None = None

    @property
    def pending(self) -> int:
        return len(self._pending)

    def log(self, point: MetricRow) -> None:
        if self._error is not None:
            self._raise_error()
        if self._closed:
            raise InvalidState("This run has ended; no more metric points can be logged to it.")
        pending = self._pending
        pending.append(point)
        size = len(pending)
        if self._thread is None:
            self._start_thread()
        if size >= self._batch_size:
            self._wake.set()
            if size >= self._max_pending:  # the writer is falling behind: write from here, bounding memory
                self._write_pending()

    def flush(self) -> None:
        """Write every pending point now; raises the error of any failed write."""
        self._write_pending()
        if self._error is not None:
            self._raise_error()

    def close(self) -> None:
        """Stop the thread and write what remains; raises if some points could not be written."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join()
        self._error = None  # the last attempt below either succeeds or raises afresh
        self._write_pending()
        if self._error is not None:
            self._raise_error(final=True)

    def _start_thread(self) -> None:
        thread = threading.Thread(target=self._run, name="driftloop-metric-logger", daemon=True)
        self._thread = thread
        thread.start()

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait(self._interval)
            self._wake.clear()
            if self._closed:
                return
            self._write_pending()

    def _write_pending(self) -> None:
        with self._write_lock:
            pending = self._pending
            while pending:
                count = min(len(pending), self._batch_size)
                batch = [pending.popleft() for _ in range(count)]
                try:
                    self._writer(batch)
                except Exception as error:
                    pending.extendleft(reversed(batch))
                    self._error = error
                    return
                except BaseException:
                    # SIGTERM's SystemExit or Ctrl-C landing inside a write: keep the points (the
                    # exit hook writes them) and let the interruption go on.
                    pending.extendleft(reversed(batch))
                    raise
                self._error = None

    def _raise_error(self, *, final: bool = False) -> None:
        error = self._error
        assert error is not None
        if isinstance(error, DriftloopError) and not final:
            raise error
        outcome = "could not be written" if final else "are still queued and will be retried"
        raise StoreError(
            f"Writing metric points failed: {_first_line(error)}; {self.pending:,} points {outcome}."
        ) from error

    def _after_fork_in_child(self) -> None:
        self._reset()


def _first_line(error: BaseException) -> str:
    """The driver's own message without SQLAlchemy's statement and parameter dump."""
    origin = getattr(error, "orig", None) or error
    text = str(origin).strip()
    return text.splitlines()[0] if text else type(origin).__name__


def _reset_loggers_in_child() -> None:
    for logger in list(_live_loggers):
        logger._after_fork_in_child()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_reset_loggers_in_child)
