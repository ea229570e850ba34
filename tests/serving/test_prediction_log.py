"""The prediction log and the labels table: buffered appends that reach disk within a second and are never lost
or doubled (threads, processes, failing storage), compaction that keeps every version readable, and the join of
predictions with their latest labels."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pytest

from driftloop.errors import Conflict, InvalidInput, InvalidState, StoreError
from driftloop.serving._labels import LABEL_SCHEMA, LabelStore
from driftloop.serving._log_tables import compact_table, vacuum_table
from driftloop.serving._prediction_log import JOINED_SCHEMA, PredictionLog
from driftloop.serving._prediction_records import PREDICTION_SCHEMA, PredictionRecord
from driftloop.store.tables import StagedWrite, TableStore

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def records(
    count: int, *, prefix: str = "r", first: int = 0, model: str = "houses", version: int = 1
) -> list[PredictionRecord]:
    rng = np.random.default_rng(first)
    areas = rng.uniform(20, 400, count)
    return [
        PredictionRecord(
            request_id=f"{prefix}{first + index}",
            at=START + timedelta(milliseconds=first + index),
            model=model,
            version=version,
            inputs={"area": float(areas[index]), "district": "Ba Dinh"},
            prediction=float(areas[index]) * 3.0,
            latency_ms=0.5,
            flags=["area: 9000.0 above the maximum 450.0"] if index % 7 == 0 else [],
        )
        for index in range(count)
    ]


@pytest.fixture
def tables(tmp_path: Path) -> TableStore:
    return TableStore(str(tmp_path / "tables"))


@pytest.fixture
def log(tables: TableStore) -> Iterator[PredictionLog]:
    prediction_log = PredictionLog(tables, flush_interval=60)  # tests flush explicitly unless they say otherwise
    yield prediction_log
    prediction_log.close(timeout=5)


def file_count(tables: TableStore, table: str, version: int | None = None) -> int:
    latest = tables.latest_version(table)
    assert latest is not None
    return len(tables.dataset(table, latest if version is None else version).files)


class FlakyTables(TableStore):
    """A table store whose commits fail while ``failing`` is set; ``landing`` makes them land and then fail."""

    def __init__(self, url: str) -> None:
        super().__init__(url)
        self.failing = False
        self.landing = False
        self.commits = 0

    def commit(self, staged: StagedWrite, *, mode: Any, properties: Any) -> int:
        self.commits += 1
        if self.failing and self.landing:
            super().commit(staged, mode=mode, properties=properties)  # it landed, but the answer was lost
            raise StoreError("The table storage failed while committing: connection reset.")
        if self.failing:
            raise StoreError("The table storage failed while committing: No space left on device.")
        return super().commit(staged, mode=mode, properties=properties)


# --- writing ---------------------------------------------------------------------------------------------------


def test_appended_predictions_are_on_disk_within_a_second_without_a_flush(tables: TableStore) -> None:
    log = PredictionLog(tables)  # the default flush interval, 0.5 s
    try:
        appended = time.monotonic()
        log.append(records(25))
        while log.stats.written < 25 and time.monotonic() - appended < 1.0:
            time.sleep(0.01)
        assert time.monotonic() - appended < 1.0
        assert log.read().num_rows == 25  # committed: another process reading the table sees them
    finally:
        log.close()


def test_records_read_back_as_appended(log: PredictionLog) -> None:
    scores = np.array([[0.9, 0.1], [0.2, 0.8]])
    columns: dict[str, Any] = {"tenure": np.array([3, 40]), "plan": ["basic", None]}
    log.append_request(
        request_ids=["a", "b"],
        model="churn",
        version=4,
        columns=columns,
        predictions=np.array(["stay", "leave"]),
        probabilities=scores,
        classes=np.array(["stay", "leave"]),
        flags=[[], ["plan: missing"]],
        latency_ms=2.5,
        served_by="canary",
        protocol="mlflow",
        at=START,
    )
    assert log.stats.pending == 2
    assert log.flush() == 2
    table = log.read()
    assert table.schema.equals(PREDICTION_SCHEMA)
    rows = table.to_pylist()
    assert [row["request_id"] for row in rows] == ["a", "b"]
    assert orjson.loads(rows[1]["inputs"]) == {"tenure": 40, "plan": None}
    assert [orjson.loads(row["prediction"]) for row in rows] == ["stay", "leave"]
    assert orjson.loads(rows[0]["probabilities"]) == {"stay": 0.9, "leave": 0.1}
    assert rows[1]["flags"] == ["plan: missing"] and rows[0]["flags"] == []
    assert {(row["model"], row["version"], row["served_by"], row["protocol"]) for row in rows} == {
        ("churn", 4, "canary", "mlflow")
    }
    assert rows[0]["at"] == START and rows[0]["latency_ms"] == 2.5
    assert log.stats.flushes == 1 and file_count(log.tables, "_predictions") == 1  # one commit, one file


def test_close_commits_everything_buffered(log: PredictionLog) -> None:
    for start in range(0, 2_500, 500):
        log.append(records(500, first=start))
    assert log.stats.pending == 2_500 and log.stats.written == 0
    log.close()
    assert log.read().column("request_id").to_pylist() == [f"r{index}" for index in range(2_500)]
    assert (log.stats.written, log.stats.pending, log.stats.dropped, log.stats.flushes) == (2_500, 0, 0, 1)
    with pytest.raises(InvalidState, match="closed"):
        log.append(records(1))


def test_counts_match_exactly_after_appends_from_four_threads(tables: TableStore) -> None:
    log = PredictionLog(tables, flush_interval=0.02)  # many flushes race the appends
    batches = [records(2_500, prefix=f"t{thread}-") for thread in range(4)]

    def append_one_by_one(batch: list[PredictionRecord]) -> None:
        for index, record in enumerate(batch):
            log.append([record])
            if index % 250 == 0:
                time.sleep(0.02)  # let flushes happen between appends

    threads = [threading.Thread(target=append_one_by_one, args=(batch,)) for batch in batches]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    log.close()
    identifiers = log.read().column("request_id").to_pylist()
    assert len(identifiers) == 10_000 and len(set(identifiers)) == 10_000
    assert (log.stats.written, log.stats.pending, log.stats.dropped) == (10_000, 0, 0)
    assert log.stats.flushes > 1


WORKER = """
import pathlib, signal, sys, time
from datetime import UTC, datetime
from driftloop.serving._prediction_log import PredictionLog
from driftloop.serving._prediction_records import PredictionRecord
from driftloop.store.tables import TableStore

root, name, folder, ending = sys.argv[1], sys.argv[2], pathlib.Path(sys.argv[3]), sys.argv[4]
log = PredictionLog(TableStore(root), flush_interval=60 if ending == "sigterm" else 0.02)
# As uvicorn does: SIGTERM ends the process the orderly way (its shutdown closes the log; here the atexit hook).
signal.signal(signal.SIGTERM, lambda signum, frame: sys.exit(0))
(folder / f"ready-{name}").touch()
while not (folder / "go").exists():
    time.sleep(0.005)
for start in range(0, 1_000, 20):
    log.append(
        [
            PredictionRecord(f"{name}-{index}", datetime.now(UTC), "houses", 1, {"area": index}, index * 3.0)
            for index in range(start, start + 20)
        ]
    )
    time.sleep(0.004)
if ending == "close":
    log.close()
    print(log.stats.written, log.stats.dropped, log.stats.flushes)
elif ending == "sigterm":
    (folder / f"appended-{name}").touch()
    time.sleep(120)
# otherwise the interpreter exits with rows still buffered: the atexit hook must commit them
"""


def run_workers(tables: TableStore, tmp_path: Path, names: list[str], ending: str) -> list[str]:
    signals = tmp_path / "signals"
    signals.mkdir()
    workers = [
        subprocess.Popen(
            [sys.executable, "-c", WORKER, tables.url, name, str(signals), ending],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for name in names
    ]
    deadline = time.monotonic() + 60
    while len(list(signals.glob("ready-*"))) < len(names) and time.monotonic() < deadline:
        time.sleep(0.01)
    (signals / "go").touch()
    if ending == "sigterm":
        while len(list(signals.glob("appended-*"))) < len(names) and time.monotonic() < deadline:
            time.sleep(0.01)
        for worker in workers:
            worker.send_signal(signal.SIGTERM)
    outputs = []
    for worker in workers:
        out, err = worker.communicate(timeout=120)
        assert worker.returncode == 0, err  # and the interpreter exited cleanly (no abort at teardown)
        outputs.append(out.strip())
    return outputs


def test_two_processes_appending_at_once_both_land(tables: TableStore, tmp_path: Path) -> None:
    outputs = run_workers(tables, tmp_path, ["p1", "p2"], "close")
    for output in outputs:
        written, dropped, flushes = map(int, output.split())
        # several commits each, raced against the other process's (how many depends on the machine's load)
        assert (written, dropped) == (1_000, 0) and flushes > 1
    identifiers = PredictionLog(tables).read().column("request_id").to_pylist()
    assert sorted(identifiers) == sorted([f"p{p}-{index}" for p in (1, 2) for index in range(1_000)])


@pytest.mark.parametrize("ending", ["exit", "sigterm"])
def test_rows_still_buffered_when_the_process_ends_are_committed(
    tables: TableStore, tmp_path: Path, ending: str
) -> None:
    run_workers(tables, tmp_path, ["ending"], ending)
    assert PredictionLog(tables).read().num_rows == 1_000


def test_a_failing_flush_keeps_the_rows_and_retries(tmp_path: Path) -> None:
    tables = FlakyTables(str(tmp_path / "tables"))
    log = PredictionLog(tables, flush_interval=0.05)
    try:
        tables.failing = True
        log.append(records(300))
        with pytest.raises(StoreError, match="No space left"):
            log.flush()
        stats = log.stats
        assert (stats.pending, stats.written, stats.dropped) == (300, 0, 0)
        assert stats.failures >= 1 and stats.failing
        assert stats.last_error is not None and "No space left" in stats.last_error
        log.append(records(50, first=300))  # requests keep being served and logged meanwhile
        time.sleep(0.3)
        assert tables.commits >= 2  # the background thread kept trying
        tables.failing = False
        deadline = time.monotonic() + 10
        while log.stats.written < 350 and time.monotonic() < deadline:
            time.sleep(0.02)
        assert log.read().column("request_id").to_pylist() == [f"r{index}" for index in range(350)]
        assert not log.stats.failing and log.stats.dropped == 0
    finally:
        log.close()


def test_a_commit_that_landed_although_it_failed_is_not_written_twice(tmp_path: Path) -> None:
    tables = FlakyTables(str(tmp_path / "tables"))
    log = PredictionLog(tables, flush_interval=60)
    tables.failing = tables.landing = True
    log.append(records(40))
    with pytest.raises(StoreError, match="connection reset"):
        log.flush()
    tables.failing = False
    log.append(records(10, first=40))
    assert log.flush() == 10  # the first 40 were found in the table, not written again
    log.close()
    assert log.read().column("request_id").to_pylist() == [f"r{index}" for index in range(50)]
    assert (log.stats.written, log.stats.pending, log.stats.dropped) == (50, 0, 0)


def test_a_failing_stage_keeps_the_rows(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    tables = TableStore(str(tmp_path / "tables"))
    log = PredictionLog(tables, flush_interval=60)
    original = tables.stage

    def full_disk(*args: Any, **kwargs: Any) -> StagedWrite:
        raise StoreError("The table storage failed while staging: No space left on device.")

    monkeypatch.setattr(tables, "stage", full_disk)
    log.append(records(20))
    with pytest.raises(StoreError):
        log.flush()
    assert log.stats.pending == 20
    monkeypatch.setattr(tables, "stage", original)
    log.close()
    assert log.read().num_rows == 20


def test_beyond_max_rows_the_oldest_are_dropped_and_counted(tmp_path: Path) -> None:
    tables = FlakyTables(str(tmp_path / "tables"))
    log = PredictionLog(tables, flush_interval=60, max_rows=100)
    tables.failing = True
    log.append(records(80))
    with pytest.raises(StoreError):
        log.flush()
    log.append(records(170, first=80))
    assert (log.stats.pending, log.stats.dropped) == (100, 150)
    tables.failing = False
    log.close()
    assert log.read().column("request_id").to_pylist() == [f"r{index}" for index in range(150, 250)]
    assert (log.stats.written, log.stats.dropped) == (100, 150)


def test_a_burst_beyond_max_rows_is_kept_while_the_storage_works(tmp_path: Path) -> None:
    log = PredictionLog(TableStore(str(tmp_path / "tables")), flush_interval=60, max_rows=100)
    log.append(records(900))  # nine times the cap, before a single flush: a burst, not an outage
    assert (log.stats.pending, log.stats.dropped) == (900, 0)
    log.append(records(150, first=900))  # beyond ten times the cap, the oldest go
    assert (log.stats.pending, log.stats.dropped) == (1000, 50)
    assert "could not keep up" in (log.stats.last_error or "")
    log.close()
    assert log.read().num_rows == 1000


def test_whole_requests_are_dropped_oldest_first(tmp_path: Path) -> None:
    tables = FlakyTables(str(tmp_path / "tables"))
    log = PredictionLog(tables, flush_interval=60, max_rows=100)
    tables.failing = True
    for request in range(15):
        log.append_request(
            request_ids=[f"q{request}-{row}" for row in range(10)],
            model="houses",
            version=1,
            columns={"area": np.arange(10.0)},
            predictions=np.arange(10.0) * 3,
        )
        if request == 3:
            with pytest.raises(StoreError):
                log.flush()
    assert (log.stats.pending, log.stats.dropped) == (100, 50)
    tables.failing = False
    log.close()
    kept = log.read().column("request_id").to_pylist()
    assert sorted(kept) == sorted(f"q{request}-{row}" for request in range(5, 15) for row in range(10))


def test_a_record_that_cannot_be_encoded_is_dropped_alone(log: PredictionLog) -> None:
    bad = PredictionRecord("bad", START, "houses", "not a version", {"area": 1.0}, 2.0)  # type: ignore[arg-type]
    log.append([*records(5), bad, *records(5, first=5)])
    log.append_request(request_ids=["short"], model="houses", version=1, columns={"area": [1.0, 2.0]}, predictions=[1])
    assert log.flush() == 10
    assert log.stats.dropped == 2 and "could not be encoded" in (log.stats.last_error or "")
    assert {"bad", "short"}.isdisjoint(log.read().column("request_id").to_pylist())


def test_arguments_are_checked(tables: TableStore) -> None:
    with pytest.raises(InvalidInput, match="'flush_interval'"):
        PredictionLog(tables, flush_interval=0)
    with pytest.raises(InvalidInput, match="'max_rows'"):
        PredictionLog(tables, max_rows=0)
    with pytest.raises(InvalidInput, match="timezone-aware"):
        PredictionLog(tables).read(since=datetime(2026, 1, 1))
    with pytest.raises(InvalidInput, match="as many predictions"):
        PredictionLog(tables).append_request(request_ids=["a"], model="m", version=1, columns={}, predictions=[1, 2])


# --- reading ---------------------------------------------------------------------------------------------------


def test_reads_filter_by_model_version_and_time(log: PredictionLog) -> None:
    assert log.read().num_rows == 0 and log.read().schema.equals(PREDICTION_SCHEMA)  # nothing written yet
    log.append(records(10, prefix="h1-", model="houses", version=1))
    log.append(records(10, prefix="h2-", first=10, model="houses", version=2))
    log.append(records(10, prefix="c-", first=20, model="churn", version=1))
    log.flush()
    assert log.read("churn").num_rows == 10
    assert set(log.read("houses", version=2).column("request_id").to_pylist()) == {f"h2-{i}" for i in range(10, 20)}
    window = log.read(since=START + timedelta(milliseconds=5), until=START + timedelta(milliseconds=15))
    assert window.column("request_id").to_pylist() == [f"h1-{i}" for i in range(5, 10)] + [
        f"h2-{i}" for i in range(10, 15)
    ]


# --- compaction and retention ----------------------------------------------------------------------------------


def write_in_flushes(log: PredictionLog, flushes: int, rows: int = 10) -> None:
    for flush in range(flushes):
        log.append(records(rows, first=flush * rows))
        log.flush()


def test_compaction_reduces_the_files_and_every_version_reads_back(log: PredictionLog) -> None:
    tables = log.tables
    write_in_flushes(log, 30)
    before = log.read()
    referred = log.table_version()
    assert referred is not None and file_count(tables, "_predictions") == 30

    result = log.compact(target_rows=1_000)
    assert (result.files_removed, result.files_added, result.rows) == (30, 1, 300)
    assert result.version == log.table_version()
    assert file_count(tables, "_predictions") == 1
    assert log.read().equals(before)
    assert log.compact(target_rows=1_000).version is None  # nothing left to compact

    # Within the retention, maintenance deletes nothing a version needs: the version before compaction reads back.
    report = log.maintain(retain_hours=1)
    assert report.vacuumed == [] and report.checkpoint_version is not None
    assert log.read(table_version=referred).equals(before)
    # A version someone refers to stays readable even past the retention...
    assert vacuum_table(tables, "_predictions", retain_hours=0, keep_versions=[referred]) == []
    assert log.read(table_version=referred).equals(before)
    # ...and once nobody does, the removed files go, and only then does that version stop reading back.
    assert len(vacuum_table(tables, "_predictions", retain_hours=0)) == 30
    assert log.read().equals(before)
    with pytest.raises(StoreError):
        log.read(table_version=referred)


def test_a_vacuum_of_a_day_or_more_deletes_files_no_commit_took(log: PredictionLog) -> None:
    tables = log.tables
    write_in_flushes(log, 3)
    referred = log.table_version()
    log.compact(target_rows=1_000)
    folder = Path(tables.uri("_predictions"))
    schema = log.read().schema
    failed = tables.stage("_predictions", log.read().to_batches(), fallback_schema=schema).files[0][0]
    young = tables.stage("_predictions", log.read().to_batches(), fallback_schema=schema).files[0][0]
    two_days_ago = time.time() - 48 * 3600
    for file in folder.glob("*.parquet"):  # every data file is old, but only the removed ones were removed long ago
        if file.name != young:
            os.utime(file, (two_days_ago, two_days_ago))
    report = log.maintain(retain_hours=24)
    assert report.vacuumed == [failed]  # neither the young staged file nor a file a version refers to
    assert (folder / young).exists()
    assert log.read(table_version=referred).num_rows == log.read().num_rows == 30


def test_compaction_leaves_big_files_and_recent_versions_alone(log: PredictionLog) -> None:
    log.append(records(50))
    log.flush()
    write_in_flushes(log, 6)
    result = compact_table(log.tables, "_predictions", target_rows=40, older_than_versions=2)
    # the 50-row file is big enough; the files of the last 2 commits stay; 4 small ones merge into 1
    assert (result.files_removed, result.files_added) == (4, 1)
    assert file_count(log.tables, "_predictions") == 1 + 1 + 2
    assert log.read().num_rows == 110


def test_two_compactions_at_once_never_double_the_rows(log: PredictionLog, monkeypatch: pytest.MonkeyPatch) -> None:
    tables = log.tables
    write_in_flushes(log, 8)
    original_stage = tables.stage
    raced: list[int | None] = []

    def stage_then_race(*args: Any, **kwargs: Any) -> StagedWrite:
        staged = original_stage(*args, **kwargs)
        if not raced:  # while the first compaction stages, another compacts and a server appends
            raced.append(None)
            raced[0] = compact_table(tables, "_predictions", target_rows=1_000).version
            log.append(records(5, first=500))
            log.flush()
        return staged

    monkeypatch.setattr(tables, "stage", stage_then_race)
    with pytest.raises(Conflict):
        compact_table(tables, "_predictions", target_rows=1_000)
    assert raced[0] is not None
    identifiers = log.read().column("request_id").to_pylist()
    assert sorted(identifiers) == sorted([f"r{index}" for index in range(80)] + [f"r{i}" for i in range(500, 505)])


def test_appends_during_a_compaction_are_kept(log: PredictionLog, monkeypatch: pytest.MonkeyPatch) -> None:
    tables = log.tables
    write_in_flushes(log, 5)
    original_stage = tables.stage

    appended: list[bool] = []

    def stage_while_appending(*args: Any, **kwargs: Any) -> StagedWrite:
        staged = original_stage(*args, **kwargs)
        if not appended:
            appended.append(True)
            log.append(records(7, first=900))
            log.flush()
        return staged

    monkeypatch.setattr(tables, "stage", stage_while_appending)
    result = log.compact(target_rows=1_000)
    monkeypatch.undo()
    assert result.files_removed == 5
    assert log.read().num_rows == 57 and file_count(tables, "_predictions") == 2


# --- labels ----------------------------------------------------------------------------------------------------


def test_labels_join_to_predictions_and_the_latest_label_wins(log: PredictionLog) -> None:
    labels = LabelStore(log.tables, flush_interval=60)
    log.append(records(5))
    log.flush()
    labels.record("r0", 100.0, at=START + timedelta(hours=1))
    labels.record("r0", 150.0, at=START + timedelta(hours=2), actor="ana")  # a correction
    labels.record("r1", 1.0, at=START + timedelta(hours=3))
    labels.record("r1", 2.0, at=START + timedelta(hours=1))  # recorded later, but true earlier: r1 stays 1.0
    labels.record_many({"r2": 30.0, "r3": 40.0}, source="label_queue")
    labels.record("r3", 45.0, source="label_queue")  # same moment or later, recorded later: it wins
    labels.close()

    joined = log.joined("houses", labels=labels)
    assert joined.schema.equals(JOINED_SCHEMA)
    by_request = {row["request_id"]: row for row in joined.to_pylist()}
    assert joined.column("request_id").to_pylist() == [f"r{index}" for index in range(5)]
    assert [by_request[f"r{index}"]["label"] for index in range(5)] == ["150.0", "1.0", "30.0", "45.0", None]
    assert by_request["r0"]["label_actor"] == "ana" and by_request["r0"]["label_source"] == "feedback"
    assert by_request["r2"]["label_source"] == "label_queue"
    assert by_request["r0"]["label_at"] == START + timedelta(hours=2)
    assert labels.read().num_rows == 7  # every label is kept


def test_a_label_for_an_unknown_request_is_stored(tables: TableStore) -> None:
    labels = LabelStore(tables, flush_interval=60)
    recorded = labels.record("not-logged-yet", "fraud", actor="ops")
    assert labels.flush() == 1
    stored = labels.read(request_ids=["not-logged-yet"])
    assert stored.schema.equals(LABEL_SCHEMA)
    assert stored.to_pylist() == [
        {
            "request_id": "not-logged-yet",
            "label": '"fraud"',
            "source": "feedback",
            "at": recorded.at,
            "actor": "ops",
            "recorded_at": recorded.recorded_at,
        }
    ]
    assert PredictionLog(tables).joined(labels=labels).num_rows == 0  # no prediction yet: nothing to join
    labels.close()


@pytest.mark.parametrize(
    ("arguments", "problem"),
    [
        ({"request_id": "r1", "label": None}, "must be a number"),
        ({"request_id": "r1", "label": float("nan")}, "must be a number"),
        ({"request_id": "r1", "label": object()}, "must be a JSON value"),
        ({"request_id": "", "label": 1}, "'request_id'"),
        ({"request_id": "r1", "label": 1, "source": ""}, "'source'"),
        ({"request_id": "r1", "label": 1, "at": datetime(2026, 1, 1)}, "timezone-aware"),
    ],
)
def test_a_bad_label_is_refused_and_nothing_is_recorded(
    tables: TableStore, arguments: dict[str, Any], problem: str
) -> None:
    labels = LabelStore(tables)
    with pytest.raises(InvalidInput, match=problem):
        labels.record(**arguments)
    assert labels.stats.pending == 0
    labels.close()


def test_labels_table_is_compacted_like_the_log(tables: TableStore) -> None:
    labels = LabelStore(tables, flush_interval=60)
    for index in range(6):
        labels.record(f"r{index}", index)
        labels.flush()
    report = labels.maintain()
    assert report.compaction is not None and report.compaction.files_removed == 6
    assert labels.read().num_rows == 6 and file_count(tables, "_labels") == 1
    labels.close()


def test_read_of_a_missing_table_version_says_so(log: PredictionLog) -> None:
    write_in_flushes(log, 1)
    with pytest.raises(LookupError, match="no version 7"):
        log.read(table_version=7)
    assert isinstance(log.read(table_version=0), pa.Table)


def test_the_writer_dumps_no_traceback_for_a_user_value(log: PredictionLog) -> None:
    # Values JSON has no type for (a set, a date) are written as JSON anyway rather than failing the flush.
    odd = PredictionRecord("odd", START, "houses", 1, {"tags": {"a"}, "day": START.date()}, np.float32(1.5))
    log.append([odd])
    log.flush()
    row = log.read().to_pylist()[0]
    assert orjson.loads(row["inputs"]) == {"tags": ["a"], "day": "2026-03-01"} and row["prediction"] == "1.5"


# --- on S3-compatible storage ----------------------------------------------------------------------------------


@pytest.fixture
def s3_tables(s3_bucket: str) -> TableStore:
    """Tables on the session's moto server (see tests/conftest.py), in a bucket of this test's own."""
    return TableStore(f"s3://{s3_bucket}/workspace/tables")


def test_the_log_and_its_upkeep_work_on_s3(s3_tables: TableStore) -> None:
    log = PredictionLog(s3_tables, flush_interval=60)
    labels = LabelStore(s3_tables, flush_interval=60)
    write_in_flushes(log, 6)
    before, referred = log.read(), log.table_version()
    labels.record("r3", 9.0)
    labels.flush()

    report = log.maintain(target_rows=1_000, retain_hours=24)
    assert report.compaction is not None and report.compaction.files_removed == 6
    assert log.read().equals(before) and log.read(table_version=referred).equals(before)
    assert len(vacuum_table(s3_tables, "_predictions", retain_hours=0)) == 6
    assert log.read().equals(before)
    assert log.joined(labels=labels).column("label").to_pylist() == [None] * 3 + ["9.0"] + [None] * 56
    log.close()
    labels.close()
