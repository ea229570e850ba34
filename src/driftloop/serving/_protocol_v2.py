"""The Open Inference Protocol V2 (KServe, MLServer, Triton): ``/v2/models/{name}/infer`` and model metadata.

A request is ``{"id"?, "parameters"?, "inputs": [{"name", "shape", "datatype", "data", "parameters"?}],
"outputs"?}``, and reads one of two ways:

- **a dataframe**, one input per column (MLServer's ``pd`` content type): when ``parameters.content_type`` is
  ``"pd"``, or when there are several inputs. Each input is named after its column, has shape ``[N]`` or
  ``[N, 1]``, and its values stay as JSON gave them (null is a missing value);
- **a tensor**, one input of shape ``[N, F]`` (or ``[N]`` for one feature) of a numeric datatype, matched to the
  model's features by position. A single ``BYTES`` input of shape ``[N]`` is one text column named after it.

``data`` may be flat (row-major, as the protocol prefers) or nested; its length must match the shape. Values must
fit the datatype: ``BOOL`` takes true/false, ``INT*``/``UINT*`` integers in range, ``FP*`` numbers, ``BYTES``
strings. Requested ``outputs`` may be ``predict`` and ``predict_proba`` (the names MLServer's scikit-learn runtime
answers with); asking for ``predict_proba`` asks for class probabilities. Unknown top-level keys are ignored.

>>> parsed = parse_v2(b'{"id": "42", "inputs": [{"name": "input-0", "shape": [1, 2], "datatype": "FP32", '
...                   b'"data": [5.1, 3.5]}]}')
>>> parsed.tensor, parsed.request_id
(array([[5.1, 3.5]], dtype=float32), '42')
>>> encode_v2("iris", "1", [0], request_id="42")
b'{"model_name":"iris","model_version":"1","id":"42","outputs":[{"name":"predict","shape":[1],"datatype":"INT64","data":[0]}]}'
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Sequence
from typing import Any

import numpy as np

from driftloop.errors import InvalidInput
from driftloop.serving._protocols import (
    ParsedRequest,
    check_json_media_type,
    describe,
    dumps,
    load_json_object,
)

__all__ = ["V2_DATATYPES", "encode_v2", "encode_v2_metadata", "parse_v2", "v2_datatype"]

V2_DATATYPES: dict[str, np.dtype[Any] | None] = {
    "BOOL": np.dtype(np.bool_),
    "UINT8": np.dtype(np.uint8),
    "UINT16": np.dtype(np.uint16),
    "UINT32": np.dtype(np.uint32),
    "UINT64": np.dtype(np.uint64),
    "INT8": np.dtype(np.int8),
    "INT16": np.dtype(np.int16),
    "INT32": np.dtype(np.int32),
    "INT64": np.dtype(np.int64),
    "FP16": np.dtype(np.float16),
    "FP32": np.dtype(np.float32),
    "FP64": np.dtype(np.float64),
    "BYTES": None,
}
"""The protocol's tensor datatypes and the numpy dtype each reads as (``BYTES`` are strings, kept as a list)."""

PREDICT_OUTPUT = "predict"
PROBABILITIES_OUTPUT = "predict_proba"
_OUTPUTS = (PREDICT_OUTPUT, PROBABILITIES_OUTPUT)
_CONTENT_TYPES = (None, "pd", "np")

# The JSON types each datatype's values may have (bool is not an int here, though Python says it is).
_PYTHON_TYPES: dict[str, tuple[type, ...]] = {
    "BOOL": (bool,),
    "BYTES": (str,),
    **{name: (int,) for name in V2_DATATYPES if "INT" in name},
    **{name: (int, float) for name in V2_DATATYPES if name.startswith("FP")},
}
# The numpy kinds an array inferred from JSON values may have for each numeric datatype.
_ARRAY_KINDS = {
    name: "b" if name == "BOOL" else "iuf" if name.startswith("FP") else "iu"
    for name in V2_DATATYPES
    if name != "BYTES"
}

# driftloop's column type names (see driftloop.data._dtypes) as V2 datatypes; temporal and text values travel as
# strings.
_DATATYPE_OF_COLUMN_TYPE = {
    **{name.lower(): name for name in V2_DATATYPES if "INT" in name},
    "float16": "FP16",
    "float32": "FP32",
    "float64": "FP64",
    "bool": "BOOL",
    "string": "BYTES",
    "categorical": "BYTES",
    "date": "BYTES",
    "time": "BYTES",
}


def parse_v2(body: bytes, content_type: str | None = None) -> ParsedRequest:
    """The request in a ``/v2/models/{name}/infer`` body.

    Raises:
        UnsupportedMediaType: The body is declared as something other than JSON.
        InvalidInput: The body is malformed, or shapes, data and datatypes disagree; the message names the input.
    """
    check_json_media_type(content_type, "/v2/models/{name}/infer")
    document = load_json_object(body)
    request_id = document.get("id")
    if request_id is not None and type(request_id) is not str:
        raise InvalidInput(f"The request 'id' must be a string; got {describe(request_id)}.")
    parameters = document.get("parameters")
    if parameters is None:
        parameters = {}
    elif type(parameters) is not dict:
        raise InvalidInput(f"The request 'parameters' must be a JSON object; got {describe(parameters)}.")
    content_type_parameter = parameters.get("content_type")
    if content_type_parameter not in _CONTENT_TYPES:
        raise InvalidInput(
            f"parameters.content_type {content_type_parameter!r} is not supported here; send 'pd' (one input per "
            "column) or 'np' (one tensor), or leave it out."
        )
    inputs = document.get("inputs")
    if type(inputs) is not list or not inputs:
        raise InvalidInput(f"A V2 request needs 'inputs', a non-empty list of tensors; got {describe(inputs)}.")
    probabilities = _asks_for_probabilities(document.get("outputs"))

    if content_type_parameter == "pd" or len(inputs) > 1:
        columns, rows = _dataframe(inputs)
        tensor = None
    else:
        entry = _input(inputs[0], 0)
        name, datatype, shape, _ = entry
        if datatype == "BYTES":
            columns, rows = _dataframe(inputs)
            tensor = None
        else:
            if len(shape) not in (1, 2):
                raise InvalidInput(
                    f"{_where(0, name)} has shape {shape}; a tensor input has shape [rows, features] or [rows]."
                )
            tensor = _numeric_array(entry, 0).reshape(shape[0], -1)
            columns, rows = {}, shape[0]
    return ParsedRequest(
        columns=columns,
        rows=rows,
        request_ids=None,
        probabilities=probabilities,
        params=parameters,
        protocol="v2",
        tensor=tensor,
        request_id=request_id,
    )


def _asks_for_probabilities(outputs: Any) -> bool:
    if outputs is None:
        return False
    if type(outputs) is not list:
        raise InvalidInput(f"'outputs' must be a list of {{\"name\": ...}} objects; got {describe(outputs)}.")
    names = []
    for index, output in enumerate(outputs):
        name = output.get("name") if type(output) is dict else None
        if name not in _OUTPUTS:
            raise InvalidInput(
                f"outputs[{index}] must name one of {', '.join(map(repr, _OUTPUTS))}; got "
                f"{describe(name if type(output) is dict else output)}."
            )
        names.append(name)
    return PROBABILITIES_OUTPUT in names


Entry = tuple[str, str, list[int], list[Any]]


def _input(entry: Any, index: int) -> Entry:
    """An input's name, datatype, shape and data, checked for form (not yet for values)."""
    if type(entry) is not dict:
        raise InvalidInput(f"inputs[{index}] must be a JSON object; got {describe(entry)}.")
    name = entry.get("name")
    if type(name) is not str or not name:
        raise InvalidInput(f"inputs[{index}] needs a 'name' (a non-empty string); got {describe(name)}.")
    datatype = entry.get("datatype")
    if datatype not in V2_DATATYPES:
        raise InvalidInput(
            f"{_where(index, name)} has datatype {describe(datatype)}; use one of {', '.join(V2_DATATYPES)}."
        )
    shape = entry.get("shape")
    if type(shape) is not list or not shape or set(map(type, shape)) != {int} or min(shape) < 0:
        raise InvalidInput(
            f"{_where(index, name)} needs a 'shape', a list of sizes such as [2, 4]; got {describe(shape)}."
        )
    if shape[0] == 0:
        raise InvalidInput(f"{_where(index, name)} has shape {shape}: no rows. Send at least one.")
    data = entry.get("data")
    if type(data) is not list:
        raise InvalidInput(f"{_where(index, name)} needs 'data', a list of values; got {describe(data)}.")
    return name, datatype, shape, data


def _numeric_array(entry: Entry, index: int) -> np.ndarray:
    """A numeric input's data as an array of its datatype, flat, with as many values as its shape holds."""
    name, datatype, shape, data = entry
    try:
        array = np.array(data)
    except ValueError:
        raise InvalidInput(f"{_where(index, name)} has ragged 'data': its nested lists differ in length.") from None
    expected = math.prod(shape)
    if array.dtype.kind not in _ARRAY_KINDS[datatype]:
        _raise_bad_value(entry, index, _flatten(data), nullable=False)
    if array.size != expected:
        raise InvalidInput(
            f"{_where(index, name)} has shape {shape}, which holds {expected} values; its data holds {array.size}."
        )
    target = V2_DATATYPES[datatype]
    assert target is not None  # BYTES never reaches here
    if target.kind in "iu" and array.size:
        limits = np.iinfo(target)
        low, high = array.min(), array.max()
        if low < limits.min or high > limits.max:
            raise InvalidInput(
                f"{_where(index, name)} holds {low if low < limits.min else high}, outside the range of {datatype} "
                f"[{limits.min}, {limits.max}]."
            )
    if target.kind == "f" and array.size and array.dtype.kind == "f":
        largest = np.finfo(target).max
        finite = array[np.isfinite(array)]
        beyond = finite[np.abs(finite) > largest]
        if beyond.size:
            raise InvalidInput(
                f"{_where(index, name)} holds {beyond[0]!r}, beyond the range of {datatype} (+-{float(largest):g})."
            )
    return array.astype(target, copy=False).reshape(-1)


def _dataframe(inputs: list[Any]) -> tuple[dict[str, list[Any]], int]:
    """One column per input (shape [N] or [N, 1]), values as JSON gave them, checked against the datatypes."""
    columns: dict[str, list[Any]] = {}
    rows = -1
    first_name = ""
    for index, raw in enumerate(inputs):
        entry = _input(raw, index)
        name, datatype, shape, data = entry
        if len(shape) > 2 or (len(shape) == 2 and shape[1] != 1):
            raise InvalidInput(
                f"{_where(index, name)} has shape {shape}; as a dataframe column it needs shape [rows] or [rows, 1]."
            )
        values = _flatten(data) if data and type(data[0]) is list else data
        if len(values) != shape[0]:
            raise InvalidInput(
                f"{_where(index, name)} has shape {shape}, which holds {shape[0]} values; its data holds {len(values)}."
            )
        allowed = _PYTHON_TYPES[datatype]
        for value in values:
            if value is not None and type(value) not in allowed:
                _raise_bad_value(entry, index, values, nullable=True)
        _check_integer_range(entry, index, values)
        if name in columns:
            raise InvalidInput(f"Two inputs are named {name!r}; each column is sent once.")
        if rows < 0:
            rows, first_name = shape[0], name
        elif shape[0] != rows:
            raise InvalidInput(f"{_where(index, name)} has {shape[0]} rows; input {first_name!r} has {rows}.")
        columns[name] = values
    return columns, rows


def _check_integer_range(entry: Entry, index: int, values: list[Any]) -> None:
    name, datatype, _, _ = entry
    target = V2_DATATYPES[datatype]
    if target is None or target.kind not in "iu":
        return
    present = [value for value in values if value is not None]
    if not present:
        return
    limits = np.iinfo(target)
    for value in (min(present), max(present)):
        if not limits.min <= value <= limits.max:
            raise InvalidInput(
                f"{_where(index, name)} holds {value}, outside the range of {datatype} [{limits.min}, {limits.max}]."
            )


def _raise_bad_value(entry: Entry, index: int, values: list[Any], *, nullable: bool) -> None:
    """:class:`InvalidInput` naming the first value that does not fit the input's datatype."""
    name, datatype, _, _ = entry
    allowed = _PYTHON_TYPES[datatype]
    for position, value in enumerate(values):
        if type(value) not in allowed and not (nullable and value is None):
            raise InvalidInput(
                f"{_where(index, name)} is {datatype} but value {position} is {describe(value)}; {_EXPECTED[datatype]}."
            )
    raise InvalidInput(f"{_where(index, name)} holds values that do not fit its datatype {datatype}.")


_EXPECTED = {
    **{name: "a tensor of this datatype holds integers" for name in V2_DATATYPES if "INT" in name},
    **{name: "a tensor of this datatype holds numbers" for name in V2_DATATYPES if name.startswith("FP")},
    "BOOL": "BOOL values are true or false",
    "BYTES": "BYTES values are strings",
}


def _flatten(data: list[Any]) -> list[Any]:
    flat: list[Any] = []
    for value in data:
        if type(value) is list:
            flat.extend(_flatten(value))
        else:
            flat.append(value)
    return flat


def _where(index: int, name: str) -> str:
    return f"inputs[{index}] ({name!r})"


def v2_datatype(values: np.ndarray | Sequence[Any] | str) -> str:
    """The V2 datatype of an array or list of values, or of a column type name (``float64``, ``string``…).

    >>> v2_datatype(np.array([0.5], dtype=np.float32)), v2_datatype(["a", "b"]), v2_datatype("timestamp[us]")
    ('FP32', 'BYTES', 'BYTES')
    """
    if isinstance(values, str):
        if values in V2_DATATYPES:
            return values
        if values in _DATATYPE_OF_COLUMN_TYPE:
            return _DATATYPE_OF_COLUMN_TYPE[values]
        if values.startswith(("timestamp", "datetime", "duration")):
            return "BYTES"
        raise InvalidInput(f"No V2 datatype stands for the column type {values!r}.")
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    kind = array.dtype.kind
    if kind == "b":
        return "BOOL"
    if kind in "iu":
        return f"{'INT' if kind == 'i' else 'UINT'}{array.dtype.itemsize * 8}"
    if kind == "f" and array.dtype.itemsize in (2, 4, 8):
        return f"FP{array.dtype.itemsize * 8}"
    return "BYTES"


def _output(name: str, values: np.ndarray | Sequence[Any]) -> dict[str, Any]:
    array = values if isinstance(values, np.ndarray) else np.asarray(values)
    if array.dtype.kind in "iu" and not isinstance(values, np.ndarray):
        array = array.astype(np.int64)  # plain Python ints are INT64 whatever the platform's default integer
    return {"name": name, "shape": list(array.shape), "datatype": v2_datatype(array), "data": array.reshape(-1)}


def encode_v2(
    model_name: str,
    model_version: str,
    predictions: np.ndarray | Sequence[Any],
    *,
    request_id: str | None = None,
    probabilities: np.ndarray | Sequence[Sequence[float]] | None = None,
) -> bytes:
    """The JSON answer to an infer request.

    ``outputs`` holds ``predict`` (shape ``[N]``, or ``[N, K]`` for several targets) and, when given,
    ``predict_proba`` (shape ``[N, classes]``), their data flat in row-major order as the protocol prefers. The
    answer repeats the request's ``id``; the protocol requires one, so a request without it gets a new one.
    """
    outputs = [_output(PREDICT_OUTPUT, predictions)]
    if probabilities is not None:
        outputs.append(_output(PROBABILITIES_OUTPUT, probabilities))
    return dumps(
        {
            "model_name": model_name,
            "model_version": model_version,
            "id": request_id if request_id is not None else str(uuid.uuid4()),
            "outputs": outputs,
        }
    )


def encode_v2_metadata(
    name: str,
    versions: Sequence[str],
    columns: Sequence[tuple[str, str]],
    *,
    prediction_datatype: str = "FP64",
    classes: Sequence[Any] | None = None,
) -> bytes:
    """The JSON answer to ``GET /v2/models/{name}``: the inputs as ``pd`` columns, and the outputs.

    Args:
        name: The model's name.
        versions: The versions that may be asked for by ``/versions/{v}/infer``.
        columns: The input columns in order, each with its type: a V2 datatype or a column type name
            (``float64``, ``string``, ``timestamp[us]``…).
        prediction_datatype: The datatype of ``predict`` (a V2 datatype or a column type name).
        classes: A classifier's classes, which adds the ``predict_proba`` output.

    >>> encode_v2_metadata("houses", ["3"], [("area", "float64")])
    b'{"name":"houses","versions":["3"],"platform":"driftloop","parameters":{"content_type":"pd"},"inputs":[{"name":"area","datatype":"FP64","shape":[-1]}],"outputs":[{"name":"predict","datatype":"FP64","shape":[-1]}]}'
    """
    outputs = [{"name": PREDICT_OUTPUT, "datatype": v2_datatype(prediction_datatype), "shape": [-1]}]
    if classes is not None:
        outputs.append({"name": PROBABILITIES_OUTPUT, "datatype": "FP64", "shape": [-1, len(classes)]})
    return dumps(
        {
            "name": name,
            "versions": list(versions),
            "platform": "driftloop",
            "parameters": {"content_type": "pd"},
            "inputs": [{"name": column, "datatype": v2_datatype(dtype), "shape": [-1]} for column, dtype in columns],
            "outputs": outputs,
        }
    )
