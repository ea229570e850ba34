"""fit_model: step-by-step fitting with validation scores for LightGBM, XGBoost and the MLP; plain fits otherwise."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import threadpoolctl
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.metrics import accuracy_score, log_loss, mean_squared_error

from driftloop.errors import InvalidData, InvalidInput
from driftloop.training._algorithms import Task, build_model, core_estimator
from driftloop.training._fitting import fit_model

ITERATIVE = ["lightgbm", "xgboost", "mlp"]


def make_data(rows: int, seed: int, task: Task) -> tuple[pd.DataFrame, pd.Series]:
    rng = np.random.default_rng(seed)
    area, age = rng.normal(size=(2, rows))
    district = rng.choice(["north", "south", "east"], size=rows)
    signal = 2 * area - age + np.select([district == "north", district == "south"], [1.5, -1.5], 0.0)
    frame = pd.DataFrame({"area": area, "age": age, "district": pd.Series(district, dtype=object)})
    frame.loc[rng.random(rows) < 0.1, "area"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "district"] = None
    if task == "regression":
        target = signal + rng.normal(scale=0.3, size=rows)
    elif task == "binary":
        target = np.where(signal > 0, "yes", "no")
    else:
        target = np.select([signal < -1, signal > 1], ["low", "high"], "mid")
    return frame, pd.Series(target)


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    with threadpoolctl.threadpool_limits(limits=1):
        yield


class Steps:
    """An on_step that records what it is told."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, float]] = []

    def __call__(self, step: int, score: float) -> None:
        self.seen.append((step, score))

    @property
    def steps(self) -> list[int]:
        return [step for step, _ in self.seen]

    @property
    def scores(self) -> list[float]:
        return [score for _, score in self.seen]


@pytest.mark.parametrize("name", ITERATIVE)
@pytest.mark.parametrize("task", ["binary", "multiclass", "regression"])
def test_iterative_learners_report_validation_losses(name: str, task: Task) -> None:
    X, y = make_data(400, 0, task)
    X_validation, y_validation = make_data(200, 1, task)
    params = {"n_estimators": 40} if name != "mlp" else {"max_iter": 30}
    model = build_model(name, task, X, params)
    steps = Steps()
    fit_model(model, X, y, validation=(X_validation, y_validation), on_step=steps, report_every=10)
    if name == "mlp":
        assert steps.steps == list(range(1, len(steps.steps) + 1)) and 5 <= len(steps.steps) <= 30
    else:
        assert steps.steps == [10, 20, 30, 40]
    assert all(np.isfinite(steps.scores)) and steps.scores[-1] < steps.scores[0]  # it learns
    # The last score is the fitted model's own validation loss (for the MLP, of its best epoch).
    if task == "regression":
        final = mean_squared_error(y_validation, model.predict(X_validation))
    else:
        final = log_loss(y_validation, model.predict_proba(X_validation), labels=model.classes_)
    expected = min(steps.scores) if name == "mlp" else steps.scores[-1]
    assert final == pytest.approx(expected, rel=1e-5)


@pytest.mark.parametrize("name", ITERATIVE)
def test_an_exception_in_on_step_stops_the_fit(name: str) -> None:
    class Pruned(Exception):
        pass

    X, y = make_data(300, 0, "binary")

    def prune(step: int, score: float) -> None:
        if step >= 2:
            raise Pruned(step)

    model = build_model(name, "binary", X, {"n_estimators": 50} if name != "mlp" else {})
    with pytest.raises(Pruned) as caught:
        fit_model(model, X, y, validation=(X, y), on_step=prune, report_every=1)
    assert caught.value.args == (2,)
    if name == "xgboost":
        assert core_estimator(model).get_params()["callbacks"] is None  # the callback does not stay behind


def test_a_metric_replaces_the_loss() -> None:
    X, y = make_data(300, 0, "binary")
    steps = Steps()

    def accuracy(truth: np.ndarray, probabilities: np.ndarray) -> float:
        return float(accuracy_score(truth, np.array(["no", "yes"])[probabilities.argmax(axis=1)]))

    model = build_model("lightgbm", "binary", X, {"n_estimators": 20})
    fit_model(model, X, y, validation=(X, y), on_step=steps, metric=accuracy, report_every=5)
    assert steps.steps == [5, 10, 15, 20]
    assert steps.scores[-1] == pytest.approx(accuracy_score(y, model.predict(X)))


def test_a_fitted_xgboost_model_keeps_no_callback_and_pickles() -> None:
    X, y = make_data(300, 0, "multiclass")
    model = build_model("xgboost", "multiclass", X, {"n_estimators": 20})
    fit_model(model, X, y, validation=(X, y), on_step=Steps())
    assert core_estimator(model).get_params()["callbacks"] is None
    assert model[-1].estimators[0][1].get_params()["callbacks"] is None
    copy = pickle.loads(pickle.dumps(model))
    assert np.array_equal(copy.predict_proba(X), model.predict_proba(X))


def test_the_mlp_stops_early_on_the_validation_rows() -> None:
    X, y = make_data(300, 0, "regression")
    X_validation, y_validation = make_data(100, 1, "regression")
    model = build_model("mlp", "regression", X, {"learning_rate_init": 0.05, "n_iter_no_change": 3, "max_iter": 300})
    steps = Steps()
    fit_model(model, X, y, validation=(X_validation, y_validation), on_step=steps)
    assert len(steps.steps) < 300 and core_estimator(model).n_iter_ == len(steps.steps)
    assert core_estimator(model).early_stopping  # restored after the loop


def test_without_validation_an_iterative_learner_just_fits() -> None:
    X, y = make_data(300, 0, "binary")
    model = fit_model(build_model("mlp", "binary", X, {"max_iter": 3, "early_stopping": False}), X, y)
    assert core_estimator(model).n_iter_ == 3  # stopped by max_iter without a ConvergenceWarning reaching the caller


def test_arguments_are_checked() -> None:
    X, y = make_data(50, 0, "binary")
    model = build_model("lightgbm", "binary", X)
    with pytest.raises(InvalidInput, match="pass validation="):
        fit_model(model, X, y, on_step=Steps())
    with pytest.raises(InvalidInput, match="The 'report_every' must be an integer >= 1; got 0"):
        fit_model(model, X, y, validation=(X, y), report_every=0)
    with pytest.raises(InvalidData, match="got 50 rows and 49 targets"):
        fit_model(model, X, y[:-1])
    with pytest.raises(InvalidData, match="The validation rows and targets"):
        fit_model(model, X, y, validation=(X, y[:10]))
    with pytest.raises(InvalidData, match="labels the training rows lack: maybe"):
        fit_model(model, X, y, validation=(X.head(2), pd.Series(["yes", "maybe"])))
    with pytest.raises(InvalidInput, match="must come from build_model; got str"):
        fit_model("lightgbm", X, y)


class ThreadRecorder(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """A regressor that records the thread limits it was fitted under."""

    def fit(self, X: Any, y: Any) -> ThreadRecorder:
        self.limits_ = {entry["user_api"]: entry["num_threads"] for entry in threadpoolctl.threadpool_info()}
        self.mean_ = float(np.mean(y))
        return self

    def predict(self, X: Any) -> np.ndarray:
        return np.full(len(X), self.mean_)


def test_threads_cap_openmp_and_blas_while_fitting() -> None:
    X, y = make_data(50, 0, "regression")
    with threadpoolctl.threadpool_limits(limits=2):
        model = fit_model(build_model(ThreadRecorder(), "regression", X), X, y, threads=1)
    assert model[-1].limits_ and set(model[-1].limits_.values()) == {1}


def _complete_houses(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Prices that follow the area, which the rooms tell roughly: a feature never missing in training."""
    rng = np.random.default_rng(seed)
    rooms = rng.integers(1, 6, rows)
    area = 20 * rooms + rng.uniform(-8, 8, rows)
    frame = pd.DataFrame({"area": area, "rooms": rooms, "district": rng.choice(["north", "south"], rows)})
    return frame, 3 * area + rng.normal(scale=2, size=rows)


@pytest.mark.parametrize("name", ["lightgbm", "xgboost", "hist_gradient_boosting"])
def test_a_booster_learns_to_answer_without_a_feature_that_may_be_missing(name: str) -> None:
    X, y = _complete_houses(2_000, 0)
    served, truth = _complete_houses(400, 1)
    unknown_area = served.assign(area=np.nan)

    def error(model: Any, rows: pd.DataFrame) -> float:
        return float(np.mean(np.abs(model.predict(rows) - truth) / truth))

    plain = fit_model(build_model(name, "regression", X, seed=0), X, y)
    robust = fit_model(build_model(name, "regression", X, seed=0), X, y, may_be_missing=["area"], seed=0)
    # Without missing areas in training, a missing one takes a default branch; with the copies, the rooms answer.
    assert error(robust, unknown_area) < 0.15 < error(plain, unknown_area)
    assert error(robust, served) < 0.02 and abs(error(robust, served) - error(plain, served)) < 0.005
    again = fit_model(build_model(name, "regression", X, seed=0), X, y, may_be_missing=["area"], seed=0)
    np.testing.assert_array_equal(again.predict(unknown_area), robust.predict(unknown_area))


def test_may_be_missing_leaves_other_models_and_missing_features_alone() -> None:
    X, y = make_data(200, 0, "regression")  # area is missing in a tenth of the rows already
    # A model that imputes, or a feature missing in training: the rows are fitted as they are.
    for name, columns in (("ridge", ["area", "age"]), ("lightgbm", ["area"])):
        model = build_model(name, "regression", X, seed=0)
        fitted = fit_model(model, X, y, may_be_missing=columns)
        reference = build_model(name, "regression", X, seed=0).fit(X, y)
        np.testing.assert_allclose(fitted.predict(X), reference.predict(X))
    with pytest.raises(InvalidInput, match="columns the rows lack: 'floor'"):
        fit_model(build_model("lightgbm", "regression", X), X, y, may_be_missing=["floor"])
    with pytest.raises(InvalidInput, match="a list of feature names; got the string 'area'"):
        fit_model(build_model("lightgbm", "regression", X), X, y, may_be_missing="area")
