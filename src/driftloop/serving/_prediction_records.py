"""What the prediction log stores of a scored row, and how rows are encoded for the table.

A row comes in as a :class:`PredictionRecord`, as part of a whole request kept as the request held it
(:class:`RequestRows`, what :meth:`~driftloop.serving._prediction_log.PredictionLog.append_request` buffers for a
request of several rows), or, for a one-row request, already encoded (:func:`encode_row`: a few microseconds on
the request path, which leave the buffer one tuple per request rather than a list per input column).
:func:`encode_predictions` turns them into the table's columns on the flushing thread; inputs, outputs and
probabilities are JSON text.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy.typing as npt
import orjson
import pyarrow as pa

from driftloop.errors import InvalidInput
from driftloop.serving._log_tables import TIMESTAMP

__all__ = [
    "PREDICTION_SCHEMA",
    "EncodedRow",
    "PredictionRecord",
    "RequestRows",
    "Values",
    "encode_predictions",
    "encode_row",
    "rows_in",
]

Values = Sequence[Any] | npt.NDArray[Any]
"""A column of a request, or one output per row: a list or a NumPy array."""

PREDICTION_SCHEMA = pa.schema(
    [
        pa.field("request_id", pa.string(), nullable=False),
        pa.field("at", TIMESTAMP, nullable=False),
        pa.field("model", pa.string(), nullable=False),
        pa.field("version", pa.int64(), nullable=False),
        pa.field("inputs", pa.string(), nullable=False),  # JSON object: column -> value
        pa.field("prediction", pa.string(), nullable=False),  # JSON: a number or a label
        pa.field("probabilities", pa.string()),  # JSON: class -> probability, or a list; null when not asked
        pa.field("latency_ms", pa.float64(), nullable=False),
        pa.field("flags", pa.list_(pa.string()), nullable=False),  # what the input check flagged in the row
        pa.field("served_by", pa.string(), nullable=False),  # champion, canary or shadow
        pa.field("protocol", pa.string(), nullable=False),  # the request format: native, mlflow, v2, batch
    ]
)
"""The prediction table's columns."""
_JSON_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


@dataclass(frozen=True, slots=True)
class PredictionRecord:
    """One scored row, as the prediction log stores it.

    ``inputs`` is the row's values by column (or that object already as JSON text); ``prediction`` and
    ``probabilities`` are plain or NumPy values. All three are encoded as JSON when the log is flushed, off the
    request path. (``PredictionLog.append_request`` logs a whole request without building these.)
    """

    request_id: str
    at: datetime
    model: str
    version: int
    inputs: Mapping[str, Any] | str
    prediction: Any
    probabilities: Any = None
    latency_ms: float = 0.0
    flags: Sequence[str] = ()
    served_by: str = "champion"
    protocol: str = "native"


class RequestRows:
    """A scored request's rows, kept as the request held them until the flushing thread encodes them."""

    __slots__ = (
        "at",
        "classes",
        "columns",
        "flags",
        "latency_ms",
        "model",
        "predictions",
        "probabilities",
        "protocol",
        "request_ids",
        "served_by",
        "version",
    )

    def __init__(
        self,
        request_ids: Sequence[str],
        at: datetime,
        model: str,
        version: int,
        columns: Mapping[str, Values],
        predictions: Values,
        probabilities: Values | None,
        classes: Values | None,
        flags: Sequence[Sequence[str]] | None,
        latency_ms: float,
        served_by: str,
        protocol: str,
    ) -> None:
        self.request_ids = request_ids
        self.at = at
        self.model = model
        self.version = version
        self.columns = columns
        self.predictions = predictions
        self.probabilities = probabilities
        self.classes = classes
        self.flags = flags
        self.latency_ms = latency_ms
        self.served_by = served_by
        self.protocol = protocol


EncodedRow = tuple[str, datetime, str, int, str, str, "str | None", float, Sequence[str], str, str]
"""One row in :data:`PREDICTION_SCHEMA`'s column order, its values as the table stores them."""


def encode_predictions(items: Sequence[PredictionRecord | RequestRows | EncodedRow]) -> pa.RecordBatch:
    """The record batch of ``items`` in :data:`PREDICTION_SCHEMA` (runs on the flushing thread)."""
    rows: list[EncodedRow] = []
    for item in items:
        if type(item) is tuple:  # the common one-row request, encoded as it was logged
            rows.append(item)
        elif isinstance(item, PredictionRecord):
            rows.append(_record_row(item))
        elif isinstance(item, RequestRows):
            rows.extend(_request_rows(item))
        else:
            raise InvalidInput(f"The prediction log cannot store a {type(item).__name__}.")
    if not rows:
        return pa.RecordBatch.from_pylist([], schema=PREDICTION_SCHEMA)
    columns = list(zip(*rows, strict=True))
    for index, name in ((0, "request_id"), (1, "time"), (2, "model"), (9, "served_by")):
        if None in columns[index]:
            raise InvalidInput(f"A prediction has no {name}.")
    arrays = [pa.array(values, field.type) for values, field in zip(columns, PREDICTION_SCHEMA, strict=True)]
    return pa.RecordBatch.from_arrays(arrays, schema=PREDICTION_SCHEMA)


def encode_row(
    request_id: str,
    at: datetime,
    model: str,
    version: int,
    columns: Mapping[str, Values],
    prediction: Any,
    probabilities: Any,
    classes: Values | None,
    flags: Sequence[str],
    latency_ms: float,
    served_by: str,
    protocol: str,
) -> EncodedRow:
    """A one-row request as the table stores it (encoded when it is logged, in a few microseconds).

    Raises:
        InvalidInput: A column does not hold exactly one value.
    """
    return (
        request_id,
        at,
        model,
        version,
        _rows_as_json(columns, 1)[0],
        _json_text(prediction),
        _probabilities_as_json(None if probabilities is None else [probabilities], classes, 1)[0],
        latency_ms,
        tuple(flags),  # a tuple of text: the garbage collector stops tracking the row
        served_by,
        protocol,
    )


def rows_in(item: PredictionRecord | RequestRows | EncodedRow) -> int:
    """How many rows a buffered item holds."""
    return len(item.request_ids) if isinstance(item, RequestRows) else 1


def _record_row(record: PredictionRecord) -> EncodedRow:
    return (
        record.request_id,
        record.at,
        record.model,
        record.version,
        record.inputs if isinstance(record.inputs, str) else _json_text(record.inputs),
        _json_text(record.prediction),
        None if record.probabilities is None else _json_text(record.probabilities),
        record.latency_ms,
        list(record.flags),
        record.served_by,
        record.protocol,
    )


def _request_rows(item: RequestRows) -> list[EncodedRow]:
    rows = len(item.request_ids)
    inputs = _rows_as_json(item.columns, rows)
    predictions = [_json_text(value) for value in _plain(item.predictions)]
    probabilities = _probabilities_as_json(item.probabilities, item.classes, rows)
    flags = [[] for _ in range(rows)] if item.flags is None else [list(row) for row in item.flags]
    if len(predictions) != rows or len(flags) != rows:
        raise InvalidInput(f"A request of {rows} row(s) has {len(predictions)} predictions and {len(flags)} flags.")
    return [
        (
            request_id,
            item.at,
            item.model,
            item.version,
            row_inputs,
            prediction,
            row_probabilities,
            item.latency_ms,
            row_flags,
            item.served_by,
            item.protocol,
        )
        for request_id, row_inputs, prediction, row_probabilities, row_flags in zip(
            item.request_ids, inputs, predictions, probabilities, flags, strict=True
        )
    ]


# -- internals -------------------------------------------------------------------------------------------


def _plain(values: Values) -> list[Any]:
    """The values as a list of Python scalars (NumPy arrays convert in one call, and encode faster)."""
    tolist = getattr(values, "tolist", None)
    converted: list[Any] = list(values) if tolist is None else tolist()
    return converted


def _rows_as_json(columns: Mapping[str, Values], rows: int) -> list[str]:
    if rows == 1:  # most requests: converting each column first would cost more than the row itself
        row = {name: column[0] for name, column in columns.items() if len(column) == 1}
        if len(row) != len(columns):
            raise InvalidInput("A request of 1 row has input columns of other lengths.")
        return [_json_text(row)]
    names = list(columns)
    values = [_plain(columns[name]) for name in names]
    if any(len(column) != rows for column in values):
        raise InvalidInput(f"A request of {rows} row(s) has input columns of other lengths.")
    if not names:
        return ["{}"] * rows
    return [_json_text(dict(zip(names, row, strict=True))) for row in zip(*values, strict=True)]


def _probabilities_as_json(probabilities: Values | None, classes: Values | None, rows: int) -> list[Any]:
    if probabilities is None:
        return [None] * rows
    scores = _plain(probabilities)
    if classes is None:
        return [_json_text(row) for row in scores]
    names = [str(name) for name in _plain(classes)]
    return [_json_text(dict(zip(names, row, strict=True))) for row in scores]


def _to_json_value(value: Any) -> Any:
    """What orjson cannot encode itself: mappings become dicts, other collections lists, anything else its text."""
    if isinstance(value, Mapping):
        return dict(value.items())
    if isinstance(value, tuple | set | frozenset):
        return list(value)
    return str(value)


def _json_text(value: Any) -> str:
    return orjson.dumps(value, default=_to_json_value, option=_JSON_OPTIONS).decode()
