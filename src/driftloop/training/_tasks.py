"""Learning tasks: which kind of problem a target poses, the metric each task is judged by, and target checks.

A target is one of three tasks: ``binary`` and ``multiclass`` classification, or ``regression``. The task
fixes the metrics :func:`~driftloop.training._evaluation.evaluate` computes, the primary metric that ranks
models (:data:`PRIMARY_METRIC`) and the direction each metric improves in (:data:`GREATER_IS_BETTER`).
"""

from __future__ import annotations

from typing import Any, Final, Literal, get_args

import numpy as np
import pandas as pd
from pandas.api import types as pandas_types

from driftloop.errors import InvalidData, InvalidInput

__all__ = [
    "CLASSIFICATION_TASKS",
    "GREATER_IS_BETTER",
    "MAX_INTEGER_CLASSES",
    "PRIMARY_METRIC",
    "TASKS",
    "TASK_METRICS",
    "Task",
    "check_target",
    "infer_task",
    "validate_task",
]

Task = Literal["binary", "multiclass", "regression"]
"""The kind of problem a target poses."""

TASKS: Final[tuple[Task, ...]] = get_args(Task)
CLASSIFICATION_TASKS: Final[frozenset[Task]] = frozenset({"binary", "multiclass"})

MAX_INTEGER_CLASSES: Final = 20
"""An integer target with at most this many distinct values is read as class labels, above it as a quantity."""

PRIMARY_METRIC: Final[dict[Task, str]] = {
    "binary": "roc_auc",
    # Macro F1 rather than accuracy: it weighs every class equally, so a model that ignores a rare class
    # cannot score well by predicting the common one.
    "multiclass": "f1_macro",
    "regression": "rmse",
}
"""The metric that ranks models of each task (in selection, tuning and cross-validation)."""

TASK_METRICS: Final[dict[Task, tuple[str, ...]]] = {
    "binary": ("accuracy", "precision", "recall", "f1", "roc_auc", "log_loss"),
    "multiclass": ("accuracy", "precision_macro", "recall_macro", "f1_macro", "roc_auc", "log_loss"),
    "regression": ("rmse", "mae", "mape", "r2"),
}
"""Every metric :func:`evaluate` can report for each task (some need probabilities)."""

GREATER_IS_BETTER: Final[dict[str, bool]] = {
    "accuracy": True,
    "precision": True,
    "recall": True,
    "f1": True,
    "precision_macro": True,
    "recall_macro": True,
    "f1_macro": True,
    "roc_auc": True,
    "log_loss": False,
    "rmse": False,
    "mae": False,
    "mape": False,
    "r2": True,
}
"""For every metric driftloop computes, whether a larger value is a better model."""


def validate_task(task: object) -> Task:
    """Return ``task`` as a :data:`Task`, or raise :class:`InvalidInput` naming the allowed values.

    >>> validate_task("binary")
    'binary'
    """
    if not isinstance(task, str) or task not in TASKS:
        allowed = ", ".join(repr(name) for name in TASKS)
        raise InvalidInput(f"The 'task' must be one of {allowed}; got {task!r}.")
    return task


def infer_task(y: pd.Series) -> Task:
    """Guess the task a target poses from its values (missing values are ignored).

    The rule, first match wins:

    1. numbers with a fractional part (``3.5``) are a quantity: ``regression``;
    2. at most two distinct values: ``binary``;
    3. booleans, strings, categories and other non-numbers: ``multiclass``;
    4. whole numbers (integer dtype, or floats that are all whole) with at most :data:`MAX_INTEGER_CLASSES`
       distinct values are class labels: ``multiclass``; more distinct values: ``regression``.

    Pass the task explicitly when the guess is wrong (a rating from 1 to 5 meant as a quantity, say).

    >>> infer_task(pd.Series([0.5, 1.25, 3.0]))
    'regression'
    >>> infer_task(pd.Series(["yes", "no", "yes"]))
    'binary'
    >>> infer_task(pd.Series([1, 2, 3, 2]))
    'multiclass'
    >>> infer_task(pd.Series(range(100)))
    'regression'
    """
    present = y.dropna()
    if present.empty:
        raise InvalidData(f"The target {_name(y)} has no values (all {len(y)} rows are missing); no task to infer.")
    numeric = pandas_types.is_numeric_dtype(present.dtype) and not pandas_types.is_bool_dtype(present.dtype)
    if numeric and pandas_types.is_float_dtype(present.dtype):
        values = present.to_numpy(dtype=float)
        if not np.all(np.isfinite(values)) or not np.all(values == np.round(values)):
            return "regression"
    distinct = present.nunique()
    if distinct <= 2:
        return "binary"
    if not numeric:
        return "multiclass"
    return "multiclass" if distinct <= MAX_INTEGER_CLASSES else "regression"


def check_target(y: pd.Series, task: Task) -> None:
    """Raise :class:`InvalidData` when ``y`` cannot be learned as ``task``.

    A target must have rows, no missing values and at least two distinct values; a regression target must
    be numeric, and a binary target must have exactly two classes.

    >>> try:
    ...     check_target(pd.Series([3.0] * 120, name="price"), "regression")
    ... except InvalidData as error:
    ...     print(error)
    The target 'price' has a single value (3.0) in all 120 rows; there is nothing to learn.
    """
    task = validate_task(task)
    rows = len(y)
    if rows == 0:
        raise InvalidData(f"The target {_name(y)} has no rows; there is nothing to learn.", column=_column(y))
    missing = int(y.isna().sum())
    if missing == rows:
        raise InvalidData(f"The target {_name(y)} is missing in all {rows} rows.", column=_column(y))
    if missing:
        raise InvalidData(
            f"The target {_name(y)} is missing in {missing} of {rows} rows; drop or fill those rows before training.",
            column=_column(y),
        )
    distinct = y.unique()
    if len(distinct) == 1:
        raise InvalidData(
            f"The target {_name(y)} has a single value ({_plain(distinct[0])!r}) in all {rows} rows; "
            "there is nothing to learn.",
            column=_column(y),
        )
    if task == "regression" and (not pandas_types.is_numeric_dtype(y.dtype) or pandas_types.is_bool_dtype(y.dtype)):
        raise InvalidData(
            f"A regression target must be numeric; {_name(y)} has dtype {y.dtype}. "
            "Use task='binary' or 'multiclass' for labels.",
            column=_column(y),
        )
    if task == "binary" and len(distinct) > 2:
        shown = ", ".join(repr(_plain(value)) for value in list(distinct)[:5])
        more = f" (and {len(distinct) - 5} more)" if len(distinct) > 5 else ""
        raise InvalidData(
            f"A binary target has two classes; {_name(y)} has {len(distinct)}: {shown}{more}. Use task='multiclass'.",
            column=_column(y),
        )


def _name(y: pd.Series) -> str:
    return repr(str(y.name)) if y.name is not None else "(unnamed)"


def _column(y: pd.Series) -> str | None:
    return None if y.name is None else str(y.name)


def _plain(value: Any) -> Any:
    """A numpy scalar as the Python value it stands for, so messages read ``3.0`` and not ``np.float64(3.0)``."""
    return value.item() if isinstance(value, np.generic) else value
