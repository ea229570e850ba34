"""A model version's training profile covers every row of the dataset version it was trained on, appends too."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.linear_model import LinearRegression

from driftloop import Workspace
from driftloop.data.profiles import Profile


def rows(count: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, count)})
    frame["price"] = 50.0 * frame["area"] + rng.normal(0, 100, count)
    return frame


def test_a_version_trained_on_an_appended_dataset_gets_the_profile_of_all_its_rows(
    sqlite_workspace: Workspace,
) -> None:
    datasets = sqlite_workspace.datasets
    datasets.ingest("sales", rows(300, 1))
    appended = datasets.ingest("sales", rows(200, 2)).version  # version 2 holds 500 rows
    both = pd.concat([rows(300, 1), rows(200, 2)])
    model = LinearRegression().fit(both[["area"]], both["price"])
    info = sqlite_workspace.models.register("prices", model, dataset=appended, target="price")
    assert info.profile_digest is not None
    profile = Profile.from_bytes(sqlite_workspace.blobs.get(info.profile_digest))
    assert profile.rows == 500 == datasets.profile("sales", 2).rows
    first = sqlite_workspace.models.register("prices", model, dataset=("sales", 1), target="price")
    assert first.profile_digest == datasets.get("sales", 1).info.profile_digest  # one ingest: its own profile
