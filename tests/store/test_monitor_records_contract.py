"""The monitor records contract, on SQLite and PostgreSQL: append, the latest per subject and source, history."""

from __future__ import annotations

import math

import pytest
from tests.store.conftest import Clock

from driftloop.errors import InvalidInput, InvalidName
from driftloop.store.metadata import MetadataStore, MonitorRecordRepository


@pytest.fixture
def records(store: MetadataStore, clock: Clock) -> MonitorRecordRepository:
    return MonitorRecordRepository(store.database, clock=clock)


def test_a_record_comes_back_as_written(records: MonitorRecordRepository, clock: Clock) -> None:
    written = records.record(
        "houses", "drift", {"drift": {"share": 0.4}, "rows": 1000}, window_start=10.0, window_end=20.0
    )
    assert written.id > 0
    assert (written.subject, written.kind, written.source) == ("houses", "drift", "")
    assert (written.recorded_at, written.window_start, written.window_end) == (clock.now, 10.0, 20.0)
    assert records.latest("drift") == [written]
    assert written.outputs == {"drift": {"share": 0.4}, "rows": 1000}


def test_non_finite_numbers_are_stored_as_null(records: MonitorRecordRepository) -> None:
    written = records.record("houses", "drift", {"score": math.nan, "scores": [1.0, math.inf], "ok": True})
    (read,) = records.latest("drift")
    assert read.outputs == written.outputs == {"score": None, "scores": [1.0, None], "ok": True}


def test_latest_is_the_newest_record_of_each_subject_and_source(records: MonitorRecordRepository, clock: Clock) -> None:
    records.record("houses", "drift", {"n": 1})
    clock.advance(60)
    newest_houses = records.record("houses", "drift", {"n": 2})
    flats = records.record("flats", "drift", {"n": 3})
    records.record("server", "health", {"requests": 5}, source="host:1:aa")
    clock.advance(60)
    worker_a = records.record("server", "health", {"requests": 7}, source="host:1:aa")
    worker_b = records.record("server", "health", {"requests": 9}, source="host:2:bb")

    assert records.latest("drift") == [flats, newest_houses]
    assert records.latest("drift", subject="houses") == [newest_houses]
    assert records.latest("health") == [worker_a, worker_b]
    assert records.latest("health", since=clock.now - 30) == [worker_a, worker_b]
    assert records.latest("drift", since=clock.now - 30) == []


def test_history_is_oldest_first_and_bounded(records: MonitorRecordRepository, clock: Clock) -> None:
    written = []
    for n in range(5):
        written.append(records.record("houses", "drift", {"n": n}))
        clock.advance(10)
    records.record("flats", "drift", {"n": 99})
    assert records.history("houses", "drift") == written
    assert records.history("houses", "drift", limit=2) == written[-2:]
    assert records.history("houses", "drift", since=written[3].recorded_at) == written[3:]
    assert records.history("houses", "health") == []


def test_prune_drops_old_records_only(records: MonitorRecordRepository, clock: Clock) -> None:
    old = records.record("houses", "drift", {"n": 1})
    clock.advance(100)
    kept = records.record("houses", "drift", {"n": 2})
    assert records.prune(before=old.recorded_at + 50) == 1
    assert records.history("houses", "drift") == [kept]


def test_bad_input_is_refused_and_nothing_is_written(records: MonitorRecordRepository) -> None:
    with pytest.raises(InvalidInput, match="kind"):
        records.record("houses", "weather", {})  # type: ignore[arg-type]
    with pytest.raises(InvalidName):
        records.record("../houses", "drift", {})
    with pytest.raises(InvalidInput, match="window_start"):
        records.record("houses", "drift", {}, window_start=math.nan)
    with pytest.raises(InvalidInput, match="mapping"):
        records.record("houses", "drift", [1, 2])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="limit"):
        records.history("houses", "drift", limit=0)
    assert records.latest("drift") == []
