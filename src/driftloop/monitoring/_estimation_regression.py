"""Direct loss estimation (DLE) of a regressor, before labels arrive.

The method (NannyML's DLE): on reference data, where labels are known, train a second model to predict the
loss of each row from its features and the model's prediction: one for the absolute error ``|y - ŷ|`` and one
for the squared error ``(y - ŷ)²``. On a window of unlabelled rows the estimated MAE is the mean of the predicted
absolute errors, and the estimated RMSE the square root of the mean of the predicted squared errors. Because the
loss models see the features, a shift of the inputs towards a region where the model errs more raises the
estimate before any label arrives.

The reference must be data the monitored model was **not** trained on (a holdout, or a later labelled sample):
on its own training rows a model's errors are too small, and the loss models would learn that optimism.

Loss models: scikit-learn's ``HistGradientBoostingRegressor`` (squared-error loss, so it learns the conditional
mean of the loss; 15 leaves, at least 20 rows a leaf, learning rate 0.05, up to 300 rounds stopped early on a
20% validation split, one OpenMP thread). It reads missing values natively, is deterministic for a fixed
``random_state`` and needs no second boosting engine. The settings are modest because the loss is a noisy
target: overfitting it would make every window look like the reference. Features go through driftloop's
``native`` preprocessing (numbers as they are, categories as ordinal codes, unseen categories as their own
code).

Bands: for the MAE, each row's loss variance ``E[e²] - E[|e|]²`` comes from the two loss models, so the band
is ``MAE ± z·sqrt(Σ var)/n``. For the RMSE, the spread of the squared errors relative to their mean is taken
from the reference (the error distribution keeps its shape, only its scale moves) and carried through the square
root. Both describe sampling only: they do not cover the loss models' own error or concept drift.
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd
from scipy.stats import norm
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.pipeline import Pipeline
from threadpoolctl import threadpool_limits

from driftloop.errors import InvalidData
from driftloop.monitoring._estimation_inputs import check_numeric_finite
from driftloop.training._preprocessing import build_preprocessing

__all__ = ["METRIC_NAMES", "MIN_REFERENCE_ROWS", "PREDICTION_COLUMN", "RegressionEstimator"]

MIN_REFERENCE_ROWS: Final = 200
"""Fewest labelled reference rows the loss models are trained on (a fifth is held out for early stopping)."""
METRIC_NAMES: Final = ("mae", "rmse")
PREDICTION_COLUMN: Final = "__prediction__"
"""The column the model's prediction takes among the features the loss models read."""
_THREADS: Final = 1
# One OpenMP thread: the loss models are small, and monitoring runs beside serving and training; on a busy
# machine OpenMP's spinning threads made a 5 000-row fit 20 times slower (1.7 s against 0.07 s, measured).


class RegressionEstimator:
    """DLE for a regressor; see the module notes."""

    def __init__(self, *, confidence: float, random_state: int) -> None:
        self.confidence = confidence
        self.random_state = random_state

    def fit(self, features: pd.DataFrame | None, predictions: np.ndarray, labels: np.ndarray) -> None:
        predictions = _as_numbers(predictions, "reference predictions")
        labels = _as_numbers(labels, "reference labels")
        if len(labels) < MIN_REFERENCE_ROWS:
            raise InvalidData(
                f"The reference has {len(labels)} labelled rows; training the loss models of a regressor needs at "
                f"least {MIN_REFERENCE_ROWS}."
            )
        if features is not None and PREDICTION_COLUMN in features.columns:
            raise InvalidData(f"The features may not have a column named {PREDICTION_COLUMN!r}; rename it.")
        self.feature_names_ = None if features is None else list(features.columns)
        frame = self._frame(features, predictions, "reference features")
        errors = labels - predictions
        absolute, squared = np.abs(errors), errors**2
        with threadpool_limits(limits=_THREADS, user_api="openmp"):
            self._absolute = self._loss_model(frame).fit(frame, absolute)
            self._squared = self._loss_model(frame).fit(frame, squared)
        mean_squared = float(squared.mean())
        # The relative spread of the squared errors, for the RMSE band (zero for a perfect model).
        self._squared_variation = float(squared.std() / mean_squared) if mean_squared > 0 else 0.0
        self.reference_metrics_ = {"mae": float(absolute.mean()), "rmse": float(np.sqrt(mean_squared))}

    def estimate(self, features: pd.DataFrame | None, predictions: np.ndarray) -> dict[str, Any]:
        """The estimated MAE and RMSE, their bands and notes for one window of unlabelled rows."""
        predictions = _as_numbers(predictions, "current predictions")
        rows = len(predictions)
        if rows == 0:
            return {"metrics": dict.fromkeys(METRIC_NAMES), "bands": dict.fromkeys(METRIC_NAMES), "notes": []}
        frame = self._frame(features, predictions, "current features")
        try:
            with threadpool_limits(limits=_THREADS, user_api="openmp"):
                absolute = np.clip(self._absolute.predict(frame), 0.0, None)
                squared = np.clip(self._squared.predict(frame), 0.0, None)
        except (ValueError, TypeError) as error:
            raise InvalidData(f"The current features do not match the reference ones: {error}") from None
        # Jensen: a row's mean squared error is at least its mean absolute error squared.
        squared = np.maximum(squared, absolute**2)
        mae, mean_squared = float(absolute.mean()), float(squared.mean())
        z = float(norm.ppf(0.5 + self.confidence / 2.0))
        mae_error = z * float(np.sqrt(np.sum(squared - absolute**2))) / rows
        squared_error = z * self._squared_variation * mean_squared / np.sqrt(rows)
        low, high = max(0.0, mean_squared - squared_error), mean_squared + squared_error
        rmse_band = (float(np.sqrt(low)), float(np.sqrt(high)))
        bands = {"mae": (max(0.0, mae - mae_error), mae + mae_error), "rmse": rmse_band}
        return {"metrics": {"mae": mae, "rmse": float(np.sqrt(mean_squared))}, "bands": bands, "notes": []}

    def _frame(self, features: pd.DataFrame | None, predictions: np.ndarray, what: str) -> pd.DataFrame:
        if self.feature_names_ is None:
            return pd.DataFrame({PREDICTION_COLUMN: predictions})
        if features is None:
            raise InvalidData(f"The {what} are missing; the estimator was fitted with features.")
        missing = [name for name in self.feature_names_ if name not in features.columns]
        if missing:
            raise InvalidData(
                f"The {what} lack the column(s) {', '.join(map(repr, missing))} the reference had.", column=missing[0]
            )
        frame = features[self.feature_names_].copy()
        check_numeric_finite(frame, what)
        frame[PREDICTION_COLUMN] = predictions
        return frame

    def _loss_model(self, frame: pd.DataFrame) -> Pipeline:
        booster = HistGradientBoostingRegressor(
            learning_rate=0.05,
            max_iter=300,
            max_leaf_nodes=15,
            min_samples_leaf=20,
            early_stopping=True,
            validation_fraction=0.2,
            n_iter_no_change=20,
            random_state=self.random_state,
        )
        return Pipeline([("preprocess", build_preprocessing(frame, kind="native")), ("loss", booster)])


def _as_numbers(values: np.ndarray, what: str) -> np.ndarray:
    try:
        return values.astype(np.float64)
    except (TypeError, ValueError):
        raise InvalidData(f"The {what} of a regressor must be numbers; got values of type {values.dtype}.") from None
