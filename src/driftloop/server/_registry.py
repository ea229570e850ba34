"""The model registry over HTTP: models, versions, their manifests, and aliases with their history.

A model's routes need their role on ``model:<name>`` (a workspace role, or a grant on that model): ``viewer`` to
read, ``deployer`` to move or remove an alias. Every move is an event naming the caller, the reason and the evidence.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path, Query, Response
from pydantic import BaseModel, Field

from driftloop.entities import AliasMove, ModelVersionInfo, RegisteredModel, Role
from driftloop.names import validate_name
from driftloop.server._access import Routes
from driftloop.server._http import ERROR_RESPONSES, JSON, json_response
from driftloop.server._services import ServicesDependency

__all__ = ["routes"]

routes = Routes("models", responses=ERROR_RESPONSES)

MODEL = "model:{name}"
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]


class AliasTarget(BaseModel):
    version: int = Field(ge=1, le=2**31 - 1, description="The version the alias points at from now on.")
    reason: str = Field("", max_length=4096)
    evidence: dict[str, Any] = Field({}, description="Facts behind the move, kept with it in the audit log.")


@routes.get("/models", Role.VIEWER, response_model=list[RegisteredModel])
def list_models(services: ServicesDependency) -> Response:
    return json_response(services.models.list())


@routes.get("/models/{name}", Role.VIEWER, scope=MODEL, response_model=RegisteredModel)
def get_model(name: str, services: ServicesDependency) -> Response:
    """A registered model with its latest version and its aliases."""
    return json_response(services.models.model(validate_name("model", name)))


@routes.get("/models/{name}/versions", Role.VIEWER, scope=MODEL, response_model=list[ModelVersionInfo])
def list_versions(name: str, services: ServicesDependency) -> Response:
    return json_response(services.models.versions(validate_name("model", name)))


@routes.get("/models/{name}/versions/{version}", Role.VIEWER, scope=MODEL, response_model=ModelVersionInfo)
def get_version(name: str, version: VersionNumber, services: ServicesDependency) -> Response:
    return json_response(services.models.get(f"{validate_name('model', name)}/{version}"))


@routes.get(
    "/models/{name}/versions/{version}/manifest",
    Role.VIEWER,
    scope=MODEL,
    response_class=Response,
    responses={200: {"content": {JSON: {}}, "description": "The manifest: the model's files and their digests."}},
)
def manifest(name: str, version: VersionNumber, services: ServicesDependency) -> Response:
    """The version's manifest: its files (parts) with their SHA-256 digests, the flavour and the ONNX check."""
    info = services.models.get(f"{validate_name('model', name)}/{version}")
    return Response(services.models.manifest(info).to_json(), media_type=JSON)


@routes.get("/models/{name}/aliases", Role.VIEWER, scope=MODEL, response_model=list[AliasMove])
def alias_history(
    name: str, services: ServicesDependency, alias: Annotated[str | None, Query(max_length=256)] = None
) -> Response:
    """Every move of the model's aliases (or of one), oldest first."""
    if alias is not None:
        alias = validate_name("alias", alias)
    return json_response(services.models.history(validate_name("model", name), alias))


@routes.get("/models/{name}/aliases/{alias}", Role.VIEWER, scope=MODEL, response_model=ModelVersionInfo)
def alias_version(name: str, alias: str, services: ServicesDependency) -> Response:
    """The version an alias points at."""
    return json_response(services.models.get(f"{validate_name('model', name)}@{validate_name('alias', alias)}"))


@routes.put("/models/{name}/aliases/{alias}", Role.DEPLOYER, scope=MODEL, response_model=AliasMove)
def set_alias(name: str, alias: str, body: AliasTarget, services: ServicesDependency) -> Response:
    """Point an alias at a version, recording who moved it, why and on what evidence."""
    move = services.models.set_alias(
        validate_name("model", name), alias, body.version, reason=body.reason, evidence=body.evidence
    )
    return json_response(move)


@routes.delete("/models/{name}/aliases/{alias}", Role.DEPLOYER, scope=MODEL, response_model=AliasMove)
def delete_alias(
    name: str, alias: str, services: ServicesDependency, reason: Annotated[str, Query(max_length=4096)] = ""
) -> Response:
    """Remove an alias (404 when it is not set)."""
    move = services.models.delete_alias(validate_name("model", name), validate_name("alias", alias), reason=reason)
    return json_response(move)
