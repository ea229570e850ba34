"""The filter language's tree, and the vocabulary it is written in.

A parsed filter is a tree of frozen dataclasses: :class:`Comparison` leaves under :class:`And`, :class:`Or`
and :class:`Not`. The tables list what the language knows (field prefixes, attributes, statuses and the
spellings of operators) and :func:`operators_for` which operators each field admits.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias, get_args

FieldKind: TypeAlias = Literal["metric", "param", "tag", "attribute"]
Operator: TypeAlias = Literal[
    "=", "!=", "<", "<=", ">", ">=", "like", "ilike", "not like", "not ilike",
    "in", "not in", "is null", "is not null",
]  # fmt: skip
Scalar: TypeAlias = str | int | float
Value: TypeAlias = str | int | float | tuple[str | int | float, ...] | None


@dataclass(frozen=True, slots=True)
class Field:
    """A metric, param or tag of a run by its key, or one of the run's attributes by its canonical name."""

    kind: FieldKind
    key: str


@dataclass(frozen=True, slots=True)
class Comparison:
    """``field op value``; ``value`` is None for IS NULL and IS NOT NULL, a tuple for IN and NOT IN."""

    field: Field
    op: Operator
    value: Value


@dataclass(frozen=True, slots=True)
class And:
    """All of at least two expressions, none of them an ``And``."""

    items: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """Any of at least two expressions, none of them an ``Or``."""

    items: tuple[Expression, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """The negation of an expression."""

    item: Expression


Expression: TypeAlias = Comparison | And | Or | Not


@dataclass(frozen=True, slots=True)
class OrderBy:
    """One ``<field> [ASC|DESC]`` clause."""

    field: Field
    descending: bool = False


PREFIXES: dict[str, FieldKind] = {
    "metrics": "metric", "metric": "metric", "params": "param", "param": "param", "tags": "tag", "tag": "tag",
    "attributes": "attribute", "attribute": "attribute", "attr": "attribute",
}  # fmt: skip
PLURALS: dict[FieldKind, str] = {
    "metric": "metrics", "param": "params", "tag": "tags", "attribute": "attributes",
}  # fmt: skip
ATTRIBUTES = ("run_id", "name", "status", "start_time", "end_time", "experiment_id", "parent_run_id", "user")
ATTRIBUTE_ALIASES = {"id": "run_id", "run_name": "name"} | {name: name for name in ATTRIBUTES}
TIME_ATTRIBUTES = ("start_time", "end_time")
STATUSES = ("running", "finished", "failed", "killed")
KEYWORDS = ("and", "or", "not", "like", "ilike", "in", "is", "null", "asc", "desc")

SYMBOL_OPERATORS: dict[str, Operator] = {
    "=": "=", "==": "=", "!=": "!=", "<>": "!=", "<": "<", "<=": "<=", ">": ">", ">=": ">=",
}  # fmt: skip
WORD_OPERATORS: dict[str, Operator] = {
    "like": "like", "ilike": "ilike", "in": "in",
    "not like": "not like", "not ilike": "not ilike", "not in": "not in",
}  # fmt: skip
_ALL_OPERATORS: tuple[Operator, ...] = get_args(Operator)
_ORDERING: tuple[Operator, ...] = ("=", "!=", "<", "<=", ">", ">=")
PATTERN: tuple[Operator, ...] = ("like", "ilike", "not like", "not ilike")
MEMBERSHIP: tuple[Operator, ...] = ("in", "not in")
PRESENCE: tuple[Operator, ...] = ("is null", "is not null")
_NUMERIC_OPERATORS = _ORDERING + MEMBERSHIP + PRESENCE
_TEXT_OPERATORS = ("=", "!=", *PATTERN, *MEMBERSHIP, *PRESENCE)
_STATUS_OPERATORS = ("=", "!=", *MEMBERSHIP)


def operators_for(field: Field) -> tuple[Operator, ...]:
    """The operators a field may be compared with, by its kind (and, for an attribute, its name)."""
    if field.kind in ("param", "tag"):
        return _ALL_OPERATORS
    if field.kind == "metric" or field.key in (*TIME_ATTRIBUTES, "experiment_id"):
        return _NUMERIC_OPERATORS
    if field.key == "status":
        return _STATUS_OPERATORS
    return _TEXT_OPERATORS


def field_label(field: Field) -> str:
    """A field as a filter spells it: ``metrics.rmse``, or an attribute's bare name."""
    return field.key if field.kind == "attribute" else f"{PLURALS[field.kind]}.{field.key}"


def flatten(kind: type[And] | type[Or], items: list[Expression]) -> Expression:
    """One item stays itself; ``a and (b and c)`` becomes ``And((a, b, c))``."""
    flat: list[Expression] = []
    for item in items:
        flat.extend(item.items if isinstance(item, kind) else (item,))
    return flat[0] if len(flat) == 1 else kind(tuple(flat))
