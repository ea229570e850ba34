"""The scoring routes, dispatched without the framework's per-request routing and dependency resolution.

FastAPI answers a request by matching it against every route in turn, then resolving the endpoint's
parameters through its dependency machinery: about a third of a single-row prediction's time on this server.
The scoring routes (``POST /invocations``, ``/v1/models/{name}/predict``, the V2 ``infer`` routes) take only
path parameters and the raw request, so :class:`FastLane`, a pure ASGI layer, matches them itself and calls
the same endpoint functions FastAPI declared (which still describe them in the OpenAPI document and answer
when the lane is bypassed). A :class:`~driftloop.errors.DriftloopError` becomes the same JSON error answer
as through FastAPI's exception handler; anything else propagates to the server's error middleware, as it
would through FastAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, cast

from fastapi import FastAPI
from fastapi.routing import APIRoute
from starlette.datastructures import State
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from driftloop.errors import DriftloopError

__all__ = ["FastLane", "LaneHeaders", "LaneRequest"]

ErrorAnswer = Callable[[Request, DriftloopError], Awaitable[Response]]


class FastLane:
    """Pure ASGI middleware: ``POST`` requests to the routes named in ``paths`` go straight to their endpoints.

    Args:
        app: The application inside (FastAPI's router, reached for every other request).
        fastapi: The application whose routes are looked up (once, on the first request).
        paths: The route templates to serve directly, e.g. ``"/v1/models/{name}/predict"``.
        on_error: Turns a :class:`~driftloop.errors.DriftloopError` into the answer (FastAPI's handler).
    """

    def __init__(self, app: ASGIApp, fastapi: FastAPI, paths: tuple[str, ...], on_error: ErrorAnswer) -> None:
        self.app = app
        self.fastapi = fastapi
        self.paths = paths
        self.on_error = on_error
        self._exact: dict[str, APIRoute] | None = None
        self._templated: list[APIRoute] = []

    def _routes(self) -> dict[str, APIRoute]:
        """The routes by exact path, and the templated ones in order (found once: routes are fixed by then)."""
        if self._exact is None:
            chosen = [
                route
                for route in self.fastapi.routes
                if isinstance(route, APIRoute) and route.path in self.paths and "POST" in (route.methods or ())
            ]
            missing = set(self.paths) - {route.path for route in chosen}
            if missing:
                raise RuntimeError(f"The fast lane names routes the application lacks: {sorted(missing)}.")
            self._templated = [route for route in chosen if route.param_convertors]
            self._exact = {route.path: route for route in chosen if not route.param_convertors}
        return self._exact

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST":
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        route = self._routes().get(path)
        parameters: dict[str, Any] = {}
        if route is None:
            for candidate in self._templated:
                match = candidate.path_regex.match(path)
                if match is not None:
                    route, parameters = candidate, match.groupdict()
                    break
            else:
                await self.app(scope, receive, send)
                return
        scope["route"] = route  # for the access log's route label, as the router would set it
        request = LaneRequest(scope, receive)
        try:
            response = await route.endpoint(**parameters, request=request)
        except DriftloopError as error:
            response = await self.on_error(cast(Request, request), error)
        await response(scope, receive, send)


class LaneHeaders(dict[str, str]):
    """A request's headers by their lower-cased names (as ASGI gives them); ``get`` takes any case, as Starlette's."""

    def get(self, key: str, default: Any = None) -> Any:
        return super().get(key.lower(), default)


class LaneRequest:
    """What the scoring endpoints read of a request, without Starlette's ``Request`` machinery.

    ``headers`` (:class:`LaneHeaders`), ``state`` (written into the scope, where the access
    log reads the model and version) and ``body()``. The endpoints take a Starlette ``Request`` when FastAPI
    routes them, and this when the lane does: they use nothing else.
    """

    __slots__ = ("_body", "_headers", "_receive", "scope", "state")

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self.scope = scope
        self._receive = receive
        self._body: bytes | None = None
        self._headers: LaneHeaders | None = None
        self.state = State(scope.setdefault("state", {}))

    @property
    def headers(self) -> LaneHeaders:
        if self._headers is None:
            self._headers = LaneHeaders(
                (name.decode("latin-1"), value.decode("latin-1")) for name, value in self.scope["headers"]
            )
        return self._headers

    async def body(self) -> bytes:
        if self._body is None:
            chunks: list[bytes] = []
            while True:
                message = await self._receive()
                if message["type"] == "http.disconnect":
                    raise ClientDisconnect()
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    break
            self._body = chunks[0] if len(chunks) == 1 else b"".join(chunks)
        return self._body
