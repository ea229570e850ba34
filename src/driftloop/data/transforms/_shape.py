"""Steps that shape the table row by row: select, rename, cast, filter and derive."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from driftloop.data._dtypes import parse_dtype
from driftloop.data.transforms._casts import cast_columns
from driftloop.data.transforms._columns import (
    SOURCE_ROW,
    check_column_name,
    check_column_names,
    data_columns,
    require_columns,
)
from driftloop.data.transforms._step import Statistics, Step
from driftloop.errors import InvalidInput

__all__ = ["Cast", "Derive", "Filter", "Rename", "Select"]

_ROW_WISE_PROBE = 16  # sample rows that check an expression is row-wise


@dataclass(frozen=True, eq=False, repr=False)
class Select(Step):
    """Keep ``columns``, in that order (``_source_row`` stays, after them).

    Args:
        columns: The columns to keep.
    """

    kind = "select"
    columns: Sequence[str]

    def __post_init__(self) -> None:
        self._set("columns", check_column_names(self.kind, "columns", self.columns))

    def _fit(self, frame: pl.DataFrame) -> Statistics:
        require_columns(frame, self.columns)
        return {}

    def _apply(self, frame: pl.DataFrame, statistics: Mapping[str, Any]) -> pl.DataFrame:
        require_columns(frame, self.columns)
        keep = [*self.columns, SOURCE_ROW] if SOURCE_ROW in frame.columns else list(self.columns)
        return frame.select(keep)


@dataclass(frozen=True, eq=False, repr=False)
class Rename(Step):
    """Rename columns.

    Args:
        mapping: Old name to new name.
    """

    kind = "rename"
    mapping: Mapping[str, str]

    def __post_init__(self) -> None:
        if not isinstance(self.mapping, Mapping) or not self.mapping:
            raise InvalidInput(f"The 'mapping' of rename must map old column names to new ones; got {self.mapping!r}.")
        for old, new in self.mapping.items():
            check_column_name(self.kind, "mapping", old)
            check_column_name(self.kind, "mapping", new)
        targets = list(self.mapping.values())
        clashes = sorted({new for new in targets if targets.count(new) > 1})
        if clashes:
            raise InvalidInput(f"The 'mapping' of rename gives more than one column the name {clashes[0]!r}.")
        self._set("mapping", dict(self.mapping))

    def _fit(self, frame: pl.DataFrame) -> Statistics:
        require_columns(frame, self.mapping)
        kept = set(frame.columns) - set(self.mapping)
        for new in self.mapping.values():
            if new in kept:
                raise InvalidInput(f"Renaming a column to {new!r} would clash with the column of that name.")
        return {}

    def _apply(self, frame: pl.DataFrame, statistics: Mapping[str, Any]) -> pl.DataFrame:
        require_columns(frame, self.mapping)
        return frame.rename(dict(self.mapping))


@dataclass(frozen=True, eq=False, repr=False)
class Cast(Step):
    """Convert columns to other types.

    Text converts to numbers, booleans (true/false/1/0), dates, times and datetimes (ISO formats, inferred).

    Args:
        types: Column name to type name: ``int8`` … ``int64``, ``uint8`` … ``uint64``, ``float32``, ``float64``,
            ``bool``, ``string``, ``categorical``, ``date``, ``time``, ``timestamp[us]`` (or ``timestamp[ms]``,
            ``timestamp[us, tz=UTC]``; ``datetime`` and ``datetime[us, UTC]`` are read too), ``duration[us]``.
        strict: When True a value that does not convert raises :class:`~driftloop.errors.InvalidData` naming the
            column, the value and the source row; when False it becomes a missing value.
    """

    kind = "cast"
    types: Mapping[str, str]
    strict: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.types, Mapping) or not self.types:
            raise InvalidInput(f"The 'types' of cast must map column names to type names; got {self.types!r}.")
        for name, type_name in self.types.items():
            check_column_name(self.kind, "types", name)
            if not isinstance(type_name, str) or parse_dtype(type_name) is None:
                raise InvalidInput(
                    f"The type of column {name!r} in cast must be a type name such as 'int64', 'float64', 'bool', "
                    f"'string', 'date' or 'timestamp[us]'; got {type_name!r}."
                )
        if not isinstance(self.strict, bool):
            raise InvalidInput(f"The 'strict' of cast must be true or false; got {self.strict!r}.")
        self._set("types", dict(self.types))

    def _fit(self, frame: pl.DataFrame) -> Statistics:
        require_columns(frame, self.types)
        return {}

    def _apply(self, frame: pl.DataFrame, statistics: Mapping[str, Any]) -> pl.DataFrame:
        require_columns(frame, self.types)
        targets = {name: parse_dtype(type_name) for name, type_name in self.types.items()}
        return cast_columns(frame, {name: dtype for name, dtype in targets.items() if dtype}, strict=self.strict)


@dataclass(frozen=True, eq=False, repr=False)
class Filter(Step):
    """Keep the rows where a boolean polars SQL expression is true (a null result drops the row too).

    Args:
        expression: For example ``"price > 0 AND area IS NOT NULL"``.
    """

    kind = "filter"
    expression: str

    def __post_init__(self) -> None:
        parse_expression(self.kind, self.expression)

    def _fit(self, frame: pl.DataFrame) -> Statistics:
        dtype = check_expression(self.kind, self.expression, frame)
        if dtype not in (pl.Boolean(), pl.Null()):
            raise InvalidInput(
                f"The expression {self.expression!r} must be true or false for each row; it gives {dtype}."
            )
        return {}

    def _apply(self, frame: pl.DataFrame, statistics: Mapping[str, Any]) -> pl.DataFrame:
        return frame.filter(parse_expression(self.kind, self.expression))


@dataclass(frozen=True, eq=False, repr=False)
class Derive(Step):
    """Add a column (or replace one) computed row by row with a polars SQL expression.

    Args:
        column: The name of the column to write.
        expression: For example ``"price / area"``.
    """

    kind = "derive"
    column: str
    expression: str

    def __post_init__(self) -> None:
        check_column_name(self.kind, "column", self.column)
        parse_expression(self.kind, self.expression)

    def _fit(self, frame: pl.DataFrame) -> Statistics:
        check_expression(self.kind, self.expression, frame)
        return {}

    def _apply(self, frame: pl.DataFrame, statistics: Mapping[str, Any]) -> pl.DataFrame:
        return frame.with_columns(parse_expression(self.kind, self.expression).alias(self.column))


def parse_expression(kind: str, text: object) -> pl.Expr:
    """The polars expression ``text`` stands for, or :class:`InvalidInput` saying why it does not parse."""
    if not isinstance(text, str) or not text.strip():
        raise InvalidInput(f"The 'expression' of {kind} must be a polars SQL expression (text); got {text!r}.")
    try:
        return pl.sql_expr(text)
    except pl.exceptions.PolarsError as error:
        raise InvalidInput(f"The expression {text!r} of {kind} does not parse: {error}.") from None


def check_expression(kind: str, text: str, frame: pl.DataFrame) -> pl.DataType:
    """Check ``text`` against ``frame``'s schema and first rows; return the type of its result.

    A transform runs batch by batch, so only row-wise expressions are allowed: the first rows of the sample must
    give the same results together as one by one (``price > avg(price)`` does not).
    """
    expression = parse_expression(kind, text).alias("result")
    require_columns(frame, expression.meta.root_names())
    try:
        typed = frame.clear(n=2).select(expression)  # two rows of nulls: a type mistake shows whatever the data
        head = frame.head(_ROW_WISE_PROBE)
        together = head.select(expression)
        alone = [head.slice(row, 1).select(expression) for row in range(head.height)]
    except pl.exceptions.PolarsError as error:
        columns = ", ".join(f"{name} {frame.schema[name]}" for name in data_columns(frame))
        reason = str(error).strip().splitlines()[0]
        raise InvalidInput(f"The expression {text!r} does not apply to the columns ({columns}): {reason}") from None
    row_wise = typed.height == 2 and together.height == head.height
    if row_wise and alone:
        row_wise = together.equals(pl.concat(alone), null_equal=True)
    if not row_wise:
        raise InvalidInput(
            f"The expression {text!r} aggregates over rows; a transform runs batch by batch, so it must compute each "
            "row from that row alone."
        )
    return typed.schema["result"]
