"""Column bookkeeping shared by the steps: the row-number column, lookups, missing values, JSON scalars."""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

import polars as pl

from driftloop.errors import InvalidData, InvalidInput

__all__ = [
    "SOURCE_ROW",
    "check_column_names",
    "data_columns",
    "describe_row",
    "finite",
    "is_missing",
    "json_scalar",
    "require_columns",
    "require_numeric",
]

SOURCE_ROW = "_source_row"
"""The 1-based source row number the ingest pipeline adds; carried through every step, never a data column."""


def check_column_names(kind: str, parameter: str, value: object, *, allow_empty: bool = False) -> tuple[str, ...]:
    """Return ``value`` as a tuple of distinct column names, or raise :class:`InvalidInput`."""
    if isinstance(value, str) or not isinstance(value, Sequence):
        raise InvalidInput(f"The {parameter!r} of {kind} must be a list of column names; got {value!r}.")
    names = tuple(value)
    if not names and not allow_empty:
        raise InvalidInput(f"The {parameter!r} of {kind} must name at least one column; got an empty list.")
    for name in names:
        check_column_name(kind, parameter, name)
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise InvalidInput(f"The {parameter!r} of {kind} lists {duplicates[0]!r} more than once.")
    return names


def check_column_name(kind: str, parameter: str, name: object) -> str:
    """Return ``name`` when it is a usable column name, or raise :class:`InvalidInput`."""
    if not isinstance(name, str) or not name:
        raise InvalidInput(f"The {parameter!r} of {kind} must hold non-empty column names (strings); got {name!r}.")
    if name == SOURCE_ROW:
        raise InvalidInput(
            f"The {parameter!r} of {kind} names {SOURCE_ROW!r}, which the pipeline carries through every step "
            "untouched; leave it out."
        )
    return name


def data_columns(frame: pl.DataFrame) -> list[str]:
    """The columns of ``frame`` other than the row-number column, in order."""
    return [name for name in frame.columns if name != SOURCE_ROW]


def require_columns(frame: pl.DataFrame, columns: Iterable[str]) -> None:
    """Raise :class:`InvalidData` naming the first of ``columns`` that ``frame`` lacks."""
    present = set(frame.columns)
    for name in columns:
        if name not in present:
            available = ", ".join(repr(column) for column in data_columns(frame)) or "none"
            raise InvalidData(f"There is no column {name!r}; the columns here are {available}.", column=name)


def require_numeric(frame: pl.DataFrame, columns: Iterable[str], purpose: str) -> None:
    """Raise :class:`InvalidData` unless every one of ``columns`` exists and holds numbers."""
    columns = list(columns)
    require_columns(frame, columns)
    for name in columns:
        dtype = frame.schema[name]
        if not dtype.is_numeric():
            raise InvalidData(f"Column {name!r} holds {dtype}, but {purpose} needs numbers.", column=name)


def is_missing(name: str, dtype: pl.DataType) -> pl.Expr:
    """True where column ``name`` is null, or NaN in a float column (pandas' way of writing missing)."""
    expression = pl.col(name).is_null()
    if dtype.is_float():
        expression = expression | pl.col(name).is_nan()
    return expression


def describe_row(frame: pl.DataFrame, position: int) -> tuple[int | None, str]:
    """The source row number at ``position`` of ``frame`` (when known) and words that locate it."""
    if SOURCE_ROW in frame.columns:
        row = frame.get_column(SOURCE_ROW)[position]
        if row is not None:
            return int(row), f"source row {row}"
    return None, f"row {position + 1} of the batch"


def finite(value: object, column: str, what: str) -> float:
    """Return ``value`` as a float, or raise :class:`InvalidData` when the sample gave none or a non-finite one."""
    if value is None:
        raise InvalidData(f"Column {column!r} has no values in the sample to learn its {what} from.", column=column)
    number = float(value)  # type: ignore[arg-type]
    if not math.isfinite(number):
        raise InvalidData(
            f"The {what} of column {column!r} in the sample is {number}; remove infinite values first.",
            column=column,
        )
    return number


def json_scalar(value: Any) -> Any:
    """``value`` as JSON can hold it: dates and times as ISO text, decimals as text, other scalars unchanged."""
    if isinstance(value, dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        raise InvalidData(f"The value {value} cannot be stored with the transform's statistics.")
    return value
