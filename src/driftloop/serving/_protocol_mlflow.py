"""MLflow's scoring-server format, ``POST /invocations``, and its answer ``{"predictions": [...]}``.

As MLflow's scoring server reads it (``mlflow/pyfunc/scoring_server``), a JSON body holds exactly one of:

- ``dataframe_split``: ``{"columns": [...], "data": [[...], ...], "index"?: [...]}``, pandas' split orientation
  (``index`` is checked for length and otherwise ignored; without ``columns`` the rows are a tensor);
- ``dataframe_records``: a list of records, pandas' records orientation;
- ``instances`` or ``inputs`` (TensorFlow Serving's row and column formats): a list of records, a JSON object of
  columns, or a list of rows of numbers (a tensor, matched to the model's features by position);

plus an optional ``params`` object; other keys are ignored, as MLflow ignores them. A ``text/csv`` body needs a
header row naming the columns. Its fields are typed per column the way pandas' ``read_csv`` types them without a
schema: a column whose every non-empty field is an integer holds ints, else floats, else ``true``/``false``
(any case) bools, else text; an empty field is null (None).

>>> parsed = parse_mlflow(b'{"dataframe_split": {"columns": ["a", "b"], "data": [[1, "x"], [2, "y"]]}}')
>>> parsed.columns, parsed.rows
({'a': [1, 2], 'b': ['x', 'y']}, 2)
>>> parse_mlflow(b"a,b\\n1,x\\n2.5,\\n", "text/csv").columns
{'a': [1.0, 2.5], 'b': ['x', None]}
>>> encode_mlflow([0, 1])
b'{"predictions":[0,1]}'
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from driftloop.errors import InvalidInput
from driftloop.serving._protocols import (
    ParsedRequest,
    UnsupportedMediaType,
    columns_from_mapping,
    columns_from_records,
    describe,
    dumps,
    is_json_media_type,
    load_json_object,
    media_type,
    tensor_from_rows,
)

__all__ = ["MLFLOW_INPUT_KEYS", "encode_mlflow", "parse_mlflow"]

MLFLOW_INPUT_KEYS = ("dataframe_split", "dataframe_records", "instances", "inputs")
"""The keys of an ``/invocations`` JSON body, exactly one of which holds the inputs."""

_SPLIT_KEYS = frozenset({"columns", "data", "index"})

Columns = dict[str, list[Any]]


def parse_mlflow(body: bytes, content_type: str | None = "application/json") -> ParsedRequest:
    """The request in an ``/invocations`` body.

    Args:
        body: The raw request body.
        content_type: The request's ``Content-Type``: JSON (also when absent) or ``text/csv``.

    Raises:
        UnsupportedMediaType: Any other content type, or a charset other than UTF-8.
        InvalidInput: The body is malformed; the message says where.
    """
    kind = media_type(content_type)
    if kind == "text/csv":
        columns, rows = _parse_csv(body)
        return ParsedRequest(
            columns=columns, rows=rows, request_ids=None, probabilities=False, params={}, protocol="mlflow"
        )
    if not is_json_media_type(kind):
        raise UnsupportedMediaType(
            f"/invocations takes application/json or text/csv bodies; got Content-Type {content_type!r}."
        )
    document = load_json_object(body)
    found = [key for key in document if key in MLFLOW_INPUT_KEYS]
    if len(found) != 1:
        got = ", ".join(repr(key) for key in document) or "none"
        raise InvalidInput(
            f"An /invocations body holds exactly one of {', '.join(repr(key) for key in MLFLOW_INPUT_KEYS)} "
            f"(plus optional 'params'); its keys are: {got}."
        )
    params = document.get("params")
    if params is None:
        params = {}
    elif type(params) is not dict:
        raise InvalidInput(f"'params' must be a JSON object of name: value; got {describe(params)}.")
    key = found[0]
    value = document[key]
    tensor = None
    if key == "dataframe_split":
        columns, rows, tensor = _dataframe_split(value)
    elif key == "dataframe_records":
        columns, rows = columns_from_records(value, key)
    else:
        columns, rows, tensor = _instances_or_inputs(value, key)
    return ParsedRequest(
        columns=columns,
        rows=rows,
        request_ids=None,
        probabilities=False,
        params=params,
        protocol="mlflow",
        tensor=tensor,
    )


def _dataframe_split(split: Any) -> tuple[Columns, int, np.ndarray | None]:
    if type(split) is not dict:
        raise InvalidInput(f"'dataframe_split' must be a JSON object with 'columns' and 'data'; got {describe(split)}.")
    unknown = [key for key in split if key not in _SPLIT_KEYS]
    if unknown:
        raise InvalidInput(
            f"'dataframe_split' takes 'columns', 'data' and 'index'; got {', '.join(repr(key) for key in unknown)}."
        )
    data = split.get("data")
    if type(data) is not list:
        raise InvalidInput(f"'dataframe_split.data' must be a list of rows; got {describe(data)}.")
    if not data:
        raise InvalidInput("'dataframe_split.data' holds no rows; send at least one.")
    index = split.get("index")
    if index is not None and (type(index) is not list or len(index) != len(data)):
        raise InvalidInput(f"'dataframe_split.index' must list one label per row ({len(data)}); got {describe(index)}.")
    names = split.get("columns")
    if names is None:
        return {}, len(data), tensor_from_rows(data, "dataframe_split.data")
    _check_column_names(names)
    width = len(names)
    if len(data) == 1:  # the common single-row request: no transposing
        row = data[0]
        if type(row) is not list or len(row) != width:
            _raise_bad_row(0, row, width)
        return {name: [value] for name, value in zip(names, row, strict=True)}, 1, None
    for row_index, row in enumerate(data):
        if type(row) is not list or len(row) != width:
            _raise_bad_row(row_index, row, width)
    return {name: list(values) for name, values in zip(names, zip(*data, strict=True), strict=True)}, len(data), None


def _check_column_names(names: Any) -> None:
    if type(names) is not list or not names:
        raise InvalidInput(f"'dataframe_split.columns' must be a non-empty list of names; got {describe(names)}.")
    if set(map(type, names)) != {str}:
        position, name = next((position, name) for position, name in enumerate(names) if type(name) is not str)
        raise InvalidInput(f"'dataframe_split.columns' item {position} must be a name; got {describe(name)}.")
    if len(set(names)) != len(names):
        repeated = sorted({name for name in names if names.count(name) > 1})
        raise InvalidInput(f"'dataframe_split.columns' names {', '.join(map(repr, repeated))} more than once.")


def _raise_bad_row(row_index: int, row: Any, width: int) -> None:
    if type(row) is not list:
        raise InvalidInput(f"dataframe_split.data row {row_index} must be a list of values; got {describe(row)}.")
    raise InvalidInput(f"dataframe_split.data row {row_index} has {len(row)} values; 'columns' lists {width}.")


def _instances_or_inputs(value: Any, key: str) -> tuple[Columns, int, np.ndarray | None]:
    if type(value) is dict:
        columns, rows = columns_from_mapping(value, key)
        return columns, rows, None
    if type(value) is not list or not value:
        raise InvalidInput(
            f"{key!r} must be a list of records, a list of rows of numbers, or a JSON object of columns; "
            f"got {describe(value)}."
        )
    first = value[0]
    if type(first) is dict:
        columns, rows = columns_from_records(value, key)
        return columns, rows, None
    if type(first) is list:
        tensor = tensor_from_rows(value, key)
        return {}, tensor.shape[0], tensor
    raise InvalidInput(
        f'{key!r} is a flat list of values; send rows: a list of records ({{"column": value}}), a list of '
        f"rows of numbers ([[1, 2], [3, 4]]), or a JSON object of columns."
    )


def _parse_csv(body: bytes) -> tuple[Columns, int]:
    try:
        text = body.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InvalidInput(f"The CSV body is not UTF-8 text (byte {error.start} is not).") from None
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    lines: list[tuple[int, list[str]]] = []
    try:
        lines = [(reader.line_num, fields) for fields in reader if fields]
    except csv.Error as error:
        raise InvalidInput(f"The CSV body does not parse at line {reader.line_num}: {error}.") from None
    if not lines:
        raise InvalidInput("The CSV body is empty; it needs a header row naming the columns, then the rows.")
    header = lines[0][1]
    _check_csv_header(header)
    width = len(header)
    records = lines[1:]
    if not records:
        raise InvalidInput("The CSV body has a header row but no data rows.")
    for line_number, fields in records:
        if len(fields) != width:
            raise InvalidInput(f"CSV line {line_number} has {len(fields)} fields; the header has {width}.")
    texts = zip(*(fields for _, fields in records), strict=True)
    return {name: _typed(values) for name, values in zip(header, texts, strict=True)}, len(records)


def _check_csv_header(header: list[str]) -> None:
    if any(not name.strip() for name in header):
        raise InvalidInput(f"The CSV header row must name every column; it is {','.join(header)!r}.")
    if all(_is_number(name) for name in header):
        raise InvalidInput(
            f"The CSV body needs a header row naming the columns; its first row ({','.join(header)!r}) holds only "
            "numbers, so it looks like data."
        )
    if len(set(header)) != len(header):
        repeated = sorted({name for name in header if header.count(name) > 1})
        raise InvalidInput(f"The CSV header names {', '.join(map(repr, repeated))} more than once.")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _boolean(text: str) -> bool:
    lowered = text.lower()
    if lowered == "true":
        return True
    if lowered == "false":
        return False
    raise ValueError(text)


_CONVERSIONS: tuple[Callable[[str], Any], ...] = (int, float, _boolean)


def _typed(texts: tuple[str, ...]) -> list[Any]:
    """A CSV column's fields as ints, floats or bools when all of them read so, else as text; empty is None."""
    for convert in _CONVERSIONS:
        try:
            return [convert(text) if text else None for text in texts]
        except ValueError:
            continue
    return [text if text else None for text in texts]


def encode_mlflow(predictions: np.ndarray | Sequence[Any]) -> bytes:
    """The JSON answer to an ``/invocations`` request: ``{"predictions": [...]}``."""
    return dumps({"predictions": predictions})
