"""The workspace server's application: the workspace over HTTP under ``/api/v1``, every route behind its rule.

Routes, by area (each module lists its own): tracking (:mod:`~driftloop.server._tracking`), datasets
(:mod:`~driftloop.server._data`), the model registry (:mod:`~driftloop.server._registry`), the audit log, alerts
and loop actions (:mod:`~driftloop.server._operations`), users, tokens and grants
(:mod:`~driftloop.server._admin`), and ``GET /api/v1/openapi.json``, the OpenAPI document of all of them. Who may
call each route is declared with it (:mod:`~driftloop.server._access`); the app refuses to be built with a route
that declares no rule.

Each request leaves one JSON line on the ``driftloop.server.access`` logger: who, from which address, the method,
the path, the status and the milliseconds taken; never a header, a query string or a body.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, Request, Response
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel, Field
from starlette.types import ASGIApp, Message, Receive, Scope, Send

import driftloop
from driftloop.entities import Role
from driftloop.errors import InvalidSettings
from driftloop.server import _admin, _data, _operations, _registry, _tracking
from driftloop.server._access import BEARER, Gate, Routes, unguarded_routes
from driftloop.server._http import ERROR_RESPONSES, install_error_handlers, json_response

if TYPE_CHECKING:
    from driftloop.workspace import Workspace

__all__ = ["WorkspaceServerSettings", "create_server_app"]

access_log = logging.getLogger("driftloop.server.access")

MEBIBYTE = 1024 * 1024
AREAS: tuple[Routes, ...] = (_tracking.routes, _data.routes, _registry.routes, _operations.routes, _admin.routes)

meta = Routes("meta", responses=ERROR_RESPONSES)


@meta.get("/openapi.json", Role.VIEWER, include_in_schema=False)
def openapi_document(request: Request) -> Response:
    """The OpenAPI document of every route, with the access rule of each (``x-driftloop-access``)."""
    return json_response(request.app.openapi())


class Me(BaseModel):
    name: str = Field(description="The user the server records as the actor of this token's requests.")


@meta.get("/me", Role.VIEWER, response_model=Me)
def me(request: Request) -> Response:
    """Who the server takes the caller for: the token's user, or the local admin of an open server."""
    return json_response({"name": request.state.caller.name})


class SchemaRevision(BaseModel):
    revision: str | None = Field(description="The metadata store's schema revision (null when it is empty).")
    newest: str = Field(description="The newest revision the server's driftloop knows.")
    version: str = Field(description="The server's driftloop version.")


@meta.get("/schema", Role.VIEWER, response_model=SchemaRevision)
def schema(request: Request) -> Response:
    """The schema revision of the workspace's metadata store and the newest the server's code knows, with the
    server's version (``driftloop db current`` through the server)."""
    revision, newest = request.app.state.workspace.metadata.database.revisions()
    return json_response({"revision": revision, "newest": newest, "version": driftloop.__version__})


@dataclass(frozen=True, slots=True)
class WorkspaceServerSettings:
    """How the workspace server admits requests.

    Args:
        open_access: Requests without a token act as the local admin (the workspace's actor); requests with one
            are checked all the same. For a server on loopback with no users, as
            :func:`~driftloop.server.access_settings` decides.
        max_request_bytes: The largest body of a route that takes JSON (a batch of metric points…); larger
            bodies answer 413.
        max_upload_bytes: The largest upload (a dataset's file, an artifact).
        private_sources: Whether an ingest from a URL may reach this machine or private addresses (loopback,
            link-local, private ranges: the cloud's metadata service, internal services); off, an editor cannot make
            the server fetch what only the server can reach.
        source_buckets: The bucket URLs (``s3://bucket`` or ``s3://bucket/prefix``; also gs, az) under which an
            ingest from a URL may read. The server reads a bucket with its own credentials, which reach what no
            editor may (the workspace's own storage, other teams' data), so none is allowed unless named here; the
            workspace's own storage is refused even then.
    """

    open_access: bool = False
    max_request_bytes: int = 64 * MEBIBYTE
    max_upload_bytes: int = 1024 * MEBIBYTE
    private_sources: bool = False
    source_buckets: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        from driftloop.server._data import check_bucket_prefix

        for name in ("max_request_bytes", "max_upload_bytes"):
            size = getattr(self, name)
            if isinstance(size, bool) or not isinstance(size, int) or size < 1:
                raise InvalidSettings(f"The {name!r} must be a whole number of bytes >= 1; got {size!r}.")
        if isinstance(self.source_buckets, str):
            raise InvalidSettings(f"The 'source_buckets' is a list of bucket URLs; got {self.source_buckets!r}.")
        object.__setattr__(self, "source_buckets", tuple(check_bucket_prefix(url) for url in self.source_buckets))


def create_server_app(workspace: Workspace, settings: WorkspaceServerSettings | None = None) -> FastAPI:
    """The workspace server over ``workspace``. Building it does no I/O: the first request opens the workspace.

    Raises:
        RuntimeError: A route of the app declares no access rule.
    """
    from driftloop.store.tables import TableStore

    settings = settings or WorkspaceServerSettings()
    app = FastAPI(
        title="driftloop workspace",
        version=driftloop.__version__,
        description="A driftloop workspace shared over HTTP: tracking, datasets, models, the audit log and alerts, "
        "behind users, API tokens and roles.",
        openapi_url=None,  # served by a guarded route instead
        docs_url=None,
        redoc_url=None,
    )
    app.state.workspace = workspace
    app.state.tables = TableStore(workspace.settings.tables_url)
    app.state.private_sources = settings.private_sources
    app.state.source_buckets = settings.source_buckets
    app.state.gate = Gate(
        lambda: workspace.metadata.identities,
        local_admin=workspace.actor if settings.open_access else None,
        max_request_bytes=settings.max_request_bytes,
        max_upload_bytes=settings.max_upload_bytes,
    )
    for routes in (*AREAS, meta):
        routes.install(app)
    unguarded = unguarded_routes(app)
    if unguarded:
        raise RuntimeError(f"Routes without an access rule: {', '.join(unguarded)}; declare them through Routes.")
    install_error_handlers(app)
    app.openapi = functools.partial(_openapi, app)  # type: ignore[method-assign]
    app.add_middleware(AccessLog)
    return app


def _openapi(app: FastAPI) -> dict[str, Any]:
    """FastAPI's document of the app's routes, with the bearer-token scheme every operation names."""
    if app.openapi_schema is None:
        schema = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schema.setdefault("components", {})["securitySchemes"] = {
            BEARER: {
                "type": "http",
                "scheme": "bearer",
                "description": "An API token, as `driftloop tokens create USER` prints it once.",
            }
        }
        _name_non_finite_summaries(schema)
        app.openapi_schema = schema
    return app.openapi_schema


def _name_non_finite_summaries(schema: dict[str, Any]) -> None:
    """A metric summary's values are numbers, or the name of a NaN or an infinity (JSON has no such numbers; see
    :func:`driftloop.server._tracking.run_body`): say so where the entity's own schema says number."""
    summary = schema.get("components", {}).get("schemas", {}).get("MetricSummary")
    if summary is None:
        return
    for field in ("last_value", "min_value", "max_value"):
        described = summary["properties"][field]
        summary["properties"][field] = {
            "title": described.get("title", field),
            "anyOf": [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}],
        }


class AccessLog:
    """Writes one JSON line per request to ``driftloop.server.access``, once the request is answered."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        # The routes put the caller in the request's state: the same dict, shared through the scope.
        state = scope.setdefault("state", {})

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            caller = state.get("caller")
            client = scope.get("client")
            line = {
                "user": None if caller is None else caller.name,
                "client": None if client is None else client[0],
                "method": scope["method"],
                "path": scope["path"],
                "status": status,
                "ms": round((time.perf_counter() - started) * 1000, 2),
            }
            access_log.info(json.dumps(line))
