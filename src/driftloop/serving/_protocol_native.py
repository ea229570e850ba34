"""Our own request format, ``POST /v1/models/{name}/predict``, and its answer.

A body holds exactly one of ``records`` (a list of JSON objects, one per row), ``columns`` (a JSON object of
equally long lists) or ``record`` (one row), and may add:

- ``request_ids``: one id per row; or a ``request_id`` inside each record; or, for one row, ``request_id`` beside
  it. Ids are non-empty strings of at most 256 characters, unique within the request. The server makes them up
  when the client sends none, and answers with them either way, so feedback can name a prediction later.
- ``probabilities``: true to get a classifier's class probabilities as well.

Unknown keys are refused, so a misspelt ``"probability": true`` is an error rather than silently ignored.

>>> parsed = parse_native(b'{"record": {"area": 50.0, "district": "a", "request_id": "r-1"}, "probabilities": true}')
>>> parsed.columns, parsed.rows, parsed.request_ids, parsed.probabilities
({'area': [50.0], 'district': ['a']}, 1, ['r-1'], True)
>>> encode_native("houses", 3, [1.0], request_ids=["r-1"])
b'{"model":"houses","version":3,"predictions":[1.0],"request_ids":["r-1"]}'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from driftloop.errors import InvalidInput
from driftloop.serving._protocols import (
    ParsedRequest,
    check_json_media_type,
    columns_from_mapping,
    columns_from_records,
    describe,
    dumps,
    load_json_object,
)

__all__ = ["MAX_REQUEST_ID_LENGTH", "encode_native", "parse_native"]

MAX_REQUEST_ID_LENGTH = 256
"""The longest request id accepted (ids are stored with every prediction)."""

_FORMS = ("records", "columns", "record")
_OPTIONS = ("request_ids", "request_id", "probabilities")
_ALLOWED = frozenset(_FORMS + _OPTIONS)
_ID_KEY = "request_id"


def parse_native(body: bytes, content_type: str | None = None) -> ParsedRequest:
    """The request in a ``/v1/models/{name}/predict`` body.

    Args:
        body: The raw request body (JSON).
        content_type: The request's ``Content-Type``; None or absent is taken as JSON.

    Raises:
        UnsupportedMediaType: The body is declared as something other than JSON.
        InvalidInput: The body is not JSON, or not in this format; the message says where.
    """
    check_json_media_type(content_type, "/v1/models/{name}/predict")
    document = load_json_object(body)
    unknown = [key for key in document if key not in _ALLOWED]
    if unknown:
        raise InvalidInput(
            f"Unknown key{'s' if len(unknown) > 1 else ''} {_listing(unknown)} in the predict body; it takes one of "
            f"{_listing(_FORMS)}, plus optional {_listing(_OPTIONS)}."
        )
    forms = [key for key in _FORMS if key in document]
    if len(forms) != 1:
        got = f"got {_listing(forms)}" if forms else "got none of them"
        raise InvalidInput(f"A predict body holds exactly one of {_listing(_FORMS)}; {got}.")
    probabilities = document.get("probabilities", False)
    if type(probabilities) is not bool:
        raise InvalidInput(f"'probabilities' must be true or false; got {describe(probabilities)}.")

    form = forms[0]
    if form == "record":
        record = document["record"]
        if type(record) is not dict:
            raise InvalidInput(f"'record' must be a JSON object of column: value; got {describe(record)}.")
        columns = {name: [value] for name, value in record.items() if name != _ID_KEY}
        rows = 1
        embedded = [record[_ID_KEY]] if _ID_KEY in record else None
    else:
        columns, rows = (columns_from_records if form == "records" else columns_from_mapping)(document[form], form)
        embedded = columns.pop(_ID_KEY, None)
    request_ids = _request_ids(document, embedded, rows, form)
    return ParsedRequest(
        columns=columns,
        rows=rows,
        request_ids=request_ids,
        probabilities=probabilities,
        params={},
        protocol="native",
    )


def _request_ids(document: dict[str, Any], embedded: list[Any] | None, rows: int, form: str) -> list[str] | None:
    """The request ids from whichever one place the client put them, checked."""
    listed = document.get("request_ids")
    single = document.get(_ID_KEY)
    given = [where for where, ids in (("request_ids", listed), ("request_id", single), (form, embedded)) if ids]
    if len(given) > 1:
        raise InvalidInput(f"Send request ids in one place only; got them in {_listing(given)}.")
    if single is not None:
        if rows != 1:
            raise InvalidInput(
                f"A 'request_id' beside the rows names one row, but the body holds {rows}; "
                "send 'request_ids' (one per row) or a 'request_id' in each record."
            )
        ids: list[Any] = [single]
        where = "request_id"
    elif listed is not None:
        if type(listed) is not list:
            raise InvalidInput(f"'request_ids' must be a list of strings, one per row; got {describe(listed)}.")
        if len(listed) != rows:
            raise InvalidInput(f"'request_ids' lists {len(listed)} ids; the body holds {rows} rows.")
        ids, where = listed, "request_ids"
    elif embedded is not None:
        missing = [index for index, value in enumerate(embedded) if value is None]
        if missing:
            raise InvalidInput(
                f"Records {_listing(missing[:5])}{'…' if len(missing) > 5 else ''} have no 'request_id'; "
                "give every record one, or none (the server then makes them up)."
            )
        ids, where = embedded, f"{form}[…].request_id"
    else:
        return None
    for index, value in enumerate(ids):
        if type(value) is not str or not value or len(value) > MAX_REQUEST_ID_LENGTH:
            at = where if where == "request_id" else f"{where} (row {index})"
            raise InvalidInput(
                f"A request id must be a non-empty string of at most {MAX_REQUEST_ID_LENGTH} characters; "
                f"{at} is {describe(value)}."
            )
    if len(set(ids)) != len(ids):
        seen: set[str] = set()
        for value in ids:
            if value in seen:
                raise InvalidInput(f"Request ids must be unique within a request; {value!r} appears more than once.")
            seen.add(value)
    return ids


def encode_native(
    model: str,
    version: int | str,
    predictions: np.ndarray | Sequence[Any],
    *,
    probabilities: np.ndarray | Sequence[Sequence[float]] | None = None,
    classes: np.ndarray | Sequence[Any] | None = None,
    request_ids: Sequence[str] | None = None,
) -> bytes:
    """The JSON answer to a predict request.

    ``{"model", "version", "predictions", "probabilities"?, "classes"?, "request_ids"?}``: probabilities have one
    row per prediction and one column per class, in the order of ``classes``. Keys given None are left out.
    """
    answer: dict[str, Any] = {"model": model, "version": version, "predictions": predictions}
    if probabilities is not None:
        answer["probabilities"] = probabilities
    if classes is not None:
        answer["classes"] = classes
    if request_ids is not None:
        answer["request_ids"] = request_ids
    return dumps(answer)


def _listing(items: Sequence[Any]) -> str:
    return ", ".join(repr(item) for item in items)
