"""Validate the batches of one ingest against a schema: enforce the rules, flag the expectations, count it all."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import polars as pl
import pyarrow as pa

from driftloop.data._dtypes import polars_type
from driftloop.data.validation._casting import as_text, cast_column
from driftloop.data.validation._hashset import HashSet
from driftloop.data.validation._rejection import rejection
from driftloop.data.validation._report import QualityReport, ReportBuilder
from driftloop.data.validation._rules import FAILURES, RuleBook
from driftloop.data.validation._schema import DataSchema
from driftloop.errors import InvalidData, InvalidInput, InvalidState

__all__ = ["CheckedBatch", "Validator"]

SOURCE_ROW = "_source_row"
REASONS = "_reasons"
_MODES = ("reject", "quarantine")


@dataclass(frozen=True)
class CheckedBatch:
    """The outcome of one batch.

    Attributes:
        good: The rows that keep every rule, cast to the schema's types, columns in schema order, then
            ``_source_row`` (see :meth:`DataSchema.arrow_schema`).
        quarantined: The rows that break a rule, every schema column as text as it came, then ``_source_row``
            and ``_reasons`` (``"column price: -5 is below the minimum 0; …"``). Empty in reject mode.
        flagged_rows: How many good rows break an expectation.
    """

    good: pa.Table
    quarantined: pa.Table
    flagged_rows: int


TRACKING_LIMIT = 1_000_000
"""Distinct hashes remembered per expectation (8 MB each); rules are tracked without limit."""


class Validator:
    """Checks the batches of one ingest, in order, against a schema; :meth:`finish` gives the quality report.

    Uniqueness is checked across batches as they come, by keeping the 64-bit hash of every kept value of each
    column expected unique, and of every kept row (for the duplicate-row count): 8 bytes per distinct value
    (8 MB per million), with a collision chance of about n² / 2⁶⁵ (a false duplicate, never a missed one).
    Columns whose uniqueness is a rule are tracked in full; for expectations and the duplicate-row count,
    new values stop being remembered after ``TRACKING_LIMIT`` (a repeat of a value first seen later is
    then not counted), which bounds memory on inputs larger than memory.

    Args:
        schema: The schema to enforce.
        on_rule_failure: ``"reject"`` raises :class:`InvalidData` on the first batch breaking a rule;
            ``"quarantine"`` keeps the good rows and hands back the bad ones with their reasons.
        source: Names the data in error messages and the report.

    >>> import pyarrow as pa
    >>> schema = DataSchema.infer(pa.table({"area": [50, 70, 90]}))
    >>> validator = Validator(schema, on_rule_failure="quarantine", source="houses.csv")
    >>> checked = validator.check(pa.table({"area": ["60", "big"], "_source_row": [1, 2]}))
    >>> checked.good.to_pydict(), checked.quarantined.column("_reasons").to_pylist()
    ({'area': [60], '_source_row': [1]}, ["column area: 'big' is not a valid int64"])
    >>> validator.finish().column("area").type_errors
    1
    """

    def __init__(
        self,
        schema: DataSchema,
        *,
        on_rule_failure: Literal["reject", "quarantine"] = "reject",
        source: str = "",
    ) -> None:
        if not isinstance(schema, DataSchema):
            raise InvalidInput(f"A Validator needs a DataSchema; got {type(schema).__name__}.")
        if on_rule_failure not in _MODES:
            raise InvalidInput(f"on_rule_failure must be 'reject' or 'quarantine'; got {on_rule_failure!r}.")
        self.schema = schema
        self.on_rule_failure = on_rule_failure
        self.source = source
        self._rules = RuleBook(schema)
        self._report = ReportBuilder(source, schema.names, [(check.name, check.kind) for check in schema.custom_checks])
        self._seen_values = {column.name: HashSet() for column in schema.columns if column.unique}
        self._seen_rows = HashSet()
        self._arrow_schema = schema.arrow_schema()
        self._finished = False

    def check(self, batch: pa.Table | pa.RecordBatch | pl.DataFrame) -> CheckedBatch:
        """Validate the next batch; raise :class:`InvalidData` for a missing required column (in both modes)
        and, in reject mode, for any rule failure.

        The batch is an Arrow table or record batch, or a polars DataFrame (a transform's output, which then
        needs no conversion); the good rows come back as Arrow either way."""
        if self._finished:
            raise InvalidState("This validator has finished; start a new Validator for another ingest.")
        if not isinstance(batch, pa.Table | pa.RecordBatch | pl.DataFrame):
            raise InvalidInput(f"A batch must be a pyarrow Table or RecordBatch; got {type(batch).__name__}.")
        rows, source_rows, original = self._read(batch)
        cast, failures = self._cast(original, rows)
        found = self._rules.run(cast, self.source)
        failures = self._rules.explain(pl.concat([failures, found]) if found.height else failures)
        failures = self._drop_nulls_of_type_errors(failures)
        candidates = _all_but(rows, failures.filter("enforced")["row"])
        failures = self._add_duplicates(failures, cast, candidates, enforced=True)
        bad_rows = failures.filter("enforced")["row"].unique().sort()
        if len(bad_rows) and self.on_rule_failure == "reject":
            raise rejection(failures.filter("enforced"), source_rows, self._rules, self.source)
        kept = _all_but(rows, bad_rows)
        failures = self._add_duplicates(failures, cast, kept, enforced=False)
        # Most batches break no rule: then the cast batch is the good one, without a filtered copy.
        good = cast.filter(kept) if len(bad_rows) else cast
        self._remember(good)
        flagged = failures.filter(~pl.col("enforced") & ~pl.col("row").is_in(bad_rows.implode()))["row"].n_unique()
        self._tally(failures, cast, rows, len(bad_rows), flagged)
        good = good.with_columns((source_rows.filter(kept) if len(bad_rows) else source_rows).alias(SOURCE_ROW))
        return CheckedBatch(
            good=good.to_arrow().cast(self._arrow_schema),
            quarantined=self._quarantine(original, bad_rows, source_rows, failures),
            flagged_rows=flagged,
        )

    def finish(self) -> QualityReport:
        """The quality report of every batch checked; the validator takes no batch after this."""
        self._finished = True
        self._seen_values.clear()
        self._seen_rows = HashSet()
        return self._report.build()

    def _read(self, batch: pa.Table | pa.RecordBatch | pl.DataFrame) -> tuple[int, pl.Series, dict[str, pl.Series]]:
        names = batch.columns if isinstance(batch, pl.DataFrame) else batch.schema.names
        repeated = sorted({name for name in names if names.count(name) > 1})
        if repeated:
            raise InvalidData(
                f"{self._where}: the column {repeated[0]!r} appears twice.",
                source=self.source or None,
                column=repeated[0],
            )
        missing = [spec.name for spec in self.schema.columns if spec.required and spec.name not in names]
        if missing:
            listed = ", ".join(repr(name) for name in missing)
            raise InvalidData(
                f"{self._where}: the required column{'s' if len(missing) > 1 else ''} {listed} "
                f"{'are' if len(missing) > 1 else 'is'} missing; the batch has {', '.join(names) or 'no columns'}.",
                source=self.source or None,
                column=missing[0],
            )
        self._report.add_extra_columns(n for n in names if n not in self.schema.names and n != SOURCE_ROW)
        wanted = [name for name in (*self.schema.names, SOURCE_ROW) if name in names]
        if isinstance(batch, pl.DataFrame):
            rows, columns = batch.height, {name: batch[name] for name in wanted}
        else:
            rows, columns = batch.num_rows, _columns_to_polars(batch.select(wanted))
        original = {name: columns[name] for name in self.schema.names if name in columns}
        if SOURCE_ROW in names:
            source_rows = columns[SOURCE_ROW]
            if not source_rows.dtype.is_integer():
                shown = source_rows.dtype if isinstance(batch, pl.DataFrame) else batch.column(SOURCE_ROW).type
                raise InvalidData(f"{self._where}: {SOURCE_ROW} must hold integers; got {shown}.")
            source_rows = source_rows.cast(pl.Int64)
        else:
            # No row numbers from the pipeline: number the rows in the order they arrive, from 1.
            source_rows = pl.int_range(self._report.rows + 1, self._report.rows + rows + 1, eager=True)
        return rows, source_rows.alias(SOURCE_ROW), original

    def _cast(self, original: dict[str, pl.Series], rows: int) -> tuple[pl.DataFrame, pl.DataFrame]:
        columns, failures = [], [pl.DataFrame(schema=FAILURES)]
        for spec in self.schema.columns:
            dtype = polars_type(spec.dtype)
            if spec.name not in original:
                columns.append(pl.repeat(None, rows, dtype=dtype, eager=True).alias(spec.name))
                continue
            cast, errors = cast_column(original[spec.name], dtype)
            columns.append(cast.alias(spec.name))
            if errors is not None and errors.any():
                positions = errors.arg_true()
                failures.append(
                    pl.DataFrame(
                        {
                            "row": positions.cast(pl.Int64),
                            "ordinal": pl.repeat(self._rules.type_rule(spec.name).ordinal, len(positions), eager=True),
                            "value": as_text(original[spec.name].gather(positions)),
                        },
                        schema=FAILURES,
                    )
                )
        return pl.DataFrame(columns, height=rows), pl.concat(failures)

    @staticmethod
    def _drop_nulls_of_type_errors(failures: pl.DataFrame) -> pl.DataFrame:
        # A value that failed its cast is null afterwards; its row already has the type error as its reason.
        if failures.height == 0:
            return failures
        typed = failures.filter(pl.col("tally") == "type_errors").select("row", "column", typed=pl.lit(True))
        failures = failures.join(typed, on=["row", "column"], how="left")
        return failures.filter(~((pl.col("tally") == "nulls") & pl.col("typed").fill_null(False))).drop("typed")

    def _add_duplicates(
        self, failures: pl.DataFrame, cast: pl.DataFrame, rows: pl.Series, *, enforced: bool
    ) -> pl.DataFrame:
        """Add the duplicates among ``rows`` (a mask) of the unique columns whose rule is ``enforced`` or not."""
        positions = rows.arg_true()
        found = [failures]
        for name, seen in self._seen_values.items():
            rule = self._rules.unique_rule(name)
            if rule is None or rule.enforced != enforced:
                continue
            values = cast[name].gather(positions) if len(positions) < cast.height else cast[name]
            present = values.is_not_null()
            repeated = ~values.is_first_distinct() | pl.Series(seen.contains(values.hash().to_numpy()))
            duplicate = (present & repeated).arg_true()
            if len(duplicate):
                found.append(
                    pl.DataFrame(
                        {
                            "row": positions.gather(duplicate).cast(pl.Int64),
                            "ordinal": pl.repeat(rule.ordinal, len(duplicate), eager=True),
                            "value": as_text(values.gather(duplicate)),
                        },
                        schema=FAILURES,
                    )
                )
        added = pl.concat(found[1:]) if len(found) > 1 else pl.DataFrame(schema=FAILURES)
        return pl.concat([failures, self._rules.explain(added)])

    def _remember(self, kept: pl.DataFrame) -> None:
        for name, seen in self._seen_values.items():
            rule = self._rules.unique_rule(name)
            # A uniqueness *rule* must see every value; an expectation (a report figure) stops learning new
            # values at TRACKING_LIMIT, so memory stays bounded on inputs larger than memory.
            if (rule is not None and rule.enforced) or len(seen) < TRACKING_LIMIT:
                seen.add(kept[name].drop_nulls().hash().to_numpy())
        if kept.width and kept.height:
            hashes = kept.hash_rows()
            first = hashes.is_first_distinct().to_numpy()
            hashes_array = hashes.to_numpy()
            new = first & ~self._seen_rows.contains(hashes_array)
            self._report.duplicate_rows += int(len(new) - new.sum())
            if len(self._seen_rows) < TRACKING_LIMIT:
                self._seen_rows.add_new(hashes_array[new])

    def _tally(self, failures: pl.DataFrame, cast: pl.DataFrame, rows: int, bad: int, flagged: int) -> None:
        report = self._report
        report.rows += rows
        report.rows_quarantined += bad
        report.rows_flagged += flagged
        counts = (
            failures.group_by("ordinal").agg(pl.col("row").n_unique().alias("count"))
            if failures.height
            else pl.DataFrame(schema={"ordinal": pl.UInt32, "count": pl.UInt32})
        )
        type_errors: dict[str, int] = {}
        for ordinal, count in counts.iter_rows():
            rule = self._rules.rules[ordinal]
            if rule.tally == "checks" and rule.check is not None:
                report.add_check_failures(rule.check, count)
            elif rule.tally != "nulls" and rule.column is not None:
                report.add(rule.column, rule.tally, count)
                if rule.tally == "type_errors":
                    type_errors[rule.column] = count
                if rule.tally == "unseen_categories":
                    unseen = failures.filter(pl.col("ordinal") == ordinal)["value"]
                    report.add_unseen_examples(rule.column, unseen.drop_nulls().unique(maintain_order=True).head(5))
        for name in self.schema.names:
            report.add(name, "missing", cast[name].null_count() - type_errors.get(name, 0))

    def _quarantine(
        self, original: dict[str, pl.Series], bad_rows: pl.Series, source_rows: pl.Series, failures: pl.DataFrame
    ) -> pa.Table:
        columns = [
            as_text(original[name].gather(bad_rows)).alias(name)
            if name in original
            else pl.repeat(None, len(bad_rows), dtype=pl.String, eager=True).alias(name)
            for name in self.schema.names
        ]
        reasons = (
            failures.filter("enforced")
            .sort("row", "ordinal")
            .group_by("row", maintain_order=True)
            .agg(pl.col("reason").str.join("; ").alias(REASONS))
        )
        frame = pl.DataFrame([*columns, source_rows.gather(bad_rows)], height=len(bad_rows))
        frame = frame.with_columns(row=bad_rows.cast(pl.Int64)).join(reasons, on="row", how="left").drop("row")
        return frame.to_arrow().cast(
            pa.schema(
                [
                    *(pa.field(name, pa.large_string()) for name in self.schema.names),
                    pa.field(SOURCE_ROW, pa.int64()),
                    pa.field(REASONS, pa.large_string()),
                ]
            )
        )

    @property
    def _where(self) -> str:
        return f"Source {self.source!r}" if self.source else "The batch"


def _all_but(rows: int, positions: pl.Series) -> pl.Series:
    """A mask of ``rows`` rows, true except at ``positions``."""
    if len(positions) == 0:
        return pl.repeat(True, rows, dtype=pl.Boolean, eager=True)
    return ~pl.int_range(rows, eager=True).is_in(positions.implode())


def _columns_to_polars(batch: pa.Table | pa.RecordBatch) -> dict[str, pl.Series]:
    """The batch's columns as Polars series, converted in one call (column by column only if that fails)."""
    try:
        frame = pl.from_arrow(batch)
    except (pl.exceptions.PolarsError, pa.ArrowException, TypeError, ValueError):
        return {name: _to_polars(name, batch.column(name)) for name in batch.schema.names}
    assert isinstance(frame, pl.DataFrame)
    return {name: frame[name] for name in frame.columns}


def _to_polars(name: str, column: pa.ChunkedArray | pa.Array) -> pl.Series:
    try:
        series = pl.from_arrow(column)
    except (pl.exceptions.PolarsError, pa.ArrowException, TypeError, ValueError):
        # A type Polars cannot hold: keep the values as text, so the cast reports them as type errors.
        return pl.Series(name, [None if value is None else str(value) for value in column.to_pylist()], dtype=pl.String)
    assert isinstance(series, pl.Series)
    return series.alias(name)
