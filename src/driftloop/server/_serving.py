"""Model serving inside the workspace server (``driftloop server --serve houses``): one process and port for the
workspace's API (``/api/v1``) and its models' scoring, feedback and label routes, behind the same tokens and roles.

Each serving route's rule, by what it does:

- probes and metrics (``/healthz``, ``/readyz``, ``/metrics``, ``/ping``, ``/health``, ``/version``, ``/v2/health``):
  open, as a load balancer or Prometheus calls them;
- scoring and reading what is served (``/v1/models``, ``/invocations``, ``/v2/models/...``), the serving routes'
  OpenAPI document (``/openapi.json``; the workspace API's is ``/api/v1/openapi.json``) and the pending label
  requests: ``viewer`` (on ``model:<name>`` where the path names the model);
- feedback (``POST /v1/feedback``, the application sending ground truth): ``editor``;
- answering label requests (``POST /v1/labels``): ``deployer``.

A request the rule refuses answers 401 or 403 in the workspace API's error shape before the serving app sees it.
The serving app's lifespan (model loading, the prediction log's writer, upkeep, monitors) runs as the server's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Receive, Scope, Send

from driftloop.entities import WORKSPACE_SCOPE, Role
from driftloop.errors import HTTP_STATUS, DriftloopError
from driftloop.server._access import Access, Gate
from driftloop.server._http import error_response

if TYPE_CHECKING:
    from fastapi import FastAPI

    from driftloop.workspace import Workspace

__all__ = ["SERVING_RULES", "ServingRule", "WorkspaceAndModels", "serving_rule", "with_models"]

API_PREFIX = "/api/v1"


@dataclass(frozen=True, slots=True)
class ServingRule:
    """Who may call the serving routes a method and a path pattern match; ``role`` None: anyone."""

    method: str
    pattern: re.Pattern[str]
    role: Role | None


def _rule(method: str, pattern: str, role: Role | None) -> ServingRule:
    return ServingRule(method, re.compile(pattern), role)


MODEL = r"(?P<name>[^/]+)"
SERVING_RULES: tuple[ServingRule, ...] = (
    *(
        _rule("GET", path, None)
        for path in (
            r"/healthz",
            r"/readyz",
            r"/metrics",
            r"/ping",
            r"/health",
            r"/version",
            r"/v2/health/(live|ready)",
        )
    ),
    _rule("GET", r"/openapi\.json", Role.VIEWER),
    _rule("GET", r"/v1/models", Role.VIEWER),
    _rule("POST", rf"/v1/models/{MODEL}/predict", Role.VIEWER),
    _rule("POST", r"/invocations", Role.VIEWER),
    _rule("GET", rf"/v2/models/{MODEL}(/ready)?", Role.VIEWER),
    _rule("POST", rf"/v2/models/{MODEL}(/versions/[^/]+)?/infer", Role.VIEWER),
    _rule("GET", r"/v1/labels/pending", Role.VIEWER),
    _rule("POST", r"/v1/feedback", Role.EDITOR),
    _rule("POST", r"/v1/labels", Role.DEPLOYER),
)
"""Every serving route's rule; a method and path matching none answers 404 (never reaching the serving app)."""


def serving_rule(method: str, path: str) -> tuple[ServingRule, Access | None, dict[str, str]] | None:
    """The rule of a serving request: the rule, the access it needs (None: open) and the path's parameters; None
    when no serving route matches."""
    for rule in SERVING_RULES:
        if method == rule.method or (method == "HEAD" and rule.method == "GET"):
            matched = rule.pattern.fullmatch(path)
            if matched is not None:
                parameters = {key: value for key, value in matched.groupdict().items() if value is not None}
                if rule.role is None:
                    return rule, None, parameters
                scope = "model:{name}" if "name" in parameters else WORKSPACE_SCOPE
                return rule, Access(rule.role, scope), parameters
    return None


class WorkspaceAndModels:
    """The workspace API under ``/api/v1`` and, on every other path, the serving app behind :data:`SERVING_RULES`.

    Args:
        api: The workspace server's app (:func:`~driftloop.server.create_server_app`).
        serving: The serving app (:func:`driftloop.serving.create_app`) of the models to serve.
        gate: The API's gate: the same tokens, users and roles admit serving requests.
    """

    def __init__(self, api: FastAPI, serving: FastAPI, gate: Gate) -> None:
        self.api = api
        self.serving = serving
        self.gate = gate

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.serving(scope, receive, send)  # the API needs no start-up of its own
            return
        path = scope.get("path", "")
        if path == API_PREFIX or path.startswith(API_PREFIX + "/"):
            await self.api(scope, receive, send)
            return
        if scope["type"] != "http":
            await self.serving(scope, receive, send)
            return
        refusal = await self._refusal(scope)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.serving(scope, receive, send)

    async def _refusal(self, scope: Scope) -> ASGIApp | None:
        """The answer to a serving request its rule refuses, or None to let it through."""
        found = serving_rule(scope["method"], scope["path"])
        if found is None:
            return error_response("not_found", "No such route.", 404)
        _, access, parameters = found
        if access is None:
            return None
        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        client = scope.get("client")
        address = None if client is None else client[0]
        try:
            await run_in_threadpool(self.gate.admit, headers.get("authorization"), access, parameters, address)
        except DriftloopError as error:
            return error_response(error.code, error.message, HTTP_STATUS.get(error.code, 500))
        return None


def with_models(api: FastAPI, workspace: Workspace, models: Sequence[str], **options: Any) -> WorkspaceAndModels:
    """The workspace server's app ``api`` with ``models`` served beside it (``options``: further
    :class:`driftloop.serving.ServerSettings`), behind the API's own gate."""
    from driftloop.serving import ServerSettings, create_app

    return WorkspaceAndModels(
        api, create_app(workspace, ServerSettings(models=list(models), **options)), api.state.gate
    )
