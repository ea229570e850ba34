"""Python records (JSON objects, database rows) to Arrow batches whose column types stay put.

Arrow infers a type per chunk; a stream of chunks needs one type per column. The first chunk with a
non-null value in a column fixes its type. A column that was all null so far takes the later type
(earlier batches keep type ``null``, which any type absorbs); a column that appears later is added
at the end. A value that does not fit the fixed type is an error naming the row and the column,
except that numbers convert among themselves when no value changes (``2.0`` into an int64 column).
"""

from __future__ import annotations

import ipaddress
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import cast

import pyarrow as pa

from driftloop.errors import InvalidData

__all__ = ["RecordBatcher", "mixed_types"]

RowContext = Callable[[int], str]
"""Where a row of a chunk came from (``"record 3 of page 2"``), given its index in the chunk."""

_ARROW_ERRORS = (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError, OverflowError)


class RecordBatcher:
    """Turns chunks of Python values into record batches with one consistent schema.

    Args:
        source: The description of the source, for messages.
        column_types: Declared types; their values are converted to them (any safe Arrow cast).

    >>> batcher = RecordBatcher("a test")
    >>> batcher.from_records([{"x": 1, "y": None}], first_row=1).schema.types
    [DataType(int64), DataType(null)]
    >>> batcher.from_records([{"x": 2.0, "y": "a"}], first_row=2).schema.types
    [DataType(int64), DataType(string)]
    >>> batcher.from_records([{"x": "3"}], first_row=3)
    Traceback (most recent call last):
    ...
    driftloop.errors.InvalidData: a test: column 'x' holds int64 values in earlier rows, but row 3 has '3' (str).
    """

    def __init__(self, source: str, *, column_types: Mapping[str, pa.DataType] | None = None) -> None:
        self._source = source
        self._declared = dict(column_types or {})
        self._types: dict[str, pa.DataType] = dict(self._declared)

    def from_records(
        self, records: Sequence[object], *, first_row: int, context: RowContext | None = None
    ) -> pa.RecordBatch:
        """Convert JSON-like objects; keys missing from a record are nulls.

        Args:
            records: The chunk, each a ``dict``.
            first_row: The 1-based row number of ``records[0]`` in the whole source.
            context: Extra location for messages, given a record's index in the chunk.

        Raises:
            InvalidData: A record is not an object, or a value does not fit its column's type.
        """
        names: dict[str, None] = dict.fromkeys(self._types)
        for index, record in enumerate(records):
            if not isinstance(record, dict):
                raise InvalidData(
                    f"{self._source}: {_label(first_row, index, context)} is a {type(record).__name__} "
                    f"({_show(record)}), not an object of named fields.",
                    source=self._source,
                    row=first_row + index,
                )
            names.update(dict.fromkeys(record))
        objects = cast(Sequence[dict[str, object]], records)
        columns = [[record.get(name) for record in objects] for name in names]
        return self.from_columns(list(names), columns, first_row=first_row, context=context)

    def from_columns(
        self,
        names: Sequence[str],
        columns: Sequence[Sequence[object]],
        *,
        first_row: int,
        context: RowContext | None = None,
    ) -> pa.RecordBatch:
        """Convert a chunk given column by column (database rows, transposed).

        Raises:
            InvalidData: A value does not fit its column's type.
        """
        arrays = [self._convert(name, values, first_row, context) for name, values in zip(names, columns, strict=True)]
        return pa.RecordBatch.from_arrays(arrays, names=list(names))

    def _convert(self, name: str, values: Sequence[object], first_row: int, context: RowContext | None) -> pa.Array:
        array = _infer(values)
        if array is None:
            raise mixed_types(self._source, name, values, first_row, context)
        known = self._types.get(name)
        if known is None or pa.types.is_null(known):
            self._types[name] = array.type
            return array
        if array.type == known:
            return array
        if pa.types.is_null(array.type):
            return pa.nulls(len(array), known)
        if name in self._declared or _convertible(array.type, known):
            try:
                return array.cast(known, safe=True)
            except _ARROW_ERRORS:
                pass
        index = next((i for i, value in enumerate(values) if not self._fits(name, value, known)), 0)
        held = f"is declared {known}" if name in self._declared else f"holds {known} values in earlier rows"
        raise InvalidData(
            f"{self._source}: column {name!r} {held}, but {_label(first_row, index, context)} has "
            f"{_show(values[index])} ({type(values[index]).__name__}).",
            source=self._source,
            row=first_row + index,
            column=name,
        )

    def _fits(self, name: str, value: object, known: pa.DataType) -> bool:
        single = _infer([value])
        if single is None:
            return False
        if single.type == known or pa.types.is_null(single.type):
            return True
        if name not in self._declared and not _convertible(single.type, known):
            return False
        try:
            single.cast(known, safe=True)
        except _ARROW_ERRORS:
            return False
        return True


def mixed_types(
    source: str, name: str, values: Sequence[object], first_row: int, context: RowContext | None = None
) -> InvalidData:
    """The error for a column whose values share no Arrow type, naming the first row that breaks ranks.

    >>> print(mixed_types("a test", "x", ["a", None, 5], first_row=1))
    a test: column 'x' mixes types: row 1 has 'a' (str), but row 3 has 5 (int).
    """
    kinds = [(index, _kind(value)) for index, value in enumerate(values) if value is not None]
    first_index, first_kind = kinds[0] if kinds else (0, "")
    for index, kind in kinds:
        if kind != first_kind:
            return InvalidData(
                f"{source}: column {name!r} mixes types: {_label(first_row, first_index, context)} "
                f"has {_show(values[first_index])} ({type(values[first_index]).__name__}), but "
                f"{_label(first_row, index, context)} has {_show(values[index])} ({type(values[index]).__name__}).",
                source=source,
                row=first_row + index,
                column=name,
            )
    return InvalidData(
        f"{source}: column {name!r} has values Arrow cannot store in one column, "
        f"in rows {first_row} to {first_row + len(values) - 1}.",
        source=source,
        row=first_row,
        column=name,
    )


def _infer(values: Sequence[object]) -> pa.Array | None:
    """The Arrow array of ``values`` with decimals widened, or None when they do not share a type."""
    try:
        array = pa.array(values, from_pandas=False)
        if isinstance(array.type, pa.BaseExtensionType):
            # pyarrow turns UUIDs into its arrow.uuid extension type, which Delta Lake and polars do not read.
            array = pa.array([_plain(value) for value in values], from_pandas=False)
    except _ARROW_ERRORS:
        try:
            array = pa.array([_plain(value) for value in values], from_pandas=False)
        except _ARROW_ERRORS:
            return None
    if pa.types.is_decimal128(array.type) and array.type.precision < 38:
        # Precision is inferred from the chunk's values; widen it so a later, longer value still fits.
        array = array.cast(pa.decimal128(38, array.type.scale))
    return array


def _plain(value: object) -> object:
    """Values Arrow has no plain type for, as text: UUIDs and IP addresses from PostgreSQL."""
    if isinstance(value, uuid.UUID | ipaddress.IPv4Address | ipaddress.IPv6Address):
        return str(value)
    return value


def _convertible(actual: pa.DataType, known: pa.DataType) -> bool:
    """Whether a chunk of type ``actual`` may be cast (safely) into a column of type ``known``."""

    def numeric(data_type: pa.DataType) -> bool:
        return bool(pa.types.is_integer(data_type) or pa.types.is_floating(data_type) or pa.types.is_decimal(data_type))

    if numeric(actual) and numeric(known):
        return True
    if pa.types.is_timestamp(actual) and pa.types.is_timestamp(known):
        return bool(actual.tz == known.tz)
    return False


def _kind(value: object) -> str:
    """A coarse type for finding where a column changes type; ints and floats mix freely."""
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _label(first_row: int, index: int, context: RowContext | None) -> str:
    row = f"row {first_row + index}"
    return f"{row} ({context(index)})" if context is not None else row


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
