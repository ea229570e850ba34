"""What the prediction log stores of a scored row, and how rows are encoded for the table.

A row comes in as a :class:`PredictionRecord`, or as part of a whole request kept as the request held it
(:class:`RequestRows`, what :meth:`~driftloop.serving._prediction_log.PredictionLog.append_request` buffers).
:func:`encode_predictions` turns either into the table's columns on the flushing thread; inputs, outputs and
probabilities become JSON text there, so the request path never encodes anything.
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
    """A scored request's rows, kept as the request held them until the flushing thread encodes them.

    ``columns`` is the inputs by column, or for a one-row request its inputs already encoded (:func:`encode_row`).
    """

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
        columns: Mapping[str, Values] | str,
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


def encode_predictions(items: Sequence[PredictionRecord | RequestRows]) -> pa.RecordBatch:
    """The record batch of ``items`` in :data:`PREDICTION_SCHEMA` (runs on the flushing thread)."""
    request_ids: list[str] = []
    moments: list[datetime] = []
    models: list[str] = []
    versions: list[int] = []
    inputs: list[str] = []
    predictions: list[str] = []
    probabilities: list[str | None] = []
    latencies: list[float] = []
    flags: list[list[str]] = []
    served_by: list[str] = []
    protocols: list[str] = []
    for item in items:
        if isinstance(item, PredictionRecord):
            rows = 1
            request_ids.append(item.request_id)
            inputs.append(item.inputs if isinstance(item.inputs, str) else _json_text(item.inputs))
            predictions.append(_json_text(item.prediction))
            probabilities.append(None if item.probabilities is None else _json_text(item.probabilities))
            flags.append(list(item.flags))
        else:
            rows = len(item.request_ids)
            request_ids.extend(item.request_ids)
            inputs.extend([item.columns] if isinstance(item.columns, str) else _rows_as_json(item.columns, rows))
            predictions.extend(_json_text(value) for value in _plain(item.predictions))
            probabilities.extend(_probabilities_as_json(item.probabilities, item.classes, rows))
            flags.extend([[]] * rows if item.flags is None else [list(row) for row in item.flags])
            if len(flags) != len(request_ids):
                raise InvalidInput(f"A request of {rows} row(s) has flags for {len(item.flags or ())} rows.")
        moments.extend([item.at] * rows)
        models.extend([item.model] * rows)
        versions.extend([item.version] * rows)
        latencies.extend([item.latency_ms] * rows)
        served_by.extend([item.served_by] * rows)
        protocols.extend([item.protocol] * rows)
    for name, values in (("request_id", request_ids), ("model", models), ("served_by", served_by)):
        if None in values:
            raise InvalidInput(f"A prediction has no {name}.")
    if None in moments:
        raise InvalidInput("A prediction has no time.")
    columns = [
        pa.array(request_ids, pa.string()),
        pa.array(moments, TIMESTAMP),
        pa.array(models, pa.string()),
        pa.array(versions, pa.int64()),
        pa.array(inputs, pa.string()),
        pa.array(predictions, pa.string()),
        pa.array(probabilities, pa.string()),
        pa.array(latencies, pa.float64()),
        pa.array(flags, pa.list_(pa.string())),
        pa.array(served_by, pa.string()),
        pa.array(protocols, pa.string()),
    ]
    return pa.RecordBatch.from_arrays(columns, schema=PREDICTION_SCHEMA)


def encode_row(columns: Mapping[str, Values]) -> str:
    """The inputs of a one-row request as the JSON object the table stores (``{"area": 75.0, ...}``).

    Raises:
        InvalidInput: A column does not hold exactly one value.
    """
    return _rows_as_json(columns, 1)[0]


def rows_in(item: PredictionRecord | RequestRows) -> int:
    """How many rows a buffered item holds."""
    return 1 if isinstance(item, PredictionRecord) else len(item.request_ids)


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
