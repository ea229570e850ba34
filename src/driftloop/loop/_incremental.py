"""Incremental learning: update the champion with new rows without starting over.

The champion's fitted preprocessing is kept as it is (the new rows are encoded exactly as the model's training
rows were) and its estimator learns on:

- **LightGBM and XGBoost**: continued boosting, ``rounds`` more trees fitted on the new rows from the champion's
  booster (``init_model`` / ``xgb_model``): the old trees stay, the new ones correct what moved;
- **estimators with ``partial_fit``** (SGD, passive-aggressive, naive Bayes, ...): one more pass over the new rows;
- **estimators with ``warm_start``** and a number of members (random forests, extra trees, gradient boosting):
  ``rounds`` more members fitted on the new rows, next to the old ones.

Anything else cannot be updated in place: :class:`~driftloop.errors.InvalidInput` names what can.

>>> import numpy as np, pandas as pd
>>> from driftloop.training import build_model, fit_model
>>> x = pd.DataFrame({"area": np.linspace(30, 150, 200)})
>>> champion = fit_model(build_model("lightgbm", "regression", x, {"n_estimators": 20}), x, 2 * x["area"])
>>> updated, how = update_model(champion, x, 2.2 * x["area"], rounds=10)
>>> how, updated[-1].booster_.num_trees()
('continued boosting: 10 more trees', 30)
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pandas as pd

from driftloop.errors import InvalidInput

__all__ = ["update_model"]


def update_model(champion: Any, features: pd.DataFrame, target: Any, *, rounds: int = 100) -> tuple[Any, str]:
    """A copy of ``champion`` (a fitted estimator or pipeline) that learnt from ``features``/``target`` on top of
    what it knew; returns it and how it was updated. The champion itself is left untouched."""
    model = copy.deepcopy(champion)
    steps = getattr(model, "steps", None)
    estimator = steps[-1][1] if steps else model
    encoded = model[:-1].transform(features) if steps and len(steps) > 1 else features
    labels = np.asarray(target)
    updated, how = _update(estimator, encoded, labels, rounds)
    if steps:
        steps[-1] = (steps[-1][0], updated)
        return model, how
    return updated, how


def _update(estimator: Any, encoded: Any, labels: np.ndarray, rounds: int) -> tuple[Any, str]:
    library = type(estimator).__module__.split(".")[0]
    if library == "lightgbm":
        params = {**estimator.get_params(), "n_estimators": rounds}
        grown = type(estimator)(**params)
        grown.fit(encoded, labels, init_model=estimator.booster_)
        return grown, f"continued boosting: {rounds} more trees"
    if library == "xgboost":
        params = {**estimator.get_params(), "n_estimators": rounds}
        grown = type(estimator)(**params)
        grown.fit(encoded, labels, xgb_model=estimator.get_booster())
        return grown, f"continued boosting: {rounds} more trees"
    if hasattr(estimator, "partial_fit"):
        if hasattr(estimator, "classes_"):
            estimator.partial_fit(encoded, labels, classes=estimator.classes_)
        else:
            estimator.partial_fit(encoded, labels)
        return estimator, "partial_fit on the new rows"
    parameters = estimator.get_params() if hasattr(estimator, "get_params") else {}
    if "warm_start" in parameters and "n_estimators" in parameters:
        estimator.set_params(warm_start=True, n_estimators=parameters["n_estimators"] + rounds)
        estimator.fit(encoded, labels)
        return estimator, f"warm start: {rounds} more members"
    raise InvalidInput(
        f"A {type(estimator).__name__} cannot be updated incrementally; the incremental action takes LightGBM and "
        "XGBoost models (continued boosting), estimators with partial_fit, or ensembles with warm_start "
        "(random forests, extra trees, gradient boosting). Use the retrain action for this model."
    )
