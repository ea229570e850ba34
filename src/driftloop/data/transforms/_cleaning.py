"""Steps that clean rows: drop missing values, drop duplicates, clip or drop outliers."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from driftloop.data.transforms._columns import (
    check_column_names,
    data_columns,
    finite,
    is_missing,
    require_columns,
    require_numeric,
)
from driftloop.data.transforms._step import Statistics, Step, check_choice, check_threshold

__all__ = ["DropDuplicates", "DropMissing", "Outliers"]

DuplicateKeep = Literal["first", "last", "none"]
OutlierMethod = Literal["iqr", "zscore"]
OutlierAction = Literal["clip", "drop"]
_DEFAULT_THRESHOLDS = {"iqr": 1.5, "zscore": 3.0}


@dataclass(frozen=True, eq=False, repr=False)
class DropMissing(Step):
    """Drop the rows missing a value (null, or NaN in a float column) in any of ``columns``.

    Args:
        columns: The columns to look at; None means every column the sample has at this step, fixed at fit.
    """

    kind = "drop_missing"
    columns: Sequence[str] | None = None

    def __post_init__(self) -> None:
        if self.columns is not None:
            self._set("columns", check_column_names(self.kind, "columns", self.columns))

    def _fit(self, frame: pl.DataFrame) -> Statistics:
        columns = data_columns(frame) if self.columns is None else list(self.columns)
        require_columns(frame, columns)
        return {"columns": columns}

    def _apply(self, frame: pl.DataFrame, statistics: Mapping[str, Any]) -> pl.DataFrame:
        columns: list[str] = list(statistics["columns"])
        require_columns(frame, columns)
        if not columns:
            return frame
        return frame.filter(~pl.any_horizontal(is_missing(name, frame.schema[name]) for name in columns))


@dataclass(frozen=True, eq=False, repr=False)
class DropDuplicates(Step):
    """Drop rows that repeat an earlier row, comparing ``columns`` (``_source_row`` is never compared).

    Duplicates are found within each batch only: the same row in two batches of one ingest stays twice (the
    validator counts duplicates across batches).

    Args:
        columns: The columns to compare; None means every column the sample has at this step, fixed at fit.
        keep: Which copy to keep: ``"first"``, ``"last"``, or ``"none"`` to drop every copy.
    """

    kind = "drop_duplicates"
    columns: Sequence[str] | None = None
    keep: DuplicateKeep = "first"

    def __post_init__(self) -> None:
        if self.columns is not None:
            self._set("columns", check_column_names(self.kind, "columns", self.columns))
        check_choice(self.kind, "keep", self.keep, ("first", "last", "none"))

    def _fit(self, frame: pl.DataFrame) -> Statistics:
        columns = data_columns(frame) if self.columns is None else list(self.columns)
        require_columns(frame, columns)
        return {"columns": columns}

    def _apply(self, frame: pl.DataFrame, statistics: Mapping[str, Any]) -> pl.DataFrame:
        columns: list[str] = list(statistics["columns"])
        require_columns(frame, columns)
        if not columns:
            return frame
        return frame.unique(subset=columns, keep=self.keep, maintain_order=True)


@dataclass(frozen=True, eq=False, repr=False)
class Outliers(Step):
    """Clip or drop values far outside the sample's spread.

    ``iqr`` bounds each column by ``[q1 - threshold * iqr, q3 + threshold * iqr]`` (quartiles with linear
    interpolation); ``zscore`` by ``mean ± threshold * std`` (population standard deviation). Missing values are
    never outliers. Clipping an integer column rounds its bounds inward, so the column keeps its type.

    Args:
        columns: Numeric columns to bound.
        method: ``"iqr"`` or ``"zscore"``.
        threshold: How many IQRs or standard deviations from the centre; None means 1.5 for ``iqr`` and 3.0 for
            ``zscore``.
        action: ``"clip"`` values to the bounds, or ``"drop"`` the rows with a value outside them.
    """

    kind = "outliers"
    columns: Sequence[str]
    method: OutlierMethod = "iqr"
    threshold: float | None = None
    action: OutlierAction = "clip"

    def __post_init__(self) -> None:
        self._set("columns", check_column_names(self.kind, "columns", self.columns))
        check_choice(self.kind, "method", self.method, tuple(_DEFAULT_THRESHOLDS))
        self._set("threshold", check_threshold(self.kind, self.threshold))
        check_choice(self.kind, "action", self.action, ("clip", "drop"))

    def _fit(self, frame: pl.DataFrame) -> Statistics:
        require_numeric(frame, self.columns, "outlier detection")
        threshold = _DEFAULT_THRESHOLDS[self.method] if self.threshold is None else self.threshold
        bounds = {}
        for name in self.columns:
            values = frame.get_column(name)
            if values.dtype.is_float():
                values = values.fill_nan(None)
            if self.method == "iqr":
                q1 = finite(values.quantile(0.25, "linear"), name, "first quartile")
                q3 = finite(values.quantile(0.75, "linear"), name, "third quartile")
                spread = q3 - q1
                bounds[name] = {"q1": q1, "q3": q3, "low": q1 - threshold * spread, "high": q3 + threshold * spread}
            else:
                mean = finite(values.mean(), name, "mean")
                std = finite(values.std(ddof=0), name, "standard deviation")
                bounds[name] = {"mean": mean, "std": std, "low": mean - threshold * std, "high": mean + threshold * std}
        return {"bounds": bounds}

    def _apply(self, frame: pl.DataFrame, statistics: Mapping[str, Any]) -> pl.DataFrame:
        require_columns(frame, self.columns)
        bounds: Mapping[str, Mapping[str, float]] = statistics["bounds"]
        if self.action == "drop":
            inside = [
                is_missing(name, frame.schema[name])
                | pl.col(name).is_between(float(bounds[name]["low"]), float(bounds[name]["high"]))
                for name in self.columns
            ]
            return frame.filter(pl.all_horizontal(inside)) if inside else frame
        clips = []
        for name in self.columns:
            low, high = float(bounds[name]["low"]), float(bounds[name]["high"])
            if frame.schema[name].is_integer():
                # Polars truncates float bounds of an integer column; round inward to stay inside them.
                whole_low, whole_high = math.ceil(low), math.floor(high)
                clips.append(pl.col(name).clip(whole_low, max(whole_low, whole_high)))
            else:
                clips.append(pl.col(name).clip(low, high))
        return frame.with_columns(clips)
