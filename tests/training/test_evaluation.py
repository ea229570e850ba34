"""Tasks and evaluation: metrics equal scikit-learn's, undefined metrics are noted, slices and cross-validation."""

from __future__ import annotations

import json
import re
from typing import Any, ClassVar

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression, RidgeClassifier
from sklearn.model_selection import KFold, StratifiedKFold, cross_val_score

from driftloop.errors import InvalidData, InvalidInput
from driftloop.training._cross_validation import cross_validate
from driftloop.training._evaluation import Evaluation, Predictions, evaluate, evaluate_model, metrics_by_slice
from driftloop.training._tasks import (
    GREATER_IS_BETTER,
    PRIMARY_METRIC,
    TASK_METRICS,
    check_target,
    infer_task,
    validate_task,
)

# ---------------------------------------------------------------- tasks


@pytest.mark.parametrize(
    ("values", "task"),
    [
        ([0.5, 1.5, 2.25], "regression"),
        ([0.5, 1.5], "regression"),  # fractional numbers are a quantity even with two values
        ([0.0, 1.0, 1.0, np.nan], "binary"),
        ([True, False, True], "binary"),
        (["yes", "no"], "binary"),
        (["a", "b", "c"], "multiclass"),
        ([1, 2, 3, 3], "multiclass"),
        ([1.0, 2.0, 3.0], "multiclass"),
        (list(range(20)), "multiclass"),
        (list(range(21)), "regression"),
    ],
)
def test_infer_task_follows_the_documented_rule(values: list[Any], task: str) -> None:
    assert infer_task(pd.Series(values)) == task


def test_infer_task_reads_categories_as_classes() -> None:
    assert infer_task(pd.Series(list("abcab"), dtype="category")) == "multiclass"


def test_infer_task_refuses_an_all_missing_target() -> None:
    with pytest.raises(InvalidData, match="all 3 rows are missing"):
        infer_task(pd.Series([np.nan] * 3, name="price"))


def test_validate_task_names_the_allowed_values() -> None:
    assert validate_task("regression") == "regression"
    with pytest.raises(InvalidInput, match="'binary', 'multiclass', 'regression'; got 'clustering'"):
        validate_task("clustering")


def test_every_metric_has_a_direction_and_every_task_a_primary_metric() -> None:
    for task, names in TASK_METRICS.items():
        assert PRIMARY_METRIC[task] in names
        assert set(names) <= set(GREATER_IS_BETTER)
    assert GREATER_IS_BETTER["rmse"] is False and GREATER_IS_BETTER["roc_auc"] is True


def test_check_target_refuses_a_constant_target() -> None:
    message = "The target 'price' has a single value (3.0) in all 120 rows; there is nothing to learn."
    with pytest.raises(InvalidData, match=re.escape(message)) as caught:
        check_target(pd.Series([3.0] * 120, name="price"), "regression")
    assert caught.value.column == "price"


def test_check_target_counts_missing_values() -> None:
    with pytest.raises(InvalidData, match="missing in all 4 rows"):
        check_target(pd.Series([None] * 4, name="label", dtype=object), "binary")
    with pytest.raises(InvalidData, match="missing in 2 of 5 rows"):
        check_target(pd.Series([1.0, np.nan, 2.0, np.nan, 3.0], name="price"), "regression")


def test_check_target_checks_the_task_fits() -> None:
    with pytest.raises(InvalidData, match="regression target must be numeric"):
        check_target(pd.Series(["a", "b"], name="label"), "regression")
    with pytest.raises(InvalidData, match="binary target has two classes; 'label' has 3"):
        check_target(pd.Series(["a", "b", "c"], name="label"), "binary")
    check_target(pd.Series(["a", "b", "c"], name="label"), "multiclass")


# ---------------------------------------------------------------- evaluate


@pytest.fixture
def binary_scores() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    truth = rng.choice(np.array(["no", "yes"]), size=200, p=[0.7, 0.3])
    positive = np.clip(np.where(truth == "yes", 0.65, 0.35) + rng.normal(0, 0.2, 200), 0.01, 0.99)
    predicted = np.where(positive > 0.5, "yes", "no")
    return truth, predicted, positive


def test_binary_metrics_equal_scikit_learn(binary_scores: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    truth, predicted, positive = binary_scores
    probabilities = np.column_stack([1 - positive, positive])
    result = evaluate("binary", pd.Series(truth), predicted, probabilities=probabilities, classes=["no", "yes"])
    expected = {
        "accuracy": sk.accuracy_score(truth, predicted),
        "precision": sk.precision_score(truth, predicted, pos_label="yes"),
        "recall": sk.recall_score(truth, predicted, pos_label="yes"),
        "f1": sk.f1_score(truth, predicted, pos_label="yes"),
        "roc_auc": sk.roc_auc_score(truth == "yes", positive),
        "log_loss": sk.log_loss(truth, probabilities, labels=["no", "yes"]),
    }
    assert result.metrics == pytest.approx(expected, rel=1e-12)
    assert result.labels == ["no", "yes"]
    assert result.confusion_matrix == sk.confusion_matrix(truth, predicted, labels=["no", "yes"]).tolist()
    assert result.rows == 200 and result.notes == ()
    # One column (the positive class) means the same as two.
    assert evaluate("binary", truth, predicted, probabilities=positive, classes=["no", "yes"]) == result


def test_the_positive_class_is_the_second_class(binary_scores: tuple[np.ndarray, np.ndarray, np.ndarray]) -> None:
    truth, predicted, _ = binary_scores
    flipped = evaluate("binary", truth, predicted, classes=["yes", "no"])
    assert flipped.metrics["precision"] == pytest.approx(sk.precision_score(truth, predicted, pos_label="no"))
    assert flipped.confusion_matrix == sk.confusion_matrix(truth, predicted, labels=["yes", "no"]).tolist()


def test_roc_auc_is_left_out_when_the_truth_holds_one_class() -> None:
    result = evaluate("binary", [1, 1, 1], [1, 0, 1], probabilities=[0.9, 0.4, 0.8], classes=[0, 1])
    assert "roc_auc" not in result.metrics
    assert any("roc_auc is left out: y_true holds a single class ([1])" in note for note in result.notes)
    assert result.metrics["log_loss"] == pytest.approx(
        sk.log_loss([1, 1, 1], [[0.1, 0.9], [0.6, 0.4], [0.2, 0.8]], labels=[0, 1])
    )
    assert result.metrics["recall"] == pytest.approx(2 / 3)


def test_a_single_class_gives_accuracy_and_a_one_cell_matrix() -> None:
    result = evaluate("binary", ["a", "a"], ["a", "a"])
    assert result.metrics == {"accuracy": 1.0} and result.confusion_matrix == [[2]] and result.labels == ["a"]
    assert "precision, recall and f1 are left out: there is only one class (['a'])." in result.notes


def test_precision_and_recall_without_positives_are_zero_and_noted() -> None:
    result = evaluate("binary", [0, 0, 0], [0, 0, 0], classes=[0, 1])
    assert result.metrics == {"accuracy": 1.0, "precision": 0.0, "recall": 0.0, "f1": 0.0}
    assert result.notes[:2] == (
        "precision is 0 by convention: no row was predicted as the positive class 1.",
        "recall is 0 by convention: no row is truly of the positive class 1.",
    )


def test_without_probabilities_only_label_metrics_are_reported() -> None:
    result = evaluate("binary", [0, 1, 1, 0], [0, 1, 0, 0])
    assert set(result.metrics) == {"accuracy", "precision", "recall", "f1"}
    assert result.notes == ("roc_auc and log_loss are left out: they need probabilities.",)
    assert result.labels == [0, 1]


def test_multiclass_metrics_equal_scikit_learn() -> None:
    rng = np.random.default_rng(1)
    classes = ["cat", "dog", "eel"]
    truth = rng.choice(classes, size=300)
    raw = rng.random((300, 3)) + 1.5 * (truth[:, None] == np.array(classes))
    probabilities = raw / raw.sum(axis=1, keepdims=True)
    predicted = np.array(classes)[probabilities.argmax(axis=1)]
    result = evaluate("multiclass", truth, predicted, probabilities=probabilities, classes=classes)
    expected = {
        "accuracy": sk.accuracy_score(truth, predicted),
        "precision_macro": sk.precision_score(truth, predicted, average="macro"),
        "recall_macro": sk.recall_score(truth, predicted, average="macro"),
        "f1_macro": sk.f1_score(truth, predicted, average="macro"),
        "roc_auc": sk.roc_auc_score(truth, probabilities, multi_class="ovr", average="macro", labels=classes),
        "log_loss": sk.log_loss(truth, probabilities, labels=classes),
    }
    assert result.metrics == pytest.approx(expected, rel=1e-12)


def test_the_confusion_matrix_follows_the_order_of_the_classes() -> None:
    result = evaluate("multiclass", ["a", "b", "c", "c"], ["a", "c", "c", "b"], classes=["c", "a", "b"])
    assert result.labels == ["c", "a", "b"]
    assert result.confusion_matrix == [[1, 0, 1], [0, 1, 0], [1, 0, 0]]


def test_multiclass_roc_auc_averages_the_classes_present_in_the_truth() -> None:
    truth = np.array([0, 0, 1, 1, 0, 1])
    probabilities = np.array(
        [[0.7, 0.2, 0.1], [0.5, 0.3, 0.2], [0.2, 0.6, 0.2], [0.3, 0.4, 0.3], [0.4, 0.5, 0.1], [0.1, 0.1, 0.8]]
    )
    result = evaluate("multiclass", truth, probabilities.argmax(axis=1), probabilities=probabilities, classes=[0, 1, 2])
    per_class = [sk.roc_auc_score(truth == label, probabilities[:, label]) for label in (0, 1)]
    assert result.metrics["roc_auc"] == pytest.approx(np.mean(per_class))
    assert "roc_auc averages the 2 of 3 classes present in y_true." in result.notes


def test_regression_metrics_equal_scikit_learn() -> None:
    rng = np.random.default_rng(2)
    truth = rng.normal(100, 20, 500)
    truth[:7] = 0.0
    predicted = truth + rng.normal(0, 5, 500)
    result = evaluate("regression", pd.Series(truth), pd.Series(predicted))
    nonzero = truth != 0
    assert result.metrics == pytest.approx(
        {
            "rmse": sk.root_mean_squared_error(truth, predicted),
            "mae": sk.mean_absolute_error(truth, predicted),
            "mape": sk.mean_absolute_percentage_error(truth[nonzero], predicted[nonzero]),
            "r2": sk.r2_score(truth, predicted),
        },
        rel=1e-12,
    )
    assert result.notes == ("mape ignores the 7 rows where the true value is 0.",)
    assert result.confusion_matrix is None and result.labels is None


def test_regression_leaves_out_undefined_metrics() -> None:
    zeros = evaluate("regression", [0.0, 0.0, 0.0], [0.0, 1.0, -1.0])
    assert set(zeros.metrics) == {"rmse", "mae"}
    assert zeros.metrics["mae"] == pytest.approx(2 / 3)
    assert any(note.startswith("mape is left out") for note in zeros.notes)
    assert any(note.startswith("r2 is left out") for note in zeros.notes)
    nullable = evaluate("regression", pd.Series([1, 2, 4], dtype="Int64"), pd.Series([1.5, 2.0, 4.0], dtype="Float64"))
    assert nullable.metrics["mae"] == pytest.approx(0.5 / 3)
    single = evaluate("regression", [4.0], [3.0])
    assert single.metrics == {"rmse": 1.0, "mae": 1.0, "mape": 0.25}


def test_evaluation_to_dict_is_plain_json() -> None:
    result = evaluate("binary", np.array([0, 1, 1]), np.array([0, 1, 0]), probabilities=[0.2, 0.7, 0.4])
    data = json.loads(json.dumps(result.to_dict()))
    assert data["labels"] == [0, 1] and data["confusion_matrix"] == [[1, 0], [1, 1]] and data["rows"] == 3


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda: evaluate("binary", [0, 1], [0]), InvalidInput, r"one entry per row of 'y_true' \(2\); got 1"),
        (lambda: evaluate("regression", [], []), InvalidData, "no rows to evaluate"),
        (lambda: evaluate("ranking", [1], [1]), InvalidInput, "'task' must be one of"),  # type: ignore[arg-type]
        (lambda: evaluate("binary", [0, 1], [0, 2], classes=[0, 1]), InvalidData, r"'y_pred' holds labels .*: \[2\]"),
        (lambda: evaluate("binary", [0, 1, 2], [0, 1, 2]), InvalidData, "binary task has two classes; got 3"),
        (lambda: evaluate("binary", ["a", None], ["a", "b"]), InvalidData, "'y_true' labels are missing in 1 of 2"),
        (lambda: evaluate("binary", [0, 1], [0, 1], probabilities=[[0.5, 0.5]]), InvalidInput, r"got shape \(1, 2\)"),
        (lambda: evaluate("binary", [0, 1], [0, 1], probabilities=[[0.5, 0.1], [0.2, 0.8]]), InvalidData, "sum to 1"),
        (lambda: evaluate("binary", [0, 1], [0, 1], probabilities=[1.2, 0.5]), InvalidData, r"lie in \[0, 1\]"),
        (
            lambda: evaluate("binary", pd.Series([0, "a"], dtype=object), pd.Series([0, "a"], dtype=object)),
            InvalidData,
            "cannot be ordered",
        ),
        (lambda: evaluate("regression", [1.0, 2.0], [1.0, np.nan]), InvalidData, "'y_pred' values are missing in 1"),
        (lambda: evaluate("regression", ["x", "y"], [1.0, 2.0]), InvalidData, "regression needs numbers in 'y_true'"),
        (
            lambda: evaluate("regression", pd.Series([1.0, None, 3.0], dtype="Float64"), [1.0, 2.0, 3.0]),
            InvalidData,
            "'y_true' values are missing in 1 of 3 rows",
        ),
    ],
)
def test_evaluate_refuses_bad_input(call: Any, error: type[Exception], message: str) -> None:
    with pytest.raises(error, match=message):
        call()


# ---------------------------------------------------------------- models and slices


@pytest.fixture(scope="module")
def classification() -> tuple[pd.DataFrame, pd.Series]:
    features, target = make_classification(n_samples=300, n_features=5, n_informative=3, random_state=0)
    frame = pd.DataFrame(features, columns=[f"x{index}" for index in range(5)])
    return frame, pd.Series(np.where(target == 1, "churn", "stay"), name="outcome")


def test_evaluate_model_uses_the_model_classes_and_probabilities(
    classification: tuple[pd.DataFrame, pd.Series],
) -> None:
    frame, y = classification
    model = LogisticRegression().fit(frame, y)
    result = evaluate_model(model, frame, y, "binary")
    probabilities = model.predict_proba(frame)
    assert result.labels == ["churn", "stay"]
    assert result.metrics["roc_auc"] == pytest.approx(sk.roc_auc_score(y == "stay", probabilities[:, 1]))
    assert result.metrics["log_loss"] == pytest.approx(sk.log_loss(y, probabilities))
    assert result.metrics["f1"] == pytest.approx(sk.f1_score(y, model.predict(frame), pos_label="stay"))


def test_evaluate_model_without_predict_proba_notes_the_gap(classification: tuple[pd.DataFrame, pd.Series]) -> None:
    frame, y = classification
    result = evaluate_model(RidgeClassifier().fit(frame, y), frame, y, "binary")
    assert "roc_auc" not in result.metrics and result.metrics["accuracy"] > 0.7
    assert result.notes == ("roc_auc and log_loss are left out: they need probabilities.",)


def test_evaluate_model_needs_a_target_per_row(classification: tuple[pd.DataFrame, pd.Series]) -> None:
    frame, y = classification
    with pytest.raises(InvalidInput, match=r"one entry per row of the frame \(300\); got 299"):
        evaluate_model(LogisticRegression().fit(frame, y), frame, y.iloc[1:], "binary")


def test_metrics_by_slice_scores_each_value_and_the_missing_rows(
    classification: tuple[pd.DataFrame, pd.Series],
) -> None:
    frame, y = classification
    model = LogisticRegression().fit(frame, y)
    region = np.array(["north", "south", "east", None], dtype=object)[np.arange(300) % 4]
    region[:5] = "west"
    sliced = frame.assign(region=region)
    model_features = frame.columns.tolist()

    class OnFeatures:
        classes_ = model.classes_

        def predict(self, rows: pd.DataFrame) -> Any:
            return model.predict(rows[model_features])

        def predict_proba(self, rows: pd.DataFrame) -> Any:
            return model.predict_proba(rows[model_features])

    slices = metrics_by_slice(OnFeatures(), sliced, y, "binary", "region", min_rows=10)
    # Largest first (ties by name); "west" (5 rows) is below min_rows.
    assert list(slices) == ["<missing>", "east", "south", "north"]
    assert [slices[name].rows for name in slices] == [74, 74, 74, 73]
    missing_rows = pd.isna(region)
    expected = evaluate_model(model, frame[missing_rows], y[missing_rows], "binary")
    assert slices["<missing>"] == expected
    assert sum(evaluation.rows for evaluation in slices.values()) == 295
    assert all(evaluation.labels == ["churn", "stay"] for evaluation in slices.values())


def test_metrics_by_slice_accepts_predictions_made_earlier() -> None:
    frame = pd.DataFrame({"kind": ["a", "a", "b", "b", "b"]})
    predictions = Predictions(values=np.array([1.0, 2.0, 3.0, 5.0, 5.0]))
    slices = metrics_by_slice(predictions, frame, [1.0, 3.0, 3.0, 4.0, 6.0], "regression", "kind")
    assert slices["a"].metrics["mae"] == pytest.approx(0.5)
    assert slices["b"].metrics["mae"] == pytest.approx(2 / 3)


def test_metrics_by_slice_refuses_bad_columns() -> None:
    frame = pd.DataFrame({"id": range(150), "kind": ["a"] * 150})
    predictions = Predictions(values=np.zeros(150))
    with pytest.raises(InvalidInput, match="slice column 'region' is not a column of the frame; its columns are: 'id'"):
        metrics_by_slice(predictions, frame, np.zeros(150), "regression", "region")
    with pytest.raises(InvalidInput, match="'id' has 150 distinct values, more than 'max_slices' \\(100\\)"):
        metrics_by_slice(predictions, frame, np.zeros(150), "regression", "id")


# ---------------------------------------------------------------- cross-validation


@pytest.fixture(scope="module")
def regression() -> tuple[pd.DataFrame, pd.Series]:
    features, target = make_regression(n_samples=120, n_features=4, noise=10.0, random_state=0)
    return pd.DataFrame(features, columns=["a", "b", "c", "d"]), pd.Series(target, name="price")


def test_random_cross_validation_matches_scikit_learn(regression: tuple[pd.DataFrame, pd.Series]) -> None:
    frame, y = regression
    calls: list[int] = []
    seen: list[tuple[int, Evaluation]] = []

    def make() -> LinearRegression:
        calls.append(1)
        return LinearRegression()

    result = cross_validate(make, frame, y, "regression", folds=4, seed=3, on_fold=lambda i, e: seen.append((i, e)))
    expected = -cross_val_score(
        LinearRegression(), frame, y, cv=KFold(4, shuffle=True, random_state=3), scoring="neg_root_mean_squared_error"
    )
    fold_rmse = [fold.metrics["rmse"] for fold in result.folds]
    assert fold_rmse == pytest.approx(expected.tolist(), rel=1e-10)
    assert len(calls) == 4 and [index for index, _ in seen] == [0, 1, 2, 3]
    assert [evaluation for _, evaluation in seen] == list(result.folds)
    assert result.mean["rmse"] == pytest.approx(np.mean(fold_rmse))
    assert result.std["rmse"] == pytest.approx(np.std(fold_rmse, ddof=1))
    assert result.score == result.mean["rmse"] and result.primary_metric == "rmse"
    assert sum(fold.rows for fold in result.folds) == 120
    json.dumps(result.to_dict())


def test_stratified_cross_validation_matches_scikit_learn(classification: tuple[pd.DataFrame, pd.Series]) -> None:
    frame, y = classification
    result = cross_validate(LogisticRegression, frame, y, "binary", folds=3, split="stratified", seed=1)
    splitter = StratifiedKFold(3, shuffle=True, random_state=1)
    expected = cross_val_score(LogisticRegression(), frame, y, cv=splitter, scoring="accuracy")
    assert [fold.metrics["accuracy"] for fold in result.folds] == pytest.approx(expected.tolist())
    assert result.score == pytest.approx(result.mean["roc_auc"]) and result.primary_metric == "roc_auc"
    assert result.score is not None and result.score > 0.7


class _TimeRecorder:
    """A regressor that predicts the training mean and records which times it saw."""

    log: ClassVar[list[tuple[float, float]]] = []

    def fit(self, features: pd.DataFrame, target: pd.Series) -> _TimeRecorder:
        self.train_last = float(features["t"].max())
        self.mean = float(target.mean())
        return self

    def predict(self, features: pd.DataFrame) -> Any:
        self.log.append((self.train_last, float(features["t"].min())))
        return np.full(len(features), self.mean)


def test_time_cross_validation_trains_on_the_past_only() -> None:
    rng = np.random.default_rng(4)
    times = rng.permutation(60).astype(float)
    frame = pd.DataFrame({"t": times})
    y = pd.Series(times * 2 + rng.normal(0, 1, 60))
    _TimeRecorder.log = []
    result = cross_validate(_TimeRecorder, frame, y, "regression", folds=5, split="time", time_column="t")
    assert len(result.folds) == 5 and all(fold.rows == 10 for fold in result.folds)
    assert _TimeRecorder.log == [(9.0, 10.0), (19.0, 20.0), (29.0, 30.0), (39.0, 40.0), (49.0, 50.0)]


def test_a_fold_missing_a_class_in_training_is_still_scored() -> None:
    # The rare class appears only at the end, so the first time fold trains without it.
    frame = pd.DataFrame({"t": np.arange(40.0), "x": np.arange(40.0) % 7})
    y = pd.Series(["a", "b"] * 17 + ["c"] * 6, name="kind")
    result = cross_validate(
        lambda: _DropTime(LogisticRegression(max_iter=500)),
        frame,
        y,
        "multiclass",
        folds=3,
        split="time",
        time_column="t",
    )
    assert all(fold.labels == ["a", "b", "c"] for fold in result.folds)
    assert all(np.isfinite(fold.metrics["log_loss"]) for fold in result.folds)


class _DropTime:
    def __init__(self, model: Any) -> None:
        self.model = model

    def fit(self, features: pd.DataFrame, target: pd.Series) -> _DropTime:
        self.model.fit(features.drop(columns="t"), target)
        self.classes_ = self.model.classes_
        return self

    def predict(self, features: pd.DataFrame) -> Any:
        return self.model.predict(features.drop(columns="t"))

    def predict_proba(self, features: pd.DataFrame) -> Any:
        return self.model.predict_proba(features.drop(columns="t"))


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"folds": 1}, InvalidInput, re.escape("The 'folds' must be an integer >= 2; got 1.")),
        ({"folds": True}, InvalidInput, "'folds' must be an integer >= 2; got True"),
        ({"split": "grouped"}, InvalidInput, "'split' must be one of 'random', 'stratified', 'time'"),
        ({"split": "time"}, InvalidInput, "time split needs a 'time_column'"),
        ({"split": "time", "time_column": "when"}, InvalidInput, "time column 'when' is not a column"),
    ],
)
def test_cross_validate_refuses_bad_arguments(arguments: dict[str, Any], error: type[Exception], message: str) -> None:
    frame = pd.DataFrame({"x": np.arange(20.0)})
    with pytest.raises(error, match=message):
        cross_validate(LinearRegression, frame, pd.Series(np.arange(20.0)), "regression", **arguments)


def test_cross_validate_needs_two_rows_per_fold() -> None:
    frame = pd.DataFrame({"x": np.arange(7.0)})
    with pytest.raises(InvalidData, match=re.escape("5 folds need at least 10 rows (2 per fold); the dataset has 7.")):
        cross_validate(LinearRegression, frame, pd.Series(np.arange(7.0)), "regression")


def test_stratified_cross_validation_needs_enough_rows_of_each_class() -> None:
    frame = pd.DataFrame({"x": np.arange(20.0)})
    y = pd.Series(["common"] * 17 + ["rare"] * 3, name="kind")
    with pytest.raises(InvalidData, match="at least 5 rows of each class; class 'rare' has 3"):
        cross_validate(LogisticRegression, frame, y, "binary", split="stratified")
    with pytest.raises(InvalidInput, match="stratified split needs a classification task"):
        cross_validate(LinearRegression, frame, pd.Series(np.arange(20.0)), "regression", split="stratified")


def test_cross_validate_checks_the_target() -> None:
    frame = pd.DataFrame({"x": np.arange(20.0)})
    with pytest.raises(InvalidData, match="single value"):
        cross_validate(LinearRegression, frame, pd.Series(np.ones(20), name="y"), "regression")
