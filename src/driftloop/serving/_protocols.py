"""What the request formats share: the one shape every format parses into, JSON in and out, and the conversions.

Serving speaks three formats: ours (:mod:`~driftloop.serving._protocol_native`), MLflow's scoring server
(:mod:`~driftloop.serving._protocol_mlflow`) and the Open Inference Protocol V2
(:mod:`~driftloop.serving._protocol_v2`). Each parses its body into a :class:`ParsedRequest` and encodes answers
back to bytes; nothing here knows about a web framework, a model or its signature. Values stay as JSON gave them
(the input checker converts them against the signature), so parsing one row costs a few microseconds: no pandas
on this path.

JSON is read with orjson. JSON has no NaN or infinity, so orjson refuses the ``NaN``, ``Infinity`` and
``-Infinity`` literals; Python's ``json.dumps`` writes them (MLflow's own client sends them), so a body that
orjson refuses and that holds one of these words is read again with the standard library, which takes them as
``float("nan")`` and ``float("inf")``. Whether a column may hold them is the input checker's decision.

>>> load_json_object(b'{"a": [1.5, NaN]}')
{'a': [1.5, nan]}
>>> load_json_object(b'{"a": 1')
Traceback (most recent call last):
...
driftloop.errors.InvalidInput: The request body is not valid JSON: unexpected end of data: line 1 column 8 (char 7).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import orjson

from driftloop.errors import InvalidInput, UnsupportedMediaType

__all__ = [
    "ParsedRequest",
    "UnsupportedMediaType",
    "check_json_media_type",
    "columns_from_mapping",
    "columns_from_records",
    "describe",
    "dumps",
    "is_json_media_type",
    "load_json_object",
    "media_type",
    "tensor_from_rows",
]

Protocol = Literal["native", "mlflow", "v2"]


@dataclass(frozen=True)
class ParsedRequest:
    """A request in any format, as one shape.

    Attributes:
        columns: The inputs by column, in request order; values as JSON gave them (None for null). Empty when
            the request sent a tensor instead.
        rows: How many rows the request holds (at least one).
        request_ids: One id per row when the client sent them (ours only), else None.
        probabilities: Whether the client asked for class probabilities.
        params: MLflow's ``params``, or the V2 request's ``parameters``; empty when none were sent.
        protocol: The format the request came in.
        tensor: A 2-D numeric array when the request sent rows without column names (an MLflow list of lists,
            a V2 tensor), else None; columns are then matched to the model's features by position.
        request_id: The V2 request's ``id``, which the answer must repeat; None otherwise.
    """

    columns: dict[str, list[Any]]
    rows: int
    request_ids: list[str] | None
    probabilities: bool
    params: dict[str, Any]
    protocol: Protocol
    tensor: np.ndarray | None = None
    request_id: str | None = None


# The literals orjson refuses and Python's json module writes (and reads) for non-finite floats.
_NON_FINITE_LITERALS = (b"NaN", b"Infinity")


def load_json_object(body: bytes) -> dict[str, Any]:
    """The JSON object in ``body``; :class:`InvalidInput` naming the fault when it is not one."""
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as error:
        document = _load_with_non_finite_numbers(body, error)
    if type(document) is not dict:
        raise InvalidInput(f"The request body must be a JSON object ({{...}}); got {describe(document)}.")
    return document


def _load_with_non_finite_numbers(body: bytes, error: orjson.JSONDecodeError) -> Any:
    if any(literal in body for literal in _NON_FINITE_LITERALS):
        try:
            return json.loads(body)
        except (ValueError, RecursionError):
            pass  # not valid even with NaN allowed: orjson's message is the more precise one
    raise InvalidInput(f"The request body is not valid JSON: {error}.") from None


def media_type(content_type: str | None) -> str | None:
    """The media type of a ``Content-Type`` header, lower-cased, or None when the header is absent or empty.

    :class:`UnsupportedMediaType` when it names a charset other than UTF-8 (as MLflow's scoring server does).

    >>> media_type("Application/JSON; charset=UTF-8"), media_type(None)
    ('application/json', None)
    """
    if not content_type:
        return None
    kind, _, parameters = content_type.partition(";")
    for parameter in parameters.split(";"):
        key, _, value = parameter.partition("=")
        charset = value.strip().strip('"').lower()
        if key.strip().lower() == "charset" and charset not in ("utf-8", "utf8"):
            raise UnsupportedMediaType(f"Request bodies must be UTF-8; the Content-Type says charset={charset}.")
    return kind.strip().lower() or None


def is_json_media_type(kind: str | None) -> bool:
    """Whether a media type (from :func:`media_type`) is JSON; an absent one is taken as JSON."""
    return kind is None or kind == "application/json" or (kind.startswith("application/") and kind.endswith("+json"))


def check_json_media_type(content_type: str | None, endpoint: str) -> None:
    """:class:`UnsupportedMediaType` unless ``content_type`` is JSON (or absent)."""
    if not is_json_media_type(media_type(content_type)):
        raise UnsupportedMediaType(
            f"{endpoint} takes a JSON body (Content-Type: application/json); got {content_type!r}."
        )


def columns_from_records(records: Any, where: str) -> tuple[dict[str, list[Any]], int]:
    """Column-major values and the row count of a list of records (JSON objects, one per row).

    A column missing from some records is null (None) in those rows, as pandas reads them; columns come in the
    order they first appear.

    >>> columns_from_records([{"a": 1, "b": "x"}, {"b": "y", "c": True}], "records")
    ({'a': [1, None], 'b': ['x', 'y'], 'c': [None, True]}, 2)
    """
    if type(records) is not list:
        raise InvalidInput(f"{where!r} must be a list of records (JSON objects); got {describe(records)}.")
    if not records:
        raise InvalidInput(f"{where!r} holds no records; send at least one.")
    first = records[0]
    if type(first) is not dict:
        raise InvalidInput(f"{where}[0] must be a record (a JSON object of column: value); got {describe(first)}.")
    if len(records) == 1:
        return {name: [value] for name, value in first.items()}, 1
    for index, record in enumerate(records):
        if type(record) is not dict:
            raise InvalidInput(
                f"{where}[{index}] must be a record (a JSON object of column: value); got {describe(record)}."
            )
    keys = first.keys()
    if all(record.keys() == keys for record in records):
        return {name: [record[name] for record in records] for name in first}, len(records)
    names = dict.fromkeys(name for record in records for name in record)
    return {name: [record.get(name) for record in records] for name in names}, len(records)


def columns_from_mapping(mapping: Any, where: str) -> tuple[dict[str, list[Any]], int]:
    """Column-major values and the row count of a JSON object of columns (``{"a": [..], "b": [..]}``).

    >>> columns_from_mapping({"a": [1, 2], "b": ["x", None]}, "columns")
    ({'a': [1, 2], 'b': ['x', None]}, 2)
    """
    if type(mapping) is not dict:
        raise InvalidInput(f"{where!r} must be a JSON object of columns (name: [values]); got {describe(mapping)}.")
    if not mapping:
        raise InvalidInput(f"{where!r} names no columns; send at least one.")
    first_name: str | None = None
    rows = 0
    for name, values in mapping.items():
        if type(values) is not list:
            raise InvalidInput(
                f"Column {name!r} of {where!r} must be a list of values, one per row; got {describe(values)}."
            )
        if first_name is None:
            first_name, rows = name, len(values)
        elif len(values) != rows:
            raise InvalidInput(
                f"Column {name!r} of {where!r} has {len(values)} values; column {first_name!r} has {rows}. "
                "Every column needs one value per row."
            )
    if rows == 0:
        raise InvalidInput(f"The columns of {where!r} hold no rows; send at least one.")
    return mapping, rows


def tensor_from_rows(rows: Any, where: str) -> np.ndarray:
    """A 2-D float64 array from a JSON list of rows of numbers (true and false read as 1 and 0, null as NaN).

    >>> tensor_from_rows([[1, 2.5], [3, None]], "inputs")
    array([[1. , 2.5],
           [3. , nan]])
    """
    if type(rows) is not list or not rows:
        raise InvalidInput(f"{where!r} must be a non-empty list of rows (lists of numbers); got {describe(rows)}.")
    width = -1
    for index, row in enumerate(rows):
        if type(row) is not list:
            raise InvalidInput(f"{where} row {index} must be a list of numbers; got {describe(row)}.")
        if width < 0:
            width = len(row)
        elif len(row) != width:
            raise InvalidInput(f"{where} row {index} has {len(row)} values; row 0 has {width}.")
    if width == 0:
        raise InvalidInput(f"The rows of {where!r} hold no values.")
    try:
        array = np.array(rows)
    except ValueError:
        raise InvalidInput(f"{where!r} must be rows of numbers; its rows hold lists of different lengths.") from None
    if array.ndim != 2:
        raise InvalidInput(f"{where!r} must be rows of plain numbers (2-D); its rows hold lists ({array.ndim}-D).")
    if array.dtype.kind in "biuf":
        return array.astype(np.float64, copy=False)
    # Strings, objects or nested values: find the first one to name it (nulls and huge integers are fine).
    for row_index, row in enumerate(rows):
        for column_index, value in enumerate(row):
            if value is not None and type(value) not in (int, float, bool):
                raise InvalidInput(
                    f"{where} row {row_index} value {column_index} is {describe(value)}; rows without column "
                    "names hold numbers only. Name the columns (records or columns) to send text."
                )
    return np.array(rows, dtype=np.float64)


def describe(value: Any) -> str:
    """A short phrase for a JSON value in a message: ``a list``, ``the string 'abc'``, ``null``…"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return f"the number {value!r}"
    if isinstance(value, str):
        return f"the string {value[:40] + '…' if len(value) > 40 else value!r}"
    if isinstance(value, list):
        return f"a list of {len(value)} values" if value else "an empty list"
    if isinstance(value, dict):
        return "an object" if value else "an empty object"
    return type(value).__name__


def dumps(document: Any) -> bytes:
    """``document`` as JSON bytes; numpy arrays and scalars are written as their values, NaN and infinity as null.

    >>> dumps({"predictions": np.array([1.5, np.nan]), "classes": np.array(["no", "yes"])})
    b'{"predictions":[1.5,null],"classes":["no","yes"]}'
    """
    return orjson.dumps(document, option=orjson.OPT_SERIALIZE_NUMPY, default=_json_default)


def _json_default(value: Any) -> Any:
    # orjson writes C-contiguous numeric arrays itself and hands over the rest: text and object arrays,
    # non-contiguous slices, numpy scalars of types it does not know.
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"{type(value).__name__} is not JSON serializable")
