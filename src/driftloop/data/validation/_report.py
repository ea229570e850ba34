"""The quality report of one ingest: what was missing, malformed, unexpected or repeated, per column."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from driftloop.errors import InvalidInput

__all__ = ["MAX_EXAMPLES", "CheckQuality", "ColumnQuality", "QualityReport", "ReportBuilder"]

MAX_EXAMPLES = 5
"""How many unseen category values a report keeps per column (the first ones met)."""


@dataclass(frozen=True)
class ColumnQuality:
    """Counts of one column over every row of an ingest (quarantined rows included).

    Attributes:
        name: The column.
        missing: Values absent (null, a null marker such as ``NA``, or the whole column absent from a batch).
        missing_rate: ``missing`` over the report's rows (0.0 when there are none).
        type_errors: Values present that do not cast to the column's type.
        out_of_range: Values below the minimum or above the maximum.
        unseen_categories: Values outside the expected category set.
        unseen_examples: The first few distinct unseen values.
        duplicates: For a column expected unique, kept values repeating an earlier kept value (any batch).
    """

    name: str
    missing: int = 0
    missing_rate: float = 0.0
    type_errors: int = 0
    out_of_range: int = 0
    unseen_categories: int = 0
    unseen_examples: tuple[str, ...] = ()
    duplicates: int = 0


@dataclass(frozen=True)
class CheckQuality:
    """How many rows failed one custom check."""

    name: str
    kind: str
    failures: int = 0


@dataclass(frozen=True)
class QualityReport:
    """The quality of one ingest, merged over all its batches.

    Attributes:
        source: Where the data came from.
        rows: Rows read.
        rows_quarantined: Rows that broke a rule and went to the quarantine table.
        rows_flagged: Kept rows that broke an expectation.
        duplicate_rows: Kept rows equal, in every schema column, to an earlier kept row.
        columns: One entry per schema column, in schema order.
        checks: One entry per custom check.
        extra_columns: Columns the data had beyond the schema (kept out of the validated batches).
    """

    source: str
    rows: int
    rows_quarantined: int
    rows_flagged: int
    duplicate_rows: int
    columns: tuple[ColumnQuality, ...]
    checks: tuple[CheckQuality, ...] = ()
    extra_columns: tuple[str, ...] = ()

    def column(self, name: str) -> ColumnQuality:
        """The counts of column ``name``."""
        for column in self.columns:
            if column.name == name:
                return column
        raise InvalidInput(
            f"The report has no column {name!r}; its columns are {', '.join(c.name for c in self.columns)}."
        )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-ready plain data."""
        return {
            "source": self.source,
            "rows": self.rows,
            "rows_quarantined": self.rows_quarantined,
            "rows_flagged": self.rows_flagged,
            "duplicate_rows": self.duplicate_rows,
            "columns": {
                column.name: {
                    "missing": column.missing,
                    "missing_rate": column.missing_rate,
                    "type_errors": column.type_errors,
                    "out_of_range": column.out_of_range,
                    "unseen_categories": column.unseen_categories,
                    "unseen_examples": list(column.unseen_examples),
                    "duplicates": column.duplicates,
                }
                for column in self.columns
            },
            "checks": {check.name: {"kind": check.kind, "failures": check.failures} for check in self.checks},
            "extra_columns": list(self.extra_columns),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> QualityReport:
        """Read back what :meth:`to_dict` wrote."""
        try:
            return cls(
                source=str(data["source"]),
                rows=int(data["rows"]),
                rows_quarantined=int(data["rows_quarantined"]),
                rows_flagged=int(data["rows_flagged"]),
                duplicate_rows=int(data["duplicate_rows"]),
                columns=tuple(
                    ColumnQuality(name=name, **{**counts, "unseen_examples": tuple(counts["unseen_examples"])})
                    for name, counts in data["columns"].items()
                ),
                checks=tuple(CheckQuality(name=name, **counts) for name, counts in data["checks"].items()),
                extra_columns=tuple(data["extra_columns"]),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise InvalidInput(f"Not a quality report: {error!r}.") from None


@dataclass
class _ColumnTally:
    missing: int = 0
    type_errors: int = 0
    out_of_range: int = 0
    unseen_categories: int = 0
    unseen_examples: list[str] = field(default_factory=list)
    duplicates: int = 0


class ReportBuilder:
    """Adds up the counts of each batch; :meth:`build` makes the report."""

    def __init__(self, source: str, columns: Iterable[str], checks: Iterable[tuple[str, str]]) -> None:
        self._source = source
        self._columns = {name: _ColumnTally() for name in columns}
        self._checks = {name: CheckQuality(name=name, kind=kind) for name, kind in checks}
        self._extra: list[str] = []
        self.rows = self.rows_quarantined = self.rows_flagged = self.duplicate_rows = 0

    def add(self, column: str, tally: str, count: int) -> None:
        """Add ``count`` to a column's ``tally`` (missing, type_errors, out_of_range, unseen_categories…)."""
        counts = self._columns[column]
        setattr(counts, tally, getattr(counts, tally) + count)

    def add_unseen_examples(self, column: str, values: Iterable[str]) -> None:
        """Remember unseen category values until the column has :data:`MAX_EXAMPLES` of them."""
        examples = self._columns[column].unseen_examples
        for value in values:
            if len(examples) >= MAX_EXAMPLES:
                break
            if value not in examples:
                examples.append(value)

    def add_check_failures(self, name: str, count: int) -> None:
        """Count rows failing a custom check."""
        check = self._checks[name]
        self._checks[name] = CheckQuality(name=name, kind=check.kind, failures=check.failures + count)

    def add_extra_columns(self, names: Iterable[str]) -> None:
        """Note columns outside the schema."""
        self._extra.extend(name for name in names if name not in self._extra)

    def build(self) -> QualityReport:
        """The report of every batch added so far."""
        return QualityReport(
            source=self._source,
            rows=self.rows,
            rows_quarantined=self.rows_quarantined,
            rows_flagged=self.rows_flagged,
            duplicate_rows=self.duplicate_rows,
            columns=tuple(
                ColumnQuality(
                    name=name,
                    missing=counts.missing,
                    missing_rate=counts.missing / self.rows if self.rows else 0.0,
                    type_errors=counts.type_errors,
                    out_of_range=counts.out_of_range,
                    unseen_categories=counts.unseen_categories,
                    unseen_examples=tuple(counts.unseen_examples),
                    duplicates=counts.duplicates,
                )
                for name, counts in self._columns.items()
            ),
            checks=tuple(self._checks.values()),
            extra_columns=tuple(self._extra),
        )
