"""``driftloop predict``: files and dataset versions scored in streamed batches, written whole or not at all."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from sklearn.linear_model import LogisticRegression
from typer.testing import CliRunner

from driftloop import Workspace
from driftloop.cli import app
from driftloop.errors import InvalidData, InvalidInput
from driftloop.serving._batch import score_batches


@pytest.fixture
def ws(sqlite_workspace: Workspace) -> Workspace:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"a": rng.normal(size=500), "b": rng.normal(size=500)})
    labels = np.where(frame["a"] + frame["b"] > 0, "up", "down")
    sqlite_workspace.models.register("trend", LogisticRegression().fit(frame, labels))
    sqlite_workspace.models.promote("trend/1")
    sqlite_workspace.datasets.ingest("points", frame)
    frame.to_parquet(sqlite_workspace.settings.root + "/../points.parquet")
    frame.to_csv(sqlite_workspace.settings.root + "/../points.csv", index=False)
    return sqlite_workspace


def test_files_and_dataset_versions_are_scored_in_batches(ws: Workspace, tmp_path: Path) -> None:
    source = pd.read_parquet(tmp_path / "points.parquet")
    expected = np.where(source["a"] + source["b"] > 0, "up", "down")
    for name in ("points.parquet", "points.csv"):
        result = score_batches(
            ws, "trend@champion", tmp_path / f"out-{name}.parquet", input_path=tmp_path / name, batch_rows=64
        )
        scored = pq.read_table(result.output).to_pandas()
        assert result.rows == 500 and (scored["prediction"].to_numpy() == expected).mean() > 0.95
    result = score_batches(ws, "trend/1", tmp_path / "ds.parquet", dataset="points", probabilities=True)
    scored = pq.read_table(result.output).to_pandas()
    assert list(scored.columns) == ["a", "b", "prediction", "probability_down", "probability_up"]
    assert np.allclose(scored["probability_down"] + scored["probability_up"], 1.0)


def test_bad_input_writes_nothing(ws: Workspace, tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="exactly one"):
        score_batches(ws, "trend", tmp_path / "x.parquet")
    with pytest.raises(InvalidInput, match="No input file"):
        score_batches(ws, "trend", tmp_path / "x.parquet", input_path=tmp_path / "missing.parquet")
    pd.DataFrame({"a": [1.0], "c": [2.0]}).to_parquet(tmp_path / "wrong.parquet")
    with pytest.raises(InvalidData, match="lacks the column"):
        score_batches(ws, "trend", tmp_path / "x.parquet", input_path=tmp_path / "wrong.parquet")
    assert not list(tmp_path.glob("x.parquet*"))


def test_cli_predict(ws: Workspace, tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app,
        [
            "--root",
            ws.settings.root,
            "predict",
            "trend@champion",
            "-i",
            str(tmp_path / "points.parquet"),
            "-o",
            str(tmp_path / "s.parquet"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "scored 500 rows with trend/1" in result.output
