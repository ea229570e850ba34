"""Check a request's inputs against a model's signature, fast: refuse rule breaks, flag expectation breaks.

An :class:`InputChecker` is built once per served version; everything it needs per column (the conversion, the
bounds, the category set) is worked out then, so checking a request only walks the values. A request breaking a
**rule** is refused whole with :class:`InputRejected` (HTTP 422), listing every problem field by field:

- a required column is missing;
- a value does not convert to its column's type (``true`` for an ``int64``, ``1.5`` for an ``int64``, ``"12"``
  for a ``float64``: JSON has numbers, so a quoted number is a mistake, except in CSV input, where every value is
  text and is parsed: pass ``strings_are_text=False``);
- a value is missing (null, or NaN, which counts as missing) in a column that is not nullable;
- ±infinity in a numeric column whose range has a bound on that side (whether the range is a rule or only an
  expectation): no model scores infinity (scikit-learn refuses it outright), and a signature that expects values
  up to 450.0 has not seen one. A column without a bound on that side (a hand-written signature) takes it;
- a promoted expectation is broken (a value out of range, an unseen category).

An expectation that is not promoted only **flags** the row (``"district: unseen category 'Tay Ho'"``): the
request is served, and the flags go to the prediction log, where drift monitoring must see them. With
``out_of_range="missing"``, a value outside the range of a nullable numeric column is also **scored as missing**
(flagged ``"area: 9000.0 above the maximum 450.0 (scored as missing)"``): a value no training row came near is
more likely a broken feed (square feet sent for square metres) than a fact, and a model that learnt to answer
without the column (see ``fit_model(may_be_missing=...)``) answers better from the other columns than from it.
The prediction log keeps the value as it was sent. Uniqueness is
never checked here: it is a property of a whole dataset, and a request is a handful of rows; scoring the same
row twice is normal traffic, not an error.

Rows are numbered from 0, in the order they were sent. Every column comes back converted to its type, ready for a
model: floats (NaN for missing), integers (``float64`` with NaN when the column is nullable), ``bool`` (an object
array of True/False/None when nullable), text as an object array of ``str``/None, dates as ``datetime64[D]`` and
timestamps as ``datetime64[UNIT]`` (a zoned column's instants in UTC; a string without an offset is read in the
column's zone).

>>> from driftloop.data.validation import ColumnSpec, DataSchema
>>> from driftloop.registry import Signature
>>> signature = Signature(
...     inputs=DataSchema(
...         columns=(
...             ColumnSpec("area", "float64", nullable=False, minimum=20.0, maximum=450.0),
...             ColumnSpec("district", "string", nullable=True, categories=("Ba Dinh", "Cau Giay")),
...         )
...     )
... )
>>> checker = InputChecker(signature)
>>> checked = checker.check({"area": [75.0, 9000.0], "district": ["Ba Dinh", "Tay Ho"]}, rows=2)
>>> checked.frame_columns["area"].tolist(), checked.flags
([75.0, 9000.0], [[], ['area: 9000.0 above the maximum 450.0', "district: unseen category 'Tay Ho'"]])
>>> try:
...     checker.check({"area": ["75"], "rooms": [3]}, rows=1)
... except InputRejected as rejected:
...     print(rejected.message)
The inputs do not match the model's signature (2 problems):
- column 'area', row 0: expected float64, got '75' (a quoted number; send numbers unquoted)
- column 'district': missing (a required column)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import repeat
from typing import Any

import numpy as np

from driftloop.errors import InvalidData, InvalidInput
from driftloop.registry import Signature
from driftloop.serving._input_columns import MAX_ERRORS, Column, FieldError, Findings, Values, column_for, shown_value

__all__ = ["MAX_ERRORS", "OUT_OF_RANGE", "CheckedInputs", "FieldError", "InputChecker", "InputRejected"]

OUT_OF_RANGE = ("flag", "missing")
"""What an out-of-range value of a nullable numeric column becomes: flagged only, or flagged and scored as missing."""

SHOWN_ERRORS = 20
"""The problems an :class:`InputRejected` message lists; it says how many more there are."""

PER_VALUE_ROWS = 32
"""Up to this many rows, a Python loop over the values beats numpy, whose every call costs about a microsecond
(measured: the loop wins up to 30-60 rows, depending on the column types)."""

_ABSENT = object()  # a column not sent (None is a value sent, and refused)
_EMPTY = np.empty(0)


@dataclass(frozen=True)
class CheckedInputs:
    """A request's inputs after checking: converted, with the expectations each row breaks.

    Attributes:
        frame_columns: Each signature column converted to its type (see the module docstring), in signature order.
        rows: The number of rows.
        flags: Per row, the expectations it breaks (``"area: 9000.0 above the maximum 450.0"``); empty lists when
            none. The row is served; the flags belong in the prediction log.
        extra_columns: Columns sent that the signature does not know, in the order sent (ignored).
        matrix: When every column converts to one type, the same values as one ``rows`` x columns array in
            signature order (``frame_columns`` are views of it), for models fed one matrix; else None.
    """

    frame_columns: dict[str, np.ndarray]
    rows: int
    flags: list[list[str]]
    extra_columns: tuple[str, ...]
    matrix: np.ndarray | None = None


class InputRejected(InvalidData):
    """A request breaks rules of the model's signature; ``errors`` lists the problems field by field.

    At most :data:`MAX_ERRORS` problems are kept; ``error_count`` counts them all.
    """

    def __init__(self, errors: Sequence[FieldError], error_count: int | None = None) -> None:
        self.errors = list(errors)
        self.error_count = len(self.errors) if error_count is None else error_count
        count = self.error_count
        lines = [f"The inputs do not match the model's signature ({count} problem{'' if count == 1 else 's'}):"]
        lines += [f"- {error}" for error in self.errors[:SHOWN_ERRORS]]
        if count > SHOWN_ERRORS:
            lines.append(f"- ... and {count - SHOWN_ERRORS} more.")
        first = self.errors[0] if self.errors else None
        super().__init__(
            "\n".join(lines),
            row=None if first is None else first.row,
            column=None if first is None else first.column,
        )

    def __reduce__(self) -> tuple[Any, ...]:
        # The default rebuilds an exception from its message; this one is rebuilt from its errors.
        return (type(self), (self.errors, self.error_count))


class InputChecker:
    """Checks requests against one signature; build it once per served version, then call :meth:`check`.

    Args:
        signature: The signature of the served model version.
        out_of_range: ``"flag"`` (the default) or ``"missing"``: what an out-of-range value of a nullable
            numeric column whose range is an expectation becomes, besides its flag (see the module notes).
    """

    def __init__(self, signature: Signature, *, out_of_range: str = "flag") -> None:
        if not isinstance(signature, Signature):
            raise InvalidInput(f"An InputChecker takes a Signature; got {type(signature).__name__}.")
        if out_of_range not in OUT_OF_RANGE:
            raise InvalidInput(f"The 'out_of_range' must be one of {', '.join(OUT_OF_RANGE)}; got {out_of_range!r}.")
        self.signature = signature
        self._columns = [column_for(spec) for spec in signature.inputs.columns]
        self._scored_as_missing = [
            column for column in self._columns if out_of_range == "missing" and column.mark_out_of_range_missing()
        ]
        self._names = frozenset(column.name for column in self._columns)
        self._order = {column.name: index for index, column in enumerate(self._columns)}
        self._name_list = [column.name for column in self._columns]
        self.columns = self._name_list
        """The signature's input columns, in order (the columns of :attr:`CheckedInputs.matrix`)."""
        # What the single-row loop reads of each column, unpacked at once rather than attribute by attribute.
        self._quick = [
            (column.name, column.quick_type, column.numeric, column.low, column.high, column.categories, column)
            for column in self._columns
        ]
        # Columns of one output type are built as one 2-D block on the per-value path: one numpy call, not one
        # per column.
        groups: dict[np.dtype[Any], list[int]] = {}
        for index, column in enumerate(self._columns):
            groups.setdefault(column.output, []).append(index)
        self._groups = [(dtype, indexes) for dtype, indexes in groups.items()]

    def check(self, columns: Mapping[str, Values], rows: int, *, strings_are_text: bool = True) -> CheckedInputs:
        """Check and convert a request's columns.

        Args:
            columns: The values of each column sent, by column name (a list, a tuple or a 1-D numpy array each).
            rows: The number of rows sent; every column must have that many values.
            strings_are_text: True for JSON input, where a string in a number or bool column is a mistake; False
                for CSV input, where every value is text and is parsed (``"12"`` for a float, the ingest's null
                markers such as ``""`` and ``NA`` for missing). Dates and timestamps are ISO 8601 text either way.

        Raises:
            InputRejected: The request breaks a rule; the message lists every problem, field by field.
        """
        if isinstance(rows, bool) or not isinstance(rows, int) or rows < 0:
            raise InvalidInput(f"'rows' must be an integer >= 0; got {rows!r}.")
        if type(columns) is not dict and not isinstance(columns, Mapping):
            raise InvalidInput(f"The inputs must be a mapping of column names to values; got {type(columns).__name__}.")
        parse_text = not strings_are_text
        findings = Findings(rows)
        matrix = None
        if rows == 1:
            frame_columns, matrix = self._check_row(columns, parse_text, findings)
        else:
            sent = [self._values(column, columns.get(column.name, _ABSENT), rows, findings) for column in self._columns]
            if rows <= PER_VALUE_ROWS:
                frame_columns = self._check_each(sent, rows, parse_text, findings)
            else:
                frame_columns = self._check_arrays(sent, rows, parse_text, findings)
        if findings.error_count:
            # Field by field: in signature order, a missing column before its rows.
            findings.errors.sort(key=lambda error: (self._order[error.column], -1 if error.row is None else error.row))
            raise InputRejected(findings.errors, error_count=findings.error_count)
        for column in self._scored_as_missing:
            column.blank_out_of_range(frame_columns[column.name])
        extra = () if self._names.issuperset(columns) else tuple(name for name in columns if name not in self._names)
        flags = findings.flags if findings.flags is not None else [[] for _ in repeat(None, rows)]
        return CheckedInputs(frame_columns=frame_columns, rows=rows, flags=flags, extra_columns=extra, matrix=matrix)

    @staticmethod
    def _values(column: Column, sent: object, rows: int, findings: Findings) -> Values | None:
        """The column's values as a list, tuple or 1-D array of ``rows`` values; None when absent (and a problem
        when it must be there) or malformed (a problem)."""
        values: Values
        if sent is _ABSENT:
            if column.required or (not column.nullable and rows):
                why = "a required column" if column.required else "an optional column, but it is not nullable"
                findings.refuse(column.name, None, f"missing ({why})")
            return None
        if isinstance(sent, np.ndarray):
            if sent.ndim != 1:
                findings.refuse(column.name, None, f"expected a list of values, got an array of shape {sent.shape}")
                return None
            # Strings and objects go to the per-value checks, which read Python values.
            values = sent if sent.dtype.kind in "biuf" else list(sent.tolist())
        elif isinstance(sent, list | tuple):
            values = sent
        elif isinstance(sent, Sequence) and not isinstance(sent, str | bytes):
            values = list(sent)
        else:
            findings.refuse(column.name, None, f"expected a list of values, got {shown_value(sent)}")
            return None
        if len(values) != rows:
            findings.refuse(column.name, None, f"expected {rows} value{'' if rows == 1 else 's'}, got {len(values)}")
            return None
        return values

    def _check_row(
        self, columns: Mapping[str, Values], parse_text: bool, findings: Findings
    ) -> tuple[dict[str, np.ndarray], np.ndarray | None]:
        """The single-row path (the common request): a tight loop, one numpy call per output type.

        Returns the converted columns and, when they all have one type, the row as a 1 x columns matrix.
        """
        row: list[Any] = []
        append = row.append
        value: Any
        get, absent = columns.get, _ABSENT
        for name, quick_type, numeric, low, high, categories, column in self._quick:
            given = get(name, absent)
            if type(given) is list and len(given) == 1:
                value = given[0]
            else:
                values = self._values(column, given, 1, findings)
                if values is None:
                    append(column.placeholder)
                    continue
                value = values[0]
            if type(value) is quick_type and (
                low <= value <= high if numeric else categories is None or value in categories
            ):
                append(value)
            else:
                append(column.check_value(value, 0, parse_text, findings))
        if findings.error_count:
            return {}, None
        if len(self._groups) == 1:
            matrix = np.array(row, dtype=self._groups[0][0]).reshape(1, len(row))
            return dict(zip(self._name_list, matrix.T, strict=True)), matrix
        arrays: list[np.ndarray] = [_EMPTY] * len(row)
        for dtype, indexes in self._groups:
            block = np.array([row[index] for index in indexes], dtype=dtype).reshape(len(indexes), 1)
            for index, view in zip(indexes, block, strict=True):
                arrays[index] = view
        return dict(zip(self._name_list, arrays, strict=True)), None

    def _check_each(
        self, sent: list[Values | None], rows: int, parse_text: bool, findings: Findings
    ) -> dict[str, np.ndarray]:
        converted: list[list[Any]] = []
        for column, values in zip(self._columns, sent, strict=True):
            if values is None:
                converted.append([column.placeholder] * rows)
            else:
                converted.append(
                    column.check_values(
                        values.tolist() if isinstance(values, np.ndarray) else values, parse_text, findings
                    )
                )
        if findings.error_count:
            return {}
        arrays: list[np.ndarray] = [_EMPTY] * len(self._columns)
        for dtype, indexes in self._groups:
            block = np.array([converted[index] for index in indexes], dtype=dtype).reshape(len(indexes), rows)
            for position, index in enumerate(indexes):
                arrays[index] = block[position]
        return {column.name: array for column, array in zip(self._columns, arrays, strict=True)}

    def _check_arrays(
        self, sent: list[Values | None], rows: int, parse_text: bool, findings: Findings
    ) -> dict[str, np.ndarray]:
        frame_columns: dict[str, np.ndarray] = {}
        for column, values in zip(self._columns, sent, strict=True):
            if values is None:
                frame_columns[column.name] = np.full(rows, column.placeholder, dtype=column.output)
                continue
            array = column.check_array(values, parse_text, findings)
            if array is None:
                listed = values.tolist() if isinstance(values, np.ndarray) else values
                array = np.array(column.check_values(listed, parse_text, findings), dtype=column.output)
            frame_columns[column.name] = array
        return frame_columns
