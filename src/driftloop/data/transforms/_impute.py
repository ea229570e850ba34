"""The imputation step: fill missing values with a constant, a learned statistic or the nearest neighbours."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import polars as pl

from driftloop.data._dtypes import dtype_name
from driftloop.data.transforms._casts import literal
from driftloop.data.transforms._columns import (
    check_column_names,
    finite,
    is_missing,
    json_scalar,
    require_columns,
    require_numeric,
)
from driftloop.data.transforms._knn import fill_nearest, fit_reference
from driftloop.data.transforms._step import Scalar, Statistics, Step, check_choice, check_positive_int
from driftloop.errors import InvalidData, InvalidInput

__all__ = ["Impute"]

ImputeStrategy = Literal["constant", "mean", "median", "mode", "knn"]
_STRATEGIES = ("constant", "mean", "median", "mode", "knn")
_MODE_TYPES = (pl.Boolean(), pl.String(), pl.Categorical(), pl.Date(), pl.Time())


@dataclass(frozen=True, eq=False, repr=False)
class Impute(Step):
    """Fill missing values (nulls, and NaN in float columns).

    ``mean`` and ``median`` fill integer columns with the statistic rounded to a whole number, so no column
    changes type; ``mode`` picks the smallest of equally frequent values. ``knn`` fills each missing value with
    the mean over the row's ``neighbors`` nearest sample rows (at most 2,000 complete rows are kept from the sample;
    distances use the standardised columns the row has).

    Args:
        columns: The columns to fill; numeric for ``mean``, ``median`` and ``knn``.
        strategy: ``"constant"``, ``"mean"``, ``"median"``, ``"mode"`` or ``"knn"``.
        value: The value ``"constant"`` fills in (dates and times as ISO text).
        neighbors: How many neighbours ``"knn"`` averages.
    """

    kind = "impute"
    columns: Sequence[str]
    strategy: ImputeStrategy
    value: Scalar | None = None
    neighbors: int = 5

    def __post_init__(self) -> None:
        self._set("columns", check_column_names(self.kind, "columns", self.columns))
        check_choice(self.kind, "strategy", self.strategy, _STRATEGIES)
        if self.strategy == "constant":
            if isinstance(self.value, bool) or not isinstance(self.value, str | int | float):
                raise InvalidInput(
                    "The 'value' of impute with strategy 'constant' must be a number, a boolean or text "
                    f"(dates as ISO text); got {self.value!r}."
                )
        elif self.value is not None:
            raise InvalidInput(f"The 'value' of impute is used only by strategy 'constant', not {self.strategy!r}.")
        check_positive_int(self.kind, "neighbors", self.neighbors)
        if self.neighbors != 5 and self.strategy != "knn":
            raise InvalidInput(f"The 'neighbors' of impute is used only by strategy 'knn', not {self.strategy!r}.")

    def _fit(self, frame: pl.DataFrame) -> Statistics:
        require_columns(frame, self.columns)
        if self.strategy == "constant":
            for name in self.columns:
                _constant(self.value, name, frame.schema[name])
            return {}
        if self.strategy == "knn":
            require_numeric(frame, self.columns, "nearest-neighbour imputation")
            return fit_reference(_matrix(frame, self.columns), list(self.columns))
        if self.strategy == "mode":
            return {"values": {name: json_scalar(_mode(frame, name)) for name in self.columns}}
        require_numeric(frame, self.columns, f"{self.strategy} imputation")
        return {"values": {name: _center(frame, name, self.strategy) for name in self.columns}}

    def _apply(self, frame: pl.DataFrame, statistics: Mapping[str, Any]) -> pl.DataFrame:
        require_columns(frame, self.columns)
        if self.strategy == "knn":
            return _fill_nearest(frame, self.columns, statistics, self.neighbors)
        fills = []
        for name in self.columns:
            dtype = frame.schema[name]
            if self.strategy == "constant":
                value = _constant(self.value, name, dtype)
            else:
                value = literal(statistics["values"][name], dtype)
            fills.append(pl.when(is_missing(name, dtype)).then(value).otherwise(pl.col(name)).alias(name))
        return frame.with_columns(fills)


def _constant(value: object, name: str, dtype: pl.DataType) -> pl.Expr:
    try:
        return literal(value, dtype)
    except InvalidInput:
        raise InvalidData(
            f"The constant {value!r} does not fit column {name!r}, which holds {dtype_name(dtype)}.", column=name
        ) from None


def _values(frame: pl.DataFrame, name: str) -> pl.Series:
    """The present values of a column (NaN counts as missing)."""
    series = frame.get_column(name)
    if series.dtype.is_float():
        series = series.fill_nan(None)
    return series.drop_nulls()


def _center(frame: pl.DataFrame, name: str, strategy: str) -> float | int:
    values = _values(frame, name)
    center = finite(values.mean() if strategy == "mean" else values.median(), name, strategy)
    return round(center) if frame.schema[name].is_integer() else center


def _mode(frame: pl.DataFrame, name: str) -> object:
    dtype = frame.schema[name]
    if not (dtype.is_numeric() or dtype in _MODE_TYPES or isinstance(dtype, pl.Datetime)):
        raise InvalidData(f"Column {name!r} holds {dtype}, which mode imputation does not support.", column=name)
    values = _values(frame, name)
    if values.dtype == pl.Categorical():
        values = values.cast(pl.String())
    if values.is_empty():
        raise InvalidData(f"Column {name!r} has no values in the sample to learn its mode from.", column=name)
    return values.mode().sort()[0]


def _matrix(frame: pl.DataFrame, columns: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float64]]:
    """The columns as a float64 matrix, NaN where a value is missing."""
    selected = frame.select(pl.col(name).cast(pl.Float64()) for name in columns)
    return selected.to_numpy().astype(np.float64, copy=False).reshape(frame.height, len(columns))


def _fill_nearest(
    frame: pl.DataFrame, columns: Sequence[str], statistics: Mapping[str, Any], neighbors: int
) -> pl.DataFrame:
    matrix = _matrix(frame, columns)
    filled = fill_nearest(matrix, statistics, neighbors)
    fills = []
    for index, name in enumerate(columns):
        dtype = frame.schema[name]
        estimates = filled[:, index]
        if dtype.is_integer():
            estimates = np.round(estimates)
        series = pl.Series(name, estimates).cast(dtype, strict=False)
        fills.append(pl.when(is_missing(name, dtype)).then(series).otherwise(pl.col(name)).alias(name))
    return frame.with_columns(fills)
