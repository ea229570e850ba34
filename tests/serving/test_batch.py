"""``driftloop predict``: files and dataset versions scored in batches, written and logged whole or not at all."""

from __future__ import annotations

import json
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
from driftloop.serving import PredictionLog
from driftloop.serving._batch import score_batches
from driftloop.store.tables import TableStore


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


def log_of(ws: Workspace) -> PredictionLog:
    return PredictionLog(TableStore(ws.settings.tables_url))


def staged_files(ws: Workspace) -> list[Path]:
    """Parquet files in the prediction log's folder, committed or not."""
    return sorted(Path(ws.settings.tables_url, "_predictions").glob("*.parquet"))


def test_logged_rows_match_the_output_and_carry_generated_ids(ws: Workspace, tmp_path: Path) -> None:
    result = score_batches(
        ws, "trend@champion", tmp_path / "out.parquet", dataset="points", batch_rows=128, probabilities=True, log=True
    )
    assert result.rows == result.logged == 500
    scored = pq.read_table(result.output).to_pandas()
    assert list(scored.columns) == ["a", "b", "prediction", "probability_down", "probability_up", "request_id"]
    assert scored["request_id"].is_unique and scored["request_id"].str.fullmatch("[0-9a-f]{32}").all()
    logged = log_of(ws).read("trend").to_pandas().set_index("request_id").loc[scored["request_id"]]
    assert (logged["protocol"] == "batch").all() and (logged["served_by"] == "batch").all()
    assert (logged["version"] == 1).all()
    assert [json.loads(text) for text in logged["prediction"]] == scored["prediction"].tolist()
    first = json.loads(logged["inputs"].iloc[0])
    assert first == {"a": scored["a"].iloc[0], "b": scored["b"].iloc[0]}
    assert json.loads(logged["probabilities"].iloc[0]) == pytest.approx(
        {"down": scored["probability_down"].iloc[0], "up": scored["probability_up"].iloc[0]}
    )
    assert log_of(ws).table_version() == 0  # one commit for the whole job


def test_a_scoring_that_fails_midway_logs_nothing(ws: Workspace, tmp_path: Path) -> None:
    frame = pd.read_parquet(tmp_path / "points.parquet")
    frame.insert(0, "customer", [f"c{i}" for i in range(len(frame))])
    frame.loc[300, "customer"] = None  # in the third batch of 128 rows
    frame.to_parquet(tmp_path / "customers.parquet")
    with pytest.raises(InvalidInput, match="'customer' is empty in row 301 of the input"):
        score_batches(
            ws,
            "trend",
            tmp_path / "out.parquet",
            input_path=tmp_path / "customers.parquet",
            batch_rows=128,
            log=True,
            id_column="customer",
        )

    batches_done: list[int] = []

    def interrupt_after_two_batches(rows: int) -> None:  # as a user's Ctrl-C would
        batches_done.append(rows)
        if len(batches_done) == 2:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        score_batches(
            ws,
            "trend",
            tmp_path / "out.parquet",
            dataset="points",
            batch_rows=128,
            log=True,
            progress=interrupt_after_two_batches,
        )
    assert log_of(ws).read().num_rows == 0 and log_of(ws).table_version() is None
    assert staged_files(ws) == [] and not list(tmp_path.glob("out.parquet*"))


def test_id_column_mistakes(ws: Workspace, tmp_path: Path) -> None:
    source = tmp_path / "points.parquet"
    with pytest.raises(InvalidInput, match="takes log=True"):
        score_batches(ws, "trend", tmp_path / "x.parquet", input_path=source, id_column="a")
    with pytest.raises(InvalidInput, match="no id column 'customer'; its columns: a, b"):
        score_batches(ws, "trend", tmp_path / "x.parquet", input_path=source, log=True, id_column="customer")
    pd.read_parquet(source).assign(request_id="r").to_parquet(tmp_path / "ids.parquet")
    with pytest.raises(InvalidInput, match="--id-column request_id"):
        score_batches(ws, "trend", tmp_path / "x.parquet", input_path=tmp_path / "ids.parquet", log=True)
    assert not list(tmp_path.glob("x.parquet*")) and log_of(ws).read().num_rows == 0
