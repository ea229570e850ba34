"""Every rule and expectation of a schema as a numbered catalog, and the pandera schema that tests them.

pandera (its Polars backend, ``lazy=True``) runs the row-level tests of one batch and collects every failure
at once; its failure cases are mapped back to catalog entries by column and check number, which gives each
failing row its reasons. Types are tested before (a strict cast, see ``_casting``) and uniqueness after
(it spans batches, see ``_validator``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from driftloop.data.validation._column import ColumnSpec
from driftloop.data.validation._dtypes import polars_type
from driftloop.data.validation._schema import DataSchema
from driftloop.errors import InvalidData

if TYPE_CHECKING:
    import pandera.polars as pa_polars

__all__ = ["FAILURES", "Rule", "RuleBook"]

_LONGEST_VALUE = 60

FAILURES = {"row": pl.Int64, "ordinal": pl.UInt32, "value": pl.String}
"""The schema of a failure table: the row's position in the batch, the rule's ordinal, the value (as text)."""


@dataclass(frozen=True)
class Rule:
    """One thing a row can break: a rule (``enforced``) or an expectation.

    ``tally`` is the report counter it feeds: ``type_errors``, ``nulls``, ``out_of_range``,
    ``unseen_categories``, ``duplicates`` or ``checks``. A row's reason reads ``before + value + after``.
    """

    ordinal: int
    column: str | None
    label: str
    tally: str
    enforced: bool
    before: str
    after: str = ""
    shows_value: bool = True
    quoted: bool = False
    check: str | None = None

    def describe(self) -> str:
        """How an error message names the rule."""
        if self.check is not None:
            return f"the check {self.check!r} ({self.label})"
        return f"the rule '{self.label}' of column {self.column!r}"


class RuleBook:
    """The numbered rules of a schema and the pandera schema testing the row-level ones."""

    def __init__(self, schema: DataSchema) -> None:
        # pandera takes most of a second to import: only pay for it when validating.
        import pandera.polars as pa_polars

        self.rules: list[Rule] = []
        self._type: dict[str, Rule] = {}
        self._nulls: dict[str, Rule] = {}
        self._unique: dict[str, Rule] = {}
        self._column_checks: dict[tuple[str, int], Rule] = {}
        self._frame_checks: dict[int, Rule] = {}
        columns = {spec.name: self._column(spec) for spec in schema.columns}
        frame_checks = []
        for number, check in enumerate(schema.custom_checks):
            about = f"column {check.column}: " if check.column is not None else ""
            reason = f"{about}check {check.name} failed ({check.expression})"
            rule = self._add(check.column, check.expression, "checks", check.kind == "rule", reason, check=check.name)
            self._frame_checks[number] = rule
            frame_checks.append(pa_polars.Check(_sql_check(check.condition()), name=check.name))
        self._pandera = pa_polars.DataFrameSchema(columns, checks=frame_checks, strict=False)
        self.table = pl.DataFrame(
            [
                (
                    rule.ordinal,
                    rule.column,
                    rule.tally,
                    rule.enforced,
                    rule.before,
                    rule.after,
                    rule.shows_value,
                    rule.quoted,
                )
                for rule in self.rules
            ],
            schema={
                "ordinal": pl.UInt32,
                "column": pl.String,
                "tally": pl.String,
                "enforced": pl.Boolean,
                "before": pl.String,
                "after": pl.String,
                "shows_value": pl.Boolean,
                "quoted": pl.Boolean,
            },
            orient="row",
        )
        """One row per rule, to join failure tables against."""

    def type_rule(self, column: str) -> Rule:
        """The rule that a value of ``column`` casts to its type."""
        return self._type[column]

    def unique_rule(self, column: str) -> Rule | None:
        """The uniqueness rule or expectation of ``column``, if it has one."""
        return self._unique.get(column)

    def explain(self, failures: pl.DataFrame) -> pl.DataFrame:
        """Add each failure's rule facts (``column``, ``tally``, ``enforced``) and its ``reason`` text."""
        shown = pl.col("value").fill_null("null")
        shown = (
            pl.when(shown.str.len_chars() > _LONGEST_VALUE)
            .then(pl.concat_str(shown.str.slice(0, _LONGEST_VALUE - 1), pl.lit("…")))
            .otherwise(shown)
        )
        shown = pl.when(pl.col("quoted")).then(pl.concat_str(pl.lit("'"), shown, pl.lit("'"))).otherwise(shown)
        reason = pl.concat_str(
            pl.col("before"), pl.when(pl.col("shows_value")).then(shown).otherwise(pl.lit("")), pl.col("after")
        )
        return (
            failures.join(self.table, on="ordinal", how="left", maintain_order="left")
            .with_columns(reason.alias("reason"))
            .drop("before", "after", "shows_value", "quoted")
        )

    def run(self, frame: pl.DataFrame, source: str) -> pl.DataFrame:
        """Test a cast batch (schema columns only); return its failures (see :data:`FAILURES`)."""
        from pandera.config import config_context
        from pandera.errors import SchemaError, SchemaErrors

        with config_context(validation_enabled=True, validation_depth="SCHEMA_AND_DATA"):
            try:
                self._pandera.validate(frame, lazy=True)
            except SchemaErrors as errors:
                return self._failures(errors.failure_cases, source)
            except SchemaError as error:  # only raised when lazy validation stops early
                raise InvalidData(f"{_where(source)}: {error}", source=source or None) from None
        return pl.DataFrame(schema=FAILURES)

    def _column(self, spec: ColumnSpec) -> pa_polars.Column:
        import pandera.polars as pa_polars

        name, quoted = spec.name, spec.dtype == "string"
        prefix = f"column {name}: "
        self._type[name] = self._add(
            name,
            f"type {spec.dtype}",
            "type_errors",
            True,
            f"{prefix}{{value}} is not a valid {spec.dtype}",
            quoted=True,
        )
        self._nulls[name] = self._add(
            name, "not nullable", "nulls", True, f"{prefix}missing value (the column is not nullable)"
        )
        expectations: list[tuple[pa_polars.Check, str, str, bool, str]] = []
        if spec.minimum is not None:
            below = f"{prefix}{{value}} is below the minimum {spec.minimum}"
            expectations.append(
                (
                    pa_polars.Check.ge(spec.minimum),
                    f"minimum {spec.minimum}",
                    "out_of_range",
                    spec.enforces("range"),
                    below,
                )
            )
        if spec.maximum is not None:
            above = f"{prefix}{{value}} is above the maximum {spec.maximum}"
            expectations.append(
                (
                    pa_polars.Check.le(spec.maximum),
                    f"maximum {spec.maximum}",
                    "out_of_range",
                    spec.enforces("range"),
                    above,
                )
            )
        if spec.categories is not None:
            unseen = f"{prefix}{{value}} is not one of the expected categories"
            check = pa_polars.Check(_in_categories(spec.categories), name="categories")
            expectations.append((check, "categories", "unseen_categories", spec.enforces("categories"), unseen))
        for number, (_, label, tally, enforced, reason) in enumerate(expectations):
            self._column_checks[(name, number)] = self._add(name, label, tally, enforced, reason, quoted=quoted)
        if spec.unique:
            repeated = f"{prefix}{{value}} repeats an earlier row's value"
            self._unique[name] = self._add(
                name, "unique", "duplicates", spec.enforces("unique"), repeated, quoted=quoted
            )
        checks = [check for check, *_ in expectations]
        return pa_polars.Column(polars_type(spec.dtype), nullable=spec.nullable, checks=checks)

    def _add(
        self,
        column: str | None,
        label: str,
        tally: str,
        enforced: bool,
        reason: str,
        *,
        quoted: bool = False,
        check: str | None = None,
    ) -> Rule:
        """Number a new rule; ``reason`` is its text for a row, with ``{value}`` where the value goes."""
        before, placeholder, after = reason.partition("{value}")
        rule = Rule(len(self.rules), column, label, tally, enforced, before, after, bool(placeholder), quoted, check)
        self.rules.append(rule)
        return rule

    def _failures(self, cases: pl.DataFrame, source: str) -> pl.DataFrame:
        keys = pl.DataFrame(
            {
                "key": [
                    *(f"frame|{number}" for number in self._frame_checks),
                    *(f"null|{column}" for column in self._nulls),
                    *(f"column|{column}|{number}" for column, number in self._column_checks),
                ],
                "ordinal": [
                    *(rule.ordinal for rule in self._frame_checks.values()),
                    *(rule.ordinal for rule in self._nulls.values()),
                    *(rule.ordinal for rule in self._column_checks.values()),
                ],
            },
            schema={"key": pl.String, "ordinal": pl.UInt32},
        )
        number = pl.col("check_number").cast(pl.String)
        key = (
            pl.when(pl.col("column").is_null())
            .then(pl.concat_str(pl.lit("frame|"), number))
            .when(pl.col("check") == "not_nullable")
            .then(pl.concat_str(pl.lit("null|"), pl.col("column")))
            .otherwise(pl.concat_str(pl.lit("column|"), pl.col("column"), pl.lit("|"), number))
        )
        matched = cases.with_columns(key.alias("key")).join(keys, on="key", how="left", maintain_order="left")
        unmatched = matched.filter(pl.col("ordinal").is_null() | pl.col("index").is_null())
        if unmatched.height:
            column, check, ordinal, value = unmatched.select("column", "check", "ordinal", "failure_case").row(0)
            what = self.rules[ordinal].describe() if ordinal is not None else f"check {check!r} of column {column!r}"
            raise InvalidData(f"{_where(source)}: {what} could not run: {value}", source=source or None, column=column)
        return matched.select(
            pl.col("index").cast(pl.Int64).alias("row"),
            "ordinal",
            pl.col("failure_case").cast(pl.String).alias("value"),
        )


def _where(source: str) -> str:
    return f"Source {source!r}" if source else "The batch"


def _in_categories(categories: tuple[str, ...]) -> Callable[[pa_polars.PolarsData], pl.LazyFrame]:
    def in_categories(data: pa_polars.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col(data.key).cast(pl.String).is_in(categories))

    return in_categories


def _sql_check(condition: pl.Expr) -> Callable[[pa_polars.PolarsData], pl.LazyFrame]:
    def sql_check(data: pa_polars.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(condition)

    return sql_check
