"""The model registry over HTTP: models, versions, their manifests, and aliases with their history.

A model's routes need their role on ``model:<name>`` (a workspace role, or a grant on that model): ``viewer`` to
read, ``editor`` to register (a client packages the model, uploads its files, then registers the manifest, which
the server signs; a River model, whose state is a pickle, needs ``admin``), ``deployer`` to promote, roll back,
move or remove an alias and to change the model's traffic (canary share, shadow). Every move and change is an event
naming the caller, the reason and the evidence.
"""

from __future__ import annotations

import io
import json
from datetime import datetime
from typing import Annotated, Any, Literal

import pandas as pd
import pyarrow.parquet as pq
from fastapi import Path, Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from driftloop.entities import (
    WORKSPACE_SCOPE,
    AliasMove,
    ModelTraffic,
    ModelVersionInfo,
    RegisteredModel,
    Role,
    TrafficPolicy,
)
from driftloop.errors import InvalidInput, PermissionDenied
from driftloop.names import validate_name
from driftloop.server._access import Routes
from driftloop.server._bodies import spooled, store_upload
from driftloop.server._http import BINARY_BODY, ERROR_RESPONSES, JSON, json_response
from driftloop.server._services import Services, ServicesDependency

__all__ = ["routes"]

routes = Routes("models", responses=ERROR_RESPONSES)

MODEL = "model:{name}"
VersionNumber = Annotated[int, Path(ge=1, le=2**31 - 1)]
DIGEST = r"^[0-9a-f]{64}$"
Digest = Annotated[str, Path(pattern=DIGEST, description="The SHA-256 of the file's bytes, in hex.")]
PARQUET = "application/vnd.apache.parquet"


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


class Traffic(BaseModel):
    canary: float = Field(0.0, ge=0, le=1, description="The share of requests the challenger answers.")
    shadow: bool = Field(False, description="Whether the challenger also scores a copy of every request, logged only.")
    challenger: str = Field("challenger", max_length=256, description="The alias of the challenger.")


class TrafficChange(Traffic):
    reason: str = Field("", max_length=4096)
    expected: Traffic | None = Field(
        None, description="The policy the caller believes is set now: 409 when someone changed it since."
    )


@routes.get("/models/{name}/traffic", Role.VIEWER, scope=MODEL, response_model=ModelTraffic)
def traffic(name: str, services: ServicesDependency) -> Response:
    """The model's traffic policy, which its servers follow (everything to the champion while none was set)."""
    return json_response(services.models.traffic(validate_name("model", name)))


@routes.put("/models/{name}/traffic", Role.DEPLOYER, scope=MODEL, response_model=ModelTraffic)
def set_traffic(name: str, body: TrafficChange, services: ServicesDependency) -> Response:
    """Set the share of requests the challenger answers and whether it shadows the champion; every server of the
    model follows within its poll interval, unless it was started with a traffic policy of its own."""
    expected = None if body.expected is None else TrafficPolicy(**body.expected.model_dump())
    changed = services.models.set_traffic(
        validate_name("model", name),
        canary=body.canary,
        shadow=body.shadow,
        challenger=validate_name("alias", body.challenger),
        reason=body.reason,
        expected=expected,
    )
    return json_response(changed)


# -- files, holdouts, gates and promotion ----------------------------------------------------------------


class Promotion(BaseModel):
    alias: str = Field("champion", max_length=256)
    reason: str = Field("", max_length=4096)
    gates: list[str | dict[str, Any]] | None = Field(
        None, description="Gates to check first; those recorded at registration when left out."
    )
    evidence: dict[str, Any] = Field({}, description="Facts behind the move, kept with it in the audit log.")


class GateCheck(BaseModel):
    gates: list[str | dict[str, Any]] | None = Field(None, description="Those recorded at registration when left out.")
    against: str = Field("champion", max_length=256, description="The alias of the version a champion gate beats.")


class Rollback(BaseModel):
    reason: str = Field("", max_length=4096)


class NewVersion(BaseModel):
    """A model packaged by the client, whose files were uploaded first (``PUT /models/{name}/files/{digest}``)."""

    manifest: dict[str, Any] = Field(description="The model's manifest, unsigned: the server signs it.")
    signature: dict[str, Any] | None = None
    dataset: str | None = Field(None, max_length=256)
    dataset_version: int | None = Field(None, ge=0, le=2**31 - 1)
    run_id: str | None = Field(None, max_length=64)
    task: Literal["binary", "multiclass", "regression"] | None = None
    target: str | None = Field(None, max_length=256)
    holdout: str | None = Field(None, pattern=DIGEST, description="The digest of the holdout rows' Parquet file.")
    training_data: str | None = Field(None, pattern=DIGEST, description="The digest of the training rows' Parquet.")
    metrics: dict[str, float] = {}
    gates: list[str | dict[str, Any]] | None = None
    description: str = Field("", max_length=65_535)
    evaluation: dict[str, Any] = {}


@routes.put(
    "/models/{name}/files/{digest}",
    Role.EDITOR,
    scope=MODEL,
    upload=True,
    status_code=204,
    openapi_extra={"requestBody": BINARY_BODY},
)
async def upload_file(name: str, digest: Digest, request: Request, services: ServicesDependency) -> Response:
    """Store a file of a model about to be registered (a part, its holdout), under the SHA-256 of its bytes."""
    validate_name("model", name)
    await store_upload(request, services.blobs, request.app.state.gate.max_upload_bytes, digest)
    return Response(status_code=204)


@routes.post("/models/{name}/versions", Role.EDITOR, scope=MODEL, response_model=ModelVersionInfo, status_code=201)
def register(name: str, body: NewVersion, services: ServicesDependency) -> Response:
    """Register a model packaged by the client as the next version, after its gates pass (409 when one fails)."""
    from driftloop.registry import Manifest, Signature

    manifest = Manifest.from_json(json.dumps({**body.manifest, "signature": ""}))
    if manifest.flavour == "river":
        try:
            services.require(Role.ADMIN, WORKSPACE_SCOPE)
        except PermissionDenied as error:
            raise PermissionDenied(
                f"{error.message} A River model's state is a pickle, which runs code where it loads (here, as its "
                "gates score it): registering one through the server needs the admin role."
            ) from None
    dataset: str | tuple[str, int] | None = body.dataset
    if body.dataset is not None:
        # The version records the dataset's lineage and takes its schema: reading it needs its own grant.
        services.require(Role.VIEWER, f"dataset:{validate_name('dataset', body.dataset)}")
        if body.dataset_version is not None:
            dataset = (body.dataset, body.dataset_version)
    info = services.models.register(
        validate_name("model", name),
        manifest,
        signature=None if body.signature is None else Signature.from_dict(body.signature),
        dataset=dataset,
        run=body.run_id,
        task=body.task,
        target=body.target,
        holdout=None if body.holdout is None else _frame(services, body.holdout),
        training_data=None if body.training_data is None else _frame(services, body.training_data),
        metrics=body.metrics,
        gates=body.gates,
        description=body.description,
        evaluation=body.evaluation,
        adopt_pickle=manifest.flavour == "river",
    )
    return json_response(info, 201)


@routes.get(
    "/models/{name}/versions/{version}/files/{part}",
    Role.VIEWER,
    scope=MODEL,
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The file's bytes."}},
)
def download_part(name: str, version: VersionNumber, part: str, services: ServicesDependency) -> Response:
    """One file of a version (a part its manifest names), checked against its digest."""
    data = services.models.part(f"{validate_name('model', name)}/{version}", part)
    return Response(data, media_type="application/octet-stream")


@routes.get(
    "/models/{name}/versions/{version}/holdout",
    Role.VIEWER,
    scope=MODEL,
    response_class=Response,
    responses={200: {"content": {PARQUET: {}}, "description": "The holdout rows, as a Parquet file."}},
)
def holdout(name: str, version: VersionNumber, services: ServicesDependency) -> Response:
    """The rows the version was scored on at registration, with the target column (404 when it had none)."""
    frame = services.models.holdout(f"{validate_name('model', name)}/{version}")
    sink = io.BytesIO()
    frame.to_parquet(sink, index=False)
    return Response(sink.getvalue(), media_type=PARQUET)


@routes.post("/models/{name}/versions/{version}/gates", Role.VIEWER, scope=MODEL, response_model=dict[str, Any] | None)
def check_gates(name: str, version: VersionNumber, body: GateCheck, services: ServicesDependency) -> Response:
    """Check a version's gates (given, or recorded at registration) without moving anything; null when it has none."""
    report = services.models.check_gates(
        f"{validate_name('model', name)}/{version}", gates=body.gates, against=validate_name("alias", body.against)
    )
    return json_response(None if report is None else report.to_dict())


@routes.post("/models/{name}/versions/{version}/promote", Role.DEPLOYER, scope=MODEL, response_model=AliasMove)
def promote(name: str, version: VersionNumber, body: Promotion, services: ServicesDependency) -> Response:
    """Point an alias (champion by default) at the version once its gates pass (409 with every number when one
    fails)."""
    move = services.models.promote(
        f"{validate_name('model', name)}/{version}",
        alias=validate_name("alias", body.alias),
        reason=body.reason,
        gates=body.gates,
        evidence=body.evidence,
    )
    return json_response(move)


@routes.post("/models/{name}/aliases/{alias}/rollback", Role.DEPLOYER, scope=MODEL, response_model=AliasMove)
def rollback(name: str, alias: str, body: Rollback, services: ServicesDependency) -> Response:
    """Point an alias back at the version it held before its current one (409 when there is none)."""
    move = services.models.rollback(
        validate_name("model", name), alias=validate_name("alias", alias), reason=body.reason
    )
    return json_response(move)


@routes.get(
    "/models/{name}/versions/{version}/compare/{other}", Role.VIEWER, scope=MODEL, response_model=dict[str, Any]
)
def compare(name: str, version: VersionNumber, other: VersionNumber, services: ServicesDependency) -> Response:
    """Score two versions of the model on the first one's holdout, on identical rows."""
    model = validate_name("model", name)
    return json_response(services.models.compare(f"{model}/{version}", f"{model}/{other}"))


def _frame(services: Services, digest: str) -> pd.DataFrame:
    frame: pd.DataFrame = pq.read_table(io.BytesIO(services.blobs.get(digest))).to_pandas()
    return frame


@routes.post(
    "/models/{name}/predictions",
    Role.EDITOR,
    scope=MODEL,
    upload=True,
    response_model=dict[str, int],
    openapi_extra={"requestBody": BINARY_BODY},
)
async def log_predictions(name: str, request: Request, services: ServicesDependency) -> Response:
    """Append a batch scoring's rows to the prediction log (``driftloop predict --log`` through the server): an Arrow
    IPC stream of prediction records (whatever the Content-Type says), committed all at once or not at all, so
    labels that arrive later join them by request id. Each row must be the model's, by a registered version, scored
    by a batch (``served_by`` and ``protocol`` are ``batch``), with a request id; 400 otherwise, and nothing is
    logged."""
    from driftloop.serving._batch import log_batch_rows

    name = validate_name("model", name)
    services.models.model(name)  # 404 before the body is read
    async with spooled(request, request.app.state.gate.max_upload_bytes, "predictions.arrows") as file:
        with file.open("rb") as stream:
            rows = await run_in_threadpool(log_batch_rows, services.workspace, name, stream)
    return json_response({"rows": rows})


# -- monitoring --------------------------------------------------------------------------------------------------


Alias = Annotated[str | None, Query(max_length=256, description="The version an alias names (champion).")]
Version = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="A version, instead of an alias.")]
Last = Annotated[int | None, Query(ge=1, le=10_000_000, description="The window: the latest N predictions.")]
Since = Annotated[datetime | None, Query(description="The window: predictions since (ISO 8601, zoned).")]
Multivariate = Annotated[bool, Query(description="Also test the joint distribution.")]


@routes.get("/models/{name}/drift", Role.VIEWER, scope=MODEL, response_model=dict[str, Any])
def live_drift(
    name: str,
    services: ServicesDependency,
    alias: Alias = None,
    version: Version = None,
    last: Last = 1000,
    since: Since = None,
    multivariate: Multivariate = False,
    against: Literal["profile", "holdout"] = "profile",
) -> Response:
    """Compare the latest logged traffic of a served model with its version's training profile (or holdout's rows):
    drift per feature and of the prediction, the window's data quality and estimated performance, as
    ``driftloop monitor check`` prints them. 422 when the window holds no prediction."""
    from driftloop.monitoring._live import check_live_drift

    result = check_live_drift(
        services.workspace,
        _served_version(name, alias, version, since),
        last=None if since is not None else last,
        since=since,
        multivariate=multivariate,
        against=against,
    )
    return json_response(result.to_dict())


@routes.get(
    "/models/{name}/report",
    Role.VIEWER,
    scope=MODEL,
    response_class=Response,
    responses={200: {"content": {"text/html": {}, JSON: {}}, "description": "The page, or its data."}},
)
def live_report(
    name: str,
    services: ServicesDependency,
    alias: Alias = None,
    version: Version = None,
    last: Last = 1000,
    since: Since = None,
    multivariate: Multivariate = False,
    slices: Annotated[int, Query(ge=1, le=100, description="Drift over time: the window cut into slices.")] = 4,
    format: Annotated[
        Literal["html", "json", "both"],
        Query(description="The page, its data, or both from one run (the data with the page under 'html')."),
    ] = "html",
) -> Response:
    """The drift report of a served model's latest traffic against its version's holdout, as ``driftloop monitor
    report --model`` writes it: a self-contained page (it opens offline), its data as JSON, or both. Drift over time
    draws the monitor's recorded passes when there are two or more, else the window cut into ``slices``. 422 when
    the window holds no prediction."""
    from driftloop.monitoring._live_report import live_report

    made = live_report(
        services.workspace,
        _served_version(name, alias, version, since),
        last=None if since is not None else last,
        since=since,
        multivariate=multivariate,
        slices=slices,
    )
    if format == "json":
        return json_response(made.to_dict())
    if format == "both":
        return json_response({**made.to_dict(), "html": made.html()})
    return Response(made.html(), media_type="text/html; charset=utf-8")


def _served_version(name: str, alias: str | None, version: int | None, since: datetime | None) -> str:
    """The reference of the version a monitoring route names (``?alias=`` or ``?version=``; the champion)."""
    name = validate_name("model", name)
    if alias is not None and version is not None:
        raise InvalidInput("Name the version by ?alias= or by ?version=, not both.")
    if since is not None and since.tzinfo is None:
        raise InvalidInput(f"?since= needs a time zone (2026-11-28T10:00:00Z); got {since.isoformat()}.")
    if version is not None:
        return f"{name}/{version}"
    return f"{name}@{validate_name('alias', alias or 'champion')}"
