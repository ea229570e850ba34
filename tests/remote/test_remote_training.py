"""Training through a workspace server: the data is read from the server, the candidates and the tuning trials are
runs on it, and the chosen model is registered there; the Optuna study is this machine's own journal."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from tests.conftest import remote_workspace, stores_of


def test_train_tune_and_register_through_the_server(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, 400), "rooms": rng.integers(1, 6, 400).astype(float)})
    frame["price"] = 3 * frame["area"] + 10 * frame["rooms"] + rng.normal(0, 5, 400)
    with remote_workspace(tmp_path, actor="ana") as ws:
        ws.datasets.ingest("houses", frame)
        result = ws.training.train(
            "houses", "price", algorithms=["ridge"], tune={"trials": 2, "workers": 1}, register="houses"
        )
        assert result.version is not None and result.version.created_by == "ana"
        assert (result.version.dataset, result.version.dataset_version) == ("houses", 1)
        assert result.holdout.metrics["r2"] > 0.99
        behind = stores_of(ws)
        assert behind.models.load("houses/1").predict(frame[["area", "rooms"]].head(3)).shape == (3,)
        trials = [run for run in behind.tracking.search_runs(limit=None) if run.parent_id is not None]
        assert len(trials) >= 2 and {run.user for run in trials} == {"ana"}
