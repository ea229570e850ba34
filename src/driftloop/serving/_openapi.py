"""The serving routes' request and answer formats, written into the application's OpenAPI document.

The scoring routes read the raw body and parse it themselves (:mod:`~driftloop.serving._protocols`): orjson and a
few type checks cost microseconds where a pydantic model costs far more. FastAPI therefore sees no body models and
documents none. :func:`document_requests` adds what it cannot see: each route's ``requestBody`` (a JSON Schema
that matches the parser it goes to), the answer it gives, and the errors it may answer with, all as
``{"error": {"code", "message", "fields"?}}``.

The schemas say what the parsers check on a body's form: its keys, their types, non-empty lists. What depends on
the served model (column names and types, the number of tensor columns) is the model's signature, checked when
the request arrives and answered with a 422 naming each field; so is what JSON Schema cannot say (request ids
unique across records, lists of one length). ``tests/serving/test_fuzz.py`` sends what these schemas allow, and
what they forbid, to a live application and checks that the answers keep to this document.

>>> from fastapi import FastAPI
>>> app = FastAPI()
>>> @app.post("/v1/feedback")
... async def feedback() -> None: ...
>>> document_requests(app)
>>> body = app.openapi()["paths"]["/v1/feedback"]["post"]["requestBody"]
>>> sorted(body["content"]), body["required"]
(['application/json'], True)
"""

from __future__ import annotations

import copy
import json
from typing import Any

from fastapi import FastAPI

from driftloop.serving._app import MAX_PENDING, REQUEST_IDS
from driftloop.serving._label_queue import MAX_LISTED
from driftloop.serving._labels import MAX_TEXT
from driftloop.serving._protocol_mlflow import MLFLOW_INPUT_KEYS
from driftloop.serving._protocol_native import MAX_REQUEST_ID_LENGTH
from driftloop.serving._protocol_v2 import PREDICT_OUTPUT, PROBABILITIES_OUTPUT, V2_DATATYPES

__all__ = ["document_requests"]

Schema = dict[str, Any]

JSON = "application/json"
TEXT = "text/plain"


def document_requests(app: FastAPI) -> None:
    """Make ``app.openapi()`` describe the request bodies, answers and errors of the serving routes.

    The document FastAPI generates is completed once and cached in ``app.openapi_schema``, the way FastAPI's
    guide to extending OpenAPI does it; FastAPI generates it again when routes are added, and it is completed
    again then. Routes of ``create_app`` that the application lacks are skipped; calling this twice is harmless.
    """
    completed: list[dict[str, Any]] = []

    def openapi() -> dict[str, Any]:
        document = FastAPI.openapi(app)  # generated when first asked for (or when routes changed), then cached
        if not completed or completed[0] is not document:
            _complete(document)
            completed[:] = [document]
        return document

    app.openapi_schema = None
    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's documented way to replace the document


def _complete(document: dict[str, Any]) -> None:
    components = document.setdefault("components", {})
    # Copies: a caller may edit its document without editing every other application's.
    components.setdefault("schemas", {}).update(copy.deepcopy(_COMPONENTS))
    paths = document.get("paths", {})
    for path, methods in _OPERATIONS.items():
        for method, shared in methods.items():
            operation = paths.get(path, {}).get(method)
            if operation is None:
                continue
            additions = copy.deepcopy(shared)
            responses = operation.setdefault("responses", {})
            # FastAPI's 422 is pydantic's {"detail": [...]}, which these routes never answer with.
            responses.pop("422", None)
            responses.update(additions.get("responses", {}))
            if "requestBody" in additions:
                operation["requestBody"] = additions["requestBody"]
            if "parameters" in additions:
                operation["parameters"] = additions["parameters"]
            if "description" in additions:
                operation["description"] = additions["description"]
    _drop_unused_validation_error(document)


def _drop_unused_validation_error(document: dict[str, Any]) -> None:
    """Remove FastAPI's HTTPValidationError components once no route refers to them."""
    schemas = document.get("components", {}).get("schemas", {})
    if "#/components/schemas/HTTPValidationError" not in json.dumps(document.get("paths", {})):
        schemas.pop("HTTPValidationError", None)
        if "#/components/schemas/ValidationError" not in json.dumps(schemas):
            schemas.pop("ValidationError", None)


# -- the pieces ----------------------------------------------------------------------------------------------


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_body(schema: Schema, description: str, example: Any) -> Schema:
    return {
        "required": True,
        "description": description,
        "content": {JSON: {"schema": schema, "example": example}},
    }


def _answer(description: str, schema: Schema, *, headers: Schema | None = None, media: str = JSON) -> Schema:
    answer: Schema = {"description": description, "content": {media: {"schema": schema}}}
    if headers:
        answer["headers"] = headers
    return answer


def _error(description: str) -> Schema:
    return _answer(description, _ref("ErrorBody"))


ANY_VALUE: Schema = {"description": "Any JSON value, as the column's type in the model's signature allows."}
REQUEST_ID: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": MAX_REQUEST_ID_LENGTH,
    "description": "A client's id for one row, echoed in the answer and named again by feedback.",
}
NUMBER_OR_NULL: Schema = {"type": ["number", "boolean", "null"]}
TENSOR_ROWS: Schema = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "array", "minItems": 1, "items": NUMBER_OR_NULL},
    "description": "Rows of numbers without column names (true and false read as 1 and 0, null as missing), "
    "matched to the model's features by position; every row has as many values as the model has features.",
}
RECORDS: Schema = {
    "type": "array",
    "minItems": 1,
    "items": {"type": "object", "additionalProperties": ANY_VALUE},
    "description": "One JSON object per row, column name to value; a column missing from a record is null there.",
}
COLUMNS: Schema = {
    "type": "object",
    "minProperties": 1,
    "additionalProperties": {"type": "array", "minItems": 1, "items": ANY_VALUE},
    "description": "Column name to its values, one per row; every column has as many values.",
}
STATUS_TEXT: Schema = {"type": "object", "required": ["status"], "properties": {"status": {"type": "string"}}}

ERROR_RESPONSES: dict[str, Schema] = {
    "400": _error("The body is not valid JSON, or not in this route's format; the message says where."),
    "413": _error("The body is larger than the server's max_body_bytes."),
    "415": _error("The Content-Type is not one this route reads, or names a charset other than UTF-8."),
    "422": _error(
        "The inputs do not match the served version's signature (a missing column, a value of the wrong type, "
        "a value outside a promoted range); 'fields' lists each problem."
    ),
}
NOT_SERVED = _error("No model of that name is served here.")


# -- POST /v1/models/{name}/predict --------------------------------------------------------------------------

NATIVE_REQUEST: Schema = {
    "type": "object",
    "description": "Exactly one of 'records', 'columns' or 'record', plus optional request ids (in one place "
    "only: 'request_ids', a 'request_id' in every record, or 'request_id' beside a single row) and "
    "'probabilities'. Unknown keys are refused.",
    "properties": {
        "records": {
            **RECORDS,
            "items": {
                "type": "object",
                "properties": {"request_id": REQUEST_ID},
                "additionalProperties": ANY_VALUE,
            },
            "description": f"{RECORDS['description']} A record may carry its 'request_id' (then every record does).",
        },
        "columns": {
            **COLUMNS,
            "properties": {"request_id": {"type": "array", "minItems": 1, "uniqueItems": True, "items": REQUEST_ID}},
            "description": f"{COLUMNS['description']} A 'request_id' column holds the rows' ids.",
        },
        "record": {
            "type": "object",
            "properties": {"request_id": REQUEST_ID},
            "additionalProperties": ANY_VALUE,
            "description": "A single row: column name to value, with its 'request_id' if the client has one.",
        },
        "request_ids": {
            "type": ["array", "null"],
            "minItems": 1,
            "uniqueItems": True,
            "items": REQUEST_ID,
            "description": "One id per row, unique within the request; the server makes them up when none is sent.",
        },
        "request_id": {**REQUEST_ID, "type": ["string", "null"], "description": "The id of a single row."},
        "probabilities": {"type": "boolean", "description": "Also answer a classifier's class probabilities."},
    },
    "additionalProperties": False,
    "oneOf": [{"required": ["records"]}, {"required": ["columns"]}, {"required": ["record"]}],
}

NATIVE_ANSWER: Schema = {
    "type": "object",
    "required": ["model", "version", "predictions", "request_ids"],
    "properties": {
        "model": {"type": "string"},
        "version": {"type": "integer", "description": "The registry version that scored the request."},
        "predictions": {"type": "array", "description": "One per row (a list per row for several targets)."},
        "probabilities": {
            "type": "array",
            "items": {"type": "array", "items": {"type": ["number", "null"]}},
            "description": "Per row, one probability per class, in the order of 'classes'.",
        },
        "classes": {"type": "array"},
        "request_ids": {"type": "array", "items": {"type": "string"}},
    },
}


# -- POST /invocations (MLflow's scoring server) ---------------------------------------------------------------

MLFLOW_REQUEST: Schema = {
    "type": "object",
    "description": "MLflow's scoring-server body: exactly one of "
    f"{', '.join(repr(key) for key in MLFLOW_INPUT_KEYS)}, plus optional 'params'. Other keys are ignored, "
    "as MLflow ignores them.",
    "properties": {
        "dataframe_split": {
            "type": "object",
            "required": ["data"],
            "additionalProperties": False,
            "properties": {
                "columns": {
                    "type": ["array", "null"],
                    "minItems": 1,
                    "uniqueItems": True,
                    "items": {"type": "string"},
                    "description": "The column names; without them the rows are numbers matched by position.",
                },
                "data": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "array"},
                    "description": "The rows, each with one value per column.",
                },
                "index": {"type": ["array", "null"], "description": "One label per row; checked, then ignored."},
            },
            "description": "pandas' split orientation.",
        },
        "dataframe_records": {**RECORDS, "description": f"pandas' records orientation. {RECORDS['description']}"},
        **{
            key: {
                "anyOf": [RECORDS, TENSOR_ROWS, COLUMNS],
                "description": "TensorFlow Serving's format: records, rows of numbers, or columns.",
            }
            for key in ("instances", "inputs")
        },
        "params": {"type": ["object", "null"], "description": "Inference parameters; accepted and not used."},
    },
    "oneOf": [{"required": [key]} for key in MLFLOW_INPUT_KEYS],
}

CSV_REQUEST: Schema = {
    "type": "string",
    "description": "A header row naming the columns, then one line per row. A column whose every non-empty field "
    "is an integer holds integers, else numbers, else true/false, else text; an empty field is null.",
}

REQUEST_IDS_HEADERS: Schema = {
    REQUEST_IDS: {
        "description": "The request ids of the rows scored, comma-separated (for POST /v1/feedback).",
        "required": True,
        "schema": {"type": "string"},
    }
}


# -- POST /v2/models/{name}/infer (Open Inference Protocol V2) -------------------------------------------------

V2_REQUEST_INPUT: Schema = {
    "type": "object",
    "required": ["name", "shape", "datatype", "data"],
    "properties": {
        "name": {"type": "string", "minLength": 1, "description": "The column's name (as a dataframe column)."},
        "shape": {
            "type": "array",
            "minItems": 1,
            "items": {"type": "integer", "minimum": 0},
            "description": "[rows] or [rows, 1] for a column; [rows, features] for a tensor. At least one row.",
        },
        "datatype": {"type": "string", "enum": list(V2_DATATYPES)},
        "data": {
            "type": "array",
            "description": "As many values as the shape holds, flat (row-major) or nested; each fits the datatype "
            "(BOOL: true/false, INT*/UINT*: integers in range, FP*: numbers, BYTES: strings; null is missing "
            "in a dataframe column).",
        },
        "parameters": {"type": ["object", "null"]},
    },
}

V2_REQUEST: Schema = {
    "type": "object",
    "required": ["inputs"],
    "description": "An inference request. Several inputs, or parameters.content_type 'pd', read as a dataframe "
    "(one input per column); a single numeric input reads as a tensor matched to the model's features by "
    "position. Unknown keys are ignored.",
    "properties": {
        "id": {"type": ["string", "null"], "description": "Repeated in the answer."},
        "parameters": {
            "type": ["object", "null"],
            "properties": {
                "content_type": {
                    "enum": ["pd", "np", None],
                    "description": "'pd': one input per column; 'np': one tensor.",
                }
            },
        },
        "inputs": {"type": "array", "minItems": 1, "items": V2_REQUEST_INPUT},
        "outputs": {
            "type": ["array", "null"],
            "items": {
                "type": "object",
                "required": ["name"],
                "properties": {"name": {"enum": [PREDICT_OUTPUT, PROBABILITIES_OUTPUT]}},
            },
            "description": f"Asking for {PROBABILITIES_OUTPUT!r} adds a classifier's class probabilities.",
        },
    },
}

V2_ANSWER: Schema = {
    "type": "object",
    "required": ["model_name", "model_version", "id", "outputs"],
    "properties": {
        "model_name": {"type": "string"},
        "model_version": {"type": "string"},
        "id": {"type": "string"},
        "outputs": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["name", "shape", "datatype", "data"],
                "properties": {
                    "name": {"enum": [PREDICT_OUTPUT, PROBABILITIES_OUTPUT]},
                    "shape": {"type": "array", "items": {"type": "integer"}},
                    "datatype": {"enum": list(V2_DATATYPES)},
                    "data": {"type": "array"},
                },
            },
        },
    },
}

V2_METADATA: Schema = {
    "type": "object",
    "required": ["name", "versions", "platform", "inputs", "outputs"],
    "properties": {
        "name": {"type": "string"},
        "versions": {"type": "array", "items": {"type": "string"}},
        "platform": {"type": "string"},
        "parameters": {"type": "object"},
        **{
            key: {
                "type": "array",
                "items": {
                    "type": "object",
                    "required": ["name", "datatype", "shape"],
                    "properties": {
                        "name": {"type": "string"},
                        "datatype": {"enum": list(V2_DATATYPES)},
                        "shape": {"type": "array", "items": {"type": "integer"}},
                    },
                },
            }
            for key in ("inputs", "outputs")
        },
    },
}


# -- POST /v1/feedback ---------------------------------------------------------------------------------------

LABEL: Schema = {
    "type": "object",
    "required": ["request_id", "label"],
    "properties": {
        "request_id": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_TEXT,
            "pattern": r"\S",
            "description": "The request id a prediction was answered with.",
        },
        "label": {
            "type": ["number", "string", "boolean"],
            "description": "The ground truth: a number for a regressor, one of the classes of a classifier.",
        },
    },
}

FEEDBACK_REQUEST: Schema = {
    "description": "Ground truth for earlier predictions: a list of labels, or one label on its own; all are "
    "recorded or none.",
    "anyOf": [
        {
            "type": "object",
            "required": ["labels"],
            "properties": {"labels": {"type": "array", "minItems": 1, "items": LABEL}},
            "not": {"required": ["request_id"]},
        },
        LABEL,
    ],
}

LISTED_IDS: Schema = {"type": "array", "maxItems": MAX_LISTED, "items": {"type": "string"}}

FEEDBACK_ANSWER: Schema = {
    "type": "object",
    "required": ["recorded", "duplicates", "corrections", "corrections_count", "unmatched", "unmatched_count"],
    "properties": {
        "recorded": {"type": "integer", "description": "Labels recorded."},
        "duplicates": {"type": "integer", "description": "Items repeated with the same label: recorded once."},
        "corrections": {
            **LISTED_IDS,
            "description": f"Request ids that had a committed label already (the first {MAX_LISTED}): the new one "
            "counts from now on.",
        },
        "corrections_count": {"type": "integer", "description": "How many request ids were corrections."},
        "unmatched": {
            **LISTED_IDS,
            "description": f"Request ids not in the committed prediction log (the first {MAX_LISTED}): recorded "
            "all the same, since a prediction may wait up to a second in a server's buffer; a typo shows here.",
        },
        "unmatched_count": {"type": "integer", "description": "How many request ids were unmatched."},
    },
}


# -- GET /v1/labels/pending, POST /v1/labels -----------------------------------------------------------------

LABELS_REQUEST: Schema = {
    "type": "object",
    "description": "Labels for predictions of the label queue (or any logged prediction); all are recorded or none.",
    "required": ["labels"],
    "properties": {"labels": {"type": "array", "minItems": 1, "items": LABEL}},
}

LABELS_ANSWER: Schema = {
    "type": "object",
    "required": ["recorded", "duplicates", "corrections", "answered"],
    "properties": {
        "recorded": {"type": "integer", "description": "Labels recorded."},
        "duplicates": {"type": "integer", "description": "Items repeated with the same label: recorded once."},
        "corrections": {
            "type": "array",
            "items": {"type": "string"},
            "description": "Request ids that had a label already: the new one counts from now on.",
        },
        "answered": {"type": "integer", "description": "Labels that answered an item of the label queue."},
    },
}

PENDING_ANSWER: Schema = {
    "type": "object",
    "required": ["pending"],
    "properties": {
        "pending": {
            "type": "array",
            "items": {
                "type": "object",
                "required": [
                    "request_id",
                    "model",
                    "version",
                    "inputs",
                    "prediction",
                    "score",
                    "strategy",
                    "requested_at",
                ],
                "properties": {
                    "request_id": {"type": "string"},
                    "model": {"type": "string"},
                    "version": {"type": ["integer", "null"], "description": "The version that made the prediction."},
                    "inputs": {"type": "object", "description": "The prediction's inputs, as logged."},
                    "prediction": {"description": "What the model answered."},
                    "score": {"type": "number", "description": "How informative the strategy found it (higher)."},
                    "strategy": {"type": "string", "description": "margin, entropy, uncertainty, ensemble_spread..."},
                    "requested_at": {"type": "string", "format": "date-time"},
                },
            },
        }
    },
}

PENDING_PARAMETERS: list[Schema] = [
    {
        "name": "model",
        "in": "query",
        "required": False,
        "description": "Only this model's requests (every model's by default).",
        "schema": {"type": "string"},
    },
    {
        "name": "limit",
        "in": "query",
        "required": False,
        "description": "At most this many, the most informative first.",
        "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PENDING, "default": 100},
    },
]

NO_QUEUE = _error("This server keeps no prediction log, so it has no label queue.")


# -- everything, by route ------------------------------------------------------------------------------------

_COMPONENTS: dict[str, Schema] = {
    "ErrorBody": {
        "type": "object",
        "required": ["error"],
        "properties": {
            "error": {
                "type": "object",
                "required": ["code", "message"],
                "properties": {
                    "code": {"type": "string", "description": "Stable, e.g. invalid_input or invalid_data."},
                    "message": {"type": "string", "description": "What was expected and what came."},
                    "fields": {
                        "type": "array",
                        "description": "With a 422: each problem, field by field.",
                        "items": {
                            "type": "object",
                            "required": ["column", "row", "problem"],
                            "properties": {
                                "column": {"type": "string"},
                                "row": {"type": ["integer", "null"], "description": "From 0; null: the column."},
                                "problem": {"type": "string"},
                            },
                        },
                    },
                },
            }
        },
    },
    "NativeRequest": NATIVE_REQUEST,
    "NativeAnswer": NATIVE_ANSWER,
    "MlflowRequest": MLFLOW_REQUEST,
    "InferenceRequest": V2_REQUEST,
    "InferenceAnswer": V2_ANSWER,
    "FeedbackRequest": FEEDBACK_REQUEST,
    "FeedbackAnswer": FEEDBACK_ANSWER,
    "LabelsRequest": LABELS_REQUEST,
    "LabelsAnswer": LABELS_ANSWER,
    "PendingLabels": PENDING_ANSWER,
}

_SCORING_ERRORS = {code: ERROR_RESPONSES[code] for code in ("400", "413", "415", "422")}
_READY: Schema = {"type": "object", "required": ["ready"], "properties": {"ready": {"type": "boolean"}}}
_MODEL_READY: Schema = {
    "type": "object",
    "required": ["name", "ready"],
    "properties": {"name": {"type": "string"}, "ready": {"type": "boolean"}},
}
_V2_INFER: Schema = {
    "requestBody": _json_body(
        _ref("InferenceRequest"),
        "An Open Inference Protocol V2 inference request.",
        {
            "id": "42",
            "parameters": {"content_type": "pd"},
            "inputs": [
                {"name": "area", "shape": [1], "datatype": "FP64", "data": [50.0]},
                {"name": "district", "shape": [1], "datatype": "BYTES", "data": ["north"]},
            ],
        },
    ),
    "responses": {
        "200": _answer("The predictions.", _ref("InferenceAnswer"), headers=REQUEST_IDS_HEADERS),
        **_SCORING_ERRORS,
        "404": _error("No model of that name is served here, or not at that version."),
    },
}

_OPERATIONS: dict[str, dict[str, Schema]] = {
    "/v1/models/{name}/predict": {
        "post": {
            "requestBody": _json_body(
                _ref("NativeRequest"),
                "Rows to score, as records, columns or a single record.",
                {"records": [{"area": 50.0, "district": "north", "request_id": "r-1"}], "probabilities": True},
            ),
            "responses": {
                "200": _answer("The predictions, with the rows' request ids.", _ref("NativeAnswer")),
                **_SCORING_ERRORS,
                "404": NOT_SERVED,
            },
        }
    },
    "/invocations": {
        "post": {
            "description": "Scores with the default model, as MLflow's scoring server does.",
            "requestBody": {
                "required": True,
                "description": "An MLflow scoring-server body, in JSON or CSV.",
                "content": {
                    JSON: {
                        "schema": _ref("MlflowRequest"),
                        "example": {"dataframe_split": {"columns": ["area", "district"], "data": [[50.0, "north"]]}},
                    },
                    "text/csv": {"schema": CSV_REQUEST, "example": "area,district\n50.0,north\n"},
                },
            },
            "responses": {
                "200": _answer(
                    "The predictions.",
                    {"type": "object", "required": ["predictions"], "properties": {"predictions": {"type": "array"}}},
                    headers=REQUEST_IDS_HEADERS,
                ),
                **_SCORING_ERRORS,
            },
        }
    },
    "/v2/models/{name}/infer": {"post": _V2_INFER},
    "/v2/models/{name}/versions/{version}/infer": {"post": _V2_INFER},
    "/v1/feedback": {
        "post": {
            "description": "Records ground truth into the labels table (source feedback), all or none. Where a "
            "request id is in the committed prediction log, its label must fit the version that made the "
            "prediction; request ids not there yet are recorded and listed as unmatched.",
            "requestBody": _json_body(
                _ref("FeedbackRequest"),
                "Labels for request ids the server answered with.",
                {"labels": [{"request_id": "r-1", "label": "yes"}]},
            ),
            "responses": {
                "200": _answer(
                    "What was recorded, de-duplicated, corrected, and not found in the prediction log.",
                    _ref("FeedbackAnswer"),
                ),
                "400": _error(
                    "The body is not valid JSON, or not in this route's format (a label that is not a number, a "
                    "text or a boolean, a request id that is not a non-empty text), or one request id has two "
                    "different labels; the message names the item and nothing was recorded."
                ),
                "404": _error("This server keeps no prediction log, so it takes no feedback."),
                "413": ERROR_RESPONSES["413"],
                "415": ERROR_RESPONSES["415"],
                "422": _error(
                    "A label does not fit the version that made its prediction: not a number for a regressor, not "
                    "a class of a classifier; the message names the item and nothing was recorded."
                ),
            },
        }
    },
    "/v1/labels/pending": {
        "get": {
            "description": "The label queue: predictions active learning chose for labelling, most informative first.",
            "parameters": PENDING_PARAMETERS,
            "responses": {
                "200": _answer("The unanswered label requests.", _ref("PendingLabels")),
                "400": _error(
                    f"The limit is not a whole number from 1 to {MAX_PENDING}, or the model name is not valid."
                ),
                "404": NO_QUEUE,
            },
        }
    },
    "/v1/labels": {
        "post": {
            "description": "Answers the label queue into the labels table (source label_queue), all or none; "
            "the next retrain reads them.",
            "requestBody": _json_body(
                _ref("LabelsRequest"),
                "Labels for request ids of the label queue (or of any logged prediction).",
                {"labels": [{"request_id": "r-1", "label": "yes"}]},
            ),
            "responses": {
                "200": _answer("What was recorded, de-duplicated, corrected and answered.", _ref("LabelsAnswer")),
                "400": _error("The body is not in this route's format, or one request id has two different labels."),
                "404": _error(
                    "Request ids neither queued nor in the prediction log (listed), or no label queue here; nothing "
                    "was recorded."
                ),
                "413": ERROR_RESPONSES["413"],
                "415": ERROR_RESPONSES["415"],
                "422": _error(
                    "A label does not fit its model: not a number for a regressor, not a class of a classifier."
                ),
            },
        }
    },
    "/v1/models": {
        "get": {
            "responses": {
                "200": _answer(
                    "The served models, their aliases and the versions serving now.",
                    {
                        "type": "object",
                        "required": ["models", "default"],
                        "properties": {
                            "models": {
                                "type": "array",
                                "items": {
                                    "type": "object",
                                    "required": ["name", "alias", "version"],
                                    "properties": {
                                        "name": {"type": "string"},
                                        "alias": {"type": "string"},
                                        "version": {"type": ["integer", "null"]},
                                    },
                                },
                            },
                            "default": {"type": "string"},
                        },
                    },
                )
            }
        }
    },
    "/v2/models/{name}": {
        "get": {"responses": {"200": _answer("The model's inputs and outputs.", V2_METADATA), "404": NOT_SERVED}}
    },
    "/v2/models/{name}/ready": {
        "get": {
            "responses": {
                "200": _answer("The model is loaded.", _MODEL_READY),
                "404": NOT_SERVED,
                "503": _answer("The model is not loaded yet.", _MODEL_READY),
            }
        }
    },
    **{
        path: {
            "get": {
                "responses": {
                    "200": _answer("Every model is loaded.", _READY),
                    "503": _answer("A model is not loaded yet.", _READY),
                }
            }
        }
        for path in ("/v2/health/ready", "/readyz")
    },
    **{
        path: {"get": {"responses": {"200": _answer("'ok' once every model is loaded, else 'loading'.", STATUS_TEXT)}}}
        for path in ("/ping", "/health")
    },
    "/healthz": {"get": {"responses": {"200": _answer("The process answers.", STATUS_TEXT)}}},
    "/v2/health/live": {
        "get": {
            "responses": {
                "200": _answer(
                    "The process answers.",
                    {"type": "object", "required": ["live"], "properties": {"live": {"type": "boolean"}}},
                )
            }
        }
    },
    "/version": {"get": {"responses": {"200": _answer("driftloop's version.", {"type": "string"}, media=TEXT)}}},
    "/metrics": {"get": {"responses": {"200": _answer("Prometheus' text format.", {"type": "string"}, media=TEXT)}}},
}
