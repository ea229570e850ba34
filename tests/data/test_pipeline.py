"""The ingest's plumbing: side threads hand items over in order, raise their errors in the caller's thread,
stop early when asked, and iterate a source on one thread only; batches are sized and numbered."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pyarrow as pa
import pytest

from driftloop.data._pipeline import Background, Prefetched, coalesced, numbered, peek
from driftloop.errors import InvalidData, InvalidInput, InvalidState


def test_prefetched_yields_every_item_in_order_from_one_other_thread() -> None:
    threads: set[int] = set()

    def items() -> Iterator[int]:
        for number in range(50):
            threads.add(threading.get_ident())
            yield number

    prefetched = Prefetched(items(), name="test-reader", ahead=2)
    assert list(prefetched) == list(range(50))
    prefetched.close()
    assert len(threads) == 1 and threading.get_ident() not in threads


def test_prefetched_raises_the_sources_error_in_the_consumers_thread_after_the_items_before_it() -> None:
    def items() -> Iterator[int]:
        yield 1
        yield 2
        raise InvalidData("data.csv: row 3 has 4 values; the header has 3 columns.", row=3)

    prefetched = Prefetched(items(), name="test-reader")
    assert [next(prefetched), next(prefetched)] == [1, 2]
    with pytest.raises(InvalidData, match="row 3 has 4 values") as caught:
        next(prefetched)
    assert caught.value.row == 3
    with pytest.raises(StopIteration):
        next(prefetched)
    prefetched.close()


def test_closing_early_stops_the_thread_and_closes_the_source_on_it() -> None:
    produced: list[int] = []
    closed_on: list[int] = []

    def items() -> Iterator[int]:
        try:
            for number in range(1_000_000):
                produced.append(number)
                yield number
        finally:
            closed_on.append(threading.get_ident())

    prefetched = Prefetched(items(), name="test-reader", ahead=1)
    assert next(prefetched) == 0
    prefetched.close()
    assert len(produced) <= 4  # read ahead by at most the queue and the item in hand
    assert closed_on and closed_on[0] != threading.get_ident()
    assert list(prefetched) == []


def test_closing_before_reading_closes_the_source_without_a_thread() -> None:
    closed: list[bool] = []

    def items() -> Iterator[int]:
        try:
            yield 1
        finally:
            closed.append(True)

    source = items()
    next(source)  # a started generator, so closing it runs its finally block
    Prefetched(source, name="test-reader").close()
    assert closed == [True]


def test_background_runs_the_work_in_order_and_raises_its_error_in_the_caller() -> None:
    seen: list[int] = []
    background = Background(seen.append, name="test-worker")
    for number in range(100):
        background.add(number)
    background.finish()
    assert seen == list(range(100))

    def fail_on_three(number: int) -> None:
        if number == 3:
            raise InvalidData("column 'price' changes kind")

    failing = Background(fail_on_three, name="test-worker", ahead=1)
    with pytest.raises((InvalidData, InvalidState)):
        for number in range(100):
            failing.add(number)
        failing.finish()
    failing.abandon()


def test_background_abandoned_stops_without_the_queued_items() -> None:
    release = threading.Event()
    seen: list[int] = []

    def slow(number: int) -> None:
        if number == 0:
            release.wait(5)
        seen.append(number)

    background = Background(slow, name="test-worker", ahead=2)
    for number in range(3):
        background.add(number)
    threading.Timer(0.2, release.set).start()  # item 0 finishes after the queue was dropped
    background.abandon()
    assert seen == [0]


def test_background_abandoned_while_waiting_for_an_item_stops() -> None:
    background = Background(lambda number: None, name="test-worker")
    background.add(1)
    background.abandon()  # the thread waits on an empty queue: abandoning must not hang
    with pytest.raises(InvalidState, match="has stopped"):
        background.add(2)


def test_batches_are_coalesced_numbered_and_peeked() -> None:
    small = [pa.record_batch({"x": list(range(start, start + 3))}) for start in range(0, 30, 3)]
    sized = list(coalesced(small, 7))
    assert [batch.num_rows for batch in sized] == [9, 9, 9, 3]
    rows = list(numbered(sized))
    assert rows[0].column("_source_row").to_pylist() == list(range(1, 10))
    assert rows[-1].column("_source_row").to_pylist() == [28, 29, 30]
    sample, everything = peek(iter(rows), 10)
    assert sample.num_rows == 18
    assert sum(batch.num_rows for batch in everything) == 30
    with pytest.raises(InvalidInput, match="holds no rows"):
        peek(iter([]), 10)
