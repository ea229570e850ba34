"""The server's answers: entities as JSON, and every error as ``{"error": {"code", "message"}}``.

An error's status comes from :data:`driftloop.errors.HTTP_STATUS`, the one table from codes to statuses. A request
that does not match a route's schema answers 422 with the code ``invalid_data`` and the fields at fault; no error
repeats a value the client sent (a body may hold anything), nor any header (the token travels in one).
"""

from __future__ import annotations

import json
import os
import urllib.parse
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
import pydantic_core
from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from driftloop.errors import HTTP_STATUS, DriftloopError, InvalidData, NotFound, Unauthenticated

__all__ = [
    "BINARY_BODY",
    "ERROR_RESPONSES",
    "JSON",
    "ErrorBody",
    "as_json_data",
    "attachment",
    "install_error_handlers",
    "json_response",
]

JSON = "application/json"
CHALLENGE = 'Bearer realm="driftloop"'
"""The ``WWW-Authenticate`` header of a 401: the server takes bearer tokens."""


class ErrorDetail(BaseModel):
    code: str
    message: str
    fields: list[dict[str, str]] | None = None


class ErrorBody(BaseModel):
    """What every error answers."""

    error: ErrorDetail


ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": description}
    for status, description in (
        (400, "A name or a value is not acceptable."),
        (401, "No valid token: none, malformed, unknown, expired or revoked (WWW-Authenticate: Bearer)."),
        (403, "The token's user does not hold the role this route needs on its scope."),
        (404, "No such object."),
        (409, "The request contradicts the object's state."),
        (413, "The body is larger than the server takes."),
        (422, "The request does not match the schema, or the data breaks its rules."),
    )
}
"""The error answers every route documents in the OpenAPI document."""

BINARY_BODY: dict[str, Any] = {
    "required": True,
    "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}},
}
"""The OpenAPI request body of a route that takes raw bytes (FastAPI cannot see one it streams itself)."""


def json_response(content: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    """``content`` (entities, mappings, lists, NumPy arrays) as JSON; a non-finite number becomes null.

    >>> json_response({"evidence": {"rows": 2**64}}).body
    b'{"evidence":{"rows":18446744073709551616}}'
    """
    try:
        body = orjson.dumps(content, default=_plain, option=orjson.OPT_SERIALIZE_NUMPY)
    except orjson.JSONEncodeError:
        # orjson writes integers of up to 64 bits; JSON a client sent and the workspace kept (an alias move's
        # evidence) may hold larger ones. pydantic's writer takes any integer; on anything else it fails alike.
        body = pydantic_core.to_json(content, inf_nan_mode="null", fallback=_plain_or_numpy)
    return Response(body, status_code=status, media_type=JSON, headers=headers)


def as_json_data(content: Any) -> Any:
    """``content`` as the plain lists, dicts and numbers its JSON body holds."""
    return json.loads(bytes(json_response(content).body))


def _plain(value: Any) -> Any:
    """What orjson does not write itself: read-only mappings (the entities' empty defaults), sets, paths."""
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, set | frozenset):
        return sorted(value)
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    raise TypeError(f"{type(value).__name__} is not JSON serializable")


def _plain_or_numpy(value: Any) -> Any:
    """What pydantic's JSON writer does not write itself: :func:`_plain`'s, and NumPy arrays and numbers."""
    if isinstance(value, np.ndarray | np.generic):
        return value.tolist()
    return _plain(value)


def attachment(filename: str) -> dict[str, str]:
    """The ``Content-Disposition`` header offering a download as ``filename`` (any characters, RFC 6266).

    >>> attachment("prices 2024.csv")
    {'Content-Disposition': "attachment; filename*=UTF-8''prices%202024.csv"}
    """
    return {"Content-Disposition": f"attachment; filename*=UTF-8''{urllib.parse.quote(filename, safe='')}"}


def error_response(code: str, message: str, status: int, fields: list[dict[str, str]] | None = None) -> Response:
    detail: dict[str, Any] = {"code": code, "message": message}
    if fields:
        detail["fields"] = fields
    headers = {"WWW-Authenticate": CHALLENGE} if status == 401 else None
    return json_response({"error": detail}, status, headers)


def _problem(problem: Mapping[str, Any]) -> str:
    """A schema mismatch in words; a body that is not JSON says why (the reader's words, never the body's)."""
    message = str(problem.get("msg"))
    if problem.get("type") == "json_invalid" and (problem.get("ctx") or {}).get("error"):
        message = f"{message}: {problem['ctx']['error']}"
    return message


def install_error_handlers(app: FastAPI) -> None:
    """Answer driftloop's errors, schema mismatches and FastAPI's own HTTP errors in one JSON shape."""

    @app.exception_handler(DriftloopError)
    async def driftloop_error(request: Request, error: DriftloopError) -> Response:
        return error_response(error.code, error.message, HTTP_STATUS.get(error.code, 500))

    @app.exception_handler(RequestValidationError)
    async def schema_mismatch(request: Request, error: RequestValidationError) -> Response:
        fields = [
            {"location": ".".join(str(part) for part in problem.get("loc", ())), "problem": _problem(problem)}
            for problem in error.errors()
        ]
        listed = "; ".join(f"{field['location']}: {field['problem']}" for field in fields)
        return error_response(
            InvalidData.code, f"The request does not match the schema: {listed}", HTTP_STATUS[InvalidData.code], fields
        )

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, error: HTTPException) -> Response:
        code = {404: NotFound.code, 401: Unauthenticated.code}.get(error.status_code, "http_error")
        return error_response(code, str(error.detail), error.status_code)
