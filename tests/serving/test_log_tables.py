"""Upkeep of the serving tables' Delta log: old log entries expire, while the latest version, every version
younger than the retention and every version someone refers to keep reading back exactly as before."""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from driftloop.errors import InvalidInput, NotFound
from driftloop.serving import _log_expiry
from driftloop.serving._log_tables import expire_log, maintain_table, vacuum_table
from driftloop.serving._prediction_log import PredictionLog
from driftloop.serving._prediction_records import PredictionRecord
from driftloop.store.tables import TableStore

TABLE = "_predictions"
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
LATER = datetime.now(UTC) + timedelta(hours=2)
"""A moment when every commit a test made is two hours old."""


def records(count: int, first: int) -> list[PredictionRecord]:
    return [
        PredictionRecord(f"r{index}", START + timedelta(seconds=index), "houses", 1, {"area": index}, index * 3.0)
        for index in range(first, first + count)
    ]


def commit_in_flushes(log: PredictionLog, flushes: int, rows: int = 5) -> None:
    """One Delta commit per flush, continuing the rows already in the table."""
    first = log.read().num_rows
    for flush in range(flushes):
        log.append(records(rows, first + flush * rows))
        log.flush()


def log_folder(tables: TableStore) -> Path:
    return Path(tables.uri(TABLE)) / "_delta_log"


def log_names(tables: TableStore) -> set[str]:
    return {path.name for path in log_folder(tables).iterdir()}


def snapshot(log: PredictionLog, versions: list[int]) -> dict[int, pa.Table]:
    return {version: log.read(table_version=version) for version in versions}


def assert_reads_back(log: PredictionLog, before: dict[int, pa.Table]) -> None:
    for version, rows in before.items():
        assert log.read(table_version=version).equals(rows), f"version {version} changed"


@pytest.fixture
def tables(tmp_path: Path) -> TableStore:
    return TableStore(str(tmp_path / "tables"))


@pytest.fixture
def log(tables: TableStore) -> Iterator[PredictionLog]:
    prediction_log = PredictionLog(tables, flush_interval=60)  # the tests flush explicitly
    yield prediction_log
    prediction_log.close(timeout=5)


# --- expiry through maintenance --------------------------------------------------------------------------------


def test_maintenance_expires_old_log_entries_and_keeps_what_is_referred_to(log: PredictionLog) -> None:
    tables = log.tables
    commit_in_flushes(log, 30)  # versions 0 to 29
    kept = [4, 17]
    before = snapshot(log, kept)
    latest_rows = log.read()
    files_before = len(log_names(tables))

    report = maintain_table(tables, TABLE, target_rows=1_000, retain_hours=1, keep_versions=kept, now=LATER)

    assert report.compaction is not None and report.compaction.version == 30
    assert report.vacuumed == []  # the compacted files were removed just now, well within the retention
    assert "_delta_log/00000000000000000000.json" in report.expired_log_files
    assert not {f"_delta_log/{version:020d}.json" for version in [*kept, 30]} & set(report.expired_log_files)
    # What is left: the kept versions and the latest, each with its commit and a checkpoint.
    assert log_names(tables) == {
        *(f"{version:020d}.{suffix}" for version in [*kept, 30] for suffix in ("json", "checkpoint.parquet")),
        "_last_checkpoint",
    }
    assert len(log_names(tables)) < files_before / 4
    assert log.read().equals(latest_rows)
    assert_reads_back(log, before)
    with pytest.raises(NotFound, match=r"'_predictions' version 10 is older than the retention of its log") as caught:
        log.read(table_version=10)
    assert "Versions from 30 on read back, and so do the versions kept on purpose (4, 17)." in str(caught.value)
    with pytest.raises(NotFound, match="version 0 is older than the retention"):
        log.read(table_version=0)  # below every checkpoint left, where deltalake says the table is missing

    commit_in_flushes(log, 2)  # appends after the expiry land on the trimmed log
    assert log.read().num_rows == latest_rows.num_rows + 10
    assert log.read(table_version=31).num_rows == latest_rows.num_rows + 5
    assert_reads_back(log, before)


def test_a_second_maintenance_run_is_harmless(log: PredictionLog) -> None:
    tables = log.tables
    commit_in_flushes(log, 30)
    before = snapshot(log, [4, 29])
    first = maintain_table(tables, TABLE, target_rows=1_000, retain_hours=1, keep_versions=[4, 29], now=LATER)
    assert first.expired_log_files
    left = log_names(tables)

    again = maintain_table(tables, TABLE, target_rows=1_000, retain_hours=1, keep_versions=[4, 29], now=LATER)

    assert again.compaction is not None and again.compaction.version is None  # nothing left to compact
    assert (again.vacuumed, again.expired_log_files) == ([], [])
    assert log_names(tables) == left
    assert_reads_back(log, before)


def test_within_the_retention_nothing_expires(log: PredictionLog) -> None:
    commit_in_flushes(log, 10)
    names = log_names(log.tables)
    report = maintain_table(log.tables, TABLE, retain_hours=1)  # the commits are seconds old
    assert report.expired_log_files == []
    assert log_names(log.tables) >= names
    assert log.read(table_version=0).num_rows == 5


# --- expire_log ------------------------------------------------------------------------------------------------


def test_the_cut_is_the_oldest_version_younger_than_the_retention(log: PredictionLog) -> None:
    tables = log.tables
    commit_in_flushes(log, 20)
    before = snapshot(log, list(range(8, 20)))
    two_hours_ago = (datetime.now(UTC) - timedelta(hours=2)).timestamp()
    for version in range(8):
        os.utime(log_folder(tables) / f"{version:020d}.json", (two_hours_ago, two_hours_ago))

    deleted = expire_log(tables, TABLE, retain_hours=1)  # counted from the real clock

    assert deleted == [f"_delta_log/{version:020d}.json" for version in range(8)]
    assert f"{8:020d}.checkpoint.parquet" in log_names(tables)
    assert_reads_back(log, before)  # every version younger than the retention, exactly as before
    for version in (0, 7):
        with pytest.raises(NotFound, match=f"version {version} is older than the retention"):
            log.read(table_version=version)
    with pytest.raises(NotFound, match="no version 20"):  # a version that never was still says so
        log.read(table_version=20)


def test_a_kept_version_below_the_cut_gets_its_own_checkpoint(log: PredictionLog) -> None:
    tables = log.tables
    commit_in_flushes(log, 12)
    before = snapshot(log, [3, 11])
    assert f"{3:020d}.checkpoint.parquet" not in log_names(tables)

    deleted = expire_log(tables, TABLE, retain_hours=0, keep_versions=[3], now=LATER)

    assert f"{3:020d}.checkpoint.parquet" in log_names(tables)
    assert len(deleted) == 10  # versions 0-2 and 4-10, each its commit only
    assert_reads_back(log, before)


def test_a_crash_while_deleting_leaves_every_kept_version_readable(
    log: PredictionLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    tables = log.tables
    commit_in_flushes(log, 15)
    before = snapshot(log, [5, 14])
    deletions: list[str] = []

    def crash_after_six(filesystem: Any, path: str) -> None:
        if len(deletions) == 6:
            raise KeyboardInterrupt  # the process dies between two deletions
        deletions.append(path)
        filesystem.delete_file(path)

    monkeypatch.setattr(_log_expiry, "_delete_file", crash_after_six)
    with pytest.raises(KeyboardInterrupt):
        expire_log(tables, TABLE, retain_hours=0, keep_versions=[5], now=LATER)
    assert [Path(path).name for path in deletions] == [f"{version:020d}.json" for version in (0, 1, 2, 3, 4, 6)]
    assert_reads_back(log, before)
    assert log.read().num_rows == 75

    monkeypatch.undo()
    assert len(expire_log(tables, TABLE, retain_hours=0, keep_versions=[5], now=LATER)) == 7  # versions 7 to 13
    assert_reads_back(log, before)


def test_a_version_that_expired_can_no_longer_be_kept(log: PredictionLog) -> None:
    tables = log.tables
    commit_in_flushes(log, 8)
    expire_log(tables, TABLE, retain_hours=0, now=LATER)
    with pytest.raises(NotFound, match="version 2 is older than the retention"):
        expire_log(tables, TABLE, retain_hours=0, keep_versions=[2], now=LATER)
    with pytest.raises(NotFound, match="version 2 is older than the retention"):
        vacuum_table(tables, TABLE, retain_hours=0, keep_versions=[2])
    assert log.read().num_rows == 40


def test_expiry_arguments_are_checked(log: PredictionLog) -> None:
    tables = log.tables
    assert expire_log(tables, TABLE, retain_hours=1) == []  # no table yet
    commit_in_flushes(log, 2)
    with pytest.raises(InvalidInput, match="'retain_hours' must be an integer >= 0; got -1"):
        expire_log(tables, TABLE, retain_hours=-1)
    with pytest.raises(InvalidInput, match="'now' must be a timezone-aware datetime"):
        expire_log(tables, TABLE, retain_hours=1, now=datetime(2026, 3, 1))  # naive: refused
    with pytest.raises(InvalidInput, match=r"'keep_versions' must be versions of table '_predictions' \(0 to 1\)"):
        expire_log(tables, TABLE, retain_hours=1, keep_versions=[5])


# --- on S3-compatible storage ----------------------------------------------------------------------------------


def test_log_expiry_works_on_s3(s3_bucket: str) -> None:
    tables = TableStore(f"s3://{s3_bucket}/workspace/tables")
    log = PredictionLog(tables, flush_interval=60)
    try:
        commit_in_flushes(log, 8)
        before, latest_rows = snapshot(log, [2]), log.read()
        report = maintain_table(tables, TABLE, target_rows=1_000, retain_hours=1, keep_versions=[2], now=LATER)
        assert report.compaction is not None and report.compaction.version == 8
        assert len(report.expired_log_files) == 7  # the commits of versions 0, 1 and 3 to 7
        assert_reads_back(log, before)
        assert log.read().equals(latest_rows)
        with pytest.raises(NotFound, match="version 5 is older than the retention"):
            log.read(table_version=5)
        commit_in_flushes(log, 1)
        assert log.read().num_rows == 45
    finally:
        log.close(timeout=5)
