"""Window performance: the task's metrics on a window of labelled predictions, against validation.

Classification: ``accuracy``, ``f1`` (macro over the classes present) and ``roc_auc`` (when scores
are given: the positive-class probability, or one column per class, one-vs-rest macro).
Regression: ``mae``, ``rmse``, ``mape`` (a fraction, over the rows whose true value is not 0, as the training
package computes it), ``r2``. All but ``mape`` from scikit-learn.

A metric is *degraded* when it moved the wrong way by more than its tolerance, relative to the
validation value: ``current < reference - tolerance * |reference|`` for metrics where higher is
better, ``current > reference + tolerance * |reference|`` for errors (mae, rmse, mape). The default
tolerance, 10%, is the usual "alert when the model is a tenth worse than at validation"; pass
``tolerances={"mae": 0.25}`` to change one metric. A metric undefined on the window (``r2`` on
one row, ``roc_auc`` with one class) has ``current=None`` and ``degraded=None``, never a silent
"fine".

>>> check = check_window_performance([3.0, 5.0, 7.0], [3.5, 5.0, 8.0], task="regression",
...                                  validation={"mae": 0.4})
>>> check.metrics[0].name, round(check.metrics[0].current, 3), check.degraded
('mae', 0.5, True)
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt
from sklearn import metrics as sk_metrics
from sklearn.utils.multiclass import type_of_target

from driftloop.errors import InvalidInput

__all__ = [
    "CLASSIFICATION_METRICS",
    "REGRESSION_METRICS",
    "MetricCheck",
    "PerformanceCheck",
    "check_window_performance",
    "window_metrics",
]

Task = Literal["classification", "binary", "multiclass", "regression"]
"""The task of the model: ``classification``, or the training package's names ``binary`` and ``multiclass`` for
it, or ``regression``."""

CLASSIFICATION_METRICS: Final = ("accuracy", "f1", "roc_auc")
REGRESSION_METRICS: Final = ("mae", "rmse", "mape", "r2")
_LOWER_IS_BETTER: Final = frozenset({"mae", "rmse", "mape"})
DEFAULT_TOLERANCE: Final = 0.10


@dataclass(frozen=True)
class MetricCheck:
    """One metric on the window against its validation value."""

    name: str
    current: float | None
    reference: float
    tolerance: float
    higher_is_better: bool
    degraded: bool | None

    @property
    def change(self) -> float | None:
        """``current - reference`` (None when the metric is undefined on the window)."""
        return None if self.current is None else self.current - self.reference

    @property
    def relative_change(self) -> float | None:
        """``change / |reference|`` (None when undefined or the reference is 0)."""
        change = self.change
        return None if change is None or self.reference == 0 else change / abs(self.reference)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "current": _json_float(self.current),
            "reference": _json_float(self.reference),
            "change": _json_float(self.change),
            "relative_change": _json_float(self.relative_change),
            "tolerance": self.tolerance,
            "higher_is_better": self.higher_is_better,
            "degraded": self.degraded,
        }


@dataclass(frozen=True)
class PerformanceCheck:
    """The window's metrics against validation; ``degraded`` is True when any metric is."""

    task: Task
    n_rows: int
    metrics: tuple[MetricCheck, ...]

    @property
    def degraded(self) -> bool:
        return any(metric.degraded for metric in self.metrics)

    @property
    def undetermined(self) -> tuple[str, ...]:
        """Names of the metrics undefined on this window."""
        return tuple(metric.name for metric in self.metrics if metric.degraded is None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "n_rows": self.n_rows,
            "degraded": self.degraded,
            "undetermined": list(self.undetermined),
            "metrics": [metric.to_dict() for metric in self.metrics],
        }


def window_metrics(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    task: Task,
    y_score: npt.ArrayLike | None = None,
) -> dict[str, float | None]:
    """The task's metrics on one window; None for a metric undefined on it."""
    task = _family(task)
    truth, predicted, scores = _validate(y_true, y_pred, task, y_score)
    # scikit-learn warns (and returns nan) on undefined metrics; pytest runs with warnings as errors.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if task == "regression":
            result: dict[str, float | None] = {
                "mae": float(sk_metrics.mean_absolute_error(truth, predicted)),
                "rmse": float(np.sqrt(sk_metrics.mean_squared_error(truth, predicted))),
                "mape": _mape(np.asarray(truth, dtype=np.float64), np.asarray(predicted, dtype=np.float64)),
                "r2": float(sk_metrics.r2_score(truth, predicted)) if len(truth) > 1 else None,
            }
        else:
            result = {
                "accuracy": float(sk_metrics.accuracy_score(truth, predicted)),
                "f1": float(sk_metrics.f1_score(truth, predicted, average="macro")),
            }
            if scores is not None:
                result["roc_auc"] = _roc_auc(truth, scores)
    return {name: _json_float(value) for name, value in result.items()}


def check_window_performance(
    y_true: npt.ArrayLike,
    y_pred: npt.ArrayLike,
    *,
    task: Task,
    validation: Mapping[str, float],
    y_score: npt.ArrayLike | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    tolerances: Mapping[str, float] | None = None,
) -> PerformanceCheck:
    """Compare the window's metrics with ``validation`` (the same metric names, as recorded then).

    Only the metrics named in ``validation`` are checked; each must be one of the task's metrics.
    """
    task = _family(task)
    known = REGRESSION_METRICS if task == "regression" else CLASSIFICATION_METRICS
    if not validation:
        raise InvalidInput(f"No validation metrics to compare with; expected some of {', '.join(known)}.")
    unknown = sorted(set(validation) - set(known))
    if unknown:
        raise InvalidInput(f"Unknown {task} metric(s) {unknown} in validation; expected some of {', '.join(known)}.")
    per_metric = {**dict.fromkeys(validation, tolerance), **(tolerances or {})}
    for name, value in [*per_metric.items(), *validation.items()]:
        if not (isinstance(value, int | float) and math.isfinite(value)):
            raise InvalidInput(f"The validation value and tolerance of {name!r} must be finite numbers; got {value!r}.")
    if any(value < 0 for value in per_metric.values()):
        raise InvalidInput(f"Tolerances must be >= 0; got {dict(per_metric)}.")
    if "roc_auc" in validation and y_score is None:
        raise InvalidInput("Validation has 'roc_auc' but no y_score (predicted probabilities) was given.")
    current = window_metrics(y_true, y_pred, task=task, y_score=y_score)
    checks = []
    for name, reference in validation.items():
        higher_is_better = name not in _LOWER_IS_BETTER
        observed, allowed = current[name], per_metric[name] * abs(reference)
        degraded: bool | None = None
        if observed is not None:
            degraded = observed < reference - allowed if higher_is_better else observed > reference + allowed
        checks.append(MetricCheck(name, observed, float(reference), per_metric[name], higher_is_better, degraded))
    return PerformanceCheck(task=task, n_rows=len(np.asarray(y_true)), metrics=tuple(checks))


def _family(task: object) -> Task:
    """``classification`` or ``regression``: the training package's ``binary`` and ``multiclass`` classify."""
    if task in ("classification", "binary", "multiclass"):
        return "classification"
    if task == "regression":
        return "regression"
    raise InvalidInput(f"The task must be 'classification' (or 'binary', 'multiclass') or 'regression'; got {task!r}.")


def _validate(
    y_true: npt.ArrayLike, y_pred: npt.ArrayLike, task: str, y_score: npt.ArrayLike | None
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    truth, predicted = np.asarray(y_true), np.asarray(y_pred)
    if truth.ndim != 1 or predicted.ndim != 1:
        raise InvalidInput(f"y_true and y_pred must be flat; got shapes {truth.shape} and {predicted.shape}.")
    if len(truth) == 0:
        raise InvalidInput("The window is empty: no labelled predictions to score.")
    if len(truth) != len(predicted):
        raise InvalidInput(f"y_true has {len(truth)} labels but y_pred has {len(predicted)} predictions.")
    for label, values in (("y_true", truth), ("y_pred", predicted)):
        if task == "regression" and not np.issubdtype(values.dtype, np.number):
            raise InvalidInput(f"Regression needs numeric {label}; got values of type {values.dtype}.")
        if np.issubdtype(values.dtype, np.number):
            bad = np.flatnonzero(~np.isfinite(values.astype(np.float64)))
            if bad.size:
                raise InvalidInput(f"{label} has a missing or infinite value at position {int(bad[0])}.")
        elif any(value is None for value in values.tolist()):
            raise InvalidInput(f"{label} has a missing value at position {values.tolist().index(None)}.")
    if task == "classification":
        kind = type_of_target(truth)
        if kind not in ("binary", "multiclass"):
            raise InvalidInput(
                f"Classification needs class labels in y_true; got {kind} values (is this a regression target?)."
            )
    scores = None
    if y_score is not None:
        scores = np.asarray(y_score, dtype=np.float64)
        if scores.shape[0] != len(truth) or scores.ndim not in (1, 2):
            raise InvalidInput(f"y_score must have one row per label ({len(truth)}); got shape {scores.shape}.")
        if not np.isfinite(scores).all():
            raise InvalidInput("y_score has a missing or infinite value.")
    return truth, predicted, scores


def _roc_auc(truth: np.ndarray[Any, Any], scores: np.ndarray[Any, Any]) -> float | None:
    if len(np.unique(truth)) < 2:  # undefined with a single class in the window
        return None
    if scores.ndim == 2 and scores.shape[1] == 2:
        scores = scores[:, 1]
    try:
        if scores.ndim == 1:
            return float(sk_metrics.roc_auc_score(truth, scores))
        return float(sk_metrics.roc_auc_score(truth, scores, multi_class="ovr", average="macro"))
    except ValueError:  # a class absent from the window, scores not matching the classes
        return None


def _json_float(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


def _mape(truth: npt.NDArray[np.float64], predicted: npt.NDArray[np.float64]) -> float | None:
    """Mean absolute percentage error as a fraction, over the rows whose true value is not 0 (None if none)."""
    nonzero = truth != 0
    if not nonzero.any():
        return None
    return float(np.mean(np.abs((truth[nonzero] - predicted[nonzero]) / truth[nonzero])))
