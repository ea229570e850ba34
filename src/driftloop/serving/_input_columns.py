"""How each column of a model's signature is checked and converted, and what checking a request finds.

One :class:`Column` subclass per kind of type (floats, integers, booleans, text, dates and timestamps) holds what
its checks need, worked out once when a served version loads; :class:`Findings` collects the problems (refusals,
:class:`FieldError`) and the flags of each row while :class:`~driftloop.serving._input_check.InputChecker`
walks a request's values.
"""

from __future__ import annotations

import math
import zoneinfo
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, timezone, tzinfo
from typing import Any, ClassVar

import numpy as np
import polars as pl

from driftloop.data._dtypes import is_integer, polars_type
from driftloop.data.validation import ColumnSpec
from driftloop.data.validation._casting import NULL_MARKERS

__all__ = ["MAX_ERRORS", "Column", "FieldError", "Findings", "Values", "column_for", "shown_value"]

MAX_ERRORS = 1_000
"""At most this many problems are kept on an :class:`~driftloop.serving._input_check.InputRejected` (all are
counted): a large body of junk must not cost a large list of errors."""

Values = Sequence[Any] | np.ndarray
"""A column's values as sent: a list or tuple of JSON values, or a 1-D numpy array (a V2 tensor)."""

_NULL_MARKERS = frozenset(NULL_MARKERS)
_NUMBER_TYPES = frozenset({float, int, type(None)})
_INTEGER_TYPES = frozenset({int})
_TEXT_TYPES = frozenset({str})
_FLOAT32_MAX = float(np.finfo(np.float32).max)
_LONGEST_SHOWN = 60
_LISTED_CATEGORIES = 10


@dataclass(frozen=True)
class FieldError:
    """One problem that makes a request unacceptable.

    Attributes:
        column: The signature column (or the sent column) at fault.
        row: The row, from 0 in the order sent; None when the problem is the whole column's (it is missing).
        problem: What is wrong, e.g. ``"expected float64, got 'abc'"``.
    """

    column: str
    row: int | None
    problem: str

    def __str__(self) -> str:
        where = f"column {self.column!r}" if self.row is None else f"column {self.column!r}, row {self.row}"
        return f"{where}: {self.problem}"


class Findings:
    """What checking one request found: the problems (refusals) and the flags of each row."""

    __slots__ = ("error_count", "errors", "flags", "rows")

    def __init__(self, rows: int) -> None:
        self.rows = rows
        self.errors: list[FieldError] = []
        self.error_count = 0
        self.flags: list[list[str]] | None = None  # made on the first flag: most requests have none

    def refuse(self, column: str, row: int | None, problem: str) -> None:
        self.error_count += 1
        if len(self.errors) < MAX_ERRORS:
            self.errors.append(FieldError(column, row, problem))

    def flag(self, row: int, text: str) -> None:
        if self.flags is None:
            self.flags = [[] for _ in range(self.rows)]
        self.flags[row].append(text)


class Column:
    """How to check and convert the values of one signature column (one subclass per kind of type)."""

    def __init__(self, spec: ColumnSpec) -> None:
        self.name = spec.name
        self.dtype = spec.dtype
        self.nullable = spec.nullable
        self.required = spec.required
        self.categories = None if spec.categories is None else frozenset(spec.categories)
        self.categories_enforced = spec.enforces("categories")
        self.output: np.dtype[Any] = np.dtype(object)
        # What a missing or refused value becomes (a refused one is never seen: the whole request is refused).
        self.placeholder: Any = None
        # The single-row path takes a value of type ``quick_type`` as it is when it lies in [low, high] (numbers)
        # or in the category set (text), without a call; any other value goes through check_value.
        self.quick_type: type[Any] | None = None
        self.numeric = False
        self.low: float = -math.inf
        self.high: float = math.inf
        self.category_hint = ""
        if spec.categories is not None:
            listed = ", ".join(repr(category) for category in spec.categories[:_LISTED_CATEGORIES])
            more = len(spec.categories) - _LISTED_CATEGORIES
            self.category_hint = f" (expected one of {listed}{f' and {more} more' if more > 0 else ''})"

    def check_value(self, value: Any, row: int, parse_text: bool, findings: Findings) -> Any:
        """Convert one value, reporting a broken rule or expectation; return the converted value."""
        raise NotImplementedError

    def mark_out_of_range_missing(self) -> bool:
        """Score out-of-range values as missing, where the column can (only numeric columns have a range)."""
        return False

    def blank_out_of_range(self, converted: np.ndarray) -> None:
        """Set the converted values outside the range to missing (see :meth:`mark_out_of_range_missing`)."""

    def check_values(self, values: Sequence[Any], parse_text: bool, findings: Findings) -> list[Any]:
        """:meth:`check_value` over every value, taking the common good ones without a call."""
        quick_type, low, high = self.quick_type, self.low, self.high  # locals: read once, not once per value
        categories, check = self.categories, self.check_value
        converted: list[Any] = []
        append = converted.append
        if self.numeric:
            for row, value in enumerate(values):
                if type(value) is quick_type and low <= value <= high:
                    append(value)
                else:
                    append(check(value, row, parse_text, findings))
        else:
            for row, value in enumerate(values):
                if type(value) is quick_type and (categories is None or value in categories):
                    append(value)
                else:
                    append(check(value, row, parse_text, findings))
        return converted

    def check_array(self, values: Values, parse_text: bool, findings: Findings) -> np.ndarray | None:
        """The vectorised :meth:`check_value` over clean values; None when the values need the per-value path."""
        return None

    def missing(self, value: Any, row: int, findings: Findings) -> Any:
        """A missing value: refused when the column is not nullable; becomes the placeholder either way."""
        if not self.nullable:
            shown = "NaN" if isinstance(value, float) else "null"
            findings.refuse(self.name, row, f"{shown} is not allowed (the column is not nullable)")
        return self.placeholder

    def wrong_type(self, value: Any, row: int, findings: Findings, why: str = "") -> Any:
        quoted_number = isinstance(value, str) and _parse_float(value) is not None
        hint = why or (" (a quoted number; send numbers unquoted)" if quoted_number else "")
        findings.refuse(self.name, row, f"expected {self.dtype}, got {shown_value(value)}{hint}")
        return self.placeholder

    def check_category(self, text: str, shown: Any, row: int, findings: Findings) -> None:
        assert self.categories is not None
        if text not in self.categories:
            self._break(
                row, f"unseen category {shown_value(shown)}", self.categories_enforced, findings, self.category_hint
            )

    def check_categories(self, values: Sequence[Any], findings: Findings) -> None:
        """Vectorised :meth:`check_category` over text values (None passes)."""
        assert self.categories is not None
        distinct = set(values)
        distinct.discard(None)
        if distinct <= self.categories:
            return
        unseen = distinct - self.categories
        for row, value in enumerate(values):
            if value in unseen:
                self.check_category(value, value, row, findings)

    def _break(self, row: int, problem: str, enforced: bool, findings: Findings, hint: str = "") -> None:
        """A broken expectation: refused (with ``hint``) when it is promoted to a rule, flagged otherwise."""
        if enforced:
            findings.refuse(self.name, row, problem + hint)
        else:
            findings.flag(row, f"{self.name}: {problem}")


class _NumberColumn(Column):
    """Shared by integer and float columns: the range, and infinity."""

    def __init__(self, spec: ColumnSpec) -> None:
        super().__init__(spec)
        self.minimum = spec.minimum
        self.maximum = spec.maximum
        self.range_enforced = spec.enforces("range")
        self.numeric = True
        self.low = -math.inf if spec.minimum is None else spec.minimum
        self.high = math.inf if spec.maximum is None else spec.maximum
        self.out_of_range_note = ""

    def mark_out_of_range_missing(self) -> bool:
        """Score this column's out-of-range values as missing, where it can (nullable, with a range that is only
        an expectation); whether it does."""
        if not self.nullable or self.range_enforced or (self.minimum is None and self.maximum is None):
            return False
        self.out_of_range_note = " (scored as missing)"
        return True

    def blank_out_of_range(self, converted: np.ndarray) -> None:
        """Set the out-of-range values of this column's converted values (floats: NaN is missing) to NaN."""
        outside = (converted < self.low) | (converted > self.high)
        if outside.any():
            converted[outside] = math.nan

    def check_range(self, number: float, row: int, findings: Findings) -> None:
        if self.minimum is not None and number < self.minimum:
            self._out_of_range(number, row, "below", f"the minimum {self.minimum!r}", findings)
        elif self.maximum is not None and number > self.maximum:
            self._out_of_range(number, row, "above", f"the maximum {self.maximum!r}", findings)

    def check_ranges(self, numbers: np.ndarray, findings: Findings) -> None:
        """Vectorised :meth:`check_range` (NaN passes: it compares false)."""
        if self.minimum is None and self.maximum is None:
            return
        outside = (numbers < self.low) | (numbers > self.high)
        if outside.any():
            for row in np.flatnonzero(outside).tolist():
                self.check_range(numbers[row].item(), row, findings)

    def _out_of_range(self, number: float, row: int, side: str, bound: str, findings: Findings) -> None:
        if math.isinf(number):
            # Refused even where the range is only an expectation: no model scores infinity.
            findings.refuse(self.name, row, f"{shown_value(number)} is not allowed (the column has {bound})")
        else:
            self._break(
                row, f"{shown_value(number)} {side} {bound}{self.out_of_range_note}", self.range_enforced, findings
            )


class _FloatColumn(_NumberColumn):
    def __init__(self, spec: ColumnSpec) -> None:
        super().__init__(spec)
        self.placeholder = math.nan
        self.output = np.dtype(np.float32 if spec.dtype == "float32" else np.float64)
        self.narrow = spec.dtype == "float32"
        self.quick_type = float if spec.categories is None else None
        if self.narrow:
            self.low, self.high = max(self.low, -_FLOAT32_MAX), min(self.high, _FLOAT32_MAX)

    def check_value(self, value: Any, row: int, parse_text: bool, findings: Findings) -> Any:
        kind = type(value)
        if kind is float:
            number = value
        elif kind is int:
            try:
                number = float(value)
            except OverflowError:
                return self.wrong_type(value, row, findings, " (too large)")
        elif value is None:
            return self.missing(value, row, findings)
        elif kind is str:
            if not parse_text:
                return self.wrong_type(value, row, findings)
            if value in _NULL_MARKERS:
                return self.missing(None, row, findings)
            parsed = _parse_float(value)
            if parsed is None:
                return self.wrong_type(value, row, findings)
            number = parsed
        elif isinstance(value, np.generic):
            return self.check_value(value.item(), row, parse_text, findings)
        else:
            return self.wrong_type(value, row, findings)
        if number != number:
            return self.missing(number, row, findings)
        if self.narrow and _FLOAT32_MAX < abs(number) < math.inf:
            return self.wrong_type(value, row, findings, " (beyond the range of float32)")
        if self.minimum is not None or self.maximum is not None:
            self.check_range(number, row, findings)
        if self.categories is not None:
            self.check_category(str(number), number, row, findings)
        return number

    def check_array(self, values: Values, parse_text: bool, findings: Findings) -> np.ndarray | None:
        if self.categories is not None:
            return None  # compared as text, value by value: rare on a number column
        if isinstance(values, np.ndarray):
            if values.dtype.kind not in "fiu":
                return None
            numbers = values.astype(np.float64)
        else:
            kinds = set(map(type, values))
            if not (kinds <= _NUMBER_TYPES or (parse_text and kinds == _TEXT_TYPES and _plain_numbers(values))):
                return None
            try:
                numbers = np.array(values, dtype=np.float64)  # None becomes NaN; numpy parses text as float() does
            except (OverflowError, ValueError):
                return None  # a value the per-value path explains
        if not self.nullable:
            missing = np.isnan(numbers)
            if missing.any():
                for row in np.flatnonzero(missing).tolist():
                    self.missing(None if values[row] is None else math.nan, row, findings)
        if self.narrow:
            beyond = np.isfinite(numbers) & (np.abs(numbers) > _FLOAT32_MAX)
            if beyond.any():
                for row in np.flatnonzero(beyond).tolist():
                    self.wrong_type(values[row], row, findings, " (beyond the range of float32)")
                return numbers  # refused: no cast to float32, which would overflow
        self.check_ranges(numbers, findings)
        return numbers.astype(self.output, copy=False)


class _IntegerColumn(_NumberColumn):
    def __init__(self, spec: ColumnSpec) -> None:
        super().__init__(spec)
        width = np.iinfo(np.dtype(spec.dtype))
        self.smallest, self.largest = int(width.min), int(width.max)
        # A nullable integer column is float64 with NaN for missing, as pandas holds it: numpy ints have no null.
        self.output = np.dtype(np.float64) if spec.nullable else np.dtype(spec.dtype)
        self.placeholder = math.nan if spec.nullable else 0
        self.quick_type = int if spec.categories is None else None
        self.low, self.high = max(self.low, self.smallest), min(self.high, self.largest)

    def check_value(self, value: Any, row: int, parse_text: bool, findings: Findings) -> Any:
        kind = type(value)
        if kind is int:
            number = value
        elif value is None:
            return self.missing(value, row, findings)
        elif kind is float:
            if value != value:
                return self.missing(value, row, findings)
            if not value.is_integer():
                return self.wrong_type(value, row, findings)
            number = int(value)
        elif kind is str:
            if not parse_text:
                return self.wrong_type(value, row, findings)
            if value in _NULL_MARKERS:
                return self.missing(None, row, findings)
            try:
                number = int(value) if "_" not in value else None
            except ValueError:
                number = None
            if number is None:
                return self.wrong_type(value, row, findings)
        elif isinstance(value, np.generic):
            return self.check_value(value.item(), row, parse_text, findings)
        else:
            return self.wrong_type(value, row, findings)
        if not self.smallest <= number <= self.largest:
            return self.wrong_type(value, row, findings, f" (out of the range of {self.dtype})")
        if self.minimum is not None or self.maximum is not None:
            self.check_range(number, row, findings)
        if self.categories is not None:
            self.check_category(str(number), number, row, findings)
        return number

    def check_array(self, values: Values, parse_text: bool, findings: Findings) -> np.ndarray | None:
        if self.categories is not None:
            return None  # compared as text, value by value: rare on a number column
        if isinstance(values, np.ndarray):
            if values.dtype.kind not in "iu":
                return None
            numbers = values
        else:
            kinds = set(map(type, values))
            if not (kinds == _INTEGER_TYPES or (parse_text and kinds == _TEXT_TYPES and _plain_numbers(values))):
                return None
            try:
                numbers = np.array(values, dtype=np.int64)  # numpy parses text as int() does
            except (OverflowError, ValueError):
                return None  # a value the per-value path explains
        if len(numbers) and (numbers.min() < self.smallest or numbers.max() > self.largest):
            return None
        self.check_ranges(numbers, findings)
        return numbers.astype(self.output, copy=False)


class _BoolColumn(Column):
    _TEXT: ClassVar[dict[str, bool]] = {"true": True, "1": True, "false": False, "0": False}

    def __init__(self, spec: ColumnSpec) -> None:
        super().__init__(spec)
        self.output = np.dtype(object) if spec.nullable else np.dtype(np.bool_)
        self.placeholder = None if spec.nullable else False
        self.quick_type = bool if spec.categories is None else None

    def check_value(self, value: Any, row: int, parse_text: bool, findings: Findings) -> Any:
        if value is True or value is False:
            flag = value
        elif value is None or (type(value) is float and value != value):
            return self.missing(value, row, findings)
        elif isinstance(value, np.generic):
            return self.check_value(value.item(), row, parse_text, findings)
        elif type(value) is str and parse_text:
            if value in _NULL_MARKERS:
                return self.missing(None, row, findings)
            parsed = self._TEXT.get(value.strip().lower())
            if parsed is None:
                return self.wrong_type(value, row, findings)
            flag = parsed
        else:
            return self.wrong_type(value, row, findings, " (send true or false)")
        if self.categories is not None:
            self.check_category("true" if flag else "false", flag, row, findings)
        return flag

    def check_array(self, values: Values, parse_text: bool, findings: Findings) -> np.ndarray | None:
        if self.categories is not None:
            return None
        if isinstance(values, np.ndarray):
            return values.astype(self.output) if values.dtype.kind == "b" else None
        kinds = set(map(type, values))
        if kinds <= {bool} or (self.nullable and kinds <= {bool, type(None)}):
            return np.array(values, dtype=self.output)
        return None


class _TextColumn(Column):
    def __init__(self, spec: ColumnSpec) -> None:
        super().__init__(spec)
        self.quick_type = str

    def check_value(self, value: Any, row: int, parse_text: bool, findings: Findings) -> Any:
        if type(value) is str:
            text = value
        elif value is None or (type(value) is float and value != value):
            return self.missing(value, row, findings)
        elif value is True or value is False:
            text = "true" if value else "false"  # as the ingest writes a bool as text
        elif type(value) is int or type(value) is float:
            text = str(value)  # an id or a code sent as a number
        elif isinstance(value, np.generic):
            return self.check_value(value.item(), row, parse_text, findings)
        else:
            return self.wrong_type(value, row, findings)
        if self.categories is not None:
            self.check_category(text, text, row, findings)
        return text

    def check_array(self, values: Values, parse_text: bool, findings: Findings) -> np.ndarray | None:
        if isinstance(values, np.ndarray):
            return None
        kinds = set(map(type, values))
        if not (kinds <= {str} or (self.nullable and kinds <= {str, type(None)})):
            return None
        if self.categories is not None:
            self.check_categories(values, findings)
        return np.array(values, dtype=object)


class _TemporalColumn(Column):
    """Dates and timestamps, sent as ISO 8601 strings (JSON has no date type); always checked value by value."""

    def __init__(self, spec: ColumnSpec) -> None:
        super().__init__(spec)
        polars_dtype = polars_type(spec.dtype)
        self.is_date = polars_dtype == pl.Date
        if isinstance(polars_dtype, pl.Datetime):
            self.output = np.dtype(f"datetime64[{polars_dtype.time_unit}]")
            self.zone = None if polars_dtype.time_zone is None else _zone(polars_dtype.time_zone)
        else:
            self.output = np.dtype("datetime64[D]")
            self.zone = None
        example = "2024-05-31" if self.is_date else "2024-05-31T14:30:00" + ("+07:00" if self.zone else "")
        self.hint = f" (send an ISO 8601 {'date' if self.is_date else 'timestamp'} such as '{example}')"

    def check_value(self, value: Any, row: int, parse_text: bool, findings: Findings) -> Any:
        if value is None or (type(value) is float and value != value):
            return self.missing(value, row, findings)
        if isinstance(value, str) and parse_text and value in _NULL_MARKERS:
            return self.missing(None, row, findings)
        if self.is_date:
            moment: date | None = _parse_date(value)
            converted: Any = moment
        else:
            moment = _parse_timestamp(value)
            converted = None if moment is None else self._in_column_time(moment)
            if moment is not None and converted is None:
                return self.wrong_type(value, row, findings, " (the column holds times without a time zone)")
        if converted is None:
            return self.wrong_type(value, row, findings, self.hint)
        if self.categories is not None:
            self.check_category(converted.isoformat(), value, row, findings)
        return converted

    def _in_column_time(self, moment: datetime) -> datetime | None:
        """The instant as the array holds it: naive, in UTC for a zoned column; None when it cannot be placed."""
        if self.zone is None:
            return moment if moment.tzinfo is None else None
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=self.zone)
        return moment.astimezone(UTC).replace(tzinfo=None)


def _plain_numbers(texts: Sequence[str]) -> bool:
    """Whether CSV texts can go to numpy's parser: no null marker, no ``1_000`` (which it would take)."""
    return "_" not in "".join(texts) and _NULL_MARKERS.isdisjoint(texts)


def column_for(spec: ColumnSpec) -> Column:
    if spec.dtype.startswith("float"):
        return _FloatColumn(spec)
    if is_integer(spec.dtype):
        return _IntegerColumn(spec)
    if spec.dtype == "bool":
        return _BoolColumn(spec)
    if spec.dtype == "string":
        return _TextColumn(spec)
    return _TemporalColumn(spec)


def shown_value(value: Any) -> str:
    """A value as the user sent it, in JSON spelling, cut short when long."""
    if isinstance(value, np.generic):
        value = value.item()
    if value is None:
        return "null"
    if value is True or value is False:
        return "true" if value else "false"
    if isinstance(value, float):
        if value != value:
            return "NaN"
        if math.isinf(value):
            return "infinity" if value > 0 else "-infinity"
    text = repr(value)
    return text if len(text) <= _LONGEST_SHOWN else text[: _LONGEST_SHOWN - 3] + "..."


def _parse_float(text: str) -> float | None:
    """A number written as text, as a CSV reader takes it (``1_000`` is not one)."""
    if "_" in text:
        return None
    try:
        return float(text)
    except ValueError:
        return None


def _parse_date(value: Any) -> date | None:
    if type(value) is date:
        return value
    if not isinstance(value, str) or len(value) != 10:  # only YYYY-MM-DD, as the ingest reads dates
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        return None


def _parse_timestamp(value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or len(value) < 10:
        return None
    try:
        return datetime.fromisoformat(value)
    except ValueError:
        return None


def _zone(name: str) -> tzinfo:
    """The time zone of a zoned column: an IANA name (``Asia/Ho_Chi_Minh``) or a fixed offset (``+07:00``)."""
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        sign = -1 if name.startswith("-") else 1
        hours, _, minutes = name.lstrip("+-").partition(":")
        return timezone(sign * timedelta(hours=int(hours), minutes=int(minutes or 0)))
