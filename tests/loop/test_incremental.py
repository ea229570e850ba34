"""Incremental updates: continued boosting, partial_fit and warm start keep what the model knew; others refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import RandomForestRegressor
from sklearn.linear_model import LinearRegression, SGDClassifier

from driftloop.errors import InvalidInput
from driftloop.loop._incremental import update_model
from driftloop.training import build_model, fit_model


def frame(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({"area": rng.uniform(30, 150, rows), "district": rng.choice(["a", "b"], rows)})


def test_a_booster_learns_a_moved_target_with_more_trees_and_the_champion_is_untouched() -> None:
    old, new = frame(800, 0), frame(400, 1)
    champion = fit_model(build_model("lightgbm", "regression", old, {"n_estimators": 50}), old, 2 * old["area"])
    before = champion.predict(new)
    updated, how = update_model(champion, new, 3 * new["area"], rounds=60)
    assert how == "continued boosting: 60 more trees"
    assert updated[-1].booster_.num_trees() == 110 and champion[-1].booster_.num_trees() == 50
    np.testing.assert_array_equal(champion.predict(new), before)  # a copy was updated
    error = np.mean(np.abs(updated.predict(new) - 3 * new["area"]))
    assert error < np.mean(np.abs(before - 3 * new["area"])) / 3


def test_partial_fit_and_warm_start_update_in_place_of_a_copy() -> None:
    data = frame(300, 2)
    encoded = pd.DataFrame({"area": data["area"]})
    sgd = SGDClassifier(random_state=0).fit(encoded, data["area"] > 90)
    updated, how = update_model(sgd, encoded, data["area"] > 90)
    assert how == "partial_fit on the new rows" and updated is not sgd
    forest = RandomForestRegressor(n_estimators=10, random_state=0).fit(encoded, data["area"])
    grown, how = update_model(forest, encoded, data["area"] * 2, rounds=5)
    assert how == "warm start: 5 more members" and len(grown.estimators_) == 15 and len(forest.estimators_) == 10


def test_a_model_that_cannot_learn_on_is_refused_with_what_can() -> None:
    data = frame(50, 3)[["area"]]
    with pytest.raises(InvalidInput, match=r"LinearRegression cannot be updated incrementally.*retrain action"):
        update_model(LinearRegression().fit(data, data["area"]), data, data["area"])
