"""River models behind the same interface: raw frames in, River's own pipeline kept as the model."""

from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest

from driftloop.errors import InvalidData, InvalidInput
from driftloop.training._algorithms import build_model
from driftloop.training._fitting import fit_model
from driftloop.training._river import river_learn, river_predict, river_predict_proba, river_rows


def make_data(rows: int, seed: int) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    area = rng.normal(size=rows)
    district = rng.choice(["north", "south"], size=rows)
    signal = 2 * area + np.where(district == "north", 1.0, -1.0)
    frame = pd.DataFrame({"area": area, "district": pd.Series(district, dtype=object), "new": rng.random(rows) < 0.5})
    frame.loc[rng.random(rows) < 0.1, "area"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "district"] = None
    return frame, pd.Series(np.where(signal > 0, "up", "down"))


def test_rows_become_dicts_with_missing_values_as_none() -> None:
    frame = pd.DataFrame(
        {
            "area": [52.0, np.nan],
            "rooms": pd.array([2, None], dtype="Int64"),
            "district": pd.Series(["Ba Dinh", None], dtype=object),
            "kind": pd.Series(["flat", None], dtype="str"),
            "new": [True, False],
        }
    )
    assert river_rows(frame) == [
        {"area": 52.0, "rooms": 2.0, "district": "Ba Dinh", "kind": "flat", "new": "True"},
        {"area": None, "rooms": None, "district": None, "kind": None, "new": "False"},
    ]
    assert all(type(value) in (float, str) for value in river_rows(frame)[0].values())


def test_the_model_is_rivers_pipeline_and_learns_raw_rows() -> None:
    X, y = make_data(800, 0)
    X_test, y_test = make_data(200, 1)
    X_test.loc[:4, "district"] = "east"  # unseen
    model = build_model("river_logistic_regression", "binary", X)
    assert type(model).__module__.startswith("river.compose")
    assert fit_model(model, X, y) is model
    predicted = river_predict(model, X_test)
    assert predicted.dtype == object and set(predicted) <= {"up", "down"}
    assert (predicted == y_test.to_numpy()).mean() > 0.8


def test_probabilities_follow_the_order_of_the_classes_given() -> None:
    X, y = make_data(400, 0)
    model = fit_model(build_model("river_hoeffding_tree", "binary", X), X, y)
    forward = river_predict_proba(model, X.head(20), ["down", "up"])
    backward = river_predict_proba(model, X.head(20), ["up", "down", "sideways"])
    assert np.allclose(forward.sum(axis=1), 1.0)
    assert np.allclose(backward[:, :2], forward[:, ::-1]) and not backward[:, 2].any()
    labels = np.where(forward[:, 1] > 0.5, "up", "down")
    assert np.array_equal(labels, river_predict(model, X.head(20)))


def test_an_untaught_model_predicts_none_and_equal_probabilities() -> None:
    X, _ = make_data(10, 0)
    model = build_model("river_logistic_regression", "multiclass", X)
    assert river_predict(model, X).tolist() == [None] * 10
    assert np.allclose(river_predict_proba(model, X, ["a", "b", "c", "d"]), 0.25)
    regressor = build_model("river_linear_regression", "regression", X)
    assert river_predict(regressor, X).dtype == np.float64


def test_learning_skips_unlabelled_rows_and_continues_where_it_stopped() -> None:
    X, y = make_data(300, 0)
    targets = y.astype(object)
    targets[::2] = None
    once = river_learn(build_model("river_hoeffding_tree", "binary", X), X, targets)
    only_labelled = river_learn(build_model("river_hoeffding_tree", "binary", X), X[1::2], y[1::2])
    assert np.array_equal(
        river_predict_proba(once, X, ["down", "up"]), river_predict_proba(only_labelled, X, ["down", "up"])
    )
    more, more_y = make_data(100, 2)
    before = river_predict_proba(once, X, ["down", "up"])
    river_learn(once, more, more_y)
    assert not np.array_equal(before, river_predict_proba(once, X, ["down", "up"]))


def test_a_pickled_model_predicts_the_same() -> None:
    X, y = make_data(300, 0)
    model = fit_model(build_model("river_arf", "binary", X, {"n_models": 3}, seed=4), X, y)
    copy = pickle.loads(pickle.dumps(model))
    assert np.array_equal(river_predict_proba(copy, X, ["down", "up"]), river_predict_proba(model, X, ["down", "up"]))


def test_regression_targets_are_floats() -> None:
    X, _ = make_data(300, 0)
    y = pd.Series(np.nan_to_num(X["area"].to_numpy()) * 3 + 1, dtype="float32")
    for name in ("river_linear_regression", "river_hoeffding_tree", "river_arf"):
        model = fit_model(build_model(name, "regression", X, {"n_models": 3} if name == "river_arf" else None), X, y)
        predicted = river_predict(model, X)
        assert predicted.dtype == np.float64 and np.corrcoef(predicted, y)[0, 1] > 0.8


def test_mistakes_are_reported() -> None:
    X, y = make_data(20, 0)
    model = build_model("river_hoeffding_tree", "binary", X)
    with pytest.raises(InvalidData, match="got 20 rows and 19 targets"):
        fit_model(model, X, y[:-1])
    with pytest.raises(InvalidData, match="got 19 for 20 rows"):
        river_learn(model, X, y[:-1])
    with pytest.raises(InvalidInput, match="takes a pandas DataFrame; got list"):
        river_predict(model, [{"area": 1.0}])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="at least one class"):
        river_predict_proba(model, X, [])
    with pytest.raises(InvalidInput, match="The 'l2' must be a number >= 0; got -1"):
        build_model("river_logistic_regression", "binary", X, {"l2": -1})
    with pytest.raises(InvalidInput, match="The 'n_models' must be an integer >= 1; got 0"):
        build_model("river_arf", "regression", X, {"n_models": 0})
