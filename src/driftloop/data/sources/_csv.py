"""Streaming CSV with ``pyarrow.csv.open_csv``, and messages that point at the bad row.

``open_csv`` fixes every column's type from the first block (1 MiB, as pyarrow's default); a later value of another
type, a ragged row, an unclosed quote or undecodable bytes stop it with an ``ArrowInvalid`` that
names neither the row nor, sometimes, the column. When that happens the file is read again with
Python's ``csv`` module from the last good row to find the first offending one: slow, but only on
the way to an error.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO

import pyarrow as pa
import pyarrow.csv as pa_csv

from driftloop.data.sources._base import limit_rows
from driftloop.errors import InvalidData, InvalidInput

__all__ = ["CsvOptions", "stream_csv"]

Opener = Callable[[], AbstractContextManager[IO[bytes]]]
"""Opens the file's bytes afresh (decompressed), as a context manager."""

_BLOCK_BYTES = 1 << 20
_READ_ERRORS = (pa.ArrowInvalid, UnicodeDecodeError)
_COLUMN = re.compile(r"In CSV column #(\d+)")
_INVALID_VALUE = re.compile(r"invalid value '(.*)'$", re.DOTALL)
_UNDECODABLE = re.compile("[\udc80-\udcff]+")


@dataclass(frozen=True)
class CsvOptions:
    """How to parse a CSV file.

    Args:
        delimiter: One character between values.
        column_types: Declared Arrow types by column name; other columns are inferred.
        encoding: A Python codec name, normalised by :meth:`build`.
    """

    delimiter: str
    column_types: Mapping[str, pa.DataType]
    encoding: str

    @classmethod
    def build(cls, delimiter: str, column_types: Mapping[str, pa.DataType], encoding: object) -> CsvOptions:
        """Validate the options.

        Raises:
            InvalidInput: The delimiter is not one character, or the encoding is unknown.
        """
        if not isinstance(delimiter, str) or len(delimiter) != 1 or delimiter in '\r\n"':
            raise InvalidInput(f"A CSV delimiter must be one character such as ',' or '\\t'; got {delimiter!r}.")
        return cls(delimiter, dict(column_types), _codec_name(encoding))


def stream_csv(opener: Opener, options: CsvOptions, *, description: str, batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Stream a CSV file's rows as record batches of at most ``batch_rows`` rows.

    Raises:
        InvalidData: The file is empty (or has only a header), or is malformed; the message names the
            row (1-based, the header not counted), its line and the column where known.
        InvalidInput: ``column_types`` names a column the file does not have.
    """
    rows = 0
    schema: pa.Schema | None = None
    with opener() as stream:
        try:
            reader = pa_csv.open_csv(
                stream,
                read_options=pa_csv.ReadOptions(
                    block_size=_BLOCK_BYTES, encoding="utf8" if options.encoding == "utf-8" else options.encoding
                ),
                parse_options=pa_csv.ParseOptions(delimiter=options.delimiter, newlines_in_values=True),
                convert_options=pa_csv.ConvertOptions(column_types=dict(options.column_types)),
            )
            schema = reader.schema
            _check_declared(schema, options, description)
            if any(pa.types.is_binary(field.type) and field.name not in options.column_types for field in schema):
                # Inference falls back to binary for a column with bytes that are not UTF-8.
                raise pa.ArrowInvalid("invalid UTF8 data")
            for batch in reader:
                rows += batch.num_rows
                yield from limit_rows([batch], batch_rows)
        except _READ_ERRORS as error:
            raise _diagnose(error, opener, options, description, rows, schema) from error
    if rows == 0:
        columns = ", ".join(schema.names) if schema is not None else ""
        raise InvalidData(f"{description} is empty: it has a header ({columns}) but no data rows.", source=description)


def _check_declared(schema: pa.Schema, options: CsvOptions, description: str) -> None:
    unknown = sorted(set(options.column_types) - set(schema.names))
    if unknown:
        raise InvalidInput(
            f"column_types names {', '.join(map(repr, unknown))}, which {description} does not have; "
            f"its columns are: {', '.join(schema.names)}."
        )


def _diagnose(
    error: Exception, opener: Opener, options: CsvOptions, description: str, rows: int, schema: pa.Schema | None
) -> InvalidData:
    text = str(error)
    if "Empty CSV file" in text:
        return InvalidData(f"{description} is empty: it has no header and no rows.", source=description)
    column_match = _COLUMN.search(text)
    value_match = _INVALID_VALUE.search(text)
    column_index = int(column_match.group(1)) if column_match else None
    bad_value = value_match.group(1) if value_match else None
    try:
        found = _locate(opener, options, rows, column_index, bad_value)
    except (OSError, csv.Error):
        found = None
    if found is None:
        return InvalidData(
            f"{description} cannot be read after row {rows}: {text.splitlines()[0] if text else type(error).__name__}.",
            source=description,
            row=rows + 1,
        )
    row, line, header, fields, problem = found
    where = f"row {row} (line {line})"
    if problem == "quote":
        message = f"{description}: {where} opens a quoted value that is never closed."
        return InvalidData(message, source=description, row=row)
    if problem == "ragged":
        message = (
            f"{description}: {where} has {len(fields)} values; the header has {len(header)} columns "
            f"({', '.join(header)})."
        )
        return InvalidData(message, source=description, row=row)
    index = int(problem.removeprefix("column "))
    name = header[index] if index < len(header) else f"#{index + 1}"
    value = fields[index]
    if _UNDECODABLE.search(value):
        undecodable = b"".join(bytes(ord(char) - 0xDC00 for char in run) for run in _UNDECODABLE.findall(value))
        message = (
            f"{description}: {where}, column {name!r} has bytes that are not valid {options.encoding} "
            f"({undecodable!r}); pass the file's encoding, e.g. encoding='latin-1'."
        )
        return InvalidData(message, source=description, row=row, column=name)
    message = f"{description}: {where} has {value!r} in column {name!r}, " + _expected(name, value, options, schema)
    return InvalidData(message, source=description, row=row, column=name)


def _expected(name: str, value: str, options: CsvOptions, schema: pa.Schema | None) -> str:
    if name in options.column_types:
        return f"which is declared {options.column_types[name]}."
    data_type = schema.field(name).type if schema is not None and name in schema.names else None
    if data_type is None:
        return "which does not convert to the column's type."
    hint = "float64" if pa.types.is_integer(data_type) and _is_number(value) else "string"
    if pa.types.is_null(data_type):
        held = "which is empty in the first rows, so it was read as type null"
    else:
        held = f"which holds {data_type} values in the first rows"
    return f"{held}. Declare its type: column_types={{{name!r}: {hint!r}}}."


def _locate(
    opener: Opener, options: CsvOptions, rows_before: int, column_index: int | None, bad_value: str | None
) -> tuple[int, int, list[str], list[str], str] | None:
    """Find the first bad row after ``rows_before``: (row, line, header, fields, problem) or None.

    ``problem`` is ``"quote"``, ``"ragged"`` or ``"column N"`` (0-based) for an undecodable or
    unconvertible value.
    """
    with opener() as stream:
        text = io.TextIOWrapper(stream, encoding=options.encoding, errors="surrogateescape", newline="")
        reader = csv.reader(text, delimiter=options.delimiter, strict=False)
        header = next(reader, None)
        if header is None:
            return None
        row = 0
        line = reader.line_num
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return None
            except csv.Error as error:
                if "field limit" not in str(error):
                    raise
                return row + 1, line + 1, header, [], "quote"  # a quote opened and never closed swallows the rest
            start, line = line + 1, reader.line_num
            if not fields:
                continue  # pyarrow skips empty lines, so they count as no row
            row += 1
            if row <= rows_before:
                continue
            for index, value in enumerate(fields):
                if _UNDECODABLE.search(value):
                    return row, start, header, fields, f"column {index}"
            if len(fields) != len(header):
                at_end = next(reader, None) is None
                unclosed = at_end and any("\n" in value or "\r" in value for value in fields)
                return row, start, header, fields, "quote" if unclosed else "ragged"
            if column_index is not None and bad_value is not None and fields[column_index] == bad_value:
                return row, start, header, fields, f"column {column_index}"


def _codec_name(encoding: object) -> str:
    if not isinstance(encoding, str):
        raise InvalidInput(f"An encoding must be a codec name such as 'utf-8' or 'latin-1'; got {encoding!r}.")
    try:
        return codecs.lookup(encoding).name
    except LookupError:
        raise InvalidInput(
            f"Unknown encoding {encoding!r}; expected a Python codec name such as 'utf-8' or 'latin-1'."
        ) from None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True
