"""Tracking over HTTP: experiments, runs, batched metric points, params, tags and artifacts.

A client in another process logs to a run by its id, as :class:`~driftloop.tracking.ActiveRun` does in-process:
``POST /runs`` creates it, ``POST /runs/{id}/metrics`` appends any number of points in one write, ``PATCH
/runs/{id}`` ends it. Reading needs ``viewer``, writing ``editor``, on the workspace.
"""

from __future__ import annotations

import math
import time
from typing import Annotated, Any, Literal, NotRequired

import numpy as np
import numpy.typing as npt
from fastapi import Query, Request, Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool
from typing_extensions import TypedDict  # pydantic reads typing's TypedDict only from Python 3.12 on

from driftloop.entities import (
    Artifact,
    DatasetInput,
    Experiment,
    MetricPoint,
    Resources,
    Role,
    Run,
    RunEnvironment,
)
from driftloop.errors import InvalidInput
from driftloop.names import validate_key
from driftloop.server._access import Routes
from driftloop.server._bodies import spooled
from driftloop.server._http import BINARY_BODY, ERROR_RESPONSES, as_json_data, attachment, json_response
from driftloop.server._services import ServicesDependency

__all__ = ["routes"]

routes = Routes("tracking", responses=ERROR_RESPONSES)

MAX_ARTIFACT_PATH = 1024
MAX_FILE_NAME_BYTES = 255
NonFinite = Literal["NaN", "Infinity", "-Infinity"]
"""How JSON, which has no such numbers, carries a metric's NaN or infinity (as proto3's JSON mapping does)."""
ParamValue = str | bool | int | float
"""A param's or a tag's value as JSON sends it; stored as text, as ``str(value)`` renders it in Python."""


class NewExperiment(BaseModel):
    name: str
    description: str = ""


class NewRun(BaseModel):
    experiment: str = "default"
    name: str | None = None
    parent_id: str | None = None
    tags: dict[str, ParamValue] = {}
    params: dict[str, ParamValue] = {}
    environment: RunEnvironment | None = Field(
        None, description="Where the run's code runs (the client's); left out, it is recorded empty."
    )


class RunSearch(BaseModel):
    experiments: list[str | int] | None = Field(None, description="Names or ids; all experiments when left out.")
    filter: str | None = Field(None, examples=["metrics.rmse < 3 and params.model = 'lgbm'"])
    order_by: list[str] = Field([], examples=[["metrics.rmse", "start_time DESC"]])
    limit: int | None = Field(1000, ge=0)
    offset: int = Field(0, ge=0)
    include_deleted: bool = False


class RunEndDetails(TypedDict, total=False):
    metric_points: Annotated[int, Field(ge=0)]
    metric_keys: Annotated[int, Field(ge=0)]
    unwritten_points: Annotated[int, Field(ge=0)]


class RunEnd(BaseModel):
    status: Literal["finished", "failed", "killed"] = Field(description="The run ends with this status.")
    resources: Resources | None = Field(None, description="What the run cost where it ran (the client's measure).")
    details: RunEndDetails = Field(default_factory=lambda: RunEndDetails(), description="Kept in the audit log.")


class RunCount(BaseModel):
    experiments: list[str | int] | None = Field(None, description="Names or ids; all experiments when left out.")
    include_deleted: bool = False


class Inputs(BaseModel):
    inputs: list[DatasetInput] = Field(max_length=10_000)


# A typed dict, not a model: pydantic checks a batch of 50,000 points about six times faster (40 against 250 ms).
class Point(TypedDict):
    """One metric point of a batch."""

    key: str
    value: Annotated[float, Field(description="Any float; NaN and infinities are kept as logged.")]
    step: Annotated[int, Field(ge=-(2**63), le=2**63 - 1)]
    timestamp: NotRequired[
        Annotated[
            float | None,
            Field(allow_inf_nan=False, description="Seconds since the epoch; left out, when the server received it."),
        ]
    ]


class MetricBatch(BaseModel):
    points: list[Point]


class Logged(BaseModel):
    logged: int


class Counted(BaseModel):
    runs: int


class MetricHistoryBody(BaseModel):
    run_id: str
    key: str
    steps: list[int]
    timestamps: list[float]
    values: list[float | NonFinite] = Field(description="Each value; a NaN or an infinity by its name.")


class Params(BaseModel):
    params: dict[str, ParamValue]


class Tags(BaseModel):
    tags: dict[str, ParamValue]


# -- experiments ---------------------------------------------------------------------------------------


@routes.get("/experiments", Role.VIEWER, response_model=list[Experiment])
def list_experiments(services: ServicesDependency, include_deleted: bool = False) -> Response:
    """Every experiment, by name."""
    return json_response(services.tracking.list_experiments(include_deleted=include_deleted))


@routes.post("/experiments", Role.EDITOR, response_model=Experiment, status_code=201)
def create_experiment(body: NewExperiment, services: ServicesDependency) -> Response:
    """Create an experiment (409 when the name is taken)."""
    return json_response(services.tracking.create_experiment(body.name, description=body.description), 201)


@routes.get("/experiments/{experiment}", Role.VIEWER, response_model=Experiment)
def get_experiment(experiment: str, services: ServicesDependency) -> Response:
    """An experiment by name, or by id when the name is a whole number that no experiment bears."""
    return json_response(services.tracking.get_experiment(experiment))


@routes.delete("/experiments/{experiment}", Role.EDITOR, response_model=Experiment)
def delete_experiment(experiment: str, services: ServicesDependency) -> Response:
    """Soft-delete an experiment with its runs, until restored or purged."""
    return json_response(services.tracking.delete_experiment(experiment))


@routes.post("/experiments/{experiment}/restore", Role.EDITOR, response_model=Experiment)
def restore_experiment(experiment: str, services: ServicesDependency) -> Response:
    return json_response(services.tracking.restore_experiment(experiment))


# -- runs ----------------------------------------------------------------------------------------------


@routes.post("/runs", Role.EDITOR, response_model=Run, status_code=201)
def create_run(body: NewRun, services: ServicesDependency) -> Response:
    """Start a run in an experiment (created on first use), logged to by id until ``PATCH`` ends it."""
    run = services.tracking.create_run(
        body.experiment,
        name=body.name,
        parent=body.parent_id,
        tags=body.tags,
        params=body.params,
        environment=body.environment or RunEnvironment(),
    )
    return json_response(run, 201)


@routes.post("/runs/search", Role.VIEWER, response_model=list[Run])
def search_runs(body: RunSearch, services: ServicesDependency) -> Response:
    """Runs matching a filter of driftloop's search language, newest first unless ordered."""
    found = services.tracking.search_runs(
        body.experiments,
        filter=body.filter,
        order_by=body.order_by,
        limit=body.limit,
        offset=body.offset,
        include_deleted=body.include_deleted,
    )
    return json_response([run_body(run) for run in found])


@routes.post("/runs/count", Role.VIEWER, response_model=Counted)
def count_runs(body: RunCount, services: ServicesDependency) -> Response:
    """How many runs some experiments (or the workspace) hold."""
    experiments = body.experiments
    counted = services.tracking.count_runs(experiments, include_deleted=body.include_deleted)
    return json_response({"runs": counted})


@routes.get("/runs/{run_id}", Role.VIEWER, response_model=Run)
def get_run(run_id: str, services: ServicesDependency) -> Response:
    return json_response(run_body(services.tracking.get_run(run_id)))


@routes.patch("/runs/{run_id}", Role.EDITOR, response_model=Run)
def end_run(run_id: str, body: RunEnd, services: ServicesDependency) -> Response:
    """End a running run with a status, and what it cost where it ran (409 when it has ended already)."""
    ended = services.tracking.end_run(
        run_id, body.status, resources=body.resources or Resources(), details=dict(body.details)
    )
    return json_response(run_body(ended))


@routes.delete("/runs/{run_id}", Role.EDITOR, status_code=204)
def delete_run(run_id: str, services: ServicesDependency) -> Response:
    """Soft-delete a run: hidden from searches until restored, removed for good by garbage collection."""
    services.tracking.delete_run(run_id)
    return Response(status_code=204)


@routes.post("/runs/{run_id}/restore", Role.EDITOR, status_code=204)
def restore_run(run_id: str, services: ServicesDependency) -> Response:
    services.tracking.restore_run(run_id)
    return Response(status_code=204)


@routes.post("/runs/{run_id}/inputs", Role.EDITOR, status_code=204)
def log_inputs(run_id: str, body: Inputs, services: ServicesDependency) -> Response:
    """Record the dataset versions a run read."""
    services.tracking.log_inputs(run_id, body.inputs)
    return Response(status_code=204)


@routes.post("/runs/{run_id}/metrics", Role.EDITOR, response_model=Logged)
def log_metrics(run_id: str, body: MetricBatch, services: ServicesDependency) -> Response:
    """Append a batch of metric points to a running run, in one write: all of them or, on an error, none."""
    received = time.time()
    points = [
        MetricPoint(point["key"], point["value"], point["step"], _timestamp(point.get("timestamp"), received))
        for point in body.points
    ]
    return json_response({"logged": services.tracking.log_metrics(run_id, points)})


@routes.get("/runs/{run_id}/metrics/{key:path}", Role.VIEWER, response_model=MetricHistoryBody)
def metric_history(run_id: str, key: str, services: ServicesDependency) -> Response:
    """Every point of one metric, as columns ordered by step."""
    history = services.tracking.metric_history(run_id, key)
    return json_response(
        {
            "run_id": history.run_id,
            "key": history.key,
            "steps": history.steps,
            "timestamps": history.timestamps,
            "values": _named_non_finite(history.values),
        }
    )


@routes.post("/runs/{run_id}/params", Role.EDITOR, status_code=204)
def log_params(run_id: str, body: Params, services: ServicesDependency) -> Response:
    """Record params of a running run; a key logged again must keep its value (409 otherwise)."""
    services.tracking.log_params(run_id, body.params)
    return Response(status_code=204)


@routes.post("/runs/{run_id}/tags", Role.EDITOR, status_code=204)
def set_tags(run_id: str, body: Tags, services: ServicesDependency) -> Response:
    """Set tags of a run, running or ended (a tag may be overwritten)."""
    services.tracking.set_tags(run_id, body.tags)
    return Response(status_code=204)


# -- artifacts -----------------------------------------------------------------------------------------


@routes.get("/runs/{run_id}/artifacts", Role.VIEWER, response_model=list[Artifact])
def list_artifacts(
    run_id: str, services: ServicesDependency, prefix: Annotated[str, Query(max_length=MAX_ARTIFACT_PATH)] = ""
) -> Response:
    return json_response(services.tracking.list_artifacts(run_id, prefix))


@routes.put(
    "/runs/{run_id}/artifacts/{path:path}",
    Role.EDITOR,
    upload=True,
    response_model=Artifact,
    status_code=201,
    openapi_extra={"requestBody": BINARY_BODY},
)
async def upload_artifact(run_id: str, path: str, request: Request, services: ServicesDependency) -> Response:
    """Store the body as the artifact ``path`` of a run (413 past the server's upload limit)."""
    path = validate_key("artifact", path, max_length=MAX_ARTIFACT_PATH)
    await run_in_threadpool(services.tracking.get_run, run_id)  # 404 before the body is read
    folder, _, filename = path.rpartition("/")
    if len(filename.encode()) > MAX_FILE_NAME_BYTES:  # the upload is spooled to a file of this name
        raise InvalidInput(
            f"The last part of an artifact's path is at most {MAX_FILE_NAME_BYTES} bytes long; got {filename[:40]!r}…."
        )
    async with spooled(request, request.app.state.gate.max_upload_bytes, filename) as file:
        stored = await run_in_threadpool(services.tracking.log_artifact, run_id, file, folder or None)
    return json_response(stored[0], 201)


@routes.get(
    "/runs/{run_id}/artifacts/{path:path}",
    Role.VIEWER,
    response_class=Response,
    responses={200: {"content": {"application/octet-stream": {}}, "description": "The artifact's bytes."}},
)
def download_artifact(run_id: str, path: str, services: ServicesDependency) -> Response:
    """The bytes of one artifact, checked against their digest."""
    data = services.tracking.read_artifact(run_id, path)
    return Response(data, media_type="application/octet-stream", headers=attachment(path.rpartition("/")[2]))


def run_body(run: Run) -> Run | dict[str, Any]:
    """``run`` as its JSON body: a metric summary's NaN or infinity by its name (JSON has no such numbers)."""
    if all(
        math.isfinite(summary.last_value + summary.min_value + summary.max_value) for summary in run.metrics.values()
    ):
        return run
    body = as_json_data(run)
    for key, summary in run.metrics.items():
        for field in ("last_value", "min_value", "max_value"):
            body["metrics"][key][field] = _name_of(getattr(summary, field))
    return body  # type: ignore[no-any-return]


def _named_non_finite(values: npt.NDArray[np.float64]) -> npt.NDArray[np.float64] | list[float | str]:
    if bool(np.isfinite(values).all()):
        return values
    return [_name_of(value) for value in values.tolist()]


def _name_of(value: float) -> float | str:
    if math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _timestamp(given: float | None, received: float) -> float:
    """A point's timestamp: as given (0.0 included), else when the batch arrived."""
    return received if given is None else given
