"""Compiles the search filter language (``driftloop.filtering``) to SQL over the runs table.

A metric condition compares the metric's latest value; ``params.x < 0.1`` with a number compares
the param's numeric shadow column, so ``0.01 < 0.1`` holds even though params are stored as text.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from driftloop.filtering import And, Comparison, Expression, Field, Not, Or, OrderBy
from driftloop.store.metadata._schema import metrics, params, runs, tags

__all__ = ["compile_filter", "compile_order_by"]

# Backslash escapes % and _ in LIKE patterns on every backend (PostgreSQL's default, SQLite's none).
_ESCAPE = "\\"

_ATTRIBUTES = {
    "run_id": runs.c.id,
    "name": runs.c.name,
    "status": runs.c.status,
    "start_time": runs.c.start_time,
    "end_time": runs.c.end_time,
    "experiment_id": runs.c.experiment_id,
    "parent_run_id": runs.c.parent_id,
    "user": runs.c.user,
}


def compile_filter(expression: Expression) -> ColumnElement[bool]:
    """The SQL condition on ``runs`` that the filter expression means."""
    if isinstance(expression, And):
        return sa.and_(*(compile_filter(item) for item in expression.items))
    if isinstance(expression, Or):
        return sa.or_(*(compile_filter(item) for item in expression.items))
    if isinstance(expression, Not):
        return sa.not_(compile_filter(expression.item))
    return _compile_comparison(expression)


def compile_order_by(order: OrderBy) -> list[Any]:
    """ORDER BY terms for one clause; runs lacking the metric or param sort last either way."""
    field = order.field
    if field.kind == "attribute":
        column: Any = _ATTRIBUTES[field.key]
        terms = [column]
    elif field.kind == "metric":
        terms = [_child_value(metrics, metrics.c.last_value, field.key)]
    else:
        table = params if field.kind == "param" else tags
        terms = [
            _child_value(table, table.c.value_number, field.key),
            _child_value(table, table.c.value, field.key),
        ]
    return [(term.desc() if order.descending else term.asc()).nulls_last() for term in terms]


def _compile_comparison(comparison: Comparison) -> ColumnElement[bool]:
    field, op, value = comparison.field, comparison.op, comparison.value
    if field.kind == "attribute":
        column = _ATTRIBUTES[field.key]
        if op == "is null":
            return column.is_(None)
        if op == "is not null":
            return column.is_not(None)
        return _apply(column, op, value)
    table, condition = _child(field)
    if op == "is null":
        return ~sa.exists().where(condition)
    if op == "is not null":
        return sa.exists().where(condition)
    if field.kind == "metric":
        return sa.exists().where(condition, _apply(metrics.c.last_value, op, value))
    return sa.exists().where(condition, _text_or_number(table, op, value))


def _child(field: Field) -> tuple[sa.Table, ColumnElement[bool]]:
    table = {"metric": metrics, "param": params, "tag": tags}[field.kind]
    return table, sa.and_(table.c.run_id == runs.c.id, table.c.key == field.key)


def _child_value(table: sa.Table, column: Any, key: str) -> Any:
    return sa.select(column).where(table.c.run_id == runs.c.id, table.c.key == key).scalar_subquery()


def _text_or_number(table: sa.Table, op: str, value: Any) -> ColumnElement[bool]:
    """A param or tag compared as text with a string literal, numerically with a number."""
    if isinstance(value, tuple):
        texts = tuple(item for item in value if isinstance(item, str))
        numbers = tuple(item for item in value if not isinstance(item, str))
        parts = []
        if texts:
            parts.append(table.c.value.in_(texts))
        if numbers:
            parts.append(table.c.value_number.in_(numbers))
        either = sa.or_(*parts)
        return sa.not_(either) if op == "not in" else either
    column = table.c.value if isinstance(value, str) else table.c.value_number
    return _apply(column, op, value)


def _apply(column: Any, op: str, value: Any) -> ColumnElement[bool]:
    if op == "=":
        return column == value  # type: ignore[no-any-return]
    if op == "!=":
        return column != value  # type: ignore[no-any-return]
    if op == "<":
        return column < value  # type: ignore[no-any-return]
    if op == "<=":
        return column <= value  # type: ignore[no-any-return]
    if op == ">":
        return column > value  # type: ignore[no-any-return]
    if op == ">=":
        return column >= value  # type: ignore[no-any-return]
    if op == "like":
        return column.like(value, escape=_ESCAPE)  # type: ignore[no-any-return]
    if op == "not like":
        return column.not_like(value, escape=_ESCAPE)  # type: ignore[no-any-return]
    if op == "ilike":
        return column.ilike(value, escape=_ESCAPE)  # type: ignore[no-any-return]
    if op == "not ilike":
        return column.not_ilike(value, escape=_ESCAPE)  # type: ignore[no-any-return]
    if op == "in":
        return column.in_(value)  # type: ignore[no-any-return]
    if op == "not in":
        return column.not_in(value)  # type: ignore[no-any-return]
    raise ValueError(f"unknown operator {op!r}")  # the parser admits no other operator
