"""Counting what the serving input check flagged, from the prediction log's ``flags`` column.

The input check (:mod:`driftloop.serving._input_columns`) serves a row that breaks an *expectation* of the
signature (not a rule) and flags it with one text per problem, ``"<column>: <problem>"``, where the problem is
one of::

    unseen category 'Tay Ho'               -> kind "unseen_category"
    9000.0 above the maximum 450.0         -> kind "above_maximum"
    -3.0 below the minimum 0.0             -> kind "below_minimum"

:func:`quality_from_flags` reads exactly that format; a text it does not recognise is counted under the kind
``"unrecognised"`` (with the column when the text still starts with ``"<column>: "``), never dropped. A column
name that itself contains ``": "`` is read up to the first ``": "`` after which a known problem follows.

>>> summary = quality_from_flags([["district: unseen category 'Tay Ho'"], [], ["area: 9000.0 above the maximum 450.0"]])
>>> summary.rows, summary.flagged_rows, summary.count("district", "unseen_category"), summary.count("area")
(3, 2, 1, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import polars as pl

from driftloop.errors import InvalidInput

__all__ = ["FLAG_KINDS", "FlagCount", "FlagSummary", "quality_from_flags"]

FLAG_KINDS = ("unseen_category", "above_maximum", "below_minimum", "unrecognised")
"""The kinds of flag :func:`quality_from_flags` counts."""

_FLAG = r"^(?P<column>.+?): (?:(?P<unseen>unseen category) .*|.* (?P<side>above the maximum|below the minimum) .*)$"
_COLUMN_ONLY = r"^(.+?): "


@dataclass(frozen=True)
class FlagCount:
    """How often one kind of flag was raised on one column.

    Attributes:
        column: The column named by the flag; None for a text that names none.
        kind: One of :data:`FLAG_KINDS`.
        count: How many flags of this kind the column got.
        rows: How many rows carried at least one of them.
        share: ``rows`` over all the rows given (None when no rows were given).
    """

    column: str | None
    kind: str
    count: int
    rows: int
    share: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "kind": self.kind, "count": self.count, "rows": self.rows, "share": self.share}


@dataclass(frozen=True)
class FlagSummary:
    """The flags of a window of logged rows, counted per column and kind (most frequent first)."""

    rows: int
    flagged_rows: int
    counts: tuple[FlagCount, ...]

    def count(self, column: str, kind: str | None = None) -> int:
        """The number of flags on ``column`` (of ``kind`` only, when given)."""
        if kind is not None and kind not in FLAG_KINDS:
            raise InvalidInput(f"Unknown flag kind {kind!r}; expected one of {', '.join(FLAG_KINDS)}.")
        return sum(item.count for item in self.counts if item.column == column and kind in (None, item.kind))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "flagged_rows": self.flagged_rows,
            "counts": [item.to_dict() for item in self.counts],
        }


def quality_from_flags(flags: Sequence[Sequence[str]] | pl.Series | Any) -> FlagSummary:
    """Count the input check's flags per column and kind, one list of texts per logged row.

    Args:
        flags: The prediction log's ``flags`` column: a list of lists of text, a polars ``List(String)`` Series,
            or a pyarrow list array (an empty list, or a null, is a row without flags).

    Raises:
        InvalidInput: ``flags`` is not a list of lists of text.
    """
    series = _as_series(flags)
    rows = len(series)
    texts = (
        pl.DataFrame({"flags": series})
        .with_row_index("row")
        .explode("flags")
        .drop_nulls("flags")
        .rename({"flags": "text"})
    )
    flagged_rows = texts["row"].n_unique() if texts.height else 0
    parsed = texts.with_columns(pl.col("text").str.extract_groups(_FLAG).alias("parts")).unnest("parts")
    kinds = parsed.select(
        "row",
        pl.coalesce(pl.col("column"), pl.col("text").str.extract(_COLUMN_ONLY, 1)).alias("column"),
        pl.when(pl.col("unseen").is_not_null())
        .then(pl.lit("unseen_category"))
        .when(pl.col("side") == "above the maximum")
        .then(pl.lit("above_maximum"))
        .when(pl.col("side") == "below the minimum")
        .then(pl.lit("below_minimum"))
        .otherwise(pl.lit("unrecognised"))
        .alias("kind"),
    )
    grouped = (
        kinds.group_by("column", "kind")
        .agg(pl.len().alias("count"), pl.col("row").n_unique().alias("rows"))
        .sort(["count", "column", "kind"], descending=[True, False, False], nulls_last=True)
    )
    counts = tuple(
        FlagCount(
            column=item["column"],
            kind=item["kind"],
            count=int(item["count"]),
            rows=int(item["rows"]),
            share=int(item["rows"]) / rows if rows else None,
        )
        for item in grouped.iter_rows(named=True)  # one per (column, kind): a handful, not one per logged row
    )
    return FlagSummary(rows=rows, flagged_rows=int(flagged_rows), counts=counts)


def _as_series(flags: Any) -> pl.Series:
    wanted = pl.List(pl.String)
    try:
        if isinstance(flags, pl.Series):
            series = flags
        elif type(flags).__module__.startswith("pyarrow"):
            series = pl.Series(pl.from_arrow(flags))
        elif isinstance(flags, str | bytes) or not isinstance(flags, Sequence):
            raise InvalidInput(f"The flags must be a list of lists of text, one per row; got {type(flags).__name__}.")
        else:
            series = pl.Series("flags", flags, dtype=wanted, strict=True)
    except (TypeError, ValueError, pl.exceptions.PolarsError) as error:
        if isinstance(error, InvalidInput):
            raise
        raise InvalidInput(
            f"The flags must be a list of lists of text, one per row: {str(error).splitlines()[0]}"
        ) from error
    if series.dtype == pl.Null or (series.dtype == pl.List(pl.Null)):
        series = series.cast(wanted)
    if series.dtype != wanted:
        raise InvalidInput(f"The flags must be lists of text, one per row; got a column of {series.dtype}.")
    return series.alias("flags")
