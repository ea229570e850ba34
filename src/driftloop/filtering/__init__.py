"""The run-search filter language: a tokenizer, a recursive-descent parser and a small typed tree.

A filter selects runs by their metrics, params, tags and attributes::

    metrics.rmse < 0.5 and params.model in ('lgbm', 'xgb') and not status = 'failed'

Keywords are case-insensitive; ``not`` binds tighter than ``and``, which binds tighter than ``or``.
Types are checked while parsing (a metric against a number, a status against a known status, a time
against epoch seconds or an ISO-8601 date), so the store compiles a tree that is already valid. Every
mistake raises :class:`~driftloop.errors.InvalidFilter`, whose message names the column and draws a
caret under it.

>>> parse_filter("metrics.rmse < 0.5 and params.model = 'lgbm'")  # doctest: +NORMALIZE_WHITESPACE
And(items=(Comparison(field=Field(kind='metric', key='rmse'), op='<', value=0.5),
           Comparison(field=Field(kind='param', key='model'), op='=', value='lgbm')))
>>> parse_order_by("start_time DESC")
OrderBy(field=Field(kind='attribute', key='start_time'), descending=True)
>>> parse_filter("metrics.rmse < and params.x = 1")
Traceback (most recent call last):
    ...
driftloop.errors.InvalidFilter: Expected a value after '<' at column 16, got 'and'.
  metrics.rmse < and params.x = 1
                 ^
"""

from driftloop.filtering import _syntax
from driftloop.filtering._parser import parse_filter, parse_order_by
from driftloop.filtering._syntax import (
    And,
    Comparison,
    Expression,
    Field,
    FieldKind,
    Not,
    Operator,
    Or,
    OrderBy,
    Value,
)

__all__ = [
    "And",
    "Comparison",
    "Expression",
    "Field",
    "FieldKind",
    "Not",
    "Operator",
    "Or",
    "OrderBy",
    "Value",
    "parse_filter",
    "parse_order_by",
]

# Shown and pickled under the public path, as before the package was split into modules.
for _node in (And, Comparison, Field, Not, Or, OrderBy):
    _node.__module__ = __name__
del _node

# Private, as before the split: the tests draw valid filters from these vocabularies.
_ATTRIBUTES = _syntax.ATTRIBUTES
_STATUSES = _syntax.STATUSES
