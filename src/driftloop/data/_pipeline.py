"""The plumbing of an ingest: batches sized and numbered, a look at the first rows, and work on side threads.

An ingest runs on four threads, so that reading, checking, profiling and writing overlap (the reading,
the Parquet writing and most of the checking run in Arrow and Polars outside the GIL):

* a **reader** (:class:`Prefetched`) pulls the source's batches, coalesces and numbers them, one batch ahead
  of the caller; a source is only ever iterated on this one thread (SQLite connections are bound to theirs);
* the **caller** transforms and validates each batch;
* a **profiler** (:class:`Background`) adds each good batch to the profile;
* the **writer** (in :mod:`driftloop.store.tables`) writes it to Parquet.

Each hand-off is a queue of at most ``ahead`` batches, so memory stays bounded by a few batches. An error on a
side thread is raised again in the caller's thread, with its type and message.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, TypeVar

import numpy as np
import pyarrow as pa

from driftloop.errors import InvalidData, InvalidInput, InvalidState

__all__ = ["SOURCE_ROW", "Background", "Prefetched", "coalesced", "numbered", "peek"]

SOURCE_ROW = "_source_row"

Item = TypeVar("Item")

_POLL_SECONDS = 0.1


class Prefetched(Iterator[Item]):
    """Iterate ``items`` on a background thread, at most ``ahead`` items ahead of the consumer.

    Iterate it, then :meth:`close` it (also when stopping early): that stops the thread, which closes the
    underlying iterator on its own thread.

    >>> numbers = Prefetched(iter(range(5)), name="numbers")
    >>> list(numbers)
    [0, 1, 2, 3, 4]
    >>> numbers.close()
    """

    def __init__(self, items: Iterator[Item], *, name: str, ahead: int = 1) -> None:
        self._items = items
        self._handoff: queue.Queue[tuple[bool, Item | BaseException | None]] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = self._finished = False

    def __next__(self) -> Item:
        if self._finished:
            raise StopIteration
        if not self._started:
            self._started = True
            self._thread.start()
        is_item, value = self._handoff.get()
        if is_item:
            return value  # type: ignore[return-value]
        self._finished = True
        self._thread.join()
        if isinstance(value, BaseException):
            raise value
        raise StopIteration

    def close(self) -> None:
        """Stop the thread (waiting for the item it is reading, if any) and drop what it read ahead."""
        self._stop.set()
        if self._started:
            while self._thread.is_alive():
                _drain(self._handoff)
                self._thread.join(_POLL_SECONDS)
        else:
            _close(self._items)
        self._finished = True

    def _run(self) -> None:
        try:
            for item in self._items:
                if not _put(self._handoff, (True, item), self._stop):
                    return
            _put(self._handoff, (False, None), self._stop)
        except BaseException as error:  # handed to the consumer, raised there
            _put(self._handoff, (False, error), self._stop)
        finally:
            _close(self._items)


class Background(Generic[Item]):
    """Call ``work`` on each item :meth:`add` hands over, in order, on a background thread.

    :meth:`finish` waits for the last item; an error of ``work`` is raised again by the next :meth:`add` or by
    :meth:`finish`. :meth:`abandon` stops without waiting for the items still queued.

    >>> seen = []
    >>> background = Background(seen.append, name="collect")
    >>> for number in range(3):
    ...     background.add(number)
    >>> background.finish()
    >>> seen
    [0, 1, 2]
    """

    def __init__(self, work: Callable[[Item], object], *, name: str, ahead: int = 2) -> None:
        self._work = work
        self._handoff: queue.Queue[tuple[bool, Item | None]] = queue.Queue(maxsize=ahead)
        self._stop = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._started = False

    def add(self, item: Item) -> None:
        self._raise_error()
        if not self._started:
            self._started = True
            self._thread.start()
        if not _put(self._handoff, (True, item), self._stop, alive=self._thread):
            self._raise_error()
            raise InvalidState(f"The background thread {self._thread.name!r} has stopped; it takes no more items.")

    def finish(self) -> None:
        if self._started:
            _put(self._handoff, (False, None), self._stop, alive=self._thread)
            self._thread.join()
        self._raise_error()

    def abandon(self) -> None:
        self._stop.set()
        while self._started and self._thread.is_alive():
            _drain(self._handoff)
            with contextlib.suppress(queue.Full):
                self._handoff.put_nowait((False, None))  # wakes the thread if it waits for an item
            self._thread.join(_POLL_SECONDS)

    def _run(self) -> None:
        try:
            while not self._stop.is_set():
                is_item, item = self._handoff.get()
                if not is_item:
                    return
                self._work(item)  # type: ignore[arg-type]
        except BaseException as error:  # raised again in the caller's thread
            self._error = error

    def _raise_error(self) -> None:
        if self._error is not None:
            error, self._error = self._error, None
            self._stop.set()
            raise error


def coalesced(batches: Iterable[pa.RecordBatch], rows: int) -> Iterator[pa.RecordBatch]:
    """Batches of about ``rows`` rows: validation and profiling pay a fixed cost per batch, and some
    sources (CSV blocks) yield many small ones. Memory stays bounded by ``rows``."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        if pending and not batch.schema.equals(pending[0].schema):
            yield _combine(pending)
            pending, count = [], 0
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield _combine(pending)
            pending, count = [], 0
    if pending:
        yield _combine(pending)


def numbered(batches: Iterable[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
    """Add the 1-based source row number that quarantine and error messages point back to.

    Raises:
        InvalidData: A column has no name, the name of another column, or the name ``_source_row``.
    """
    start = 1
    names: list[str] | None = None
    for batch in batches:
        if batch.num_rows == 0:
            continue
        if batch.schema.names != names:
            names = _distinct_column_names(batch.schema.names)
        numbers = pa.array(np.arange(start, start + batch.num_rows, dtype=np.int64))
        start += batch.num_rows
        yield batch.append_column(SOURCE_ROW, numbers)


def _distinct_column_names(names: list[str]) -> list[str]:
    """``names``, when each names one column that Arrow, Polars and the row numbers can tell from the others."""
    if "" in names:
        raise InvalidData(f"Each column of the source needs a name; column {names.index('') + 1} has none.")
    if SOURCE_ROW in names:
        raise InvalidData(
            f"The column name {SOURCE_ROW!r} is reserved for the row numbers of a source; rename that column.",
            column=SOURCE_ROW,
        )
    if len(set(names)) < len(names):
        name, count = collections.Counter(names).most_common(1)[0]
        raise InvalidData(
            f"The columns of the source must have distinct names; {count} are named {name!r}.", column=name
        )
    return names


def peek(batches: Iterator[pa.RecordBatch], rows: int) -> tuple[pa.Table, Iterator[pa.RecordBatch]]:
    """The first ``rows`` rows as a table, and an iterator that still yields every batch."""
    head: list[pa.RecordBatch] = []
    seen = 0
    for batch in batches:
        head.append(batch)
        seen += batch.num_rows
        if seen >= rows:
            break
    if not head:
        raise InvalidInput("The source holds no rows.")
    # Some sources let a column's type firm up over batches (all-null at first): unify for the sample.
    sample = pa.concat_tables([pa.Table.from_batches([batch]) for batch in head], promote_options="default")
    return sample, itertools.chain(head, batches)


def _combine(batches: list[pa.RecordBatch]) -> pa.RecordBatch:
    return batches[0] if len(batches) == 1 else pa.Table.from_batches(batches).combine_chunks().to_batches()[0]


def _put(
    handoff: queue.Queue[Item], item: Item, stop: threading.Event, *, alive: threading.Thread | None = None
) -> bool:
    """Put ``item`` on the queue; False once ``stop`` is set (or the consuming thread ``alive`` has ended)."""
    while not stop.is_set() and (alive is None or alive.is_alive()):
        try:
            handoff.put(item, timeout=_POLL_SECONDS)
            return True
        except queue.Full:
            continue
    return False


def _drain(handoff: queue.Queue[Item]) -> None:
    while True:
        try:
            handoff.get_nowait()
        except queue.Empty:
            return


def _close(items: Iterator[object]) -> None:
    close = getattr(items, "close", None)
    if close is not None:
        close()
