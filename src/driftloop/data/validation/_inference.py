"""Infer column specs from a sample: types and nullability (rules), ranges, categories, uniqueness (expectations)."""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from driftloop.data._dtypes import dtype_name_of, is_integer, is_numeric
from driftloop.data.validation._column import RESERVED_COLUMNS, ColumnSpec
from driftloop.errors import InvalidInput

__all__ = ["MAX_CATEGORIES", "MAX_CATEGORY_SHARE", "infer_columns"]

MAX_CATEGORIES = 50
"""A text column gets a category set when it has at most this many distinct values…"""
MAX_CATEGORY_SHARE = 0.05
"""…and they are at most this share of the sample's rows (so free text and ids never become categories)."""


def infer_columns(sample: pa.Table | pa.RecordBatch) -> tuple[ColumnSpec, ...]:
    """One spec per column of ``sample`` (``_source_row`` skipped), all expectations unpromoted.

    A column is nullable when the sample has a missing value in it (or has no rows). Numeric columns expect
    the sample's finite minimum and maximum; text columns with few distinct values expect those values;
    integer and text columns whose values are all present and distinct expect to stay unique.
    """
    if not isinstance(sample, pa.Table | pa.RecordBatch):
        raise InvalidInput(f"A schema is inferred from a pyarrow Table; got {type(sample).__name__}.")
    names = [name for name in sample.schema.names if name not in RESERVED_COLUMNS]
    if len(set(names)) != len(names):
        repeated = next(name for name in names if names.count(name) > 1)
        raise InvalidInput(f"The sample has two columns named {repeated!r}; column names must be unique.")
    types = {name: dtype_name_of(sample.schema.field(name).type, name) for name in names}
    frame = pl.from_arrow(pa.table(sample.select(names)) if names else pa.table({}))
    assert isinstance(frame, pl.DataFrame)
    return tuple(_infer_column(frame[name], types[name], frame.height) for name in names)


def _infer_column(values: pl.Series, dtype: str, rows: int) -> ColumnSpec:
    if isinstance(values.dtype, pl.Categorical | pl.Enum):
        values = values.cast(pl.String)
    missing = values.null_count()
    minimum = maximum = None
    categories = None
    if is_numeric(dtype):
        finite = values.drop_nulls()
        if finite.dtype.is_float():
            finite = finite.filter(finite.is_finite())
        if len(finite):
            low, high = finite.min(), finite.max()
            cast = int if is_integer(dtype) else float
            minimum, maximum = cast(low), cast(high)  # type: ignore[arg-type]
    distinct = values.drop_nulls().n_unique()
    if dtype == "string" and 0 < distinct <= min(MAX_CATEGORIES, MAX_CATEGORY_SHARE * rows):
        categories = tuple(sorted(values.drop_nulls().unique().to_list()))
    unique = (is_integer(dtype) or dtype == "string") and rows >= 2 and missing == 0 and distinct == rows
    return ColumnSpec(
        name=values.name,
        dtype=dtype,
        nullable=missing > 0 or rows == 0,
        minimum=minimum,
        maximum=maximum,
        categories=categories,
        unique=unique,
    )
