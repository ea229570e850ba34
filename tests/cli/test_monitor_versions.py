"""``driftloop monitor versions DATASET OLD [NEW]``: two dataset versions compared from their stored profiles (or
their rows with --exact); exit 1 on dataset drift, 0 without; a bad name or version is one error line."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from driftloop import Workspace
from driftloop.cli._app import app
from driftloop.errors import InvalidInput, NotFound


def invoke(ws: Workspace, *args: str) -> object:
    return CliRunner().invoke(app, ["--root", ws.settings.root, *args], env={"COLUMNS": "200"})


def houses(rows: int, shift: float, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "area": rng.normal(80 + 20 * shift, 20, rows),
            "price": rng.normal(300 + 60 * shift, 50, rows),
            "district": rng.choice(["north", "south", "east"], rows, p=[0.5 - 0.3 * shift, 0.3, 0.2 + 0.3 * shift]),
        }
    )


@pytest.fixture
def versions(sqlite_workspace: Workspace) -> Workspace:
    """Three versions of "houses": 1 and 2 alike (2 appends to 1), 3 overwritten with shifted rows."""
    sqlite_workspace.datasets.ingest("houses", houses(3_000, 0.0, 1).to_arrow())
    sqlite_workspace.datasets.ingest("houses", houses(3_000, 0.0, 2).to_arrow())
    sqlite_workspace.datasets.ingest("houses", houses(3_000, 1.0, 3).to_arrow(), mode="overwrite")
    return sqlite_workspace


def test_alike_versions_exit_zero(versions: Workspace) -> None:
    result = invoke(versions, "monitor", "versions", "houses", "1", "2")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    output = result.output  # type: ignore[attr-defined]
    assert "houses v1 (3,000 rows) against v2 (6,000 rows), from the stored profiles" in output
    assert "dataset: no drift (0% of the features drifted)" in output
    # The table's width follows the terminal's; the methods are read from the JSON.
    report = json.loads(invoke(versions, "monitor", "versions", "houses", "1", "2", "--json").output)  # type: ignore[attr-defined]
    assert {feature["method"] for feature in report["features"]} == {"wasserstein", "jensenshannon"}


@pytest.mark.parametrize("exact", [False, True])
def test_drifted_versions_exit_one_and_print_json(versions: Workspace, exact: bool) -> None:
    flags = ["--json", "--exact"] if exact else ["--json"]
    result = invoke(versions, "monitor", "versions", "houses", "1", *flags)  # NEW defaults to the latest, 3
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    report = json.loads(result.output)  # type: ignore[attr-defined]
    assert (report["dataset"], report["old"], report["new"]) == ("houses", 1, 3)
    assert report["from"] == ("rows" if exact else "stored profiles")
    assert report["drifted_columns"] == ["area", "price", "district"] and report["dataset_drift"] is True
    assert (report["reference_rows"], report["current_rows"]) == (3_000, 3_000)


def test_bad_dataset_or_version_is_a_clear_error(versions: Workspace) -> None:
    unknown = invoke(versions, "monitor", "versions", "flats", "1")
    assert unknown.exit_code != 0 and isinstance(unknown.exception, NotFound)  # type: ignore[attr-defined]
    assert "flats" in str(unknown.exception)  # type: ignore[attr-defined]
    missing = invoke(versions, "monitor", "versions", "houses", "1", "7")
    assert missing.exit_code != 0 and isinstance(missing.exception, NotFound)  # type: ignore[attr-defined]
    assert "no version 7" in str(missing.exception)  # type: ignore[attr-defined]
    zero = invoke(versions, "monitor", "versions", "houses", "0", "2")
    assert zero.exit_code != 0 and isinstance(zero.exception, InvalidInput)  # type: ignore[attr-defined]
    assert "The old version must be a version number" in str(zero.exception)  # type: ignore[attr-defined]
    text = invoke(versions, "monitor", "versions", "houses", "first")
    assert text.exit_code == 2 and "Invalid value for 'old'" in text.output  # type: ignore[attr-defined]


def test_a_bad_dataset_is_one_line_from_the_real_command(versions: Workspace) -> None:
    env = {**os.environ, "DRIFTLOOP_ROOT": versions.settings.root, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "driftloop", "monitor", "versions", "flats", "1"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error:") and "flats" in done.stderr
