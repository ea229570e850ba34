"""Quarantined rows are committed with their version: a crash between the Delta commits and the version row
leaves neither the version nor its quarantined rows, and the next ingest reconciles."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pandas as pd
import pyarrow as pa
import pytest

from driftloop import Workspace
from driftloop.data import _service
from driftloop.data._quarantine import QuarantineSpill
from driftloop.store.metadata import DatasetRepository


def houses(rows: int, *, offset: int = 0, bad: tuple[int, ...] = ()) -> pd.DataFrame:
    """Rooms as text, as a CSV feed sends them; the rows at positions ``bad`` hold 'many'."""
    rooms = [str(1 + i % 5) for i in range(offset, offset + rows)]
    for position in bad:
        rooms[position] = "many"
    return pd.DataFrame({"id": range(offset, offset + rows), "rooms": rooms})


def quarantined(ws: Workspace) -> list[tuple[int, int]]:
    table = ws.datasets.quarantine("houses")
    if table.num_rows == 0:
        return []
    return sorted(zip(table.column("_version").to_pylist(), table.column("_source_row").to_pylist(), strict=True))


@pytest.fixture
def houses_v1(sqlite_workspace: Workspace) -> Workspace:
    """Version 1 with rooms as integers, so 'many' later breaks the type rule; one row quarantined."""
    first = houses(20)
    first["rooms"] = first["rooms"].astype(int)
    sqlite_workspace.datasets.ingest("houses", first)
    result = sqlite_workspace.datasets.ingest("houses", houses(10, offset=100, bad=(2,)), on_rule_failure="quarantine")
    assert (result.version.number, result.quarantined_rows) == (2, 1)
    assert quarantined(sqlite_workspace) == [(2, 3)]
    return sqlite_workspace


def test_a_fault_between_the_delta_commits_and_the_version_row_leaves_neither(
    houses_v1: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    original = DatasetRepository.commit_version

    def commit_tables_then_fail(self, name, new, *, commit_table, actor):  # type: ignore[no-untyped-def]
        def commit_then_fail(last: int | None) -> int:
            commit_table(last)  # both Delta commits, main table and quarantine
            raise RuntimeError("power cut")

        return original(self, name, new, commit_table=commit_then_fail, actor=actor)

    monkeypatch.setattr(DatasetRepository, "commit_version", commit_tables_then_fail)
    with pytest.raises(RuntimeError, match="power cut"):
        houses_v1.datasets.ingest("houses", houses(10, offset=200, bad=(0, 5)), on_rule_failure="quarantine")
    monkeypatch.undo()

    assert [v.number for v in houses_v1.datasets.versions("houses")] == [1, 2]
    assert quarantined(houses_v1) == [(2, 3)]  # the failed ingest's rows are not there
    after = houses_v1.datasets.ingest("houses", houses(10, offset=300, bad=(7,)), on_rule_failure="quarantine")
    assert (after.version.number, after.quarantined_rows) == (3, 1)
    # Version 3's one row, and none of the failed ingest's two, which also expected to be version 3.
    assert quarantined(houses_v1) == [(2, 3), (3, 8)]
    assert after.version.to_pandas()["id"].tolist()[-9:] == [300, 301, 302, 303, 304, 305, 306, 308, 309]


def test_a_process_killed_after_the_quarantine_commit_leaves_neither(houses_v1: Workspace) -> None:
    script = textwrap.dedent(
        f"""
        import os
        import pandas as pd
        from driftloop import Workspace
        from driftloop.store.metadata import DatasetRepository

        original = DatasetRepository.commit_version

        def commit_tables_then_die(self, name, new, *, commit_table, actor):
            def commit_then_die(last):
                commit_table(last)
                os.kill(os.getpid(), 9)  # after both Delta commits, before the version row
            return original(self, name, new, commit_table=commit_then_die, actor=actor)

        DatasetRepository.commit_version = commit_tables_then_die
        ws = Workspace({houses_v1.settings.root!r})
        frame = pd.DataFrame({{"id": range(500, 510), "rooms": ["many"] * 4 + ["2"] * 6}})
        ws.datasets.ingest("houses", frame, on_rule_failure="quarantine")
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == -9, done.stderr.decode()
    tables = houses_v1.datasets._tables  # the quarantine commit of the killed ingest is there…
    assert tables.latest_version("houses.quarantine") == 2
    # …yet neither the version nor its rows show.
    assert [v.number for v in houses_v1.datasets.versions("houses")] == [1, 2]
    assert quarantined(houses_v1) == [(2, 3)]
    assert houses_v1.datasets.get("houses").to_pandas().shape == (29, 2)
    after = houses_v1.datasets.ingest("houses", houses(5, offset=600), on_rule_failure="quarantine")
    assert after.version.number == 3 and after.quarantined_rows == 0
    assert quarantined(houses_v1) == [(2, 3)]  # rolled back, not adopted by version 3


def test_the_rows_of_a_first_quarantine_whose_version_never_landed_never_show(
    sqlite_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = houses(20)
    first["rooms"] = first["rooms"].astype(int)
    sqlite_workspace.datasets.ingest("houses", first)
    original = DatasetRepository.commit_version

    def commit_tables_then_fail(self, name, new, *, commit_table, actor):  # type: ignore[no-untyped-def]
        def commit_then_fail(last: int | None) -> int:
            commit_table(last)
            raise RuntimeError("power cut")

        return original(self, name, new, commit_table=commit_then_fail, actor=actor)

    monkeypatch.setattr(DatasetRepository, "commit_version", commit_tables_then_fail)
    with pytest.raises(RuntimeError, match="power cut"):
        sqlite_workspace.datasets.ingest("houses", houses(5, offset=50, bad=(1,)), on_rule_failure="quarantine")
    monkeypatch.undo()
    assert sqlite_workspace.datasets.quarantine("houses").num_rows == 0
    second = sqlite_workspace.datasets.ingest("houses", houses(5, offset=70))
    assert second.version.number == 2  # the number the failed ingest's rows were tagged with
    assert sqlite_workspace.datasets.quarantine("houses").num_rows == 0


def test_rows_staged_for_a_number_another_ingest_took_are_tagged_again(
    houses_v1: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As if another ingest recorded version 2 after this one read the numbers and before it took the lock.
    stale = _service._Expected(number=2, after_delta_version=0)
    monkeypatch.setattr(_service.Datasets, "_next_number", lambda self, name: stale)
    result = houses_v1.datasets.ingest("houses", houses(10, offset=200, bad=(4,)), on_rule_failure="quarantine")
    assert result.version.number == 3
    assert quarantined(houses_v1) == [(2, 3), (3, 5)]


def test_identical_data_commits_no_quarantine_rows(houses_v1: Workspace) -> None:
    again = houses_v1.datasets.ingest("houses", houses(10, offset=100, bad=(2,)), on_rule_failure="quarantine")
    assert not again.created
    assert quarantined(houses_v1) == [(2, 3)]


def test_the_spill_keeps_rows_out_of_memory_and_tags_them_with_their_version() -> None:
    spill = QuarantineSpill()
    for start in (1, 4):
        rows = pa.table({"a": ["x", "y", "z"], "_source_row": [start, start + 1, start + 2], "_reasons": ["r"] * 3})
        spill.add(rows)
    spill.add(rows.slice(0, 0))
    batches = list(spill.batches(version=7))
    assert spill.rows == 6 and spill.schema == rows.schema
    assert pa.Table.from_batches(batches).column("_source_row").to_pylist() == [1, 2, 3, 4, 5, 6]
    assert set(pa.Table.from_batches(batches).column("_version").to_pylist()) == {7}
    spill.close()
    assert list(spill.batches(version=7)) == []
