"""Model evaluation: the metrics of one set of predictions, of a model, and per slice of the data.

Classification metrics follow scikit-learn's definitions (the tests compare them with ``sklearn.metrics``);
where a metric is undefined for the data at hand (ROC AUC when the truth holds a single class, R² on a constant
truth) it is left out and :attr:`Evaluation.notes` says why, rather than reporting a made-up number.
Cross-validation, which scores each fold with :func:`evaluate`, is in :mod:`driftloop.training._cross_validation`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import numpy as np
import numpy.typing as npt
import pandas as pd

from driftloop.errors import InvalidData, InvalidInput
from driftloop.training._tasks import CLASSIFICATION_TASKS, Task, validate_task

__all__ = [
    "Estimator",
    "Evaluation",
    "Predictions",
    "Predictor",
    "check_same_rows",
    "evaluate",
    "evaluate_model",
    "metrics_by_slice",
    "predict",
    "sorted_labels",
]

MISSING_SLICE: Final = "<missing>"
"""The name of the slice holding the rows whose slicing column is missing."""

# Probabilities from float32 models (LightGBM, ONNX) sum to 1 only to about 1e-7; anything further off is
# not a probability distribution.
_PROBABILITY_TOLERANCE: Final = 1e-4

Values = pd.Series | npt.NDArray[Any] | Sequence[Any]
"""Labels, numbers or predictions: a Series, an array or a list, one entry per row."""


class Predictor(Protocol):
    """Anything with scikit-learn's ``predict``; ``predict_proba`` and ``classes_`` are used when present."""

    def predict(self, features: Any, /) -> Any: ...


class Estimator(Predictor, Protocol):
    """A predictor that learns with scikit-learn's ``fit(features, target)``."""

    def fit(self, features: Any, target: Any, /) -> Any: ...


@dataclass(frozen=True, slots=True)
class Evaluation:
    """The metrics of one set of predictions against the truth.

    Attributes:
        metrics: metric name to value (see :data:`~driftloop.training._tasks.TASK_METRICS`).
        confusion_matrix: counts, ``[true label][predicted label]`` in the order of ``labels``
            (classification only).
        labels: the class labels, in the order of the confusion matrix and the probability columns.
        rows: how many rows were scored.
        notes: why a metric is missing or was computed on fewer rows.
    """

    metrics: dict[str, float]
    confusion_matrix: list[list[int]] | None
    labels: list[Any] | None
    rows: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "metrics": dict(self.metrics),
            "confusion_matrix": self.confusion_matrix,
            "labels": self.labels,
            "rows": self.rows,
            "notes": list(self.notes),
        }


@dataclass(frozen=True, slots=True)
class Predictions:
    """What a model said about some rows: predicted values, and for classifiers the class probabilities."""

    values: npt.NDArray[Any]
    probabilities: npt.NDArray[np.float64] | None = None
    classes: list[Any] | None = None


def evaluate(
    task: Task,
    y_true: Values,
    y_pred: Values,
    *,
    probabilities: npt.ArrayLike | None = None,
    classes: Sequence[Any] | npt.NDArray[Any] | None = None,
) -> Evaluation:
    """Score predictions against the truth.

    Args:
        task: ``binary``, ``multiclass`` or ``regression``.
        y_true: the true labels or values.
        y_pred: the predicted labels or values, one per row of ``y_true``.
        probabilities: for classification, one column per class in the order of ``classes`` (a binary task
            also accepts one column: the probability of ``classes[1]``). ROC AUC and log loss need them.
        classes: the class labels in the model's order (``model.classes_``); by default the sorted labels
            seen in ``y_true`` and ``y_pred``. In a binary task ``classes[1]`` is the positive class.

    Binary precision, recall and F1 are those of the positive class; multiclass ones are macro averages over
    the labels present in ``y_true`` or ``y_pred`` (as scikit-learn computes them), reported as
    ``precision_macro``, ``recall_macro`` and ``f1_macro``. Multiclass ROC AUC is one-vs-rest, averaged over
    the classes present in ``y_true``. Regression reports ``rmse``, ``mae``, ``mape`` (a fraction, not a
    percentage, over the rows whose true value is not 0) and ``r2``.

    >>> result = evaluate("regression", [3.0, 5.0, 0.0], [2.0, 5.0, 1.0])
    >>> result.metrics["mae"], result.metrics["mape"]
    (0.6666666666666666, 0.16666666666666666)
    >>> result.notes
    ('mape ignores the 1 row where the true value is 0.',)
    """
    task = validate_task(task)
    truth, predicted = _as_array(y_true, "y_true"), _as_array(y_pred, "y_pred")
    if len(truth) != len(predicted):
        raise InvalidInput(
            f"The 'y_pred' must have one entry per row of 'y_true' ({len(truth)}); got {len(predicted)}."
        )
    if len(truth) == 0:
        raise InvalidData("There are no rows to evaluate (y_true is empty).")
    if task == "regression":
        return _evaluate_regression(truth, predicted)
    return _evaluate_classification(task, truth, predicted, probabilities, classes)


def predict(model: Predictor, frame: pd.DataFrame, task: Task) -> Predictions:
    """Ask ``model`` for its predictions on ``frame`` and, for a classifier that has them, its probabilities."""
    values = np.asarray(model.predict(frame))
    if validate_task(task) not in CLASSIFICATION_TASKS:
        return Predictions(values=values)
    model_classes = getattr(model, "classes_", None)
    classes = None if model_classes is None else list(np.asarray(model_classes).tolist())
    # hasattr, not a try: scikit-learn hides predict_proba (AttributeError) on models that cannot give it.
    if classes is None or not hasattr(model, "predict_proba"):
        return Predictions(values=values, classes=classes)
    probabilities = np.asarray(model.predict_proba(frame), dtype=np.float64)
    return Predictions(values=values, probabilities=probabilities, classes=classes)


def evaluate_model(model: Predictor, frame: pd.DataFrame, y: Values, task: Task) -> Evaluation:
    """Score ``model`` on ``frame`` against the truth ``y`` (classes from ``model.classes_``)."""
    check_same_rows(frame, y)
    predictions = predict(model, frame, task)
    return evaluate(task, y, predictions.values, probabilities=predictions.probabilities, classes=predictions.classes)


def metrics_by_slice(
    source: Predictor | Predictions,
    frame: pd.DataFrame,
    y: Values,
    task: Task,
    column: str,
    *,
    min_rows: int = 1,
    max_slices: int = 100,
) -> dict[str, Evaluation]:
    """Evaluate separately on each value of ``column``: where is the model weaker?

    Args:
        source: a model (asked to predict ``frame``) or the :class:`Predictions` already made for its rows.
        frame: the rows, with ``column`` among its columns.
        y: the truth, one entry per row of ``frame``.
        task: the task.
        column: a categorical column; rows where it is missing form the slice ``"<missing>"``. Bin a
            numeric column first.
        min_rows: slices with fewer rows are left out.
        max_slices: more distinct values than this is a mistake (an id or a number), refused.

    Returns:
        Slice name (the value as text) to its evaluation, largest slice first. Every slice uses the same
        class list, so confusion matrices line up.
    """
    task = validate_task(task)
    if column not in frame.columns:
        shown = ", ".join(repr(str(name)) for name in list(frame.columns)[:20])
        raise InvalidInput(f"The slice column {column!r} is not a column of the frame; its columns are: {shown}.")
    if isinstance(min_rows, bool) or not isinstance(min_rows, int) or min_rows < 1:
        raise InvalidInput(f"The 'min_rows' must be an integer >= 1; got {min_rows!r}.")
    check_same_rows(frame, y)
    predictions = source if isinstance(source, Predictions) else predict(source, frame, task)
    if len(predictions.values) != len(frame):
        raise InvalidInput(f"The predictions have {len(predictions.values)} rows; the frame has {len(frame)}.")
    keys = frame[column].astype(object).where(frame[column].notna(), MISSING_SLICE).map(str).to_numpy()
    names, counts = np.unique(keys, return_counts=True)
    if len(names) > max_slices:
        raise InvalidInput(
            f"The slice column {column!r} has {len(names)} distinct values, more than 'max_slices' ({max_slices}); "
            "slice by a categorical column or bin this one first."
        )
    truth = _as_array(y, "y")
    classes = predictions.classes
    if task in CLASSIFICATION_TASKS and classes is None:
        classes = sorted_labels(truth, predictions.values)
    result: dict[str, Evaluation] = {}
    for position in np.argsort(-counts, kind="stable"):
        if counts[position] < min_rows:
            continue
        rows = keys == names[position]
        probabilities = None if predictions.probabilities is None else predictions.probabilities[rows]
        result[str(names[position])] = evaluate(
            task, truth[rows], predictions.values[rows], probabilities=probabilities, classes=classes
        )
    return result


def check_same_rows(frame: pd.DataFrame, y: Values) -> None:
    """Refuse a target that does not have one entry per row of ``frame``."""
    if len(frame) != len(y):
        raise InvalidInput(f"The target must have one entry per row of the frame ({len(frame)}); got {len(y)}.")


def sorted_labels(*arrays: npt.NDArray[Any]) -> list[Any]:
    """The distinct labels found in ``arrays``, sorted: the default class order of a classifier's metrics."""
    combined = pd.unique(np.concatenate([np.asarray(values, dtype=object) for values in arrays]))
    try:
        return sorted(_plain(label) for label in combined)
    except TypeError:
        raise InvalidData(
            f"The labels mix types that cannot be ordered ({_shown(combined)}); give 'classes' explicitly "
            "or make y_true and y_pred hold labels of one type."
        ) from None


def _evaluate_regression(truth: npt.NDArray[Any], predicted: npt.NDArray[Any]) -> Evaluation:
    from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

    actual, estimate = _as_numbers(truth, "y_true"), _as_numbers(predicted, "y_pred")
    notes: list[str] = []
    metrics = {
        "rmse": math.sqrt(float(mean_squared_error(actual, estimate))),
        "mae": float(mean_absolute_error(actual, estimate)),
    }
    nonzero = actual != 0
    zeros = int((~nonzero).sum())
    if zeros == len(actual):
        notes.append("mape is left out: the true value is 0 in every row.")
    else:
        metrics["mape"] = float(np.mean(np.abs((actual[nonzero] - estimate[nonzero]) / actual[nonzero])))
        if zeros:
            notes.append(f"mape ignores the {zeros} row{'s' if zeros > 1 else ''} where the true value is 0.")
    if len(actual) < 2 or np.all(actual == actual[0]):
        notes.append("r2 is left out: it is undefined when the true values are all equal (or a single row).")
    else:
        metrics["r2"] = float(r2_score(actual, estimate))
    return Evaluation(metrics=metrics, confusion_matrix=None, labels=None, rows=len(actual), notes=tuple(notes))


def _evaluate_classification(
    task: Task,
    truth: npt.NDArray[Any],
    predicted: npt.NDArray[Any],
    probabilities: npt.ArrayLike | None,
    classes: Sequence[Any] | npt.NDArray[Any] | None,
) -> Evaluation:
    from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score

    for values, role in ((truth, "y_true"), (predicted, "y_pred")):
        missing = int(pd.isna(values).sum())
        if missing:
            raise InvalidData(f"The '{role}' labels are missing in {missing} of {len(values)} rows.")
    labels = sorted_labels(truth, predicted) if classes is None else list(np.asarray(classes).tolist())
    if len(set(labels)) != len(labels):
        raise InvalidInput(f"The 'classes' must be distinct; got {labels!r}.")
    if task == "binary" and len(labels) > 2:
        raise InvalidData(f"A binary task has two classes; got {len(labels)}: {_shown(labels)}. Use 'multiclass'.")
    for values, role in ((truth, "y_true"), (predicted, "y_pred")):
        unknown = pd.unique(values[~pd.Series(values).isin(labels).to_numpy()])
        if len(unknown):
            raise InvalidData(
                f"The '{role}' holds labels that are not among the classes {_shown(labels)}: {_shown(unknown)}."
            )
    notes: list[str] = []
    metrics = {"accuracy": float(accuracy_score(truth, predicted))}
    if task == "binary" and len(labels) == 2:
        positive = labels[1]
        metrics["precision"] = float(precision_score(truth, predicted, pos_label=positive, zero_division=0.0))
        metrics["recall"] = float(recall_score(truth, predicted, pos_label=positive, zero_division=0.0))
        metrics["f1"] = float(f1_score(truth, predicted, pos_label=positive, zero_division=0.0))
        if not np.any(predicted == positive):
            notes.append(f"precision is 0 by convention: no row was predicted as the positive class {positive!r}.")
        if not np.any(truth == positive):
            notes.append(f"recall is 0 by convention: no row is truly of the positive class {positive!r}.")
    elif task == "binary":
        notes.append(f"precision, recall and f1 are left out: there is only one class ({_shown(labels)}).")
    else:
        metrics["precision_macro"] = float(precision_score(truth, predicted, average="macro", zero_division=0.0))
        metrics["recall_macro"] = float(recall_score(truth, predicted, average="macro", zero_division=0.0))
        metrics["f1_macro"] = float(f1_score(truth, predicted, average="macro", zero_division=0.0))
    if probabilities is None:
        notes.append("roc_auc and log_loss are left out: they need probabilities.")
    elif len(labels) < 2:
        notes.append("roc_auc and log_loss are left out: they need two classes or more.")
    else:
        matrix = _probability_matrix(probabilities, len(truth), labels)
        metrics.update(_probability_metrics(truth, matrix, labels, notes))
    return Evaluation(
        metrics=metrics,
        confusion_matrix=_confusion_matrix(truth, predicted, labels),
        labels=labels,
        rows=len(truth),
        notes=tuple(notes),
    )


def _confusion_matrix(truth: npt.NDArray[Any], predicted: npt.NDArray[Any], labels: list[Any]) -> list[list[int]]:
    # Counted here rather than by sklearn's confusion_matrix, which warns whenever a single label is present.
    index = pd.Index(labels)
    counts = np.zeros((len(labels), len(labels)), dtype=np.int64)
    np.add.at(counts, (index.get_indexer(truth), index.get_indexer(predicted)), 1)
    return [[int(count) for count in row] for row in counts]


def _probability_metrics(
    truth: npt.NDArray[Any], matrix: npt.NDArray[np.float64], labels: list[Any], notes: list[str]
) -> dict[str, float]:
    from sklearn.metrics import log_loss, roc_auc_score

    metrics: dict[str, float] = {}
    present = [position for position, label in enumerate(labels) if np.any(truth == label)]
    if len(present) < 2:
        notes.append(f"roc_auc is left out: y_true holds a single class ({_shown(truth[:1])}).")
    elif len(labels) == 2:
        metrics["roc_auc"] = float(roc_auc_score(truth == labels[1], matrix[:, 1]))
    else:
        # One-vs-rest by hand rather than roc_auc_score(multi_class="ovr"), which refuses outright when a class
        # is absent from y_true; with every class present the two agree.
        metrics["roc_auc"] = float(np.mean([roc_auc_score(truth == labels[p], matrix[:, p]) for p in present]))
        if len(present) < len(labels):
            notes.append(f"roc_auc averages the {len(present)} of {len(labels)} classes present in y_true.")
    metrics["log_loss"] = float(log_loss(truth, matrix, labels=labels))
    return metrics


def _probability_matrix(probabilities: npt.ArrayLike, rows: int, labels: list[Any]) -> npt.NDArray[np.float64]:
    try:
        matrix = np.asarray(probabilities, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidData(f"The 'probabilities' must be numbers; {error}.") from None
    if matrix.ndim == 1 and len(labels) == 2:
        matrix = np.column_stack([1.0 - matrix, matrix])
    if matrix.ndim != 2 or matrix.shape != (rows, len(labels)):
        raise InvalidInput(
            f"The 'probabilities' must have {rows} rows and one column per class ({len(labels)}: {_shown(labels)}); "
            f"got shape {matrix.shape}."
        )
    if not np.all(np.isfinite(matrix)) or matrix.min() < 0 or matrix.max() > 1:
        raise InvalidData("The 'probabilities' must lie in [0, 1]; some are outside or missing.")
    sums = matrix.sum(axis=1)
    off = np.flatnonzero(np.abs(sums - 1) > _PROBABILITY_TOLERANCE)
    if len(off):
        raise InvalidData(
            f"Each row of 'probabilities' must sum to 1; {len(off)} rows do not (row {int(off[0])} sums to "
            f"{float(sums[off[0]]):.6g})."
        )
    normalised: npt.NDArray[np.float64] = matrix / sums[:, np.newaxis]
    return normalised


def _as_array(values: Values, role: str) -> npt.NDArray[Any]:
    array = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if array.ndim != 1:
        raise InvalidInput(f"The '{role}' must be one-dimensional; got shape {array.shape}.")
    return array


def _as_numbers(values: npt.NDArray[Any], role: str) -> npt.NDArray[np.float64]:
    if values.dtype == object:
        # Nullable pandas columns arrive as objects holding pd.NA, which float() refuses; NA is missing, not text.
        values = np.where(pd.isna(values), np.nan, values)
    try:
        numbers = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InvalidData(f"A regression needs numbers in '{role}'; got {_shown(values[:3])}.") from None
    missing = int(np.isnan(numbers).sum())
    if missing:
        raise InvalidData(f"The '{role}' values are missing in {missing} of {len(numbers)} rows.")
    if not np.all(np.isfinite(numbers)):
        raise InvalidData(f"The '{role}' values must be finite; some are infinite.")
    return numbers


def _shown(values: Sequence[Any] | npt.NDArray[Any], limit: int = 5) -> str:
    items = [repr(_plain(value)) for value in list(values)[:limit]]
    more = f" (and {len(values) - limit} more)" if len(values) > limit else ""
    return "[" + ", ".join(items) + "]" + more


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
