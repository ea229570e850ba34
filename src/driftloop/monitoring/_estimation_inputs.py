"""Input checks shared by the performance estimators: vectors, score matrices and feature frames.

Every check raises :class:`~driftloop.errors.InvalidData` naming what was wrong (the argument, the column, the
first bad row), so a window with a missing value never turns into a silent NaN estimate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from pandas.api import types as pandas_types

from driftloop.errors import InvalidData

__all__ = ["as_features", "as_scores", "as_vector", "check_length", "check_numeric_finite"]


def as_vector(values: Any, what: str) -> np.ndarray:
    """``values`` (a list, numpy array, pandas or polars series, or a one-column frame) as a 1-D numpy array.

    >>> as_vector([1, 2, 3], "predictions").tolist()
    [1, 2, 3]
    """
    if hasattr(values, "to_numpy") and hasattr(values, "columns"):  # a pandas or polars frame
        if len(values.columns) != 1:
            raise InvalidData(f"The {what} must be one column; got a frame of {len(values.columns)} columns.")
        values = values[values.columns[0]]
    array = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if array.ndim != 1:
        raise InvalidData(f"The {what} must be one-dimensional; got an array of shape {array.shape}.")
    missing = _missing_mask(array)
    if missing.any():
        row = int(np.argmax(missing))
        raise InvalidData(f"The {what} hold a missing or infinite value at position {row}.", row=row)
    return array


def as_scores(values: Any, what: str) -> tuple[np.ndarray, list[str] | None]:
    """Scores as a float array (1-D, or 2-D with a column per class) and the column names when a frame had some.

    Missing and infinite scores are refused, naming the column and the first bad position.
    """
    names: list[str] | None = None
    if hasattr(values, "columns") and hasattr(values, "to_numpy"):
        names = [str(name) for name in values.columns]
    array = values.to_numpy() if hasattr(values, "to_numpy") else np.asarray(values)
    if array.ndim not in (1, 2):
        raise InvalidData(f"The {what} must be 1-D or 2-D (a column per class); got shape {array.shape}.")
    try:
        array = array.astype(np.float64)
    except (TypeError, ValueError) as error:
        raise InvalidData(f"The {what} must be numbers; {error}.") from None
    bad = ~np.isfinite(array)
    if bad.any():
        position = np.argwhere(bad)[0]
        kind = "a missing" if np.isnan(array[tuple(position)]) else "an infinite"
        if array.ndim == 1:
            raise InvalidData(f"The {what} hold {kind} value at position {int(position[0])}.", row=int(position[0]))
        column = names[int(position[1])] if names else str(int(position[1]))
        raise InvalidData(
            f"The {what} hold {kind} value in column {column!r} at position {int(position[0])}.",
            row=int(position[0]),
            column=column,
        )
    return array, names


def as_features(values: Any, what: str) -> pd.DataFrame:
    """Features (a pandas or polars frame, or a 2-D array whose columns become ``x0``, ``x1``, ...) as pandas."""
    if isinstance(values, pd.DataFrame):
        frame = values.reset_index(drop=True)
    elif hasattr(values, "to_pandas") and hasattr(values, "columns"):  # polars, without importing it
        frame = values.to_pandas()
    else:
        array = np.asarray(values)
        if array.ndim != 2:
            raise InvalidData(f"The {what} must be a frame or a 2-D array; got shape {array.shape}.")
        frame = pd.DataFrame(array, columns=[f"x{index}" for index in range(array.shape[1])])
    if not all(isinstance(name, str) for name in frame.columns):
        frame.columns = [str(name) for name in frame.columns]
    return frame


def check_numeric_finite(frame: pd.DataFrame, what: str) -> None:
    """Refuse infinite values in numeric columns, naming the column and the first row (NaN is allowed)."""
    for name in frame.columns:
        column = frame[name]
        if pandas_types.is_numeric_dtype(column.dtype) and not pandas_types.is_bool_dtype(column.dtype):
            values = column.to_numpy(dtype=np.float64, na_value=np.nan)
            infinite = np.isinf(values)
            if infinite.any():
                row = int(np.argmax(infinite))
                raise InvalidData(
                    f"Column {name!r} of the {what} holds an infinite value at row {row}; "
                    "replace it with a finite number or a missing value.",
                    row=row,
                    column=str(name),
                )


def check_length(expected: int, actual: int, what: str, against: str) -> None:
    """Refuse two inputs describing the same rows with different lengths."""
    if expected != actual:
        raise InvalidData(f"The {what} have {actual} rows but the {against} have {expected}; they must match.")


def _missing_mask(array: np.ndarray) -> np.ndarray:
    if array.dtype.kind in "fc":
        result: np.ndarray = ~np.isfinite(array)
        return result
    if array.dtype.kind == "O":
        return np.asarray(pd.isna(array), dtype=bool)
    return np.zeros(array.shape, dtype=bool)
