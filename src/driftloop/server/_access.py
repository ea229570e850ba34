"""Who may call each route: one access rule per route, declared with the route and checked before it runs.

Every route of the workspace server is declared through :class:`Routes`, with the role it needs and the scope it
needs it on, and becomes a :class:`GuardedRoute` holding that rule::

    routes = Routes("datasets")

    @routes.get("/datasets/{name}/versions", Role.VIEWER, scope="dataset:{name}")
    def versions(name: str, services: ServicesDependency) -> Response: ...

A request is answered in this order, before its body is read:

1. 401 (with ``WWW-Authenticate: Bearer``) without a valid ``Authorization: Bearer <token>``; on an open server
   (no users, see :mod:`driftloop.server._runner`) a request without a token acts as the local admin instead;
2. 400 when a name in the scope is not a valid name;
3. 403 when the token's user does not hold the role on the scope (its role on the workspace, or its grant on the
   dataset or model);
4. 413 when the body is larger than the server takes;

then the route runs as that user, whose name the services record as the actor of every event.

:func:`unguarded_routes` lists the routes of an app without a rule; the server refuses to start with any, and the
tests check every rule. The rule is also written into the route's OpenAPI operation (``x-driftloop-access``).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from fastapi import FastAPI, Request, Response
from fastapi.routing import APIRoute
from starlette.concurrency import run_in_threadpool

from driftloop.entities import WORKSPACE_SCOPE, Role, parse_scope
from driftloop.errors import Unauthenticated
from driftloop.identity import require
from driftloop.server._bodies import buffered
from driftloop.store.metadata._events import request_origin

if TYPE_CHECKING:
    from driftloop.store.metadata import IdentityRepository

__all__ = [
    "API_PREFIX",
    "Access",
    "Caller",
    "Gate",
    "GuardedRoute",
    "Routes",
    "bearer_token",
    "unguarded_routes",
]

API_PREFIX = "/api/v1"
ACCESS_KEY = "x-driftloop-access"
"""Where a route's rule sits in its OpenAPI operation (and how :class:`GuardedRoute` receives it)."""
BEARER = "bearer"
"""The name of the security scheme in the OpenAPI document."""
NO_TOKEN = "This server needs an API token: send the header 'Authorization: Bearer <token>'."
MALFORMED = "The Authorization header must read 'Bearer <token>'."

Endpoint = TypeVar("Endpoint", bound=Callable[..., Any])


@dataclass(frozen=True, slots=True)
class Access:
    """The rule of one route: the role a caller needs, on which scope.

    ``scope`` is ``workspace`` or a template naming a path parameter (``dataset:{name}``, ``model:{name}``).
    ``upload`` marks a route that streams its body itself, up to the upload limit rather than the request limit.

    >>> Access(Role.EDITOR, "dataset:{name}").scope_for({"name": "houses"})
    'dataset:houses'
    """

    role: Role
    scope: str = WORKSPACE_SCOPE
    upload: bool = False

    def scope_for(self, path_params: Mapping[str, Any]) -> str:
        """The scope of one request: the template filled with its path parameters.

        Raises:
            InvalidName: The name filled in is not a valid name (400).
        """
        return parse_scope(self.scope.format_map(path_params))

    def to_openapi(self) -> dict[str, Any]:
        return {"role": self.role.value, "scope": self.scope, "upload": self.upload}

    @classmethod
    def from_openapi(cls, declared: Mapping[str, Any]) -> Access:
        return cls(Role.parse(declared["role"]), str(declared["scope"]), bool(declared["upload"]))


@dataclass(frozen=True, slots=True)
class Caller:
    """Who sent a request: a user holding a token, or the local admin of an open server.

    ``name`` is the actor the services record; ``address`` is the client's IP address, when known; ``user`` is
    whether ``name`` is a user whose roles are checked (False for the local admin of an open server).
    """

    name: str
    address: str | None
    user: bool = True


class Gate:
    """Admits a request to a route: authenticates its token and checks the route's rule.

    Args:
        identities: The users, tokens and grants of the workspace (a function: the workspace opens on the first
            request, not when the app is built).
        local_admin: The actor a request without a token acts as on an open server; None: the server needs a
            token on every request.
        max_request_bytes: The largest body of a route that is not an upload.
        max_upload_bytes: The largest body of an upload route.
    """

    def __init__(
        self,
        identities: Callable[[], IdentityRepository],
        *,
        local_admin: str | None,
        max_request_bytes: int,
        max_upload_bytes: int,
    ) -> None:
        self.identities = identities
        self.local_admin = local_admin
        self.max_request_bytes = max_request_bytes
        self.max_upload_bytes = max_upload_bytes

    def admit(
        self, authorization: str | None, access: Access, path_params: Mapping[str, Any], address: str | None
    ) -> Caller:
        """The caller of a request with this ``Authorization`` header, when it may call a route with ``access``.

        Raises:
            Unauthenticated: No token on a server that needs one, a malformed header, or a token that is not
                valid (401).
            InvalidName: A name in the scope is invalid (400).
            PermissionDenied: The token's user lacks the role on the scope (403).
        """
        token = bearer_token(authorization)
        if token is None:
            if self.local_admin is None:
                raise Unauthenticated(NO_TOKEN)
            return Caller(self.local_admin, address, user=False)
        identities = self.identities()
        user = identities.authenticate(token)
        require(identities, user.name, access.role, access.scope_for(path_params))
        return Caller(user.name, address)


def bearer_token(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header; None when there is no header.

    >>> bearer_token("Bearer dl_abc"), bearer_token(None)
    ('dl_abc', None)

    Raises:
        Unauthenticated: Another scheme, or no token after ``Bearer``; the message never repeats the header.
    """
    if header is None:
        return None
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthenticated(MALFORMED)
    return token.strip()


class GuardedRoute(APIRoute):
    """A route that admits each request through the app's :class:`Gate` before FastAPI reads its body.

    Its rule (``access``) comes in ``openapi_extra`` under ``x-driftloop-access``, as :class:`Routes` puts it; a
    route declared without one is refused when it is built.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **options: Any) -> None:
        declared = (options.get("openapi_extra") or {}).get(ACCESS_KEY)
        if declared is None:
            raise TypeError(f"The route {path} declares no access rule; declare it through Routes (role and scope).")
        self.access = Access.from_openapi(declared)
        super().__init__(path, endpoint, **options)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        access = self.access

        async def guarded(request: Request) -> Response:
            gate: Gate = request.app.state.gate
            address = request.client.host if request.client is not None else None
            authorization = request.headers.get("authorization")
            # The identity lookups are blocking database reads: off the event loop.
            caller = await run_in_threadpool(gate.admit, authorization, access, request.path_params, address)
            request.state.caller = caller
            if not access.upload:
                request = await buffered(request, gate.max_request_bytes)
            # Every event the request writes records where it came from (the audit log's "from where").
            origin = request_origin.set(address or "unknown")
            try:
                return await handle(request)
            finally:
                request_origin.reset(origin)

        return guarded


@dataclass(frozen=True, slots=True)
class _Declared:
    method: str
    path: str
    endpoint: Callable[..., Any]
    access: Access
    options: dict[str, Any]


class Routes:
    """The routes of one area of the API (tracking, datasets…), each declared with its access rule.

    :meth:`install` adds them to an app, under ``/api/v1``, as :class:`GuardedRoute` routes.
    """

    def __init__(self, tag: str, *, responses: Mapping[int | str, dict[str, Any]] | None = None) -> None:
        self.tag = tag
        self.responses = dict(responses or {})
        self.declared: list[_Declared] = []

    def get(
        self, path: str, role: Role, *, scope: str = WORKSPACE_SCOPE, **options: Any
    ) -> Callable[[Endpoint], Endpoint]:
        return self.route("GET", path, Access(role, scope), **options)

    def post(
        self, path: str, role: Role, *, scope: str = WORKSPACE_SCOPE, upload: bool = False, **options: Any
    ) -> Callable[[Endpoint], Endpoint]:
        return self.route("POST", path, Access(role, scope, upload), **options)

    def put(
        self, path: str, role: Role, *, scope: str = WORKSPACE_SCOPE, upload: bool = False, **options: Any
    ) -> Callable[[Endpoint], Endpoint]:
        return self.route("PUT", path, Access(role, scope, upload), **options)

    def patch(
        self, path: str, role: Role, *, scope: str = WORKSPACE_SCOPE, upload: bool = False, **options: Any
    ) -> Callable[[Endpoint], Endpoint]:
        return self.route("PATCH", path, Access(role, scope, upload), **options)

    def delete(
        self, path: str, role: Role, *, scope: str = WORKSPACE_SCOPE, **options: Any
    ) -> Callable[[Endpoint], Endpoint]:
        return self.route("DELETE", path, Access(role, scope), **options)

    def route(self, method: str, path: str, access: Access, **options: Any) -> Callable[[Endpoint], Endpoint]:
        """Declare ``method path`` with its rule; ``options`` are FastAPI's (``response_model``, ``status_code``…)."""

        def declare(endpoint: Endpoint) -> Endpoint:
            self.declared.append(_Declared(method, path, endpoint, access, options))
            return endpoint

        return declare

    def install(self, app: FastAPI) -> None:
        for declared in self.declared:
            options = dict(declared.options)
            responses = {**self.responses, **options.pop("responses", {})}
            extra = {
                **options.pop("openapi_extra", {}),
                ACCESS_KEY: declared.access.to_openapi(),
                "security": [{BEARER: []}],
            }
            app.router.add_api_route(
                API_PREFIX + declared.path,
                declared.endpoint,
                methods=[declared.method],
                tags=[self.tag],
                responses=responses,
                openapi_extra=extra,
                route_class_override=GuardedRoute,
                **options,
            )


def unguarded_routes(app: FastAPI) -> list[str]:
    """The routes of ``app`` that are not :class:`GuardedRoute` (``METHOD path``, or the route's name)."""
    found = []
    for route in app.routes:
        if not isinstance(route, GuardedRoute):
            methods = ",".join(sorted(getattr(route, "methods", None) or []))
            found.append(f"{methods} {getattr(route, 'path', type(route).__name__)}".strip())
    return found
