"""Online learning: a River champion learns each labelled prediction as its label arrives.

The loop's controller is the one learner process (it holds the ``loop.controller`` lease): on an ``online``
action it loads the champion, and for each row of the labels that arrived since the policy last acted, in the
order they arrived, the model first predicts the row and then learns it (*test-then-train*, or prequential
evaluation). The predictions made before each row was learnt are the learner's honest live score: no row is
scored by a model that has seen it. The newest rows are held out instead (:func:`split_arrivals`): the
checkpoint does not learn them, so its gates score it and its champion on identical unseen rows, as every other
action's gates do, and the next checkpoint learns them first.

>>> import pandas as pd
>>> from river import linear_model, preprocessing
>>> model = preprocessing.StandardScaler() | linear_model.LinearRegression()
>>> rows = pd.DataFrame({"area": [50.0, 60.0, 70.0, 80.0]})
>>> before = learn_online(model, rows, [100.0, 120.0, 140.0, 160.0])
>>> float(before[0]), len(before)  # the first row is predicted before the model learnt anything
(0.0, 4)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from driftloop.errors import InvalidData

__all__ = ["learn_online", "split_arrivals"]


def learn_online(model: Any, features: pd.DataFrame, targets: Sequence[Any] | pd.Series | np.ndarray) -> np.ndarray:
    """Teach the River ``model`` the rows of ``features`` in order, each predicted just before it is learnt.

    Returns the predictions made before each row was learnt (a float per row for a regressor, NaN before the
    model could predict; a label or None for a classifier). ``model`` itself learns (River models learn in
    place); a row without a target is predicted but teaches nothing.
    """
    from driftloop.training._river import is_river_regressor, labels_array, river_rows

    rows = river_rows(features)
    values = targets.tolist() if isinstance(targets, pd.Series | np.ndarray) else list(targets)
    if len(values) != len(rows):
        raise InvalidData(f"The targets must match the rows one to one; got {len(values)} for {len(rows)} rows.")
    regression = is_river_regressor(model)
    predicted: list[Any] = []
    for row, target in zip(rows, values, strict=True):
        guess = model.predict_one(row)
        predicted.append((math.nan if guess is None else float(guess)) if regression else guess)
        if target is None or (isinstance(target, float) and math.isnan(target)):
            continue
        model.learn_one(row, float(target) if regression else target)
    if regression:
        return np.asarray(predicted, dtype=np.float64)
    return labels_array(predicted)


def split_arrivals(rows: int, holdout: float) -> int:
    """How many of ``rows`` arrived labels the checkpoint learns: all but the newest ``holdout`` share (at least
    one held out, and at least one learnt when there are two rows or more).

    >>> split_arrivals(500, 0.2), split_arrivals(2, 0.2), split_arrivals(1, 0.2)
    (400, 1, 0)
    """
    if rows <= 1:
        return 0
    return min(rows - 1, max(1, rows - max(1, round(rows * holdout))))
