"""Users, tokens, grants and garbage collection over HTTP: every route needs ``admin`` on the workspace.

A token is answered once, when it is created (``token``, with ``Cache-Control: no-store``); afterwards only its
record is listed, never the secret. Each change is an event naming the admin who made it.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Path, Query, Response
from pydantic import BaseModel, Field

from driftloop.entities import Role, TokenStatus
from driftloop.server._access import Routes
from driftloop.server._http import ERROR_RESPONSES, json_response
from driftloop.server._services import ServicesDependency

__all__ = ["routes"]

routes = Routes("admin", responses=ERROR_RESPONSES)

Scope = Annotated[str, Path(max_length=300, description="workspace, dataset:<name> or model:<name>.")]


class UserInfo(BaseModel):
    name: str
    kind: Literal["user", "service"]
    created_at: float
    created_by: str
    disabled: bool
    disabled_at: float | None


class TokenInfo(BaseModel):
    id: str
    user: str
    prefix: str = Field(description="How the token begins: no secret, it tells which token a holder has.")
    status: TokenStatus
    created_at: float
    created_by: str
    expires_at: float | None
    revoked_at: float | None
    revoked_by: str | None
    last_used_at: float | None


class NewToken(TokenInfo):
    token: str = Field(description="The token itself, shown this once: only its digest is kept.")


class GrantInfo(BaseModel):
    user: str
    role: Role
    scope: str
    granted_at: float
    granted_by: str


class NewUser(BaseModel):
    name: str
    kind: Literal["user", "service"] = "user"
    role: Role | None = Field(None, description="A role on the workspace, granted with the user.")


class TokenRequest(BaseModel):
    expires_in: float | None = Field(None, gt=0, allow_inf_nan=False, description="Seconds; none: until revoked.")


class RoleGrant(BaseModel):
    role: Role


@routes.get("/users", Role.ADMIN, response_model=list[UserInfo])
def list_users(services: ServicesDependency) -> Response:
    return json_response([user.to_dict() for user in services.metadata.identities.list_users()])


@routes.post("/users", Role.ADMIN, response_model=UserInfo, status_code=201)
def create_user(body: NewUser, services: ServicesDependency) -> Response:
    """Create a user or a service account (409 when the name is taken, by a disabled user too)."""
    user = services.metadata.identities.create_user(body.name, kind=body.kind, role=body.role, actor=services.actor)
    return json_response(user.to_dict(), 201)


@routes.post("/users/{name}/disable", Role.ADMIN, response_model=UserInfo)
def disable_user(name: str, services: ServicesDependency) -> Response:
    """Refuse the user's tokens from now on; its grants stay for when it is enabled again."""
    return json_response(services.metadata.identities.disable_user(name, actor=services.actor).to_dict())


@routes.post("/users/{name}/enable", Role.ADMIN, response_model=UserInfo)
def enable_user(name: str, services: ServicesDependency) -> Response:
    return json_response(services.metadata.identities.enable_user(name, actor=services.actor).to_dict())


@routes.post("/users/{name}/tokens", Role.ADMIN, response_model=NewToken, status_code=201)
def create_token(name: str, body: TokenRequest, services: ServicesDependency) -> Response:
    """A new token of the user, answered this once (409 when the user is disabled)."""
    token, secret = services.metadata.identities.create_token(name, body.expires_in, actor=services.actor)
    answer: dict[str, Any] = {**token.to_dict(), "token": secret}
    return json_response(answer, 201, headers={"Cache-Control": "no-store"})


@routes.get("/tokens", Role.ADMIN, response_model=list[TokenInfo])
def list_tokens(services: ServicesDependency, user: Annotated[str | None, Query(max_length=256)] = None) -> Response:
    """Every token (of one user), revoked and expired ones included, oldest first; never a secret."""
    return json_response([token.to_dict() for token in services.metadata.identities.list_tokens(user)])


@routes.delete("/tokens/{token_id}", Role.ADMIN, response_model=TokenInfo)
def revoke_token(token_id: Annotated[str, Path(max_length=64)], services: ServicesDependency) -> Response:
    """Refuse the token from now on; revoking it again changes nothing."""
    return json_response(services.metadata.identities.revoke_token(token_id, actor=services.actor).to_dict())


@routes.get("/grants", Role.ADMIN, response_model=list[GrantInfo])
def list_grants(
    services: ServicesDependency,
    user: Annotated[str | None, Query(max_length=256)] = None,
    scope: Annotated[str | None, Query(max_length=300)] = None,
) -> Response:
    grants = services.metadata.identities.list_grants(user, scope=scope)
    return json_response([grant.to_dict() for grant in grants])


@routes.put("/users/{name}/grants/{scope}", Role.ADMIN, response_model=GrantInfo)
def grant(name: str, scope: Scope, body: RoleGrant, services: ServicesDependency) -> Response:
    """Give the user a role on a scope, replacing the role it held there."""
    return json_response(services.metadata.identities.grant(name, body.role, scope, actor=services.actor).to_dict())


@routes.delete("/users/{name}/grants/{scope}", Role.ADMIN, response_model=GrantInfo)
def revoke_grant(name: str, scope: Scope, services: ServicesDependency) -> Response:
    """Take back the user's role on a scope; answers the grant as it was (404 when it held none)."""
    return json_response(services.metadata.identities.revoke_grant(name, scope, actor=services.actor).to_dict())


# -- housekeeping ----------------------------------------------------------------------------------------


class GarbageCollection(BaseModel):
    grace_period: float = Field(
        3600.0,
        ge=60.0,
        le=3.2e9,
        description="Keep unreferenced blobs younger than this many seconds: a client registering a model or a "
        "dataset uploads its files first, so at least a minute.",
    )
    purge_older_than: float = Field(
        0.0, ge=0.0, le=3.2e9, description="Purge runs and experiments deleted at least this many seconds ago."
    )
    dry_run: bool = Field(False, description="Report what would go; remove nothing.")


class GarbageReportInfo(BaseModel):
    runs_purged: int
    experiments_purged: int
    blobs_removed: int
    bytes_freed: int
    blobs_kept: int
    temporary_files_removed: int
    dry_run: bool


@routes.post("/gc", Role.ADMIN, response_model=GarbageReportInfo)
def collect_garbage(body: GarbageCollection, services: ServicesDependency) -> Response:
    """Purge deleted runs and experiments, then remove the blobs nothing refers to, as ``driftloop gc`` does; the
    collection is an event naming the admin."""
    report = services.workspace.gc(
        grace_period=body.grace_period,
        purge_older_than=body.purge_older_than,
        dry_run=body.dry_run,
        actor=services.actor,
    )
    return json_response({name: getattr(report, name) for name in GarbageReportInfo.model_fields})
