"""Data quality of live traffic: missing-rate jumps, out-of-range values, unseen categories, schema violations.

``check_quality(current, signature=..., reference=...)`` measures one window of a served model's inputs (a pandas
or polars DataFrame or a pyarrow Table), column by column, with vectorised polars expressions.

**What each check compares with.** The signature is the contract: its types, nullability, ranges and category
sets are what the window is held to, and a column it gives no range or categories expects any value. Without a
signature the reference stands in: its columns, types (a reference DataFrame's; numeric or text for a profile),
finite min/max, and categories when it has at most ``max_reference_categories`` distinct values (more means an
open-ended column, an id or free text, where "unseen" is the normal case). Missing rates always come from the
reference: a :class:`~driftloop.data.profiles.Profile` (preferred, no raw data needed) or a DataFrame.

**Missing-rate jump.** The tolerated rate is ``max(r + missing_margin, missing_factor * r)`` for a reference rate
``r`` (defaults +0.05 and ×2: a column that was 1 % missing may reach 6 %, one that was 30 % may reach 60 %). A
jump is a current rate *significantly* above it: a one-sided binomial test, ``P(X >= missing | rows, tolerated)
< missing_alpha`` (0.01), so a 1-row window with its one value missing does not alarm (p ≥ 0.05), while 2 rows
both missing against a column never missing do (p = 0.0025). The reference rate is taken as known (a profile
covers the training data). Without a reference, ``missing_jump`` is ``None``.

**Out of range** (outside [minimum, maximum]): flagged when *significantly* over ``out_of_range_share`` (1 %)
of the values present, by the same one-sided binomial test at ``missing_alpha``. Fresh data passes the extremes
of n training values at a rate of about 2/(n+1), so a few values slightly beyond a range inferred from a few
hundred rows are expected (11 of 600 against a 500-row range did happen in a test); a clear share of them is
not. **Infinite values** in a numeric column count as out of range, even where the column has no range (no
model scores infinity; the serving check refuses them), and are always flagged; they are also counted in
``infinite``, and are neither missing nor type errors.

**Unseen categories**: flagged when at least ``unseen_min_count`` (5) values and over ``unseen_share`` (1 %) of
the values present are outside the known set. A profile's frequent-items sketch stops tracking rare categories
once it is full (its ``maximum_error`` > 0): a category seen up to ``maximum_error`` times in training may be
absent from it, so the share floor is then raised to ``maximum_error / count`` of the reference.

**Schema violations**: a required signature (or reference) column absent from the window (``missing_columns``;
an absent optional column is all missing), an extra column (``extra_columns``), values that do not convert
losslessly to the column's type (``type_errors``, as the ingest validator casts), and missing values in a column
that is not nullable (``null_violations``). Each makes the report not ``ok``.

**Empty window**: ``rows == 0`` and ``ok is None`` (nothing can be judged, which is not "all fine"), with a note.

>>> import polars as pl
>>> from driftloop.data.validation import ColumnSpec, DataSchema
>>> from driftloop.registry import Signature
>>> signature = Signature(DataSchema((ColumnSpec("area", "float64", nullable=True, minimum=10.0, maximum=450.0),)))
>>> report = check_quality(pl.DataFrame({"area": [50.0, 9000.0, 8000.0, 120.0]}), signature=signature)
>>> report.ok, report.columns[0].out_of_range, report.columns[0].problems
(False, 2, ('2 value(s) (50.0%) outside [10.0, 450.0]',))
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl
from scipy import stats

from driftloop.data._dtypes import dtype_name
from driftloop.data.validation._casting import cast_column
from driftloop.errors import InvalidInput
from driftloop.monitoring._frames import as_frame
from driftloop.monitoring._quality_flags import FlagCount, FlagSummary, quality_from_flags
from driftloop.monitoring._quality_rules import Rule, rules_for

if TYPE_CHECKING:
    from driftloop.data.profiles import Profile
    from driftloop.registry import Signature

__all__ = [
    "ColumnQuality",
    "FlagCount",
    "FlagSummary",
    "QualityReport",
    "QualityThresholds",
    "check_quality",
    "quality_from_flags",
]

_EXAMPLES = 5


@dataclass(frozen=True)
class QualityThresholds:
    """When a measured quality problem is flagged (the module docstring gives the reasons for each default)."""

    missing_margin: float = 0.05
    missing_factor: float = 2.0
    missing_alpha: float = 0.01
    out_of_range_share: float = 0.01
    unseen_share: float = 0.01
    unseen_min_count: int = 5
    max_reference_categories: int = 100

    def __post_init__(self) -> None:
        for name in ("missing_margin", "out_of_range_share", "unseen_share"):
            _check_number(name, getattr(self, name), 0.0, 1.0, "[0, 1]")
        _check_number("missing_factor", self.missing_factor, 1.0, math.inf, "at least 1")
        if not 0.0 < _number("missing_alpha", self.missing_alpha) < 1.0:
            raise InvalidInput(f"The 'missing_alpha' of quality must be in (0, 1); got {self.missing_alpha!r}.")
        for name in ("unseen_min_count", "max_reference_categories"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidInput(f"The {name!r} of quality must be a positive integer; got {value!r}.")


@dataclass(frozen=True)
class ColumnQuality:
    """The quality of one column in a window; counts are of rows, shares of the values present."""

    column: str
    rows: int
    missing: int
    missing_rate: float | None
    reference_missing_rate: float | None
    missing_p_value: float | None
    missing_jump: bool | None
    out_of_range: int
    out_of_range_share: float | None
    infinite: int
    unseen: int
    unseen_share: float | None
    unseen_examples: tuple[str, ...]
    type_errors: int
    null_violations: int
    problems: tuple[str, ...]
    out_of_range_flagged: bool = False

    @property
    def broken(self) -> bool | None:
        """Whether the values are broken (a missing-rate jump, nulls where none may be, values that do not
        convert, out-of-range values): bad data, as opposed to new data such as an unseen category, which is
        drift (a new segment) rather than a fault. None for an empty window."""
        if self.rows == 0:
            return None
        return bool(self.missing_jump or self.null_violations or self.type_errors or self.out_of_range_flagged)

    @property
    def ok(self) -> bool | None:
        """Whether nothing was flagged; None for an empty window."""
        return None if self.rows == 0 else not self.problems

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (tuples become lists; a non-finite number becomes None)."""
        data = {key: _json(value) for key, value in dataclasses.asdict(self).items()}
        return {**data, "ok": self.ok, "broken": self.broken}


@dataclass(frozen=True)
class QualityReport:
    """The quality of a window: per column, and the columns missing from it or extra in it."""

    rows: int
    columns: tuple[ColumnQuality, ...]
    missing_columns: tuple[str, ...]
    extra_columns: tuple[str, ...]
    note: str | None = None

    @property
    def ok(self) -> bool | None:
        """True when nothing was flagged, False when something was, None when the window is empty."""
        if self.rows == 0:
            return None
        return not self.missing_columns and not self.extra_columns and all(column.ok for column in self.columns)

    @property
    def broken(self) -> bool | None:
        """Whether the window's data is broken: a column missing, or broken values in one (see
        :attr:`ColumnQuality.broken`); what the loop quarantines, unlike new categories. None when empty."""
        if self.rows == 0:
            return None
        return bool(self.missing_columns) or any(column.broken for column in self.columns)

    @property
    def problems(self) -> tuple[str, ...]:
        """Every problem as one line of text, schema problems first."""
        schema = [f"column {name!r} is missing from the window" for name in self.missing_columns]
        schema += [f"column {name!r} is not expected" for name in self.extra_columns]
        return (*schema, *(f"{column.column}: {text}" for column in self.columns for text in column.problems))

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (lists, dicts, numbers, strings, None)."""
        return {
            "rows": self.rows,
            "ok": self.ok,
            "broken": self.broken,
            "columns": [column.to_dict() for column in self.columns],
            "missing_columns": list(self.missing_columns),
            "extra_columns": list(self.extra_columns),
            "problems": list(self.problems),
            "note": self.note,
        }


def check_quality(
    current: Any,
    *,
    signature: Signature | None = None,
    reference: Profile | Any | None = None,
    thresholds: QualityThresholds | Mapping[str, Any] | None = None,
) -> QualityReport:
    """Measure a window's inputs against the signature and the reference (see the module docstring).

    Args:
        current: The window's inputs: a pandas or polars DataFrame or a pyarrow Table.
        signature: The served model's signature: the types, nullability, ranges and categories expected.
        reference: The training data's :class:`~driftloop.data.profiles.Profile`, or the training data itself.
        thresholds: A :class:`QualityThresholds`, or a mapping of the fields to change.

    Raises:
        InvalidInput: No signature and no reference, an unknown threshold, or data of an unsupported type.
        InvalidData: The window cannot be read as a table, or the reference has no rows.
    """
    limits = _thresholds(thresholds)
    if signature is None and reference is None:
        raise InvalidInput("Data quality needs a signature, a reference, or both, to compare the window with.")
    frame = as_frame(current, "current")
    rules = rules_for(signature, reference, limits)
    if frame.height == 0:
        empty = tuple(_empty(name, rule) for name, rule in rules.items() if name in frame.columns)
        return QualityReport(0, empty, (), (), note="The window has no rows: nothing to judge.")
    missing_columns = tuple(name for name, rule in rules.items() if name not in frame.columns and rule.required)
    extra_columns = tuple(name for name in frame.columns if name not in rules)
    columns = []
    for name, rule in rules.items():
        if name in frame.columns:
            series = frame[name]
        elif not rule.required:
            series = pl.repeat(None, frame.height, dtype=rule.dtype or pl.String, eager=True).alias(name)
        else:
            continue
        columns.append(_measure(series, rule, limits))
    return QualityReport(frame.height, tuple(columns), missing_columns, extra_columns)


def _measure(series: pl.Series, rule: Rule, limits: QualityThresholds) -> ColumnQuality:
    rows = len(series)
    values = series.cast(pl.String) if isinstance(series.dtype, pl.Categorical | pl.Enum) else series
    numeric_target = rule.dtype is None or rule.dtype.is_numeric()
    infinite = 0
    if values.dtype.is_float():
        if numeric_target:
            # Set infinities aside before the cast: they are out of range, not type errors nor missing.
            infinite = int(values.is_infinite().sum())
            values = values.set(values.is_infinite().fill_null(False), None) if infinite else values
        values = values.fill_nan(None)
    cast, type_errors, expected = values, 0, ""
    if rule.dtype is not None:
        cast, errors = _cast(values, rule.dtype)
        type_errors, expected = (0 if errors is None else int(errors.sum())), dtype_name(rule.dtype)
    missing = cast.null_count() - type_errors - infinite
    present = rows - missing - type_errors
    problems: list[str] = []

    missing_rate = missing / rows
    reference_rate, p_value, jump = rule.reference_missing_rate, None, None
    if reference_rate is not None:
        tolerated = min(1.0, max(reference_rate + limits.missing_margin, limits.missing_factor * reference_rate))
        p_value = float(stats.binom.sf(missing - 1, rows, tolerated)) if missing else 1.0
        jump = missing_rate > tolerated and p_value < limits.missing_alpha
        if jump:
            problems.append(f"missing rate {missing_rate:.1%} against {reference_rate:.1%} in the reference")
    null_violations = missing if rule.nullable is False else 0
    if null_violations:
        problems.append(f"{null_violations} missing value(s) in a column that is not nullable")
    if type_errors:
        problems.append(f"{type_errors} value(s) that do not convert to {expected}")

    out_of_range = infinite
    if cast.dtype.is_numeric() and (rule.low is not None or rule.high is not None):
        low = -math.inf if rule.low is None else rule.low
        high = math.inf if rule.high is None else rule.high
        out_of_range += int(((cast < low) | (cast > high)).sum())
    out_share = out_of_range / present if present else None
    # Significantly over the tolerated share, as for missing rates (a range inferred from a sample's extremes
    # is passed now and then by fresh data from the same distribution); infinities are always a problem.
    significant = bool(out_of_range) and (
        float(stats.binom.sf(out_of_range - 1, present, limits.out_of_range_share)) < limits.missing_alpha
    )
    out_of_range_flagged = out_share is not None and (
        bool(infinite) or (out_share > limits.out_of_range_share and significant)
    )
    if out_of_range_flagged:
        where = f"[{rule.low}, {rule.high}]" if rule.low is not None or rule.high is not None else "the finite numbers"
        problems.append(f"{out_of_range} value(s) ({out_share:.1%}) outside {where}")

    unseen, unseen_share, examples = 0, None, tuple[str, ...]()
    if rule.categories is not None:
        text = cast.cast(pl.String)
        outside = text.filter(text.is_not_null() & ~text.is_in(list(rule.categories)))
        unseen = len(outside)
        unseen_share = unseen / present if present else None
        counted = outside.value_counts(name="count").sort(["count", outside.name], descending=[True, False])
        examples = tuple(map(str, counted[outside.name].head(_EXAMPLES).to_list()))
        floor = max(limits.unseen_share, rule.unseen_floor)
        if unseen >= limits.unseen_min_count and unseen_share is not None and unseen_share > floor:
            shown = ", ".join(repr(value) for value in examples)
            problems.append(f"{unseen} value(s) ({unseen_share:.1%}) of unseen categories, such as {shown}")
    return ColumnQuality(
        column=series.name,
        rows=rows,
        missing=missing,
        missing_rate=missing_rate,
        reference_missing_rate=reference_rate,
        missing_p_value=p_value,
        missing_jump=jump,
        out_of_range=out_of_range,
        out_of_range_share=out_share,
        infinite=infinite,
        unseen=unseen,
        unseen_share=unseen_share,
        unseen_examples=examples,
        type_errors=type_errors,
        null_violations=null_violations,
        problems=tuple(problems),
        out_of_range_flagged=out_of_range_flagged,
    )


def _cast(values: pl.Series, dtype: pl.DataType) -> tuple[pl.Series, pl.Series | None]:
    # The ingest validator's strict cast: a value that changes on the way ("4.0" or 1.5 for an int64) is an error.
    if values.dtype.is_temporal() and dtype.is_numeric():
        return values, None  # a profile keeps dates and timestamps as numbers; the window's own type stands
    return cast_column(values, dtype)


def _empty(name: str, rule: Rule) -> ColumnQuality:
    return ColumnQuality(name, 0, 0, None, rule.reference_missing_rate, None, None, 0, None, 0, 0, None, (), 0, 0, ())


# -- inputs -----------------------------------------------------------------------------------------------------


def _thresholds(thresholds: QualityThresholds | Mapping[str, Any] | None) -> QualityThresholds:
    if thresholds is None:
        return QualityThresholds()
    if isinstance(thresholds, QualityThresholds):
        return thresholds
    if not isinstance(thresholds, Mapping):
        raise InvalidInput(f"The thresholds must be QualityThresholds or a mapping; got {type(thresholds).__name__}.")
    known = {field.name for field in dataclasses.fields(QualityThresholds)}
    unknown = sorted(str(key) for key in thresholds if key not in known)
    if unknown:
        raise InvalidInput(f"Unknown quality threshold {unknown[0]!r}; expected some of {', '.join(sorted(known))}.")
    return QualityThresholds(**thresholds)


def _check_number(name: str, value: object, low: float, high: float, expected: str) -> None:
    if not low <= _number(name, value) <= high:
        raise InvalidInput(f"The {name!r} of quality must be a number {expected}; got {value!r}.")


def _number(name: str, value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        raise InvalidInput(f"The {name!r} of quality must be a number; got {value!r}.")
    return float(value)


def _json(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, tuple):
        return list(value)
    return value
