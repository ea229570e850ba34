"""Strict, lossless casts of one column to its schema type, reporting the values that do not fit.

A value that cannot become the schema type without changing (``"abc"`` or ``"4.0"`` for an ``int64``, ``1.5``
for an ``int64``, ``300`` for a ``uint8``) is a type error of its row, never silently rounded or nulled.
"""

from __future__ import annotations

import polars as pl

__all__ = ["NULL_MARKERS", "as_text", "cast_column"]

NULL_MARKERS = (
    "",
    "#N/A",
    "#N/A N/A",
    "#NA",
    "-1.#IND",
    "-1.#QNAN",
    "-NaN",
    "-nan",
    "1.#IND",
    "1.#QNAN",
    "N/A",
    "NA",
    "NULL",
    "NaN",
    "n/a",
    "nan",
    "null",
)
"""Strings read as missing when parsed into a non-string type: the same list as pyarrow's CSV reader, so a column
that arrives as text (because one bad value kept the reader from typing it) treats missing values alike."""

_NAIVE_FORMATS = (
    *(f"%Y-%m-%d{separator}{time}" for separator in ("T", " ") for time in ("%H:%M:%S%.f", "%H:%M:%S", "%H:%M")),
    "%Y-%m-%d",
)
_OFFSET_FORMATS = tuple(f"%Y-%m-%d{separator}%H:%M:%S%.f%#z" for separator in ("T", " "))
_TRUE = ("true", "1")
_FALSE = ("false", "0")


def cast_column(values: pl.Series, dtype: pl.DataType) -> tuple[pl.Series, pl.Series | None]:
    """Cast ``values`` to ``dtype``; return the cast column and a boolean mask of the values that did not fit
    (None when no value can fail: the column has the type already, holds only nulls, or becomes text).

    Rows in the mask are null in the cast column. Strings are parsed (integers strictly, booleans from
    true/false/1/0 in any case, dates as ``YYYY-MM-DD``, timestamps as ISO 8601).

    >>> cast, errors = cast_column(pl.Series(["1", "x", None, "4.0"]), pl.Int64())
    >>> cast.to_list(), errors.to_list()
    ([1, None, None, None], [False, True, False, True])
    """
    source = values.dtype
    if source == dtype:
        return values, None
    if isinstance(source, pl.Categorical | pl.Enum):
        return cast_column(values.cast(pl.String), dtype)
    if source == pl.Null:
        return values.cast(dtype), None
    if dtype == pl.String:
        return as_text(values), None
    if source == pl.String:
        values = _null_where(values, values.is_in(NULL_MARKERS).fill_null(False))
        cast = _parse(values, dtype)
        errors = values.is_not_null() & cast.is_null()
        return cast, errors.alias(values.name)
    try:
        cast = values.cast(dtype, strict=False)
        if dtype.is_float() and source.is_float():
            # Narrowing a float rounds by nature; only an overflow to infinity loses the value.
            changed = values.is_finite() & cast.is_infinite()
        else:
            changed = cast.is_null() | cast.cast(source, strict=False).ne_missing(values)
    except pl.exceptions.PolarsError:
        cast = pl.repeat(None, len(values), dtype=dtype, eager=True).alias(values.name)
        changed = _all(values, True)
    errors = (values.is_not_null() & changed).alias(values.name)
    return _null_where(cast, errors), errors


def as_text(values: pl.Series) -> pl.Series:
    """Every value as a string (nulls stay null): how quarantined rows keep the values as they came."""
    try:
        return values.cast(pl.String)
    except pl.exceptions.PolarsError:
        # Nested and other exotic types have no cast to text in Polars; fall back to Python's rendering.
        return pl.Series(
            values.name, [None if value is None else str(value) for value in values.to_list()], dtype=pl.String
        )


def _parse(text: pl.Series, dtype: pl.DataType) -> pl.Series:
    if dtype == pl.Boolean:
        lowered = text.str.to_lowercase()
        frame = pl.DataFrame({"text": lowered})
        return frame.select(
            pl.when(pl.col("text").is_in(_TRUE))
            .then(True)
            .when(pl.col("text").is_in(_FALSE))
            .then(False)
            .otherwise(None)
            .alias(text.name)
        ).to_series()
    if dtype == pl.Date:
        return text.str.to_date("%Y-%m-%d", strict=False)
    if isinstance(dtype, pl.Datetime):
        return _parse_timestamp(text, dtype)
    try:
        return text.cast(dtype, strict=False)
    except pl.exceptions.PolarsError:
        return pl.repeat(None, len(text), dtype=dtype, eager=True).alias(text.name)


def _parse_timestamp(text: pl.Series, dtype: pl.Datetime) -> pl.Series:
    unit, zone = dtype.time_unit, dtype.time_zone
    candidates = [
        text.str.to_datetime(format, time_unit=unit, time_zone=zone, strict=False, exact=True)
        for format in _NAIVE_FORMATS
    ]
    if zone is not None:
        # Strings with an explicit offset are exact instants; convert them to the column's zone.
        candidates += [
            text.str.to_datetime(format, time_unit=unit, strict=False, exact=True).dt.convert_time_zone(zone)
            for format in _OFFSET_FORMATS
        ]
    frame = pl.DataFrame({str(index): candidate for index, candidate in enumerate(candidates)})
    return frame.select(pl.coalesce(frame.columns).alias(text.name)).to_series()


def _null_where(values: pl.Series, mask: pl.Series) -> pl.Series:
    frame = pl.DataFrame({"values": values, "mask": mask})
    return frame.select(pl.when(pl.col("mask")).then(None).otherwise(pl.col("values")).alias(values.name)).to_series()


def _all(values: pl.Series, flag: bool) -> pl.Series:
    return pl.repeat(flag, len(values), dtype=pl.Boolean, eager=True).alias(values.name)
