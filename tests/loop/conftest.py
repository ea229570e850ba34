"""Fixtures of the loop tests: a served regression model (area, district -> price) and its traffic."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from fastapi.testclient import TestClient

from driftloop import Workspace
from driftloop.data.validation import DataSchema
from driftloop.loop import Policy, policies_from_dict
from driftloop.serving import ServerSettings, create_app
from driftloop.serving._labels import LabelStore
from driftloop.store.tables import TableStore

FEATURES = ["area", "district"]


def market(rows: int, seed: int, *, scale: float = 1.0, missing_area: float = 0.0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"area": rng.uniform(30, 150, rows), "district": rng.choice(["north", "south"], rows)})
    base = np.where(frame["district"] == "north", 60.0, 40.0)
    frame["price"] = base * frame["area"] * scale * rng.lognormal(0.0, 0.05, rows)
    if missing_area:
        frame.loc[rng.random(rows) < missing_area, "area"] = np.nan
    frame["sale_id"] = [f"s{seed}-{i}" for i in range(rows)]
    return frame


def nullable_area(frame: pd.DataFrame) -> DataSchema:
    """The sales schema, declaring that area may be missing (feeds have gaps; LightGBM takes them)."""
    inferred = DataSchema.infer(pa.Table.from_pandas(frame, preserve_index=False))
    area = dataclasses.replace(inferred.column("area"), nullable=True)
    return DataSchema(columns=tuple(area if spec.name == "area" else spec for spec in inferred.columns))


def with_champion(workspace: Workspace) -> Workspace:
    """``workspace`` with the dataset ``sales`` (last year's market) and a LightGBM trained on it, the champion of
    ``houses``."""
    sales = market(1_500, 0).drop(columns=["sale_id"])
    workspace.datasets.ingest("sales", sales, schema=nullable_area(sales))
    workspace.training.train(
        "sales", "price", algorithms="lightgbm", params={"lightgbm": {"n_estimators": 80}}, folds=3,
        register="houses", promote=True,
    )  # fmt: skip
    return workspace


@pytest.fixture
def ws(sqlite_workspace: Workspace) -> Workspace:
    return with_champion(sqlite_workspace)


@pytest.fixture
def client(ws: Workspace) -> Iterator[TestClient]:
    app = create_app(ws, ServerSettings(models=["houses"], monitor_interval=0, upkeep_interval=0))
    with TestClient(app) as client:
        client.app_state = app.state  # type: ignore[attr-defined]
        yield client


def serve(client: TestClient, frame: pd.DataFrame, ws: Workspace, *, labels: bool = True) -> None:
    """Send the rows (ids are the sale ids), then their true prices as labels; flush both to disk."""
    for start in range(0, len(frame), 250):
        part = frame.iloc[start : start + 250]
        body = {
            "columns": {name: [None if pd.isna(v) else v for v in part[name]] for name in FEATURES},
            "request_ids": part["sale_id"].tolist(),
        }
        assert client.post("/v1/models/houses/predict", json=body).status_code == 200
    client.app_state.prediction_log.flush()  # type: ignore[attr-defined]
    if labels:
        store = LabelStore(TableStore(ws.settings.tables_url))
        store.record_many(dict(zip(frame["sale_id"], frame["price"].astype(float), strict=True)))
        store.close()


def policy_spec(**overrides: object) -> dict[str, object]:
    """The loop tests' policy as a policy file holds it: retrain when the labelled MAPE is half again worse."""
    return {
        "name": "houses-loop",
        "model": "houses",
        "window": 600,
        "triggers": [{"performance_drop": {"metric": "mape", "by": 0.5, "min_labels": 300}}],
        "action": {"retrain": {"window": 1_200, "min_rows": 300}},
        "gates": ["mape beats champion by 0"],
        "cooldown": "1h",
        **overrides,
    }


def policy(**overrides: object) -> Policy:
    (parsed,) = policies_from_dict({"policies": [policy_spec(**overrides)]})
    return parsed


class Clock:
    def __init__(self) -> None:
        self.now = 2_000_000_000.0

    def __call__(self) -> float:
        return self.now
