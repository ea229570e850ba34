"""River (online learning) models behind the same interface as the scikit-learn ones.

A River model stays River's own ``compose.Pipeline``, so the registry recognises it and stores it as River state
(a workspace-signed pickle); these functions feed it pandas frames.

Each pipeline starts with its own preprocessing, decided from the sample's column roles (see ``_preprocessing``):

* numeric columns: a missing value (NaN, None) is replaced by the running mean of the column
  (``preprocessing.StatImputer`` with ``stats.Mean``), then scaled (``preprocessing.StandardScaler``);
* categorical columns: values become strings (``True`` becomes ``"True"``), one-hot encoded
  (``preprocessing.OneHotEncoder``); a missing value (None, NaN) is a category of its own, and a category
  first seen at prediction time adds a feature the model has no weight or split for.

Trees take one-hot features too: the regression trees fit linear models in their leaves, which need numbers.

Linear classifiers are one-vs-rest logistic regressions, so any labels work, binary or not; the linear regressor
learns a standardised target. Every River model here is deterministic (ARF is seeded).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from driftloop.errors import InvalidData, InvalidInput

if TYPE_CHECKING:
    from driftloop.training._algorithms import Task
    from driftloop.training._preprocessing import ColumnRole

__all__ = [
    "RiverEstimator",
    "build_river_pipeline",
    "is_river_regressor",
    "labels_array",
    "river_learn",
    "river_predict",
    "river_predict_proba",
    "river_rows",
]


def build_river_pipeline(
    name: str, task: Task, roles: Mapping[str, ColumnRole], params: Mapping[str, Any], *, seed: int
) -> Any:
    """River's ``compose.Pipeline`` for the algorithm ``name``, with ``params`` complete (defaults filled in)."""
    from river import compose, forest, linear_model, multiclass, optim, preprocessing, tree

    numeric = [column for column, role in roles.items() if role == "numeric"]
    categorical = [column for column, role in roles.items() if role == "categorical"]
    classify = task != "regression"
    learner: Any
    if name == "river_logistic_regression":
        learner = multiclass.OneVsRestClassifier(linear_model.LogisticRegression(**_linear_params(params, optim)))
    elif name == "river_linear_regression":
        learner = preprocessing.TargetStandardScaler(
            regressor=linear_model.LinearRegression(**_linear_params(params, optim))
        )
    elif name == "river_hoeffding_tree":
        tree_class = tree.HoeffdingTreeClassifier if classify else tree.HoeffdingTreeRegressor
        learner = tree_class(**_tree_params(params))
    elif name == "river_arf":
        forest_class = forest.ARFClassifier if classify else forest.ARFRegressor
        learner = forest_class(n_models=_count(params, "n_models"), **_tree_params(params), seed=seed)
    else:
        raise InvalidInput(f"No River algorithm is called {name!r}.")
    return compose.Pipeline(_features(numeric, categorical), learner)


def river_rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as River reads them: numbers as floats, other values as strings, missing as None.

    >>> river_rows(pd.DataFrame({"area": [52.0, float("nan")], "district": ["Ba Dinh", None], "new": [True, False]}))
    [{'area': 52.0, 'district': 'Ba Dinh', 'new': 'True'}, {'area': None, 'district': None, 'new': 'False'}]
    """
    if not isinstance(frame, pd.DataFrame):
        raise InvalidInput(f"A River model takes a pandas DataFrame; got {type(frame).__name__}.")
    columns = [str(name) for name in frame.columns]
    return [
        {column: _river_value(value) for column, value in zip(columns, row, strict=True)}
        for row in frame.itertuples(index=False, name=None)
    ]


def river_learn(model: Any, frame: pd.DataFrame, y: Sequence[Any] | pd.Series | np.ndarray) -> Any:
    """Teach ``model`` the rows of ``frame`` with targets ``y``, one at a time in order; returns ``model``."""
    rows = river_rows(frame)
    targets = _targets(y)
    if len(targets) != len(rows):
        raise InvalidData(f"The targets must match the rows one to one; got {len(targets)} for {len(rows)} rows.")
    regression = is_river_regressor(model)
    for row, target in zip(rows, targets, strict=True):
        if target is None or (isinstance(target, float) and math.isnan(target)):
            continue  # an unlabelled row teaches nothing
        model.learn_one(row, float(target) if regression else target)
    return model


def river_predict(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """One prediction per row: a label (None before the model saw any; an object array then) or, for regression,
    a float."""
    predictions = [model.predict_one(row) for row in river_rows(frame)]
    if is_river_regressor(model):
        return np.array([math.nan if value is None else float(value) for value in predictions], dtype=np.float64)
    return labels_array(predictions)


def labels_array(predictions: Sequence[Any]) -> np.ndarray:
    """A classifier's predicted labels as an array: numbers and booleans keep their dtype (the metrics take ints,
    not objects of ints); text, mixed kinds or a None (no prediction yet) make an object array."""
    if predictions and all(value is not None for value in predictions):
        labels = np.asarray(predictions)
        if labels.dtype.kind in "iufb":
            return labels
    result = np.empty(len(predictions), dtype=object)
    result[:] = predictions
    return result


def river_predict_proba(model: Any, frame: pd.DataFrame, classes: Sequence[Any] | np.ndarray) -> np.ndarray:
    """Class probabilities, one row per frame row and one column per class of ``classes`` in that order.

    Classes the model never saw get 0; a row the model cannot score yet gets equal probabilities.
    """
    labels = list(classes)
    if not labels:
        raise InvalidInput("The 'classes' must name at least one class.")
    probabilities = np.zeros((len(frame), len(labels)), dtype=np.float64)
    for index, row in enumerate(river_rows(frame)):
        scores = model.predict_proba_one(row)
        probabilities[index] = [max(float(scores.get(label, 0.0)), 0.0) for label in labels]
    totals = probabilities.sum(axis=1, keepdims=True)
    uniform = np.full_like(probabilities, 1.0 / len(labels))
    return np.asarray(np.divide(probabilities, totals, out=uniform, where=totals > 0))


def _features(numeric: list[str], categorical: list[str]) -> Any:
    from river import compose, preprocessing, stats

    parts: list[Any] = []
    if numeric:
        imputer = preprocessing.StatImputer(*[(column, stats.Mean()) for column in numeric])  # type: ignore[no-untyped-call]
        parts.append(compose.Select(*numeric) | imputer | preprocessing.StandardScaler())
    if categorical:
        parts.append(compose.Select(*categorical) | preprocessing.OneHotEncoder())
    return parts[0] if len(parts) == 1 else compose.TransformerUnion(*parts)


def _linear_params(params: Mapping[str, Any], optim: Any) -> dict[str, Any]:
    l2 = params["l2"]
    if isinstance(l2, bool) or not isinstance(l2, numbers.Real) or float(l2) < 0:
        raise InvalidInput(f"The 'l2' must be a number >= 0; got {l2!r}.")
    return {"optimizer": optim.SGD(_positive(params, "learning_rate")), "l2": float(l2)}


def _tree_params(params: Mapping[str, Any]) -> dict[str, Any]:
    depth = params["max_depth"]
    if depth is not None and (isinstance(depth, bool) or not isinstance(depth, int) or depth < 1):
        raise InvalidInput(f"The 'max_depth' must be an integer >= 1 or None; got {depth!r}.")
    return {"grace_period": _count(params, "grace_period"), "delta": _positive(params, "delta"), "max_depth": depth}


def _count(params: Mapping[str, Any], name: str) -> int:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidInput(f"The {name!r} must be an integer >= 1; got {value!r}.")
    return value


def _positive(params: Mapping[str, Any], name: str) -> float:
    value = params[name]
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or float(value) <= 0:
        raise InvalidInput(f"The {name!r} must be a number > 0; got {value!r}.")
    return float(value)


def _river_value(value: Any) -> Any:
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, bool | np.bool_ | str):
        return str(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        return None if math.isnan(number) else number
    return str(value)


def _targets(y: Sequence[Any] | pd.Series | np.ndarray) -> list[Any]:
    values = y.tolist() if isinstance(y, pd.Series | np.ndarray) else list(y)
    return [None if value is pd.NA else value for value in values]


def is_river_regressor(model: Any) -> bool:
    """Whether the River ``model`` (or the last step of its pipeline) is a regressor."""
    from river import base

    steps = getattr(model, "steps", None)
    learner = list(steps.values())[-1] if steps else model
    return isinstance(learner, base.Regressor)


class RiverEstimator:
    """The scikit-learn face of a River model (``fit``/``predict``/``predict_proba``/``classes_``).

    Cross-validation and evaluation speak scikit-learn; the registry stores the River model itself
    (:attr:`model`), which keeps learning one row at a time wherever it is loaded.
    """

    def __init__(self, model: Any, *, classes: Sequence[Any] | None = None) -> None:
        self.model = model
        self.classes_ = None if classes is None else np.asarray(list(classes), dtype=object)

    def fit(self, frame: pd.DataFrame, y: Sequence[Any] | pd.Series | np.ndarray) -> RiverEstimator:
        river_learn(self.model, frame, y)
        if not is_river_regressor(self.model):
            seen = set(self.classes_.tolist()) if self.classes_ is not None else set()
            seen.update(value for value in _targets(y) if value is not None)
            self.classes_ = np.asarray(sorted(seen, key=str), dtype=object)
        return self

    def predict(self, frame: pd.DataFrame) -> np.ndarray:
        return river_predict(self.model, frame)

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        if is_river_regressor(self.model) or self.classes_ is None:
            raise InvalidInput("Only a River classifier that has learned some rows gives class probabilities.")
        return river_predict_proba(self.model, frame, self.classes_)
