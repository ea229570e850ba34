"""Steps that turn columns into model features: encode categories, scale numbers."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

import polars as pl

from driftloop.data.transforms._columns import (
    check_column_names,
    describe_row,
    finite,
    json_scalar,
    require_columns,
    require_numeric,
)
from driftloop.data.transforms._step import Statistics, Step, check_choice, check_positive_int
from driftloop.errors import InvalidData, InvalidInput

__all__ = ["Encode", "Scale"]

EncodeMethod = Literal["onehot", "ordinal"]
UnknownCategory = Literal["ignore", "error"]
ScaleMethod = Literal["standard", "minmax", "robust"]
OTHER = "__other__"
"""The category standing for every value outside the ``max_categories`` most frequent ones."""

_UNSAFE = re.compile(r"[ ,;{}()\n\t=]")  # characters Delta Lake refuses in column names


@dataclass(frozen=True, eq=False, repr=False)
class Encode(Step):
    """Encode text, integer or boolean columns as category indicators or codes.

    Fit keeps the ``max_categories`` most frequent values of each column (ties by value). When a column has
    more, the rest, and any value seen first after the fit, fall into one extra category, ``__other__``. When it
    has no more, a value seen first after the fit is ignored (no indicator set; ordinal code -1) or raises
    :class:`~driftloop.errors.InvalidData` naming the column, the value and the source row, per ``unknown``.

    ``onehot`` replaces each column, in place, by one uint8 column per category, named ``<column>_<category>``
    (characters Delta Lake refuses in names become ``_``); a missing value sets none. ``ordinal`` replaces it by
    int32 codes in the order of the categories (most frequent first, ``__other__`` last); a missing value stays
    missing.

    Args:
        columns: The columns to encode.
        method: ``"onehot"`` or ``"ordinal"``.
        max_categories: How many categories each column keeps at most, ``__other__`` aside.
        unknown: ``"ignore"`` or ``"error"``.
    """

    kind = "encode"
    columns: Sequence[str]
    method: EncodeMethod = "onehot"
    max_categories: int = 50
    unknown: UnknownCategory = "ignore"

    def __post_init__(self) -> None:
        self._set("columns", check_column_names(self.kind, "columns", self.columns))
        check_choice(self.kind, "method", self.method, ("onehot", "ordinal"))
        check_positive_int(self.kind, "max_categories", self.max_categories)
        check_choice(self.kind, "unknown", self.unknown, ("ignore", "error"))

    def _fit(self, frame: pl.DataFrame) -> Statistics:
        require_columns(frame, self.columns)
        learned: dict[str, dict[str, Any]] = {}
        taken = set(frame.columns) - set(self.columns)
        for name in self.columns:
            values = _categories_of(frame, name).drop_nulls()
            counts = values.value_counts(name="count").sort(["count", name], descending=[True, False])
            categories = [json_scalar(value) for value in counts.get_column(name).head(self.max_categories)]
            encoding: dict[str, Any] = {"categories": categories, "other": counts.height > self.max_categories}
            if self.method == "onehot":
                encoding["names"] = _indicator_names(name, [*categories, OTHER] if encoding["other"] else categories)
                for indicator in encoding["names"]:
                    if indicator in taken:
                        raise InvalidInput(f"The indicator column {indicator!r} would clash with an existing column.")
                    taken.add(indicator)
            learned[name] = encoding
        return {"columns": learned}

    def _apply(self, frame: pl.DataFrame, statistics: Mapping[str, Any]) -> pl.DataFrame:
        require_columns(frame, self.columns)
        learned: Mapping[str, Mapping[str, Any]] = statistics["columns"]
        if self.unknown == "error":
            for name in self.columns:
                if not learned[name]["other"]:
                    _refuse_unseen(frame, name, learned[name]["categories"])
        if self.method == "ordinal":
            return frame.with_columns(_codes(frame, name, learned[name]) for name in self.columns)
        encoded: list[pl.Expr] = []
        for name in frame.columns:
            encoded.extend(_indicators(frame, name, learned[name]) if name in learned else [pl.col(name)])
        return frame.select(encoded)


@dataclass(frozen=True, eq=False, repr=False)
class Scale(Step):
    """Scale numeric columns to float64 with statistics of the sample.

    ``standard``: ``(x - mean) / std`` (population standard deviation); ``minmax``: ``(x - min) / (max - min)``;
    ``robust``: ``(x - median) / (q3 - q1)``. A zero spread divides by 1 instead, as scikit-learn does.

    Args:
        columns: The numeric columns to scale.
        method: ``"standard"``, ``"minmax"`` or ``"robust"``.
    """

    kind = "scale"
    columns: Sequence[str]
    method: ScaleMethod = "standard"

    def __post_init__(self) -> None:
        self._set("columns", check_column_names(self.kind, "columns", self.columns))
        check_choice(self.kind, "method", self.method, ("standard", "minmax", "robust"))

    def _fit(self, frame: pl.DataFrame) -> Statistics:
        require_numeric(frame, self.columns, "scaling")
        learned: dict[str, dict[str, float]] = {}
        for name in self.columns:
            values = frame.get_column(name).cast(pl.Float64()).fill_nan(None)
            if self.method == "standard":
                learned[name] = {
                    "mean": finite(values.mean(), name, "mean"),
                    "std": finite(values.std(ddof=0), name, "std"),
                }
            elif self.method == "minmax":
                learned[name] = {
                    "min": finite(values.min(), name, "minimum"),
                    "max": finite(values.max(), name, "maximum"),
                }
            else:
                learned[name] = {
                    "median": finite(values.median(), name, "median"),
                    "q1": finite(values.quantile(0.25, "linear"), name, "first quartile"),
                    "q3": finite(values.quantile(0.75, "linear"), name, "third quartile"),
                }
        return {"columns": learned}

    def _apply(self, frame: pl.DataFrame, statistics: Mapping[str, Any]) -> pl.DataFrame:
        require_columns(frame, self.columns)
        scaled = []
        for name in self.columns:
            center, spread = _center_and_spread(self.method, statistics["columns"][name])
            scaled.append(((pl.col(name).cast(pl.Float64()) - center) / (spread or 1.0)).alias(name))
        return frame.with_columns(scaled)


def _center_and_spread(method: str, learned: Mapping[str, float]) -> tuple[float, float]:
    if method == "standard":
        return float(learned["mean"]), float(learned["std"])
    if method == "minmax":
        return float(learned["min"]), float(learned["max"]) - float(learned["min"])
    return float(learned["median"]), float(learned["q3"]) - float(learned["q1"])


def _categories_of(frame: pl.DataFrame, name: str) -> pl.Series:
    """A column's values as the categories are stored: text for categorical columns."""
    series = frame.get_column(name)
    dtype = series.dtype
    if dtype == pl.Categorical() or isinstance(dtype, pl.Enum):
        return series.cast(pl.String())
    if dtype == pl.String() or dtype == pl.Boolean() or dtype.is_integer() or dtype == pl.Null():
        return series
    raise InvalidData(f"Column {name!r} holds {dtype}; encode takes text, integer or boolean columns.", column=name)


def _value(frame: pl.DataFrame, name: str) -> pl.Expr:
    dtype = frame.schema[name]
    categorical = dtype == pl.Categorical() or isinstance(dtype, pl.Enum)
    return pl.col(name).cast(pl.String()) if categorical else pl.col(name)


def _indicator_names(column: str, categories: Sequence[object]) -> list[str]:
    names: list[str] = []
    for category in categories:
        text = "true" if category is True else "false" if category is False else str(category)
        base = _UNSAFE.sub("_", f"{column}_{text}")
        name, suffix = base, 2
        while name in names:
            name, suffix = f"{base}_{suffix}", suffix + 1
        names.append(name)
    return names


def _indicators(frame: pl.DataFrame, name: str, learned: Mapping[str, Any]) -> list[pl.Expr]:
    value = _value(frame, name)
    categories = list(learned["categories"])
    names = list(learned["names"])
    indicators = [(value == category).fill_null(False) for category in categories]
    if learned["other"]:
        indicators.append(value.is_not_null() & ~value.is_in(categories))
    if len(indicators) != len(names):
        raise ValueError(f"the one-hot statistics of {name!r} list {len(names)} names for {len(indicators)} categories")
    return [indicator.cast(pl.UInt8()).alias(label) for indicator, label in zip(indicators, names, strict=True)]


def _codes(frame: pl.DataFrame, name: str, learned: Mapping[str, Any]) -> pl.Expr:
    categories = list(learned["categories"])
    unseen = len(categories) if learned["other"] else -1
    mapping = {category: code for code, category in enumerate(categories)}
    value = _value(frame, name)
    codes = value.replace_strict(mapping, default=unseen, return_dtype=pl.Int32())
    return pl.when(value.is_null()).then(None).otherwise(codes).alias(name)


def _refuse_unseen(frame: pl.DataFrame, name: str, categories: Sequence[object]) -> None:
    unseen = frame.select(_value(frame, name).is_not_null() & ~_value(frame, name).is_in(list(categories))).to_series()
    if unseen.any():
        position = int(unseen.arg_true()[0])
        row, where = describe_row(frame, position)
        value = _categories_of(frame, name)[position]
        raise InvalidData(
            f"Column {name!r} has the category {value!r} at {where}, which the transform did not see when it was "
            "fitted (encode with unknown='error').",
            row=row,
            column=name,
        )
