"""Every rule and expectation of a schema as a numbered catalog, and how a batch is tested against them.

Types are tested first (a strict cast, see ``_casting``) and uniqueness last (it spans batches, see
``_validator``). In between, two engines test the rows of the cast batch:

* **Natively**, in one vectorised Polars pass: nullability, ranges and category sets, rules and expectations
  alike. Each is the very expression a pandera model of the schema runs (:func:`column_tests`, shared with
  ``_pandera``), with pandera's conventions (a NaN is missing in a non-nullable float column; a check passes
  on a missing value), so the failures are the same (``tests/data/test_validation_engines.py`` checks it).
  Why not through pandera: it builds, collects and concatenates lazy frames for every check of every column,
  which cost 1.1 s of a 1M-row, 20-column ingest for 0.1 s of actual testing; and importing it costs half a
  second more.
* **With pandera** (``lazy=True``, its Polars backend): the user's custom checks, collected at once, each
  failing row mapped back to its check. pandera is imported only for a schema that has custom checks.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import polars as pl

from driftloop.data._dtypes import polars_type
from driftloop.data.validation._column import ColumnSpec
from driftloop.data.validation._schema import DataSchema

if TYPE_CHECKING:
    from driftloop.data.validation._pandera import PanderaChecks

__all__ = ["FAILURES", "ColumnTest", "Rule", "RuleBook", "column_tests"]

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


@dataclass(frozen=True)
class ColumnTest:
    """A row-level test of one column's values: a bound of its range or its category set.

    ``passes`` is true where a value keeps the test and null where the value is missing (which passes).
    """

    column: str
    label: str
    tally: str
    enforced: bool
    reason: str
    passes: pl.Expr


def column_tests(spec: ColumnSpec) -> Iterator[ColumnTest]:
    """The range and category tests of a column, in catalog order (what both engines run)."""
    name, prefix = spec.name, f"column {spec.name}: "
    if spec.minimum is not None:
        below = f"{prefix}{{value}} is below the minimum {spec.minimum}"
        yield ColumnTest(
            name,
            f"minimum {spec.minimum}",
            "out_of_range",
            spec.enforces("range"),
            below,
            pl.col(name).ge(spec.minimum),
        )
    if spec.maximum is not None:
        above = f"{prefix}{{value}} is above the maximum {spec.maximum}"
        yield ColumnTest(
            name,
            f"maximum {spec.maximum}",
            "out_of_range",
            spec.enforces("range"),
            above,
            pl.col(name).le(spec.maximum),
        )
    if spec.categories is not None:
        unseen = f"{prefix}{{value}} is not one of the expected categories"
        passes = pl.col(name).cast(pl.String).is_in(spec.categories)
        yield ColumnTest(name, "categories", "unseen_categories", spec.enforces("categories"), unseen, passes)


def _missing(spec: ColumnSpec) -> pl.Expr:
    """True where a value of the column is missing as nullability counts it (null, or NaN in a float column)."""
    column = pl.col(spec.name)
    return column.is_null() | column.is_nan() if polars_type(spec.dtype).is_float() else column.is_null()


class RuleBook:
    """The numbered rules of a schema, and the engines testing the row-level ones (see the module docstring)."""

    def __init__(self, schema: DataSchema) -> None:
        self.rules: list[Rule] = []
        self._type: dict[str, Rule] = {}
        self._unique: dict[str, Rule] = {}
        self._native: list[tuple[Rule, pl.Expr]] = []  # each rule with the expression that is true where it fails
        self._counting: list[pl.Expr] | None = None  # built once: the same for every batch
        for spec in schema.columns:
            self._column(spec)
        custom = []
        for check in schema.custom_checks:
            about = f"column {check.column}: " if check.column is not None else ""
            reason = f"{about}check {check.name} failed ({check.expression})"
            custom.append(
                (
                    self._add(check.column, check.expression, "checks", check.kind == "rule", reason, check=check.name),
                    check,
                )
            )
        self._custom: PanderaChecks | None = None
        if custom:
            from driftloop.data.validation._pandera import PanderaChecks

            self._custom = PanderaChecks(custom)
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
        self._explained = self._explain(pl.DataFrame(schema=FAILURES)).schema

    def type_rule(self, column: str) -> Rule:
        """The rule that a value of ``column`` casts to its type."""
        return self._type[column]

    def unique_rule(self, column: str) -> Rule | None:
        """The uniqueness rule or expectation of ``column``, if it has one."""
        return self._unique.get(column)

    def explain(self, failures: pl.DataFrame) -> pl.DataFrame:
        """Add each failure's rule facts (``column``, ``tally``, ``enforced``) and its ``reason`` text."""
        # Most batches fail nothing: skip the join, whose buffers would otherwise be paid for on every batch.
        return pl.DataFrame(schema=self._explained) if failures.height == 0 else self._explain(failures)

    def _explain(self, failures: pl.DataFrame) -> pl.DataFrame:
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
        failures = self._run_native(frame)
        if self._custom is not None:
            failures = pl.concat([failures, self._custom.run(frame, source, self.rules)])
        return failures

    def _run_native(self, frame: pl.DataFrame) -> pl.DataFrame:
        if not self._native or frame.height == 0:
            return pl.DataFrame(schema=FAILURES)
        # One pass counts every rule's failures (Polars runs the expressions in parallel); only rules that
        # fail, rare on real data, pay for a second pass collecting their rows.
        if self._counting is None:
            self._counting = [failed.sum().alias(str(index)) for index, (_, failed) in enumerate(self._native)]
        counts = frame.select(self._counting).row(0)
        found = [
            frame.select(
                pl.int_range(pl.len(), dtype=pl.Int64).filter(failed).alias("row"),
                pl.col(rule.column).filter(failed).cast(pl.String).alias("value"),
            ).select("row", pl.lit(rule.ordinal, dtype=pl.UInt32).alias("ordinal"), "value")
            for (rule, failed), count in zip(self._native, counts, strict=True)
            if count and rule.column is not None
        ]
        return pl.concat(found) if found else pl.DataFrame(schema=FAILURES)

    def _column(self, spec: ColumnSpec) -> None:
        name = spec.name
        prefix = f"column {name}: "
        self._type[name] = self._add(
            name,
            f"type {spec.dtype}",
            "type_errors",
            True,
            f"{prefix}{{value}} is not a valid {spec.dtype}",
            quoted=True,
        )
        nulls = self._add(name, "not nullable", "nulls", True, f"{prefix}missing value (the column is not nullable)")
        if not spec.nullable:
            self._native.append((nulls, _missing(spec)))
        quoted = spec.dtype == "string"
        for test in column_tests(spec):
            rule = self._add(name, test.label, test.tally, test.enforced, test.reason, quoted=quoted)
            self._native.append((rule, test.passes.not_().fill_null(False)))
        if spec.unique:
            repeated = f"{prefix}{{value}} repeats an earlier row's value"
            self._unique[name] = self._add(
                name, "unique", "duplicates", spec.enforces("unique"), repeated, quoted=quoted
            )

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
