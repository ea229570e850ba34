"""Confidence-based performance estimation (CBPE) of a classifier, before labels arrive.

The method (NannyML's CBPE): on reference data, where labels are known, learn a monotone map from the model's
score to the probability that the row belongs to the class (a *calibrator*). On a window of unlabelled rows the
calibrated probability ``p`` of each row is then its expected label, and every confusion-matrix cell has an
expected value: ``TP = sum(p over rows predicted positive)``, ``FP = sum(1 - p over the same rows)``, and so on.
Accuracy, precision, recall and F1 follow from the expected cells; ROC AUC from the expected true- and
false-positive counts at every threshold of the raw score (the standard CBPE curve).

Calibration: isotonic regression when the reference has at least :data:`ISOTONIC_MIN_ROWS` rows, Platt scaling
(a logistic curve on the score, or on its logit when the scores are probabilities) below that, because isotonic
regression overfits small samples (scikit-learn's calibration guide gives the same threshold). Its quality is
checked on the reference by 5-fold cross-fitting: the expected calibration error (ECE, 10 equal-frequency bins)
of the cross-fitted probabilities is compared with that of the raw scores, and when the raw probabilities are
already as well calibrated they are used unchanged. Multiclass models are calibrated one-vs-rest, a calibrator
per class column, and each row's probabilities are renormalised to sum to one.

Bands: labels are drawn :data:`BAND_DRAWS` times from the calibrated probabilities and every metric is computed
on each draw; the band is the central ``confidence`` interval of those values. It is the spread of the value the
labels will reveal *if the assumptions hold*: it does not cover calibration error or concept drift.
"""

from __future__ import annotations

from typing import Any, Final, Literal

import numpy as np
from scipy.optimize import minimize
from sklearn.isotonic import IsotonicRegression
from sklearn.model_selection import StratifiedKFold

from driftloop.errors import InvalidData, InvalidInput

__all__ = [
    "BAND_DRAWS",
    "ISOTONIC_MIN_ROWS",
    "METRIC_NAMES",
    "MIN_CLASS_ROWS",
    "MIN_REFERENCE_ROWS",
    "CalibrationMethod",
    "ClassificationEstimator",
]

CalibrationMethod = Literal["auto", "isotonic", "sigmoid"]

MIN_REFERENCE_ROWS: Final = 100
"""Fewest labelled reference rows a classifier can be calibrated on."""
MIN_CLASS_ROWS: Final = 10
"""Fewest reference rows of each class: fewer leave the calibrator of that class guessing."""
ISOTONIC_MIN_ROWS: Final = 1000
"""From this many reference rows ``calibration="auto"`` uses isotonic regression, below it Platt scaling."""
BAND_DRAWS: Final = 200
"""Label draws behind each band: enough for stable 2.5% and 97.5% quantiles, cheap for 100 000 rows."""
METRIC_NAMES: Final[dict[str, tuple[str, ...]]] = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc"),
    "multiclass": ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc"),
}
"""The metrics estimated for each classification task, named as :data:`driftloop.training.TASK_METRICS` does."""
_ECE_BINS: Final = 10
_FOLDS: Final = 5
_CELLS_PER_CHUNK: Final = 2_000_000  # draws x rows held in memory at once (16 MB of float64)


class _Calibrator:
    """A monotone map from a raw score to a probability: isotonic, Platt (sigmoid) or the identity."""

    def __init__(self, method: Literal["isotonic", "sigmoid", "identity"]) -> None:
        self.method = method
        self._isotonic: IsotonicRegression | None = None
        self._logit_input = False
        self._slope, self._intercept = 1.0, 0.0

    def fit(self, raw: np.ndarray, target: np.ndarray) -> _Calibrator:
        if self.method == "isotonic":
            self._isotonic = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(raw, target)
        elif self.method == "sigmoid":
            self._logit_input = bool(raw.min() >= 0.0 and raw.max() <= 1.0)
            self._slope, self._intercept = _platt(self._sigmoid_input(raw), target)
        return self

    def predict(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "identity":
            return np.asarray(np.clip(raw, 0.0, 1.0))
        if self._isotonic is not None:
            return np.asarray(self._isotonic.predict(raw), dtype=np.float64)
        return _sigmoid(self._slope * self._sigmoid_input(raw) + self._intercept)

    def _sigmoid_input(self, raw: np.ndarray) -> np.ndarray:
        if not self._logit_input:
            return raw
        clipped = np.clip(raw, 1e-6, 1.0 - 1e-6)
        return np.asarray(np.log(clipped / (1.0 - clipped)))


class ClassificationEstimator:
    """CBPE for a ``binary`` or ``multiclass`` (one-vs-rest) classifier; see the module notes."""

    def __init__(self, *, task: str, calibration: CalibrationMethod, confidence: float, random_state: int) -> None:
        self.task = task
        self.calibration = calibration
        self.confidence = confidence
        self.random_state = random_state

    def fit(self, predictions: np.ndarray, labels: np.ndarray, scores: np.ndarray, names: list[str] | None) -> None:
        rows = len(labels)
        if rows < MIN_REFERENCE_ROWS:
            raise InvalidData(
                f"The reference has {rows} labelled rows; calibrating a classifier needs at least {MIN_REFERENCE_ROWS}."
            )
        classes, counts = np.unique(labels, return_counts=True)
        if len(classes) < 2:
            raise InvalidData(
                f"The reference labels hold one class only ({classes[0].item()!r}); "
                "calibration needs rows of every class."
            )
        if self.task == "binary" and len(classes) != 2:
            raise InvalidData(f"A binary task needs 2 classes in the reference labels; got {len(classes)}.")
        if counts.min() < MIN_CLASS_ROWS:
            rare = classes[int(np.argmin(counts))].item()
            raise InvalidData(
                f"Class {rare!r} has {int(counts.min())} reference rows; each class needs at least {MIN_CLASS_ROWS}."
            )
        self.classes_ = classes
        _check_predicted_classes(predictions, classes, "reference")
        raw = self._class_columns(scores, names)
        method = self.calibration
        if method == "auto":
            method = "isotonic" if rows >= ISOTONIC_MIN_ROWS else "sigmoid"
        targets = [labels == label for label in self._scored_classes()]
        cross_fitted = np.column_stack([self._cross_fit(raw[:, k], targets[k], method) for k in range(raw.shape[1])])
        calibrated_error = float(np.mean([_ece(cross_fitted[:, k], t) for k, t in enumerate(targets)]))
        raw_error: float | None = None
        if raw.min() >= 0.0 and raw.max() <= 1.0:
            raw_error = float(np.mean([_ece(raw[:, k], t) for k, t in enumerate(targets)]))
        # Keep probabilities that are already calibrated: a calibrator fitted on finite data only adds noise.
        use_raw = raw_error is not None and raw_error <= calibrated_error
        self.calibration_method_ = "identity" if use_raw else method
        self.calibration_error_ = {"raw": raw_error, "calibrated": calibrated_error}
        self._calibrators = [
            _Calibrator("identity" if use_raw else method).fit(raw[:, k], targets[k]) for k in range(raw.shape[1])
        ]

    def estimate(self, predictions: np.ndarray, scores: np.ndarray, names: list[str] | None) -> dict[str, Any]:
        """The expected metrics, their bands and notes for one window of unlabelled rows."""
        _check_predicted_classes(predictions, self.classes_, "current")
        raw = self._class_columns(scores, names)
        probabilities = np.column_stack([c.predict(raw[:, k]) for k, c in enumerate(self._calibrators)])
        if self.task == "multiclass":
            totals = probabilities.sum(axis=1, keepdims=True)
            probabilities = np.divide(
                probabilities, totals, out=np.full_like(probabilities, 1.0 / len(self.classes_)), where=totals > 0
            )
        predicted = [predictions == label for label in self._scored_classes()]
        rankings = [_ranking(raw[:, k]) for k in range(raw.shape[1])]
        expected = self._metrics([probabilities[:, k][None, :] for k in range(raw.shape[1])], predicted, rankings)
        bands = self._bands(probabilities, predicted, rankings)
        notes = []
        if len(predictions) < 2:
            notes.append("ROC AUC needs at least 2 rows; the window has fewer.")
        metrics = {name: _finite_or_none(values[0]) for name, values in expected.items()}
        return {"metrics": metrics, "bands": bands, "notes": notes}

    def _scored_classes(self) -> list[Any]:
        # A binary model is scored on its positive class only: the larger label, as scikit-learn orders classes_.
        return [self.classes_[1]] if self.task == "binary" else list(self.classes_)

    def _class_columns(self, scores: np.ndarray, names: list[str] | None) -> np.ndarray:
        """The score columns in the order of :meth:`_scored_classes`, as a 2-D array."""
        expected = len(self.classes_)
        if scores.ndim == 1:
            if self.task != "binary":
                raise InvalidInput(f"A multiclass model needs a score column per class ({expected}); got 1-D scores.")
            return scores[:, None]
        if scores.shape[1] != expected:
            raise InvalidInput(
                f"The scores need a column per class ({expected}: {', '.join(map(str, self.classes_))}); "
                f"got {scores.shape[1]} columns."
            )
        wanted = [str(label) for label in self.classes_]
        order = [names.index(name) for name in wanted] if names and sorted(names) == sorted(wanted) else None
        columns = scores[:, order] if order is not None else scores
        return columns[:, 1:] if self.task == "binary" else columns

    def _cross_fit(self, raw: np.ndarray, target: np.ndarray, method: str) -> np.ndarray:
        folds = StratifiedKFold(n_splits=_FOLDS, shuffle=True, random_state=self.random_state)
        result = np.empty(len(raw))
        for train, held_out in folds.split(raw, target):
            calibrator = _Calibrator("isotonic" if method == "isotonic" else "sigmoid").fit(raw[train], target[train])
            result[held_out] = calibrator.predict(raw[held_out])
        return result

    def _metrics(
        self, labels: list[np.ndarray], predicted: list[np.ndarray], rankings: list[tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, np.ndarray]:
        """Metrics for ``m`` label sets at once: ``labels[k]`` is an ``(m, n)`` array of (expected) labels of class k.

        With calibrated probabilities as the labels these are the CBPE estimates; with drawn 0/1 labels, the
        realised values of one draw each.
        """
        with np.errstate(divide="ignore", invalid="ignore"):
            cells = []
            for y, positive in zip(labels, predicted, strict=True):
                true_positive = (y * positive).sum(axis=1)
                false_positive = ((1.0 - y) * positive).sum(axis=1)
                false_negative = (y * ~positive).sum(axis=1)
                cells.append((true_positive, false_positive, false_negative))
            rows = labels[0].shape[1]
            aucs = np.array([_roc_auc(y, *ranking) for y, ranking in zip(labels, rankings, strict=True)])
            if self.task == "binary":
                true_positive, false_positive, false_negative = cells[0]
                true_negative = rows - true_positive - false_positive - false_negative
                return {
                    "accuracy": (true_positive + true_negative) / rows,
                    "precision": true_positive / (true_positive + false_positive),
                    "recall": true_positive / (true_positive + false_negative),
                    "f1": 2 * true_positive / (2 * true_positive + false_positive + false_negative),
                    "roc_auc": aucs[0],
                }
            correct = sum(cell[0] for cell in cells)
            # An undefined per-class value counts as 0, as scikit-learn's zero_division=0 does.
            precision = [np.nan_to_num(tp / (tp + fp)) for tp, fp, _ in cells]
            recall = [np.nan_to_num(tp / (tp + fn)) for tp, _, fn in cells]
            f1 = [np.nan_to_num(2 * tp / (2 * tp + fp + fn)) for tp, fp, fn in cells]
            return {
                "accuracy": np.asarray(correct) / rows,
                "precision_macro": np.mean(precision, axis=0),
                "recall_macro": np.mean(recall, axis=0),
                "f1_macro": np.mean(f1, axis=0),
                "roc_auc": np.mean(aucs, axis=0),
            }

    def _bands(
        self, probabilities: np.ndarray, predicted: list[np.ndarray], rankings: list[tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, tuple[float, float] | None]:
        rows = probabilities.shape[0]
        names = METRIC_NAMES[self.task]
        if rows == 0:
            return dict.fromkeys(names)
        generator = np.random.default_rng(self.random_state)
        chunk = max(1, min(BAND_DRAWS, _CELLS_PER_CHUNK // rows))
        drawn: dict[str, list[np.ndarray]] = {name: [] for name in names}
        for start in range(0, BAND_DRAWS, chunk):
            uniform = generator.random((min(chunk, BAND_DRAWS - start), rows))
            if self.task == "binary":
                labels = [(uniform < probabilities[:, 0]).astype(np.float64)]
            else:
                # Inverse-CDF draw of one class per row; rounding can leave the last cumulative value below 1.
                cumulative = np.cumsum(probabilities, axis=1)
                drawn_class = (uniform[:, :, None] > cumulative[None, :, :-1]).sum(axis=2)
                labels = [(drawn_class == k).astype(np.float64) for k in range(probabilities.shape[1])]
            for name, values in self._metrics(labels, predicted, rankings).items():
                drawn[name].append(values)
        tail = (1.0 - self.confidence) / 2.0
        bands: dict[str, tuple[float, float] | None] = {}
        for name, parts in drawn.items():
            values = np.concatenate(parts)
            values = values[np.isfinite(values)]
            # Fewer than half the draws defined (an AUC on a window of one class): no honest band.
            if len(values) < BAND_DRAWS / 2:
                bands[name] = None
            else:
                low, high = np.quantile(values, [tail, 1.0 - tail])
                bands[name] = (float(low), float(high))
        return bands


def _check_predicted_classes(predictions: np.ndarray, classes: np.ndarray, which: str) -> None:
    try:
        unknown = ~np.isin(predictions, classes)
    except TypeError:  # labels and predictions of types numpy cannot compare
        unknown = np.ones(len(predictions), dtype=bool)
    if unknown.any():
        position = int(np.argmax(unknown))
        raise InvalidData(
            f"The {which} predictions hold {predictions[position].item()!r} at position {position}, which is not one "
            f"of the reference classes ({', '.join(map(repr, classes.tolist()))}).",
            row=position,
        )


def _ranking(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Rows by descending score and the last position of each distinct score (the ROC thresholds)."""
    order = np.argsort(-raw, kind="mergesort")
    ordered = raw[order]
    ends = np.flatnonzero(np.r_[ordered[1:] != ordered[:-1], True]) if len(raw) else np.zeros(0, dtype=np.int64)
    return order, ends


def _roc_auc(labels: np.ndarray, order: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """ROC AUC of each row of ``labels`` (``(m, n)``, 0/1 or expected labels) for scores ranked as ``order``."""
    if labels.shape[1] < 2:
        return np.full(labels.shape[0], np.nan)
    true_positive = np.cumsum(labels[:, order], axis=1)[:, ends]
    false_positive = (ends + 1)[None, :] - true_positive
    zeros = np.zeros((labels.shape[0], 1))
    true_rate = np.hstack([zeros, true_positive / true_positive[:, -1:]])
    false_rate = np.hstack([zeros, false_positive / false_positive[:, -1:]])
    return np.asarray(np.trapezoid(true_rate, false_rate, axis=1))


def _ece(probability: np.ndarray, target: np.ndarray) -> float:
    """Expected calibration error over equal-frequency bins."""
    order = np.argsort(probability, kind="mergesort")
    bins = np.empty(len(probability), dtype=np.int64)
    bins[order] = np.arange(len(probability)) * _ECE_BINS // len(probability)
    counts = np.bincount(bins, minlength=_ECE_BINS)
    gap = np.bincount(bins, weights=target.astype(np.float64) - probability, minlength=_ECE_BINS)
    return float(np.abs(gap).sum() / counts.sum())


def _platt(feature: np.ndarray, target: np.ndarray) -> tuple[float, float]:
    """Platt's sigmoid fit, with his smoothed targets so separable data do not send the slope to infinity."""
    positives = float(target.sum())
    negatives = len(target) - positives
    smoothed = np.where(target, (positives + 1.0) / (positives + 2.0), 1.0 / (negatives + 2.0))

    def loss(params: np.ndarray) -> tuple[float, np.ndarray]:
        logits = params[0] * feature + params[1]
        value = np.sum(np.logaddexp(0.0, logits) - smoothed * logits)
        residual = _sigmoid(logits) - smoothed
        return float(value), np.array([np.dot(residual, feature), residual.sum()])

    result = minimize(loss, x0=np.array([1.0, 0.0]), jac=True, method="L-BFGS-B")
    return float(result.x[0]), float(result.x[1])


def _sigmoid(values: np.ndarray) -> np.ndarray:
    return np.asarray(np.exp(-np.logaddexp(0.0, -values)))


def _finite_or_none(value: float) -> float | None:
    return float(value) if np.isfinite(value) else None
