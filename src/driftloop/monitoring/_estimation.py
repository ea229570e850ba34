"""Performance estimated before labels arrive, so a model's decay shows before its labels do.

:class:`PerformanceEstimator` is fitted once on labelled *reference* data (rows the model did not train on,
with its predictions and, for classifiers, its scores) and then estimates the performance of any window of
unlabelled *current* rows:

* classifiers (``binary``, ``multiclass`` one-vs-rest): confidence-based performance estimation (CBPE) from
  scores calibrated on the reference; see :mod:`driftloop.monitoring._estimation_classification`;
* regressors: direct loss estimation (DLE), loss models trained on the reference; see
  :mod:`driftloop.monitoring._estimation_regression`.

**Assumptions.** Both methods read performance off the inputs and the model's own outputs, so they assume that
only the inputs moved (covariate shift): ``P(y | x)`` is the same in the current window as in the reference,
and the shifted inputs stay in a region the reference covers. They **cannot see concept drift on their own**:
when the relation between features and target changes but the inputs do not, the estimate stays where it was
while the real performance falls. Pair them with the concept-drift checks that read labels when they arrive.
A CBPE estimate is also only as good as the calibration on the reference (``calibration_error_`` reports it).

>>> import numpy as np
>>> generator = np.random.default_rng(0)
>>> x = generator.normal(size=(2000, 1))
>>> y = 2.0 * x[:, 0] + generator.normal(scale=0.5, size=2000)
>>> estimator = PerformanceEstimator().fit(x, 2.0 * x[:, 0], y, task="regression")
>>> estimate = estimator.estimate(x[:500], 2.0 * x[:500, 0])
>>> estimate.task, estimate.rows, round(estimate.metrics["mae"], 1)
('regression', 500, 0.4)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Final

from driftloop.errors import InvalidInput, InvalidState
from driftloop.monitoring._estimation_classification import (
    METRIC_NAMES as CLASSIFICATION_METRICS,
)
from driftloop.monitoring._estimation_classification import (
    CalibrationMethod,
    ClassificationEstimator,
)
from driftloop.monitoring._estimation_inputs import as_features, as_scores, as_vector, check_length
from driftloop.monitoring._estimation_regression import METRIC_NAMES as REGRESSION_METRICS
from driftloop.monitoring._estimation_regression import RegressionEstimator
from driftloop.training._tasks import Task, validate_task

__all__ = ["FEW_ROWS", "PerformanceEstimate", "PerformanceEstimator"]

FEW_ROWS: Final = 30
"""Below this many rows an estimate carries a note that its band is wide."""
_CALIBRATIONS: Final = ("auto", "isotonic", "sigmoid")


@dataclass(frozen=True)
class PerformanceEstimate:
    """The estimated performance of one window of unlabelled rows.

    ``metrics`` maps each metric name to its estimate (None when it cannot be estimated, for an empty window);
    ``bands`` maps it to the central ``confidence`` interval of the value the labels are expected to reveal
    (sampling only; see the module notes), or None.

    >>> PerformanceEstimate(task="binary", rows=0, metrics={"accuracy": None}).to_dict()["metrics"]
    {'accuracy': None}
    """

    task: Task
    rows: int
    metrics: dict[str, float | None]
    bands: dict[str, tuple[float, float] | None] = field(default_factory=dict)
    confidence: float = 0.95
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: NaN and infinities become None."""
        return {
            "task": self.task,
            "rows": self.rows,
            "metrics": {name: _json_number(value) for name, value in self.metrics.items()},
            "bands": {
                name: None if band is None else [_json_number(band[0]), _json_number(band[1])]
                for name, band in self.bands.items()
            },
            "confidence": self.confidence,
            "notes": list(self.notes),
        }


class PerformanceEstimator:
    """Estimates a model's performance on unlabelled windows; fitted on labelled reference data.

    Args:
        calibration: how classifier scores are calibrated: ``"auto"`` (default: isotonic from 1 000 reference
            rows, Platt scaling below, as isotonic regression overfits small samples), ``"isotonic"`` or
            ``"sigmoid"`` (Platt). Ignored for regressors.
        confidence: the coverage of each band, in (0, 1); 0.95 by default, the usual two-sided 95% interval.
        random_state: seeds the cross-fitting folds, the band draws and the loss models, so an estimate is
            reproducible.

    After :meth:`fit`: ``task_``, ``reference_rows_``, and for classifiers ``classes_``,
    ``calibration_method_`` (``"identity"`` when the raw probabilities were already as well calibrated) and
    ``calibration_error_`` (cross-fitted expected calibration error on the reference, raw and calibrated).
    """

    def __init__(self, *, calibration: CalibrationMethod = "auto", confidence: float = 0.95, random_state: int = 0):
        self.calibration = calibration
        self.confidence = confidence
        self.random_state = random_state

    def fit(
        self,
        reference_features: Any,
        reference_predictions: Any,
        reference_labels: Any,
        *,
        task: Task,
        scores: Any = None,
    ) -> PerformanceEstimator:
        """Learn from labelled reference rows the model did not train on.

        ``reference_features`` is a pandas or polars frame or a 2-D array (or None: classifiers only read
        scores, and a regressor's loss models then read its prediction alone); ``reference_predictions`` and
        ``reference_labels`` are 1-D. ``scores`` is required for classifiers: for ``binary`` the probability
        (or any score) of the positive class, the larger label as scikit-learn orders ``classes_``, or the two
        columns of ``predict_proba``; for ``multiclass`` a column per class, in sorted class order or a frame
        whose column names are the classes.
        """
        task = validate_task(task)
        if self.calibration not in _CALIBRATIONS:
            allowed = ", ".join(_CALIBRATIONS)
            raise InvalidInput(f"The 'calibration' must be one of {allowed}; got {self.calibration!r}.")
        if not (isinstance(self.confidence, float | int) and 0.0 < self.confidence < 1.0):
            raise InvalidInput(f"The 'confidence' must be a number in (0, 1); got {self.confidence!r}.")
        predictions = as_vector(reference_predictions, "reference predictions")
        labels = as_vector(reference_labels, "reference labels")
        check_length(len(labels), len(predictions), "reference predictions", "reference labels")
        features = None if reference_features is None else as_features(reference_features, "reference features")
        if features is not None:
            check_length(len(labels), len(features), "reference features", "reference labels")
        if task == "regression":
            regression = RegressionEstimator(confidence=float(self.confidence), random_state=self.random_state)
            regression.fit(features, predictions, labels)
            self._method: ClassificationEstimator | RegressionEstimator = regression
        else:
            if scores is None:
                raise InvalidInput(f"A {task} classifier needs its 'scores' (predicted probabilities) to be estimated.")
            score_array, names = as_scores(scores, "reference scores")
            check_length(len(labels), len(score_array), "reference scores", "reference labels")
            classification = ClassificationEstimator(
                task=task,
                calibration=self.calibration,
                confidence=float(self.confidence),
                random_state=self.random_state,
            )
            classification.fit(predictions, labels, score_array, names)
            self.classes_ = classification.classes_
            self.calibration_method_ = classification.calibration_method_
            self.calibration_error_ = classification.calibration_error_
            self._method = classification
        self.task_: Task = task
        self.reference_rows_ = len(labels)
        return self

    def estimate(self, current_features: Any, current_predictions: Any, scores: Any = None) -> PerformanceEstimate:
        """The estimated performance of a window of unlabelled rows (features, predictions, scores as in :meth:`fit`).

        An empty window gives None for every metric; a window of fewer than :data:`FEW_ROWS` rows an estimate
        whose note says its band is wide.
        """
        if not hasattr(self, "_method"):
            raise InvalidState("The PerformanceEstimator is not fitted; call fit() on reference data first.")
        predictions = as_vector(current_predictions, "current predictions")
        rows = len(predictions)
        features = None if current_features is None else as_features(current_features, "current features")
        if features is not None:
            check_length(rows, len(features), "current features", "current predictions")
        if rows == 0:
            names_of_task = REGRESSION_METRICS if self.task_ == "regression" else CLASSIFICATION_METRICS[self.task_]
            return PerformanceEstimate(
                task=self.task_,
                rows=0,
                metrics=dict.fromkeys(names_of_task),
                bands=dict.fromkeys(names_of_task),
                confidence=float(self.confidence),
                notes=("The window is empty: there is nothing to estimate.",),
            )
        if isinstance(self._method, RegressionEstimator):
            result = self._method.estimate(features, predictions)
        else:
            if scores is None:
                raise InvalidInput("A classifier's window needs its 'scores' (predicted probabilities).")
            score_array, names = as_scores(scores, "current scores")
            check_length(rows, len(score_array), "current scores", "current predictions")
            result = self._method.estimate(predictions, score_array, names)
        notes = list(result["notes"])
        if rows < FEW_ROWS:
            notes.append(f"Only {rows} row(s), fewer than {FEW_ROWS}: the estimate is uncertain; see its band.")
        return PerformanceEstimate(
            task=self.task_,
            rows=rows,
            metrics=result["metrics"],
            bands=result["bands"],
            confidence=float(self.confidence),
            notes=tuple(notes),
        )


def _json_number(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)
