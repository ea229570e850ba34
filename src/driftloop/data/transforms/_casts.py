"""The casts a transform makes between column types, and how a later batch is brought to the fitted types.

Polars 2 no longer casts text to dates, times or booleans, so :func:`cast_expression` parses text itself.
Type names (``"float64"``, ``"timestamp[us, tz=UTC]"``) live in :mod:`driftloop.data._dtypes`.
"""

from __future__ import annotations

from collections.abc import Mapping

import polars as pl

from driftloop.data._dtypes import dtype_name
from driftloop.data.transforms._columns import describe_row
from driftloop.errors import InvalidData, InvalidInput

__all__ = ["cast_columns", "cast_expression", "conform", "literal"]

_TRUTH = {"true": True, "false": False, "1": True, "0": False}


def cast_expression(name: str, source: pl.DataType, target: pl.DataType) -> pl.Expr:
    """Column ``name`` as ``target``; values that do not convert become null (callers report them)."""
    column = pl.col(name)
    if source == pl.String() and target != pl.String():
        if target == pl.Date():
            return column.str.to_date(strict=False)
        if target == pl.Time():
            return column.str.to_time(strict=False)
        if isinstance(target, pl.Datetime):
            return column.str.to_datetime(time_unit=target.time_unit, time_zone=target.time_zone, strict=False)
        if target == pl.Boolean():
            text = column.str.strip_chars().str.to_lowercase()
            return text.replace_strict(_TRUTH, default=None, return_dtype=pl.Boolean())
        if target.is_numeric():
            column = column.str.strip_chars()
    return column.cast(target, strict=False)


def literal(value: object, dtype: pl.DataType) -> pl.Expr:
    """A literal of type ``dtype`` from a JSON value (dates and times as text); InvalidInput if it does not fit."""
    series = pl.Series("value", [value])
    converted = series.to_frame().select(cast_expression("value", series.dtype, dtype)).to_series()[0]
    inexact = isinstance(value, float) and dtype.is_integer() and not value.is_integer()
    if converted is None or inexact:
        raise InvalidInput(f"The value {value!r} does not convert to {dtype_name(dtype)}.")
    return pl.lit(converted, dtype=dtype)


def cast_columns(
    frame: pl.DataFrame, targets: Mapping[str, pl.DataType], *, strict: bool, context: str = ""
) -> pl.DataFrame:
    """Cast columns of ``frame`` to ``targets``.

    Strict casts raise :class:`InvalidData` naming the column, the first value that does not convert and its row
    (``context`` ends the message); lenient ones turn such values into nulls.
    """
    if not targets:
        return frame
    converted = frame.with_columns(
        cast_expression(name, frame.schema[name], target).alias(name) for name, target in targets.items()
    )
    if strict:
        for name, target in targets.items():
            lost = frame.get_column(name).is_not_null() & converted.get_column(name).is_null()
            if lost.any():
                position = int(lost.arg_true()[0])
                row, where = describe_row(frame, position)
                value = frame.get_column(name)[position]
                raise InvalidData(
                    f"Column {name!r} has {value!r} at {where}, which does not convert to {dtype_name(target)}"
                    f"{context}.",
                    row=row,
                    column=name,
                )
    return converted


def conform(frame: pl.DataFrame, schema: Mapping[str, pl.DataType], *, parse_text: bool) -> pl.DataFrame:
    """Bring ``frame``'s columns to the fitted ``schema`` where that loses nothing, so later batches run identically.

    Always: all-null columns take their fitted type, integers widen to floats or wider integers, float32 to float64.
    With ``parse_text`` (rows that came as JSON), any other mismatch converts too, strictly: a value that does not
    convert raises :class:`InvalidData` naming the column, the value and the row.
    """
    targets = {}
    for name, target in schema.items():
        source = frame.schema.get(name)
        if source is not None and source != target and (parse_text or _widens(source, target)):
            targets[name] = target
    return cast_columns(frame, targets, strict=True, context=" (its type when the transform was fitted)")


def _widens(source: pl.DataType, target: pl.DataType) -> bool:
    if source == pl.Null():
        return True
    if source.is_integer() and target.is_float():
        return True
    if source.is_integer() and target.is_integer():
        return source.is_signed_integer() == target.is_signed_integer() and _width(source) <= _width(target)
    return source == pl.Float32() and target == pl.Float64()


def _width(dtype: pl.DataType) -> int:
    return int("".join(character for character in dtype_name(dtype) if character.isdigit()))
