"""JSON documents and JSON Lines files to record batches.

JSON Lines stream line by line. A JSON document (an array of objects, or an object holding one
list of them) is parsed whole, as JSON has no record boundaries to stream by: its memory is the
file's size several times over, so prefer JSON Lines or Parquet for big inputs.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from typing import cast

import pyarrow as pa

from driftloop.data.sources._base import limit_rows
from driftloop.data.sources._csv import Opener
from driftloop.data.sources._records import RecordBatcher
from driftloop.errors import InvalidData

__all__ = ["find_records", "stream_json", "stream_json_lines"]


def stream_json_lines(
    opener: Opener,
    *,
    encoding: str,
    column_types: Mapping[str, pa.DataType],
    description: str,
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    """Stream a JSON Lines file, one object per line; blank lines are skipped.

    Raises:
        InvalidData: The file has no records, a line is not a JSON object or has undecodable bytes, or
            a value does not fit its column's type; the message names the row and its line.
    """
    batcher = RecordBatcher(description, column_types=column_types)
    records: list[object] = []
    lines: list[int] = []
    row = 0
    with opener() as stream:
        for line_number, raw in enumerate(stream, 1):
            try:
                text = raw.decode(encoding)
            except UnicodeDecodeError as error:
                raise InvalidData(
                    f"{description}: line {line_number} has bytes that are not valid {encoding} "
                    f"({raw[error.start : error.end]!r}); pass the file's encoding, e.g. encoding='latin-1'.",
                    source=description,
                    row=row + 1,
                ) from error
            if line_number == 1:
                text = text.removeprefix("\ufeff")
            if not text.strip():
                continue
            row += 1
            try:
                records.append(json.loads(text.rstrip("\r\n")))
            except json.JSONDecodeError as error:
                raise InvalidData(
                    f"{description}: row {row} (line {line_number}) is not valid JSON: {error.msg} "
                    f"at character {error.colno}.",
                    source=description,
                    row=row,
                ) from error
            lines.append(line_number)
            if len(records) == batch_rows:
                yield _batch(batcher, records, lines, row)
                records, lines = [], []
    if records:
        yield _batch(batcher, records, lines, row)
    if row == 0:
        raise InvalidData(f"{description} is empty: it has no records.", source=description)


def _batch(batcher: RecordBatcher, records: list[object], lines: list[int], last_row: int) -> pa.RecordBatch:
    return batcher.from_records(records, first_row=last_row - len(records) + 1, context=lambda i: f"line {lines[i]}")


def stream_json(
    opener: Opener,
    *,
    encoding: str,
    column_types: Mapping[str, pa.DataType],
    records_path: str | None,
    description: str,
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    """Read a whole JSON document and stream its records (see the module docstring about memory).

    Raises:
        InvalidData: The file is empty, not valid JSON, or holds no list of objects at ``records_path``.
    """
    with opener() as stream:
        data = stream.read()
    try:
        text = data.decode(encoding).removeprefix("\ufeff")
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        raise InvalidData(
            f"{description}: line {line} has bytes that are not valid {encoding} "
            f"({data[error.start : error.end]!r}); pass the file's encoding, e.g. encoding='latin-1'.",
            source=description,
        ) from error
    if not text.strip():
        raise InvalidData(f"{description} is empty: it has no JSON document.", source=description)
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        hint = (
            " It looks like JSON Lines (one object per line): pass format='jsonl'." if error.msg == "Extra data" else ""
        )
        raise InvalidData(
            f"{description} is not valid JSON: {error.msg} at line {error.lineno}, character {error.colno}.{hint}",
            source=description,
        ) from error
    del text, data
    records = find_records(document, records_path, description)
    if not records:
        raise InvalidData(f"{description} is empty: it has no records.", source=description)
    # The records are in memory already (as Python objects, far bigger than Arrow), so infer the types
    # from all of them at once: every batch then shares one schema.
    batch = RecordBatcher(description, column_types=column_types).from_records(records, first_row=1)
    del records, document
    yield from limit_rows([batch], batch_rows)


def find_records(document: object, records_path: str | None, where: str) -> Sequence[object]:
    """The list of records in a JSON document: at the dotted ``records_path``, or the one list in it.

    A ``null`` at the path counts as no records.

    >>> find_records({"data": {"items": [{"a": 1}]}}, "data.items", "a page")
    [{'a': 1}]
    >>> find_records({"items": [{"a": 1}], "next": None}, None, "a page")
    [{'a': 1}]

    Raises:
        InvalidData: There is no list at the path, or no single list to take without a path.
    """
    if records_path is not None:
        found = document
        for key in records_path.split("."):
            if not isinstance(found, dict) or key not in found:
                raise InvalidData(f"{where} has no field {records_path!r}; check records_path.", source=where)
            found = found[key]
        if found is None:
            return []
        if not isinstance(found, list):
            raise InvalidData(
                f"{where} has a {type(found).__name__} at {records_path!r}, where a list of records was expected.",
                source=where,
            )
        return found
    if isinstance(document, list):
        return document
    if isinstance(document, dict):
        lists = [key for key, value in document.items() if isinstance(value, list)]
        if len(lists) == 1:
            return cast(list[object], document[lists[0]])
        if lists:
            raise InvalidData(
                f"{where} has several list fields ({', '.join(lists)}); set records_path to the one holding "
                "the records.",
                source=where,
            )
    raise InvalidData(
        f"{where} holds a {type(document).__name__} with no list of records; expected an array of objects or "
        "an object with one list field (or set records_path).",
        source=where,
    )
