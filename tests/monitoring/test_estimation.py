"""Performance estimated before labels arrive: CBPE for classifiers, DLE for regressors."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, mean_absolute_error, roc_auc_score

from driftloop.errors import InvalidData, InvalidInput, InvalidState
from driftloop.monitoring._estimation import PerformanceEstimate, PerformanceEstimator

WEIGHTS = np.array([2.0, -1.0, 0.5])
BIAS = -3.0  # the decision boundary sits at x0 ≈ 1.5, away from the reference mass at 0


def classification_sample(generator: np.random.Generator, rows: int, *, shift: float = 0.0, weights=WEIGHTS):
    """x0 shifted by ``shift``; P(y | x) a fixed logistic curve (unless other ``weights`` are given)."""
    x = generator.normal(size=(rows, 3))
    x[:, 0] += shift
    probability = 1.0 / (1.0 + np.exp(-(x @ weights + BIAS)))
    return x, (generator.random(rows) < probability).astype(np.int64)


def regression_sample(generator: np.random.Generator, rows: int, *, shift: float = 0.0, offset: float = 0.0):
    """y = sin(x0) + x1/2 + noise whose scale grows with |x0|; ``offset`` is a concept shift of y."""
    x = generator.normal(size=(rows, 2))
    x[:, 0] += shift
    noise = generator.normal(size=rows) * (0.2 + 0.5 * np.abs(x[:, 0]))
    return x, np.sin(x[:, 0]) + 0.5 * x[:, 1] + noise + offset


def binary_setup(seed: int):
    generator = np.random.default_rng(seed)
    model = LogisticRegression().fit(*classification_sample(generator, 3000))
    reference_x, reference_y = classification_sample(generator, 5000)
    estimator = PerformanceEstimator(random_state=seed).fit(
        reference_x,
        model.predict(reference_x),
        reference_y,
        task="binary",
        scores=model.predict_proba(reference_x)[:, 1],
    )
    return generator, model, estimator, (reference_x, reference_y)


def regression_setup(seed: int):
    generator = np.random.default_rng(seed)
    model = HistGradientBoostingRegressor(max_iter=100, random_state=0).fit(*regression_sample(generator, 3000))
    reference_x, reference_y = regression_sample(generator, 5000)
    estimator = PerformanceEstimator(random_state=seed).fit(
        reference_x, model.predict(reference_x), reference_y, task="regression"
    )
    return generator, model, estimator, (reference_x, reference_y)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_binary_estimate_follows_a_covariate_shift_within_0_03(seed: int) -> None:
    generator, model, estimator, (reference_x, reference_y) = binary_setup(seed)
    current_x, current_y = classification_sample(generator, 5000, shift=1.0)
    estimate = estimator.estimate(current_x, model.predict(current_x), scores=model.predict_proba(current_x)[:, 1])

    true_accuracy = accuracy_score(current_y, model.predict(current_x))
    true_auc = roc_auc_score(current_y, model.predict_proba(current_x)[:, 1])
    # The shift is real: accuracy falls by more than the tolerance, and the estimate sees it.
    assert accuracy_score(reference_y, model.predict(reference_x)) - true_accuracy > 0.06
    assert estimate.metrics["accuracy"] == pytest.approx(true_accuracy, abs=0.03)
    assert estimate.metrics["roc_auc"] == pytest.approx(true_auc, abs=0.03)
    assert estimate.rows == 5000 and estimate.task == "binary" and estimate.notes == ()
    for name, value in estimate.metrics.items():
        low, high = estimate.bands[name]
        assert low <= value <= high, name


@pytest.mark.parametrize("seed", [0, 1])
def test_multiclass_estimate_follows_a_covariate_shift_within_0_03(seed: int) -> None:
    generator = np.random.default_rng(seed)
    coefficients = np.array([[2.0, 0.0, 0.0], [0.0, 2.0, 0.0], [-1.0, -1.0, 0.5]])

    def sample(rows: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
        x = generator.normal(size=(rows, 3))
        x[:, 0] += shift
        logits = x @ coefficients.T
        probability = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
        labels = (generator.random((rows, 1)) > np.cumsum(probability, axis=1)[:, :-1]).sum(axis=1)
        return x, np.array(["a", "b", "c"])[labels]

    model = LogisticRegression().fit(*sample(3000, 0.0))
    reference_x, reference_y = sample(5000, 0.0)
    estimator = PerformanceEstimator(random_state=seed).fit(
        reference_x, model.predict(reference_x), reference_y, task="multiclass", scores=model.predict_proba(reference_x)
    )
    current_x, current_y = sample(5000, 1.0)
    scores = pd.DataFrame(model.predict_proba(current_x), columns=["a", "b", "c"])[["c", "a", "b"]]  # named, shuffled
    estimate = estimator.estimate(current_x, model.predict(current_x), scores=scores)

    true_auc = roc_auc_score(current_y, model.predict_proba(current_x), multi_class="ovr", average="macro")
    assert estimate.metrics["accuracy"] == pytest.approx(accuracy_score(current_y, model.predict(current_x)), abs=0.03)
    assert estimate.metrics["roc_auc"] == pytest.approx(true_auc, abs=0.03)
    assert set(estimate.metrics) == {"accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc"}


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_regression_estimate_follows_a_covariate_shift_within_10_percent(seed: int) -> None:
    generator, model, estimator, (reference_x, reference_y) = regression_setup(seed)
    current_x, current_y = regression_sample(generator, 5000, shift=1.0)
    estimate = estimator.estimate(current_x, model.predict(current_x))

    true_mae = mean_absolute_error(current_y, model.predict(current_x))
    true_rmse = float(np.sqrt(np.mean((current_y - model.predict(current_x)) ** 2)))
    assert true_mae > 1.2 * mean_absolute_error(reference_y, model.predict(reference_x))  # the shift hurts
    assert estimate.metrics["mae"] == pytest.approx(true_mae, rel=0.10)
    assert estimate.metrics["rmse"] == pytest.approx(true_rmse, rel=0.15)
    low, high = estimate.bands["mae"]
    assert low < estimate.metrics["mae"] < high


def test_a_miscalibrated_model_is_calibrated_on_the_reference() -> None:
    generator, model, _, (reference_x, reference_y) = binary_setup(3)
    # Cubing the probabilities keeps the ranking (same AUC) but makes the scores badly overconfident negatives.
    estimator = PerformanceEstimator().fit(
        reference_x,
        model.predict(reference_x),
        reference_y,
        task="binary",
        scores=model.predict_proba(reference_x)[:, 1] ** 3,
    )
    assert estimator.calibration_method_ == "isotonic"
    assert estimator.calibration_error_["calibrated"] < estimator.calibration_error_["raw"]
    current_x, current_y = classification_sample(generator, 5000, shift=1.0)
    estimate = estimator.estimate(current_x, model.predict(current_x), model.predict_proba(current_x)[:, 1] ** 3)
    assert estimate.metrics["accuracy"] == pytest.approx(accuracy_score(current_y, model.predict(current_x)), abs=0.03)


def test_a_small_reference_is_calibrated_with_platt_scaling() -> None:
    generator, model, _, (reference_x, reference_y) = binary_setup(4)
    scores = model.predict_proba(reference_x[:500])[:, 1] ** 2
    estimator = PerformanceEstimator().fit(
        None, model.predict(reference_x[:500]), reference_y[:500], task="binary", scores=scores
    )
    assert estimator.calibration_method_ == "sigmoid"
    current_x, current_y = classification_sample(generator, 5000)
    estimate = estimator.estimate(None, model.predict(current_x), model.predict_proba(current_x)[:, 1] ** 2)
    assert estimate.metrics["accuracy"] == pytest.approx(accuracy_score(current_y, model.predict(current_x)), abs=0.03)


def test_a_concept_shift_goes_unseen_which_is_the_stated_limitation() -> None:
    generator, model, estimator, (reference_x, _) = binary_setup(5)
    reference_estimate = estimator.estimate(
        reference_x, model.predict(reference_x), model.predict_proba(reference_x)[:, 1]
    )
    # Same inputs, new relation: the middle feature's effect flips sign.
    current_x, current_y = classification_sample(generator, 5000, weights=np.array([2.0, 1.0, 0.5]))
    estimate = estimator.estimate(current_x, model.predict(current_x), model.predict_proba(current_x)[:, 1])
    true_accuracy = accuracy_score(current_y, model.predict(current_x))
    assert estimate.metrics["accuracy"] == pytest.approx(reference_estimate.metrics["accuracy"], abs=0.01)
    assert estimate.metrics["accuracy"] - true_accuracy > 0.05  # the labels reveal a fall the estimate missed

    generator, regressor, regression_estimator, (reference_x, _) = regression_setup(6)
    before = regression_estimator.estimate(reference_x, regressor.predict(reference_x)).metrics["mae"]
    current_x, current_y = regression_sample(generator, 5000, offset=1.0)
    after = regression_estimator.estimate(current_x, regressor.predict(current_x)).metrics["mae"]
    assert after == pytest.approx(before, rel=0.05)
    assert mean_absolute_error(current_y, regressor.predict(current_x)) > 1.5 * after


def test_pandas_and_polars_inputs_give_the_numpy_estimate() -> None:
    generator, model, estimator, _ = regression_setup(7)
    current_x, _ = regression_sample(generator, 300, shift=0.5)
    predictions = model.predict(current_x)
    expected = estimator.estimate(current_x, predictions)
    frame = pd.DataFrame(current_x, columns=["x0", "x1"])
    assert estimator.estimate(frame, pd.Series(predictions)) == expected
    assert estimator.estimate(pl.from_pandas(frame), pl.Series(predictions)) == expected
    assert estimator.estimate(frame.assign(extra=1.0), predictions) == expected  # extra columns are ignored


def test_regression_reads_categorical_features_and_unseen_categories() -> None:
    generator = np.random.default_rng(8)
    rows = 1000
    frame = pd.DataFrame({"area": generator.normal(size=rows), "district": generator.choice(["a", "b"], size=rows)})
    noise = np.where(frame["district"] == "b", 2.0, 0.2) * generator.normal(size=rows)
    estimator = PerformanceEstimator().fit(frame, frame["area"].to_numpy(), frame["area"] + noise, task="regression")
    only_b = frame.assign(district="b")
    unseen = frame.assign(district="z")
    assert (
        estimator.estimate(only_b, only_b["area"]).metrics["mae"]
        > 2 * estimator.estimate(frame.assign(district="a"), frame["area"]).metrics["mae"]
    )
    assert estimator.estimate(unseen, unseen["area"]).rows == rows


def test_an_empty_window_gives_none_with_a_note() -> None:
    _, _, estimator, _ = binary_setup(0)
    estimate = estimator.estimate(np.zeros((0, 3)), np.zeros(0, dtype=np.int64), scores=np.zeros(0))
    assert estimate.rows == 0
    assert set(estimate.metrics.values()) == {None}
    assert "empty" in estimate.notes[0]
    assert json.loads(json.dumps(estimate.to_dict(), allow_nan=False))["metrics"]["accuracy"] is None

    _, _, regression_estimator, _ = regression_setup(0)
    empty = regression_estimator.estimate(pd.DataFrame({"x0": [], "x1": []}), [])
    assert empty.metrics == {"mae": None, "rmse": None}


def test_a_single_row_gives_an_estimate_with_a_wide_band_and_a_note() -> None:
    _, model, estimator, (reference_x, _) = binary_setup(0)
    uncertain = int(np.argmin(np.abs(model.predict_proba(reference_x)[:, 1] - 0.5)))
    row = reference_x[uncertain : uncertain + 1]
    estimate = estimator.estimate(row, model.predict(row), model.predict_proba(row)[:, 1])
    assert estimate.rows == 1
    assert 0.0 <= estimate.metrics["accuracy"] <= 1.0
    assert estimate.bands["accuracy"] == (0.0, 1.0)
    assert estimate.metrics["roc_auc"] is None and estimate.bands["roc_auc"] is None
    assert any("ROC AUC needs at least 2 rows" in note for note in estimate.notes)
    assert any("uncertain" in note for note in estimate.notes)
    as_json = json.dumps(estimate.to_dict(), allow_nan=False)
    assert json.loads(as_json)["bands"]["accuracy"] == [0.0, 1.0]

    _, regressor, regression_estimator, (reference_x, _) = regression_setup(0)
    single = regression_estimator.estimate(reference_x[:1], regressor.predict(reference_x[:1]))
    low, high = single.bands["mae"]
    assert high - low > single.metrics["mae"]


def test_an_estimate_is_a_frozen_value() -> None:
    estimate = PerformanceEstimate(task="regression", rows=3, metrics={"mae": 1.0}, bands={"mae": (0.5, 1.5)})
    with pytest.raises(AttributeError):
        estimate.rows = 4  # type: ignore[misc]
    assert estimate.to_dict() == {
        "task": "regression",
        "rows": 3,
        "metrics": {"mae": 1.0},
        "bands": {"mae": [0.5, 1.5]},
        "confidence": 0.95,
        "notes": [],
    }
    assert PerformanceEstimate(task="binary", rows=1, metrics={"f1": float("nan")}).to_dict()["metrics"] == {"f1": None}


def test_a_reference_too_small_to_calibrate_names_the_minimum() -> None:
    generator = np.random.default_rng(0)
    labels = np.tile([0, 1], 25)
    with pytest.raises(InvalidData, match="at least 100"):
        PerformanceEstimator().fit(None, labels, labels, task="binary", scores=generator.random(50))
    with pytest.raises(InvalidData, match="at least 200"):
        PerformanceEstimator().fit(np.zeros((150, 1)), np.zeros(150), np.ones(150), task="regression")


def test_reference_labels_of_one_class_are_refused() -> None:
    labels = np.ones(500, dtype=np.int64)
    with pytest.raises(InvalidData, match="one class only"):
        PerformanceEstimator().fit(None, labels, labels, task="binary", scores=np.full(500, 0.9))
    labels = np.r_[np.zeros(495), np.ones(5)]
    with pytest.raises(InvalidData, match="each class needs at least 10"):
        PerformanceEstimator().fit(None, labels, labels, task="binary", scores=labels)


def test_missing_scores_are_refused_naming_the_position() -> None:
    _, model, estimator, (reference_x, reference_y) = binary_setup(0)
    scores = model.predict_proba(reference_x)
    scores[7, 1] = np.nan
    with pytest.raises(InvalidData, match="missing value in column '1' at position 7") as caught:
        estimator.estimate(reference_x, model.predict(reference_x), scores)
    assert caught.value.row == 7
    one_d = scores[:, 1].copy()
    one_d[3] = np.inf
    with pytest.raises(InvalidData, match="infinite value at position 3"):
        PerformanceEstimator().fit(None, model.predict(reference_x), reference_y, task="binary", scores=one_d)
    frame = pd.DataFrame(scores, columns=["no", "yes"])
    with pytest.raises(InvalidData, match="column 'yes' at position 7"):
        estimator.estimate(None, model.predict(reference_x), frame)


def test_mismatched_lengths_are_refused() -> None:
    _, model, estimator, (reference_x, reference_y) = binary_setup(0)
    scores = model.predict_proba(reference_x)[:, 1]
    with pytest.raises(InvalidData, match="reference predictions have 4999 rows but the reference labels have 5000"):
        PerformanceEstimator().fit(None, model.predict(reference_x)[1:], reference_y, task="binary", scores=scores)
    with pytest.raises(InvalidData, match="current scores have 10 rows"):
        estimator.estimate(reference_x[:20], model.predict(reference_x[:20]), scores[:10])
    with pytest.raises(InvalidData, match="current features have 5000 rows"):
        estimator.estimate(reference_x, model.predict(reference_x[:20]), scores[:20])


def test_other_bad_inputs_get_clear_messages() -> None:
    _, model, estimator, (reference_x, reference_y) = binary_setup(0)
    scores = model.predict_proba(reference_x)[:, 1]
    with pytest.raises(InvalidState, match="not fitted"):
        PerformanceEstimator().estimate(reference_x, reference_y)
    with pytest.raises(InvalidInput, match="needs its 'scores'"):
        PerformanceEstimator().fit(reference_x, reference_y, reference_y, task="binary")
    with pytest.raises(InvalidInput, match="'calibration' must be one of auto, isotonic, sigmoid"):
        PerformanceEstimator(calibration="beta").fit(None, reference_y, reference_y, task="binary", scores=scores)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"'confidence' must be a number in \(0, 1\); got 95"):
        PerformanceEstimator(confidence=95).fit(None, reference_y, reference_y, task="binary", scores=scores)
    with pytest.raises(InvalidData, match="hold 2 at position 0, which is not one of the reference classes"):
        estimator.estimate(None, np.full(3, 2), scores[:3])
    with pytest.raises(InvalidInput, match="a column per class"):
        estimator.estimate(None, reference_y[:3], np.ones((3, 3)))

    _, regressor, regression_estimator, (reference_x, _) = regression_setup(0)
    frame = pd.DataFrame(reference_x[:10], columns=["x0", "x1"])
    with pytest.raises(InvalidData, match="lack the column\\(s\\) 'x1'") as caught:
        regression_estimator.estimate(frame[["x0"]], regressor.predict(reference_x[:10]))
    assert caught.value.column == "x1"
    frame.loc[4, "x1"] = np.inf
    with pytest.raises(InvalidData, match="Column 'x1' of the current features holds an infinite value at row 4"):
        regression_estimator.estimate(frame, regressor.predict(reference_x[:10]))
    with pytest.raises(InvalidData, match="current predictions hold a missing or infinite value at position 2"):
        regression_estimator.estimate(reference_x[:3], [1.0, 2.0, np.nan])
    with pytest.raises(InvalidData, match="must be numbers"):
        PerformanceEstimator().fit(reference_x, np.array(["a"] * 5000, dtype=object), reference_y, task="regression")
