"""Custom checks: a user's SQL boolean expression over the columns of a row."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

import polars as pl

from driftloop.errors import InvalidInput

__all__ = ["CHECK_KINDS", "CustomCheck"]

CHECK_KINDS = ("rule", "expectation")


@dataclass(frozen=True, kw_only=True)
class CustomCheck:
    """A row-level condition, written as a Polars SQL boolean expression.

    A row passes when the expression is true *or null* (the SQL ``CHECK`` constraint convention: a missing
    value is the business of nullability, not of every check that mentions the column). A ``"rule"`` check is
    enforced (its failing rows are rejected or quarantined); an ``"expectation"`` only flags them in the report.

    Args:
        name: How reports and error messages refer to the check.
        expression: The condition, e.g. ``"price > 0 AND area < 10000"``; evaluated with ``polars.sql_expr``.
        kind: ``"rule"`` or ``"expectation"``.
        column: The column the check is about, when there is one; reasons then name it.

    >>> CustomCheck(name="positive_price", expression="price > 0", kind="rule").kind
    'rule'
    """

    name: str
    expression: str
    kind: Literal["rule", "expectation"]
    column: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            raise InvalidInput(f"A custom check needs a non-empty name; got {self.name!r}.")
        if self.kind not in CHECK_KINDS:
            raise InvalidInput(f"The kind of check {self.name!r} must be 'rule' or 'expectation'; got {self.kind!r}.")
        if self.column is not None and (not isinstance(self.column, str) or not self.column):
            raise InvalidInput(f"The column of check {self.name!r} must be a column name or None; got {self.column!r}.")
        if not isinstance(self.expression, str) or not self.expression.strip():
            raise InvalidInput(f"The expression of check {self.name!r} must be a non-empty string.")
        self.condition()

    def condition(self) -> pl.Expr:
        """The expression as a Polars expression (raises :class:`InvalidInput` when it does not parse)."""
        try:
            return pl.sql_expr(self.expression)
        except pl.exceptions.PolarsError as error:
            raise InvalidInput(
                f"The expression of check {self.name!r} is not valid SQL: {self.expression!r} ({_first_line(error)})."
            ) from None

    def verify_against(self, column_types: Mapping[str, pl.DataType]) -> None:
        """Raise :class:`InvalidInput` unless the check reads known columns and gives one boolean per row."""
        if self.column is not None and self.column not in column_types:
            raise InvalidInput(f"Check {self.name!r} is about column {self.column!r}, which the schema does not have.")
        empty = pl.DataFrame(schema=dict(column_types))
        try:
            result = empty.select(self.condition())
        except pl.exceptions.PolarsError as error:
            raise InvalidInput(
                f"Check {self.name!r} cannot run on the schema's columns: {self.expression!r} ({_first_line(error)})."
            ) from None
        if result.width != 1 or result.dtypes[0] != pl.Boolean:
            raise InvalidInput(
                f"Check {self.name!r} must be a boolean condition; {self.expression!r} gives {result.dtypes}."
            )
        if result.height != 0:
            # On an empty frame a row-wise expression gives no rows; an aggregate gives one.
            raise InvalidInput(
                f"Check {self.name!r} must test each row on its own; {self.expression!r} aggregates over rows."
            )


def _first_line(error: Exception) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
