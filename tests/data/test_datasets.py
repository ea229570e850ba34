"""The datasets service end to end: ingest → version → read back, idempotence, rejects, lineage, diff."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from tests.conftest import stores_of

import driftloop
from driftloop import Workspace
from driftloop.data.transforms import Derive, Impute, Select, Transform
from driftloop.data.validation import ColumnSpec, DataSchema
from driftloop.errors import InvalidData, InvalidInput, InvalidName, NotFound


@pytest.fixture
def workspace(service_workspace: Workspace) -> Workspace:
    """The dataset service's contract: on SQLite, PostgreSQL, and through a workspace server."""
    return service_workspace


def houses(rows: int = 200, *, offset: int = 0) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "id": range(offset, offset + rows),
            "area": [40.0 + (i * 7) % 120 for i in range(offset, offset + rows)],
            "rooms": [1 + i % 5 for i in range(offset, offset + rows)],
            "district": [["d1", "d2", "d3"][i % 3] for i in range(offset, offset + rows)],
        }
    )


def test_ingest_versions_and_reads_back_exactly(workspace: Workspace) -> None:
    first = workspace.datasets.ingest("houses", houses())
    assert (first.created, first.version.number, first.rows) == (True, 1, 200)
    second = workspace.datasets.ingest("houses", houses(50, offset=200))
    assert second.version.number == 2 and second.version.info.total_rows == 250
    assert workspace.datasets.get("houses", version=1).to_pandas().shape == (200, 4)
    latest = workspace.datasets.get("houses")
    assert latest.number == 2 and latest.to_polars().height == 250
    assert latest.to_arrow().column("id").to_pylist() == list(range(250))
    replaced = workspace.datasets.ingest("houses", houses(10), mode="overwrite")
    assert replaced.version.info.total_rows == 10
    assert workspace.datasets.get("houses", version=2).to_pandas().shape == (250, 4)  # time travel
    assert [v.number for v in workspace.datasets.versions("houses")] == [1, 2, 3]


def test_identical_data_creates_no_version(workspace: Workspace) -> None:
    workspace.datasets.ingest("houses", houses())
    again = workspace.datasets.ingest("houses", houses())
    assert not again.created and again.version.number == 1
    assert "no new version" in str(again)
    assert len(workspace.datasets.versions("houses")) == 1


def test_every_source_kind_of_frame(workspace: Workspace) -> None:
    frame = houses(30)
    workspace.datasets.ingest("from-pandas", frame)
    workspace.datasets.ingest("from-polars", pl.from_pandas(frame))
    workspace.datasets.ingest("from-arrow", pa.Table.from_pandas(frame, preserve_index=False))
    for name in ("from-pandas", "from-polars", "from-arrow"):
        assert workspace.datasets.get(name).to_pandas()["area"].sum() == frame["area"].sum()


def test_files_and_a_bad_file_leaves_no_version(workspace: Workspace, tmp_path: Path) -> None:
    good = tmp_path / "houses.csv"
    houses(100).to_csv(good, index=False)
    assert workspace.datasets.ingest("csv", good).rows == 100
    broken = tmp_path / "broken.csv"
    broken.write_text("id,area\n1,50\n2,60,extra\n")
    with pytest.raises(InvalidData, match=r"broken\.csv"):
        workspace.datasets.ingest("csv", broken)
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(InvalidData):
        workspace.datasets.ingest("csv", empty)
    assert [v.number for v in workspace.datasets.versions("csv")] == [1]


def test_a_rule_failure_rejects_the_batch_or_quarantines_rows(workspace: Workspace) -> None:
    workspace.datasets.ingest("houses", houses())
    bad = houses(20, offset=500)
    bad["rooms"] = bad["rooms"].astype(str)  # text, as a CSV feed would send it
    bad.loc[3, "rooms"] = "many"
    with pytest.raises(InvalidData, match="rooms"):
        workspace.datasets.ingest("houses", bad)
    assert len(workspace.datasets.versions("houses")) == 1
    kept = workspace.datasets.ingest("houses", bad, on_rule_failure="quarantine")
    assert (kept.rows, kept.quarantined_rows) == (19, 1)
    quarantined = workspace.datasets.quarantine("houses")
    assert quarantined.column("_source_row").to_pylist() == [4]


def test_a_declared_transform_is_fitted_on_the_data_and_kept_for_the_next_ingest(workspace: Workspace) -> None:
    frame = houses(40)
    frame.loc[[3, 7], "area"] = None
    transform = Transform([Impute(["area"], "mean"), Derive("area_per_room", "area / rooms")])
    first = workspace.datasets.ingest("houses", frame, transform=transform)
    stored = first.version.to_pandas()
    mean = frame["area"].mean()
    assert stored["area"].isna().sum() == 0 and stored.loc[3, "area"] == pytest.approx(mean)
    assert stored["area_per_room"].tolist() == pytest.approx((stored["area"] / stored["rooms"]).tolist())
    fitted = first.version.transform()
    assert fitted is not None and fitted.hash == transform.hash
    later = houses(10, offset=40)
    later.loc[0, "area"] = None
    second = workspace.datasets.ingest("houses", later)  # no transform given: the dataset's fitted one runs
    assert second.version.to_pandas()["area"].iloc[40] == pytest.approx(mean)


def test_a_fitted_transform_runs_as_fitted(workspace: Workspace) -> None:
    fitted = Transform([Impute(["area"], "constant", value=-1.0)]).fit(pa.table({"area": [1.0, None]}))
    frame = houses(5)
    frame.loc[1, "area"] = None
    result = workspace.datasets.ingest("houses", frame, transform=fitted)
    assert result.version.to_pandas()["area"].iloc[1] == -1.0
    assert result.version.transform() is not None and result.version.transform().fitted_hash == fitted.fitted_hash


def test_a_transform_that_does_not_fit_or_is_not_one_creates_nothing(workspace: Workspace) -> None:
    with pytest.raises(InvalidInput, match="no_such_column"):
        workspace.datasets.ingest("houses", houses(), transform=Transform([Select(["no_such_column"])]))
    with pytest.raises(InvalidInput, match="Transform"):
        workspace.datasets.ingest("houses", houses(), transform="impute everything")  # type: ignore[arg-type]
    assert workspace.datasets.list() == []


def test_a_given_schema_checks_the_ingest_and_the_validation(workspace: Workspace) -> None:
    schema = DataSchema(
        (
            ColumnSpec("id", "int64", nullable=False),
            ColumnSpec("area", "float64", nullable=False, maximum=100.0, promoted=frozenset({"range"})),
            ColumnSpec("rooms", "int64", nullable=False),
            ColumnSpec("district", "string", nullable=False),
        )
    )
    frame = houses(20)
    report = workspace.datasets.validate("houses", frame, schema=schema)
    too_large = int((frame["area"] > 100).sum())
    assert too_large > 0 and report["rows_quarantined"] == too_large
    assert report["columns"]["area"]["out_of_range"] == too_large
    with pytest.raises(InvalidData, match="area"):
        workspace.datasets.ingest("houses", frame, schema=schema)
    assert workspace.datasets.list() == []
    kept = workspace.datasets.ingest("houses", frame, schema=schema, on_rule_failure="quarantine")
    assert (kept.rows, kept.quarantined_rows) == (20 - too_large, too_large)


def test_expectations_flag_but_keep_rows(workspace: Workspace) -> None:
    workspace.datasets.ingest("houses", houses())
    news = houses(30, offset=300)
    news["district"] = "d9"  # a new district is news, not an error
    result = workspace.datasets.ingest("houses", news)
    assert result.rows == 30 and result.quarantined_rows == 0
    assert "d9" in str(result.report)


def test_a_run_records_the_versions_it_reads(workspace: Workspace) -> None:
    workspace.datasets.ingest("houses", houses())
    with driftloop.start_run("train") as run:
        workspace.datasets.get("houses").to_pandas()
    assert [(i.dataset, i.version) for i in workspace.tracking.get_run(run.id).inputs] == [("houses", 1)]
    assert workspace.datasets.get("houses", 1).runs() == [run.id]


def test_profile_and_report_are_stored_with_each_version(workspace: Workspace) -> None:
    version = workspace.datasets.ingest("houses", houses()).version
    profile = version.profile()
    assert profile.rows == 200 and set(profile.columns) == {"id", "area", "rooms", "district"}
    assert version.report()


def test_diff_of_two_versions(workspace: Workspace) -> None:
    workspace.datasets.ingest("houses", houses(100))
    changed = pd.concat([houses(100).iloc[10:], houses(5, offset=1000)], ignore_index=True)
    workspace.datasets.ingest("houses", changed, mode="overwrite")
    diff = workspace.datasets.diff("houses", 1, 2)
    assert (diff.rows_added, diff.rows_removed) == (5, 10)
    assert diff.statistics["area"]["rows"] == (100, 95)


def test_names_cannot_escape_the_workspace(workspace: Workspace) -> None:
    for name in ("../outside", "a/b", "..", "x\\y"):
        with pytest.raises(InvalidName):
            workspace.datasets.ingest(name, houses(5))
    assert not (Path(stores_of(workspace).settings.root).parent / "outside").exists()
    with pytest.raises(NotFound):
        workspace.datasets.get("never")


def test_a_killed_ingest_leaves_no_half_version(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    houses(300_000).to_csv(big, index=False)
    sqlite_workspace.datasets.ingest("houses", houses(10))
    script = textwrap.dedent(
        f"""
        import os, threading
        from driftloop import Workspace
        ws = Workspace({sqlite_workspace.settings.root!r})
        def progress(rows):
            os.kill(os.getpid(), 9)  # die while the first batches are being staged
        ws.datasets.ingest("houses", {str(big)!r}, progress=progress, batch_rows=10_000)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, timeout=120)
    assert done.returncode == -9
    assert [v.number for v in sqlite_workspace.datasets.versions("houses")] == [1]
    assert sqlite_workspace.datasets.get("houses").to_pandas().shape == (10, 4)
    after = sqlite_workspace.datasets.ingest("houses", houses(5, offset=50))
    assert after.version.number == 2 and after.version.info.total_rows == 15


def test_a_rejection_in_a_later_batch_stops_every_ingest_thread(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    import threading

    sqlite_workspace.datasets.ingest("houses", houses(10))
    later = houses(30_000, offset=100)
    later["rooms"] = later["rooms"].astype(str)
    later.loc[25_000, "rooms"] = "many"
    path = tmp_path / "later.csv"
    later.to_csv(path, index=False)
    with pytest.raises(InvalidData, match=r"source row 25001"):
        sqlite_workspace.datasets.ingest("houses", path, batch_rows=4_096)
    assert [v.number for v in sqlite_workspace.datasets.versions("houses")] == [1]
    assert not [thread.name for thread in threading.enumerate() if thread.name.startswith("driftloop-ingest")]
