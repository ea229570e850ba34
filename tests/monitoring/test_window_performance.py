"""Window metrics against validation metrics, and bad windows."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from sklearn.metrics import f1_score, mean_absolute_error, r2_score, roc_auc_score

from driftloop.errors import InvalidInput
from driftloop.monitoring._window_performance import check_window_performance, window_metrics


def test_regression_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(0)
    truth = rng.normal(100, 10, 500)
    predicted = truth + rng.normal(0, 5, 500)
    result = window_metrics(truth, predicted, task="regression")
    assert result["mae"] == pytest.approx(mean_absolute_error(truth, predicted))
    assert result["rmse"] == pytest.approx(math.sqrt(np.mean((truth - predicted) ** 2)))
    assert result["r2"] == pytest.approx(r2_score(truth, predicted))


def test_classification_metrics_match_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    truth = rng.integers(0, 2, 400)
    scores = np.clip(truth * 0.6 + rng.random(400) * 0.5, 0, 1)
    predicted = (scores > 0.5).astype(int)
    result = window_metrics(truth, predicted, task="classification", y_score=scores)
    assert result["accuracy"] == pytest.approx(np.mean(truth == predicted))
    assert result["f1"] == pytest.approx(f1_score(truth, predicted, average="macro"))
    assert result["roc_auc"] == pytest.approx(roc_auc_score(truth, scores))
    two_columns = window_metrics(truth, predicted, task="classification", y_score=np.c_[1 - scores, scores])
    assert two_columns["roc_auc"] == pytest.approx(result["roc_auc"])


def test_lower_is_better_errors_degrade_upwards() -> None:
    truth = np.array([10.0, 20.0, 30.0, 40.0])
    predicted = truth + 2.0  # mae 2
    check = check_window_performance(truth, predicted, task="regression", validation={"mae": 1.5, "rmse": 2.5})
    mae, rmse = check.metrics
    assert (mae.name, mae.current, mae.reference, mae.degraded) == ("mae", 2.0, 1.5, True)
    assert mae.change == pytest.approx(0.5)
    assert mae.relative_change == pytest.approx(1 / 3)
    assert not mae.higher_is_better
    assert rmse.degraded is False  # 2.0 is better than 2.5
    assert check.degraded


def test_tolerance_per_metric() -> None:
    truth = np.array([0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
    predicted = np.array([0, 1, 0, 1, 0, 1, 0, 1, 1, 0])  # accuracy 0.8
    validation = {"accuracy": 0.85}
    assert not check_window_performance(truth, predicted, task="classification", validation=validation).degraded
    strict = check_window_performance(
        truth, predicted, task="classification", validation=validation, tolerances={"accuracy": 0.01}
    )
    assert strict.degraded
    assert strict.metrics[0].tolerance == 0.01


def test_to_dict_is_plain_json_with_none_for_undefined() -> None:
    check = check_window_performance([5.0], [6.0], task="regression", validation={"mae": 0.5, "r2": 0.9})
    summary = json.loads(json.dumps(check.to_dict(), allow_nan=False))
    assert summary["n_rows"] == 1
    assert summary["degraded"] is True
    assert summary["undetermined"] == ["r2"]
    r2 = summary["metrics"][1]
    assert (r2["current"], r2["change"], r2["degraded"]) == (None, None, None)


def test_one_class_window_leaves_roc_auc_undetermined() -> None:
    check = check_window_performance(
        [1, 1, 1],
        [1, 0, 1],
        task="classification",
        validation={"roc_auc": 0.9, "accuracy": 0.9},
        y_score=[0.9, 0.4, 0.8],
    )
    assert check.undetermined == ("roc_auc",)
    assert check.degraded  # accuracy 2/3


def test_empty_window_refused() -> None:
    with pytest.raises(InvalidInput, match="empty"):
        check_window_performance([], [], task="regression", validation={"mae": 1.0})


def test_nan_label_refused_naming_position() -> None:
    with pytest.raises(InvalidInput, match=r"y_true .*position 2"):
        window_metrics([1.0, 2.0, float("nan")], [1.0, 2.0, 3.0], task="regression")


def test_missing_class_label_refused() -> None:
    with pytest.raises(InvalidInput, match=r"y_pred .*position 1"):
        window_metrics(np.array(["a", "b"], dtype=object), np.array(["a", None], dtype=object), task="classification")


@pytest.mark.parametrize(
    ("truth", "predicted", "task", "match"),
    [
        ([0.1, 2.7, 3.3], [0.1, 2.7, 3.3], "classification", "regression target"),
        (["cat", "dog"], ["cat", "cat"], "regression", "numeric y_true"),
        ([1.0, 2.0], [1.0], "regression", "2 labels but y_pred has 1"),
    ],
)
def test_labels_of_the_wrong_kind_refused(truth: list[object], predicted: list[object], task: str, match: str) -> None:
    with pytest.raises(InvalidInput, match=match):
        window_metrics(truth, predicted, task=task)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("validation", "kwargs", "match"),
    [
        ({}, {}, "No validation metrics"),
        ({"accuracy": 0.9}, {}, "Unknown regression metric"),
        ({"mae": float("nan")}, {}, "finite"),
        ({"mae": 1.0}, {"tolerance": -0.1}, ">= 0"),
        ({"mae": 1.0}, {"task": "ranking"}, "or 'regression'; got 'ranking'"),
    ],
)
def test_bad_validation_refused(validation: dict[str, float], kwargs: dict[str, object], match: str) -> None:
    arguments: dict[str, object] = {"task": "regression", **kwargs}
    with pytest.raises(InvalidInput, match=match):
        check_window_performance([1.0, 2.0], [1.0, 2.5], validation=validation, **arguments)  # type: ignore[arg-type]


def test_roc_auc_without_scores_refused() -> None:
    with pytest.raises(InvalidInput, match="y_score"):
        check_window_performance([0, 1], [0, 1], task="classification", validation={"roc_auc": 0.8})


def test_the_training_task_names_are_classification() -> None:
    truth, predicted = [0, 1, 1, 0], [0, 1, 0, 0]
    for task in ("binary", "multiclass"):
        checked = check_window_performance(truth, predicted, task=task, validation={"accuracy": 1.0})  # type: ignore[arg-type]
        assert checked.task == "classification" and checked.metrics[0].current == 0.75
    with pytest.raises(InvalidInput, match="'binary', 'multiclass'"):
        window_metrics(truth, predicted, task="ranking")  # type: ignore[arg-type]


def test_mape_is_a_fraction_over_the_rows_whose_truth_is_not_zero() -> None:
    check = check_window_performance([100.0, 200.0, 0.0], [110.0, 180.0, 5.0], task="regression",
                                     validation={"mape": 0.09})  # fmt: skip
    (mape,) = check.metrics
    assert mape.current == pytest.approx(0.1) and mape.degraded is True and not mape.higher_is_better
    assert window_metrics([0.0, 0.0], [1.0, 2.0], task="regression")["mape"] is None
