"""Multivariate drift: can a classifier tell reference rows from current rows?

A domain classifier is trained to label each row as "reference" or "current"; its cross-validated ROC AUC
is 0.5 when the two windows come from one joint distribution and rises as they part. Unlike per-feature tests
it sees changes in the relations between features, such as a correlation that appears while every marginal
stays the same.

Defaults and their reasons:

- The classifier is scikit-learn's ``HistGradientBoostingClassifier`` with 50 small trees (8 leaves, at least
  50 rows a leaf): kept small so that it does not fit noise (the AUC of identical windows stays near 0.5) and
  trains in seconds, while a correlation change still gives an AUC near 0.8 in the tests. Trees
  find interactions of any form, not only the products of pairs a linear model would need spelled out (which
  grow with the square of the column count); they take missing values and categories natively, and their
  cost grows linearly with rows and columns. Infinite values are given to it as missing.
- ``threshold=0.55``: drift when the mean AUC over the folds exceeds it. With a few thousand rows per window
  the AUC of identical distributions stays within about ±0.02 of 0.5, so 0.55 is well clear of noise while a
  real change of the joint distribution gives 0.6 and more.
- ``folds=5``, stratified and shuffled with ``random_state=0`` so that a report can be computed again.
- ``max_rows=20_000`` per window, drawn at random without replacement: the AUC's standard error is already
  below 0.01 there, and training time stays a few seconds.
- ``MIN_ROWS = 50`` per window: fewer cannot train and validate a classifier; the result then says so in its
  ``note`` with ``auc`` and ``drifted`` left as ``None``.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> same = domain_classifier_drift(rng.normal(size=(2, 500)), rng.normal(size=(2, 500)))
>>> same.drifted
False
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from driftloop.errors import InvalidInput

__all__ = ["MIN_ROWS", "MultivariateDrift", "domain_classifier_drift"]

MIN_ROWS = 50
_MAX_CATEGORIES = 255  # HistGradientBoosting takes at most max_bins (255) categories per feature


@dataclass(frozen=True)
class MultivariateDrift:
    """The domain classifier's verdict: ``drifted`` when ``auc`` > ``threshold``."""

    method: str
    auc: float | None
    threshold: float
    drifted: bool | None
    reference_rows_used: int
    current_rows_used: int
    columns: tuple[str, ...]
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (tuples become lists)."""
        result = asdict(self)
        result["columns"] = list(self.columns)
        return result


def domain_classifier_drift(
    reference: npt.NDArray[np.float64],
    current: npt.NDArray[np.float64],
    *,
    columns: Sequence[str] | None = None,
    categorical: Sequence[bool] | None = None,
    threshold: float = 0.55,
    max_rows: int = 20_000,
    folds: int = 5,
    random_state: int = 0,
) -> MultivariateDrift:
    """Cross-validated AUC of a classifier separating the two windows.

    ``reference`` and ``current`` are column-major, ``(features, rows)``; ``NaN`` is missing. A feature
    flagged in ``categorical`` holds integer category codes (shared by both windows).
    """
    if not 0.5 <= threshold < 1.0:
        raise InvalidInput(f"The multivariate 'threshold' must be an AUC in [0.5, 1); got {threshold!r}.")
    if max_rows < MIN_ROWS or folds < 2:
        raise InvalidInput(f"'max_rows' must be at least {MIN_ROWS} and 'folds' at least 2; got {max_rows}, {folds}.")
    features = reference.shape[0]
    names = tuple(columns) if columns is not None else tuple(f"x{index}" for index in range(features))
    flags = list(categorical) if categorical is not None else [False] * features
    if len(names) != features or len(flags) != features or current.shape[0] != features:
        raise InvalidInput("The two windows, 'columns' and 'categorical' must describe the same features.")
    rng = np.random.default_rng(random_state)
    left = _subsample(reference, max_rows, rng)
    right = _subsample(current, max_rows, rng)
    result = {
        "method": "domain_classifier",
        "threshold": threshold,
        "reference_rows_used": left.shape[1],
        "current_rows_used": right.shape[1],
        "columns": names,
    }
    if features == 0:
        return MultivariateDrift(auc=None, drifted=None, note="no columns to compare", **result)
    if min(left.shape[1], right.shape[1]) < max(MIN_ROWS, folds):
        note = f"too few rows to train a classifier (need at least {max(MIN_ROWS, folds)} in each window)"
        return MultivariateDrift(auc=None, drifted=None, note=note, **result)
    auc = _cross_validated_auc(left, right, flags, folds=folds, random_state=random_state)
    return MultivariateDrift(auc=auc, drifted=auc > threshold, **result)


def _subsample(values: npt.NDArray[np.float64], max_rows: int, rng: np.random.Generator) -> npt.NDArray[np.float64]:
    if values.shape[1] <= max_rows:
        return values
    return values[:, np.sort(rng.choice(values.shape[1], size=max_rows, replace=False))]


def _cross_validated_auc(
    reference: npt.NDArray[np.float64],
    current: npt.NDArray[np.float64],
    categorical: list[bool],
    *,
    folds: int,
    random_state: int,
) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.model_selection import StratifiedKFold, cross_val_score

    rows = np.concatenate([reference, current], axis=1).T
    rows = np.where(np.isinf(rows), np.nan, rows)
    labels = np.concatenate([np.zeros(reference.shape[1]), np.ones(current.shape[1])])
    # Codes beyond the classifier's category limit are kept as ordered numbers, which still separate new codes.
    mask = [
        flag and bool(np.all(np.isnan(column)) or np.nanmax(column) < _MAX_CATEGORIES)
        for flag, column in zip(categorical, rows.T, strict=True)
    ]
    model = HistGradientBoostingClassifier(
        max_iter=50,
        max_leaf_nodes=8,
        min_samples_leaf=50,
        categorical_features=np.array(mask) if any(mask) else None,
        early_stopping=False,
        random_state=random_state,
    )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=random_state)
    scores = cross_val_score(model, rows, labels, cv=splitter, scoring="roc_auc")
    auc = float(np.mean(scores))
    return auc if math.isfinite(auc) else 0.5
