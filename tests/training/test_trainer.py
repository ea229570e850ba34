"""The training path end to end: dataset version → selection / tuning → holdout → registry, all tracked."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from driftloop import Workspace
from driftloop.cli import app
from driftloop.errors import GateFailed, InvalidData, InvalidInput, NotFound


def houses(rows: int = 600, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    district = rng.choice(["north", "south", "east"], rows)
    area = rng.uniform(30, 200, rows)
    rooms = rng.integers(1, 6, rows).astype(float)
    premium = pd.Series(district).map({"north": 50.0, "south": 0.0, "east": 20.0}).to_numpy()
    price = 3.0 * area + 10.0 * rooms + premium + rng.normal(0, 5, rows)
    area[rng.random(rows) < 0.05] = np.nan
    return pd.DataFrame(
        {
            "sold_on": pd.date_range("2024-01-01", periods=rows, freq="D").astype("datetime64[us]"),
            "district": district,
            "area": area,
            "rooms": rooms,
            "price": price,
        }
    )


@pytest.fixture
def ws(sqlite_workspace: Workspace) -> Workspace:
    sqlite_workspace.datasets.ingest("houses", houses())
    return sqlite_workspace


def test_selection_ranks_candidates_as_child_runs_and_registers_the_winner(ws: Workspace) -> None:
    result = ws.training.train(
        "houses",
        "price",
        features=["district", "area", "rooms"],
        algorithms=["ridge", "random_forest"],
        folds=3,
        register="houses",
        promote=True,
        slice_by="district",
    )
    assert result.task == "regression" and result.metric == "rmse"
    assert result.leaderboard[0].algorithm == result.algorithm
    assert result.leaderboard[0].score <= result.leaderboard[1].score  # rmse: lower first
    children = ws.tracking.child_runs(result.run_id)
    assert sorted(run.name for run in children) == ["candidate random_forest", "candidate ridge"]
    run = ws.tracking.get_run(result.run_id)
    assert run.params["dataset_version"] == "1" and run.metric("holdout/r2") > 0.9
    assert [(i.dataset, i.version) for i in run.inputs] == [("houses", 1)]
    assert set(result.slices) == {"north", "south", "east"}
    version = result.version
    assert version is not None and version.run_id == result.run_id and version.dataset_version == 1
    assert ws.models.model("houses").aliases == {"champion": 1}
    model = ws.models.load("houses@champion")
    frame = houses(20, seed=9)
    np.testing.assert_allclose(
        model.predict(frame[["district", "area", "rooms"]]), result.model.predict(frame[["district", "area", "rooms"]])
    )


def test_time_split_and_gates_against_the_champion(ws: Workspace) -> None:
    first = ws.training.train(
        "houses",
        "price",
        algorithms="ridge",
        split="time",
        time_column="sold_on",
        register="houses",
        promote=True,
        folds=3,
    )
    assert first.features == ("district", "area", "rooms")
    with pytest.raises(GateFailed, match="beat the champion"):
        ws.training.train(
            "houses",
            "price",
            algorithms="ridge",
            params={"ridge": {"alpha": 10_000.0}},
            split="time",
            time_column="sold_on",
            folds=3,
            register="houses",
            gates=["rmse beats champion by 0"],
        )
    assert [v.number for v in ws.models.versions("houses")] == [1]


def test_tuning_runs_trials_as_child_runs_and_resumes(ws: Workspace) -> None:
    tune = {
        "algorithm": "lightgbm",
        "trials": 4,
        "space": {"num_leaves": {"type": "int", "low": 4, "high": 16}, "n_estimators": 30},
    }
    features = ["district", "area", "rooms"]
    result = ws.training.train("houses", "price", features=features, algorithms="lightgbm", tune=tune, folds=3)
    trials = [run for run in ws.tracking.child_runs(result.run_id) if run.tags.get("driftloop.kind") == "trial"]
    assert len(trials) == 4
    assert set(result.params) == {"num_leaves", "n_estimators"}
    again = ws.training.train(
        "houses", "price", features=features, algorithms="lightgbm", tune={**tune, "trials": 6}, folds=3
    )
    assert again.study == result.study
    assert len(ws.tracking.child_runs(again.run_id)) == 2  # only the missing trials ran


def test_bad_input_is_refused_clearly(ws: Workspace) -> None:
    with pytest.raises(InvalidInput, match="target column 'cost' is not in the dataset"):
        ws.training.train("houses", "cost")
    with pytest.raises(InvalidInput, match="Unknown algorithm 'magic'"):
        ws.training.train("houses", "price", algorithms=["magic", "ridge"])
    with pytest.raises(InvalidInput, match="search space"):
        ws.training.train("houses", "price", algorithms="lightgbm", tune={"trials": 2, "space": {}})
    with pytest.raises(InvalidInput, match=r"low 0\.3 > high 0\.01"):
        ws.training.train(
            "houses",
            "price",
            algorithms="lightgbm",
            tune={"trials": 2, "space": {"learning_rate": {"type": "float", "low": 0.3, "high": 0.01}}},
        )
    with pytest.raises(NotFound):
        ws.training.train("nope", "price")
    constant = houses(50).assign(price=1.0)
    ws.datasets.ingest("flat", constant)
    with pytest.raises(InvalidData, match="single value"):
        ws.training.train("flat", "price", algorithms="ridge")
    ws.datasets.ingest("tiny", houses(6))
    with pytest.raises(InvalidData, match="folds"):
        ws.training.train("tiny", "price", algorithms="ridge", folds=5, holdout=0.2)
    with pytest.raises(NotFound):
        ws.models.model("houses")


def test_cli_train_from_config_then_gate_and_promote(ws: Workspace, tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(
        "dataset: houses\ntarget: price\nfeatures: [district, area, rooms]\nalgorithms: [ridge]\nfolds: 3\n"
        "register: houses\n"
        "gates: ['r2 >= 0.5', 'rmse beats champion by 0']\n",
        encoding="utf-8",
    )
    root = str(tmp_path / "ws")
    runner = CliRunner()
    trained = runner.invoke(app, ["--root", root, "train", "--config", str(config)])
    assert trained.exit_code == 0, trained.output
    assert "registered houses/1" in trained.output
    passed = runner.invoke(app, ["--root", root, "gate", "houses", "1"])
    assert passed.exit_code == 0 and "passed" in passed.output
    failed = runner.invoke(app, ["--root", root, "gate", "houses", "1", "--gate", "r2 >= 0.9999"])
    assert failed.exit_code == 1 and "failed" in failed.output
    missing = runner.invoke(app, ["--root", root, "gate", "houses", "7"])
    assert missing.exit_code == 1
    promoted = runner.invoke(app, ["--root", root, "models", "promote", "houses/1", "-m", "first"])
    assert promoted.exit_code == 0 and "champion: unset → version 1" in promoted.output
    listed = runner.invoke(app, ["--root", root, "models", "list"])
    assert "champion→1" in listed.output


def test_tuning_in_two_worker_processes_records_every_trial(ws: Workspace) -> None:
    # Workers are spawned: they open the workspace from its settings and read the dataset version themselves.
    tune = {"trials": 4, "workers": 2, "space": {"alpha": {"type": "float", "low": 0.01, "high": 100.0, "log": True}}}
    result = ws.training.train(
        "houses", "price", features=["district", "area", "rooms"], algorithms="ridge", tune=tune, folds=3
    )
    trials = ws.tracking.child_runs(result.run_id)
    assert len(trials) == 4
    assert {run.status.value for run in trials} == {"finished"}
    assert all("rmse" in run.metrics for run in trials)
    assert 0.01 <= result.params["alpha"] <= 100.0


@pytest.mark.postgres
def test_tuning_on_postgresql_keeps_studies_in_a_schema_of_the_workspace(postgres_url: str, tmp_path: Path) -> None:
    import sqlalchemy as sa
    from tests.conftest import POSTGRES

    ws = Workspace(tmp_path / "pg", store=postgres_url, actor="tester")
    ws.datasets.ingest("houses", houses(200))
    schema = postgres_url.rsplit("%3D", 1)[1] + "_optuna"
    try:
        tune = {"trials": 2, "space": {"alpha": {"type": "float", "low": 0.1, "high": 10.0}}}
        result = ws.training.train(
            "houses", "price", features=["district", "area", "rooms"], algorithms="ridge", tune=tune, folds=3
        )
        assert len(ws.tracking.child_runs(result.run_id)) == 2
        engine = sa.create_engine(POSTGRES)
        with engine.connect() as conn:
            tables = set(sa.inspect(conn).get_table_names(schema=schema))
        engine.dispose()
        assert {"studies", "trials"} <= tables
    finally:
        ws.close()
        engine = sa.create_engine(POSTGRES)
        with engine.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
        engine.dispose()


@pytest.mark.parametrize(
    ("algorithm", "flavour"), [("xgboost", "xgboost"), ("river_logistic_regression", "river"), ("mlp", "sklearn")]
)
def test_text_labelled_classifiers_register_and_load_back(
    sqlite_workspace: Workspace, algorithm: str, flavour: str
) -> None:
    frame = houses(300)
    frame["expensive"] = np.where(frame["price"] > frame["price"].median(), "yes", "no")
    sqlite_workspace.datasets.ingest("labels", frame.drop(columns=["price", "sold_on"]))
    result = sqlite_workspace.training.train("labels", "expensive", algorithms=algorithm, folds=3, register="expensive")
    assert result.task == "binary" and result.holdout.metrics["accuracy"] > 0.7
    assert result.version is not None and result.version.flavour == flavour
    loaded = sqlite_workspace.models.load("expensive/1")
    rows = frame.drop(columns=["price", "sold_on", "expensive"]).head(50)
    assert set(loaded.predict(rows)) <= {"yes", "no"}
    assert loaded.predict_proba(rows).shape == (50, 2)


def test_a_feature_the_schema_lets_be_missing_can_be_missing_when_served(sqlite_workspace: Workspace) -> None:
    import dataclasses

    import pyarrow as pa

    from driftloop.data.validation import DataSchema

    rng = np.random.default_rng(3)
    rooms = rng.integers(1, 6, 1_500).astype(float)
    frame = pd.DataFrame({"area": 25 * rooms + rng.uniform(-5, 5, 1_500), "rooms": rooms})
    frame["price"] = 4 * frame["area"] + rng.normal(0, 3, 1_500)
    inferred = DataSchema.infer(pa.Table.from_pandas(frame))
    assert not inferred.column("area").nullable
    sqlite_workspace.datasets.ingest("complete", frame)
    sqlite_workspace.datasets.ingest(
        "gappy",
        frame,
        schema=DataSchema(tuple(dataclasses.replace(c, nullable=c.name == "area") for c in inferred.columns)),
    )
    served = frame.tail(300).assign(area=np.nan)

    def error(dataset: str) -> float:
        sqlite_workspace.training.train(dataset, "price", algorithms="lightgbm", register=dataset, folds=2, seed=0)
        model = sqlite_workspace.models.load(f"{dataset}/1")
        return float(np.mean(np.abs(model.predict(served[["area", "rooms"]]) - served["price"]) / served["price"]))

    # The schema says the area may be missing: the model learnt to price from the rooms alone.
    assert error("gappy") < 0.1 < error("complete")
