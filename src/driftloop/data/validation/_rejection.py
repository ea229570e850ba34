"""The error that rejects a batch: which rules broke, in how many rows, at which source rows."""

from __future__ import annotations

import polars as pl

from driftloop.data.validation._rules import RuleBook
from driftloop.errors import InvalidData

__all__ = ["rejection"]

_RULES_SHOWN = 3
_ROWS_SHOWN = 5


def rejection(failures: pl.DataFrame, source_rows: pl.Series, rules: RuleBook, source: str) -> InvalidData:
    """An :class:`InvalidData` naming the source, then per broken rule its column, count and first source rows.

    ``failures`` holds the enforced failures of the batch (``row`` positions, ``ordinal``, ``reason``).
    """
    located = failures.with_columns(source_rows.gather(failures["row"]).alias("source_row")).sort("source_row")
    groups = (
        located.group_by("ordinal", maintain_order=True)
        .agg(
            pl.col("source_row").n_unique().alias("count"),
            pl.col("source_row").unique(maintain_order=True).head(_ROWS_SHOWN).alias("rows"),
            pl.col("value").first(),
        )
        .sort("ordinal")
    )
    parts = []
    for ordinal, count, rows, value in groups.head(_RULES_SHOWN).iter_rows():
        rule = rules.rules[ordinal]
        listed = ", ".join(str(row) for row in rows) + (", …" if count > len(rows) else "")
        shown = f"; first value {value!r}" if rule.shows_value and value is not None else ""
        parts.append(
            f"{count} {'row breaks' if count == 1 else 'rows break'} {rule.describe()} "
            f"(source row{'' if count == 1 else 's'} {listed}{shown})"
        )
    more = groups.height - _RULES_SHOWN
    if more > 0:
        parts.append(f"and {more} more {'rule fails' if more == 1 else 'rules fail'}")
    where = f"Source {source!r}" if source else "The batch"
    first_ordinal, _, first_rows, _ = groups.row(0)
    return InvalidData(
        f"{where} breaks its schema: {'; '.join(parts)}. Fix the data or the schema, or validate with "
        "on_rule_failure='quarantine' to keep the good rows.",
        source=source or None,
        row=first_rows[0],
        column=rules.rules[first_ordinal].column,
    )
