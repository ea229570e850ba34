"""The HTTP server: registered models by alias, in the request formats clients already send.

Routes (every model is reachable by name; ``/invocations`` goes to the default model):

- ours: ``POST /v1/models/{name}/predict``, ``GET /v1/models``; ground truth: ``POST /v1/feedback``, and the label
  queue of active learning, ``GET /v1/labels/pending`` and ``POST /v1/labels``;
- MLflow's scoring server: ``POST /invocations``, ``GET /ping``, ``GET /health``, ``GET /version``;
- the Open Inference Protocol V2 (KServe, MLServer, Triton): ``POST /v2/models/{name}/infer``,
  ``POST /v2/models/{name}/versions/{version}/infer``, ``GET /v2/models/{name}``, ``GET /v2/models/{name}/ready``,
  ``GET /v2/health/live``, ``GET /v2/health/ready``;
- probes: ``GET /healthz`` (the process answers), ``GET /readyz`` (every model is loaded);
- ``GET /metrics`` in Prometheus' format (see :mod:`~driftloop.serving._metrics`); one JSON access-log line
  per request goes to the ``driftloop.access`` logger (in batches, at most 0.2 s late).

The scoring routes are declared to FastAPI (for the OpenAPI document) and dispatched by
:class:`~driftloop.serving._fast_lane.FastLane`, which skips FastAPI's per-request routing.

A request is parsed (:mod:`~driftloop.serving._protocols`), checked against the serving version's signature
(:mod:`~driftloop.serving._input_check`: a missing column or a wrong type is a 422, naming each field; an
unseen category is served and flagged), and scored by the version the alias pointed at when the request
arrived — by its validated ONNX copy on onnxruntime when it has one (:mod:`~driftloop.serving._fast_path`),
else by the native model. Errors answer JSON ``{"error": {"code", "message"}}`` with the status the error's
code maps to.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import inspect
import logging
import math
import os
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import orjson
import pandas as pd
from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

import driftloop
from driftloop.errors import (
    HTTP_STATUS,
    DriftloopError,
    InvalidInput,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from driftloop.registry import LoadedModel, Signature, parse_reference
from driftloop.serving._served_model import AliasWatcher, ModelSlot, ServedModel

if TYPE_CHECKING:
    from driftloop.monitoring import AlertConfig
    from driftloop.serving._labels import LabelStore
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.serving._traffic import TrafficSplit
    from driftloop.workspace import Workspace

__all__ = ["ServerSettings", "create_app"]

log = logging.getLogger("driftloop.serving")
JSON = "application/json"
REQUEST_IDS = "X-Request-Ids"
"""The response header listing the request ids of the rows scored (for ``POST /v1/feedback``)."""
REQUEST_KEY = "X-Request-Key"
"""The request header a canary split is sticky by (e.g. a customer id); the first request id otherwise."""
UPKEEP_LEASE = "serving.log-upkeep"
"""The lease the server process that keeps the prediction log and labels tables holds."""
SCORING_ROUTES = (
    "/invocations",
    "/v1/models/{name}/predict",
    "/v2/models/{name}/infer",
    "/v2/models/{name}/versions/{version}/infer",
)
"""The routes :class:`~driftloop.serving._fast_lane.FastLane` dispatches without FastAPI's routing."""
MAX_PENDING = 1_000
"""The most label requests ``GET /v1/labels/pending`` lists at once."""


# FastAPI's own OpenTelemetry hooks (FastAPI 0.16x) cost a look at the environment per request; the server keeps
# its own metrics and access log.
_NO_TELEMETRY: dict[str, Any] = (
    {"telemetry": {"tracing": False, "metrics": False, "logs": False}}
    if "telemetry" in inspect.signature(FastAPI.__init__).parameters
    else {}
)


@dataclass(frozen=True)
class ServerSettings:
    """What a server serves and how.

    Args:
        models: References to serve: ``"houses"`` (its champion), ``"houses@challenger"``.
        default: The model ``/invocations`` scores (the first one by default).
        max_body_bytes: Larger bodies answer 413.
        poll_interval: Seconds between two looks at the served aliases.
        log_predictions: Append every prediction to the workspace's prediction log (and accept feedback).
        traffic: Canary and shadow policies by model name (:class:`~driftloop.serving._traffic.TrafficPolicy`,
            or mappings such as ``{"houses": {"canary": 0.1}}``).
        upkeep_interval: Seconds between two upkeeps of the prediction log and labels tables (compaction,
            checkpoint, vacuum), run by one server process among all sharing the workspace; 0 for none.
        monitor_interval: Seconds between two monitor passes (drift, quality and estimated performance of each
            served model's latest window, run by one server process among all) and two health records of each
            process; 0 for none (:mod:`driftloop.serving._monitoring`).
        monitor_last: The window a monitor pass checks: the latest this many predictions of each model.
        alerts: Alert rules and channels evaluated over each monitor pass and the server's health: an
            :class:`~driftloop.monitoring.AlertConfig`, or the path of its YAML file (read here, so a bad file
            stops the server before it starts).
        policies: The loop's policy file (YAML): the server runs the loop's controller every ``loop_interval``
            seconds, in one process among all sharing the workspace (the lease ``loop.controller``).
        loop_interval: Seconds between two ticks of the loop's controller.
        out_of_range: ``"flag"`` (the default): a value outside the range of the version's signature is served
            as sent and flagged in the prediction log; ``"missing"``: a nullable numeric column's out-of-range
            value is also scored as missing (a broken feed, such as square feet sent for square metres, then costs
            what a missing value costs; see :class:`~driftloop.serving._input_check.InputChecker`).
    """

    models: Sequence[str]
    default: str | None = None
    max_body_bytes: int = 16 * 1024 * 1024
    poll_interval: float = 1.0
    log_predictions: bool = True
    traffic: Mapping[str, Any] = field(default_factory=dict)
    upkeep_interval: float = 300.0
    monitor_interval: float = 300.0
    monitor_last: int = 1_000
    alerts: AlertConfig | str | os.PathLike[str] | None = None
    policies: str | os.PathLike[str] | None = None
    loop_interval: float = 60.0
    out_of_range: str = "flag"

    def __post_init__(self) -> None:
        from driftloop.serving._input_check import OUT_OF_RANGE

        if isinstance(self.models, str) or not self.models:
            raise InvalidInput("Serve at least one model, e.g. 'houses' or 'houses@champion'.")
        if self.out_of_range not in OUT_OF_RANGE:
            raise InvalidInput(
                f"The 'out_of_range' must be one of {', '.join(OUT_OF_RANGE)}; got {self.out_of_range!r}."
            )
        for name, least in (
            ("upkeep_interval", 0.0),
            ("poll_interval", 0.01),
            ("monitor_interval", 0.0),
            ("loop_interval", 0.01),
        ):
            seconds = getattr(self, name)
            if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not least <= seconds < math.inf:
                raise InvalidInput(f"The {name!r} must be a number of seconds >= {least:g}; got {seconds!r}.")
        if isinstance(self.alerts, str | os.PathLike):
            from driftloop.monitoring import AlertConfig

            object.__setattr__(self, "alerts", AlertConfig.from_yaml(Path(self.alerts)))
        if self.policies is not None:
            from driftloop.loop import load_policies

            load_policies(Path(self.policies))  # a bad file stops the server before it starts
        last = self.monitor_last
        if isinstance(last, bool) or not isinstance(last, int) or last < 1:
            raise InvalidInput(f"The 'monitor_last' must be a whole number of predictions >= 1; got {last!r}.")
        size = self.max_body_bytes
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise InvalidInput(f"The 'max_body_bytes' must be a whole number of bytes >= 1; got {size!r}.")
        served = self.served
        if self.default is not None and parse_reference(self.default).name not in served:
            raise InvalidInput(
                f"The default model {self.default!r} is not one of the served models: {', '.join(served)}."
            )
        from driftloop.serving._traffic import traffic_policies

        for name in traffic_policies(self.traffic):
            if name not in served:
                raise InvalidInput(
                    f"A traffic policy names {name!r}, which is not served; served: {', '.join(served)}."
                )

    @property
    def served(self) -> dict[str, str]:
        """The alias served of each model, by name, in the order given (``champion`` unless named).

        Raises:
            InvalidInput: A model is named by a fixed version, or twice.
        """
        served: dict[str, str] = {}
        for text in self.models:
            reference = parse_reference(text)
            if reference.version is not None:
                raise InvalidInput(
                    f"Serve a model by alias ('{reference.name}@champion'), not a fixed version: {text!r}."
                )
            if reference.name in served:
                raise InvalidInput(f"The model {reference.name!r} is listed twice.")
            served[reference.name] = reference.alias or "champion"
        return served


def _alert_config(settings: ServerSettings) -> AlertConfig | None:
    """The settings' alert configuration (``__post_init__`` read a path into one)."""
    return cast("AlertConfig | None", settings.alerts)


def _checker_maker(settings: ServerSettings) -> Callable[[Signature | None], Any]:
    """What builds a served version's input checker from its signature (None without one)."""
    from driftloop.serving._input_check import InputChecker

    def make_checker(signature: Signature | None) -> Any:
        return None if signature is None else InputChecker(signature, out_of_range=settings.out_of_range)

    return make_checker


def _make_scorer(model: LoadedModel) -> Any:
    from driftloop.serving._fast_path import onnx_scorer

    return onnx_scorer(model)


def create_app(workspace: Workspace, settings: ServerSettings) -> FastAPI:
    """The FastAPI application serving ``settings.models`` from ``workspace``'s registry."""
    from driftloop.serving._metrics import AccessLines, AccessLog, ServingMetrics

    metrics = ServingMetrics()
    access_lines = AccessLines()

    def swapped(old: ModelSlot | None, new: ModelSlot) -> None:
        metrics.load_seconds.labels(new.name, str(new.version)).set(new.load_seconds)

    make_checker = _checker_maker(settings)
    served = {
        name: ServedModel(
            workspace.models, name, alias, make_checker=make_checker, make_scorer=_make_scorer, on_swap=swapped
        )
        for name, alias in settings.served.items()
    }
    from driftloop.serving._traffic import TrafficSplit, traffic_policies

    pinned = traffic_policies(settings.traffic)

    def challenger_maker(name: str) -> Callable[[str], ServedModel]:
        def make(alias: str) -> ServedModel:
            return ServedModel(
                workspace.models, name, alias, make_checker=make_checker, make_scorer=_make_scorer, on_swap=swapped
            )

        return make

    splits = {
        name: TrafficSplit(workspace.models, name, pinned=pinned.get(name), make_challenger=challenger_maker(name))
        for name in served
    }
    default_name = parse_reference(settings.default).name if settings.default else next(iter(served))
    watcher = AliasWatcher([*served.values(), *splits.values()], interval=settings.poll_interval)
    from driftloop.serving._labels import LabelStore
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.store.tables import TableStore

    tables = TableStore(workspace.settings.tables_url)
    # The log commits from a process of its own: its encoding and commits never hold the server's interpreter lock.
    prediction_log = PredictionLog(tables, separate_process=True) if settings.log_predictions else None
    labels = LabelStore(tables) if settings.log_predictions else None
    upkeep = None
    if prediction_log is not None and labels is not None and settings.upkeep_interval > 0:
        from driftloop.execution import LeasedJob

        upkeep = LeasedJob(
            workspace.metadata.leases,
            UPKEEP_LEASE,
            lambda token: _upkeep(prediction_log, labels),
            interval=settings.upkeep_interval,
        )

    monitoring = None
    if settings.monitor_interval > 0:
        from driftloop.serving._monitoring import ServerMonitoring

        monitoring = ServerMonitoring(
            workspace,
            metrics,
            settings.served,
            interval=settings.monitor_interval,
            check_drift=settings.log_predictions,
            last=settings.monitor_last,
            alerts=_alert_config(settings),
        )

    controller = None
    if settings.policies is not None:
        from driftloop.execution import LeasedJob
        from driftloop.loop import load_policies
        from driftloop.loop._controller import CONTROLLER_LEASE, LoopController

        loop = LoopController(
            workspace, load_policies(Path(settings.policies), workspace), alerts=_alert_config(settings)
        )
        controller = LeasedJob(
            workspace.metadata.leases, CONTROLLER_LEASE, lambda token: loop.tick(), interval=settings.loop_interval
        )

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        for model in served.values():
            model.refresh()  # a model that cannot load stops the server from starting
        for split in splits.values():
            split.refresh()  # no challenger yet: the champion takes all traffic meanwhile
        watcher.start()
        if prediction_log is not None:
            prediction_log.start()
        if upkeep is not None:
            upkeep.start()
        if monitoring is not None:
            monitoring.start()
        if controller is not None:
            controller.start()
        # The libraries and models loaded so far live as long as the process: keep them out of the cyclic
        # garbage collector's full passes, which otherwise scan them all and stall requests for tens of ms.
        # (The prediction log's table library too, which its first flush would import after the freeze.)
        import deltalake  # noqa: F401

        gc.freeze()
        try:
            yield
        finally:
            watcher.stop()
            if upkeep is not None:
                upkeep.stop()
            if monitoring is not None:
                monitoring.stop()
            if controller is not None:
                controller.stop()
            access_lines.flush()
            # Everything acknowledged is committed before the process ends (SIGTERM included).
            if prediction_log is not None:
                prediction_log.close()
            if labels is not None:
                labels.close()

    app = FastAPI(title="driftloop serving", version=driftloop.__version__, lifespan=lifespan, **_NO_TELEMETRY)
    app.state.settings = settings
    app.state.served = served
    app.state.traffic = splits
    app.state.metrics = metrics
    app.state.prediction_log = prediction_log
    app.state.labels = labels
    app.state.upkeep = upkeep
    app.state.monitoring = monitoring
    app.state.controller = controller

    def scored(
        request: Request,
        slot: ModelSlot,
        outcome: Outcome,
        *,
        protocol: str,
        started: float,
        request_ids: list[str] | None = None,
        role: str = "champion",
    ) -> list[str]:
        """Count and log a scored request; returns its request ids (generated where the client sent none)."""
        request.state.model, request.state.version = slot.name, slot.version
        metrics.observe_predictions(
            slot.name,
            slot.version,
            outcome.predictions,
            sum(1 for f in outcome.flags if f),
            classifier=slot.model.is_classifier,
        )
        ids = request_ids or new_request_ids(len(outcome.predictions))
        log_rows(slot, outcome, ids, role=role, protocol=protocol, started=started)
        return ids

    def log_rows(
        slot: ModelSlot, outcome: Outcome, ids: list[str], *, role: str, protocol: str, started: float
    ) -> None:
        """Append a scored request's rows to the prediction log (when the server keeps one)."""
        if prediction_log is not None:
            prediction_log.append_request(
                request_ids=ids,
                model=slot.name,
                version=slot.version,
                columns=outcome.columns,
                predictions=outcome.predictions,
                probabilities=outcome.probabilities,
                classes=outcome.classes,
                flags=outcome.flags,
                latency_ms=(time.perf_counter() - started) * 1000,
                served_by=role,
                protocol=protocol,
            )

    @app.exception_handler(DriftloopError)
    async def driftloop_error(request: Request, error: DriftloopError) -> Response:
        status = HTTP_STATUS.get(error.code, 500)
        body: dict[str, Any] = {"code": error.code, "message": error.message}
        fields = getattr(error, "errors", None)
        if fields:
            body["fields"] = [{"column": f.column, "row": f.row, "problem": f.problem} for f in fields]
        return _json({"error": body}, status)

    async def read_body(request: Request) -> bytes:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.max_body_bytes:
            raise PayloadTooLarge(f"The body has {int(declared):,} bytes; the limit is {settings.max_body_bytes:,}.")
        body = await request.body()
        if len(body) > settings.max_body_bytes:
            raise PayloadTooLarge(f"The body has {len(body):,} bytes; the limit is {settings.max_body_bytes:,}.")
        return body

    def model_named(name: str) -> ServedModel:
        model = served.get(name)
        if model is None:
            raise NotFound(f"No model named {name!r} is served here; served: {', '.join(sorted(served))}.")
        return model

    def loaded_versions() -> dict[tuple[str, int | None], LoadedModel]:
        """The versions serving now (champions, canaries, shadows), so checking a label loads none of them again."""
        return {
            (slot.name, slot.version): slot.model
            for model in (*served.values(), *(split.challenger for split in splits.values()))
            if model is not None and model.ready
            for slot in (model.current,)
        }

    def choose(name: str, key: str | None) -> tuple[ModelSlot, str]:
        """The slot answering a request of model ``name``, and its role (champion or canary)."""
        canary = splits[name].canary(key)
        if canary is not None:
            return canary, "canary"
        return served[name].current, "champion"

    def shadow(name: str, role: str, outcome: Outcome, ids: list[str], protocol: str) -> BackgroundTask | None:
        """Score the request again with the challenger after the answer is sent; log it, never return it."""
        slot = splits[name].shadow() if role == "champion" else None
        if slot is None:
            return None

        def run() -> None:
            started = time.perf_counter()
            try:
                mirrored = _score(slot, outcome.columns, len(ids), probabilities=outcome.probabilities is not None)
            except Exception:  # a shadow never hurts the live path: count it and move on
                metrics.requests.labels(slot.name, str(slot.version), "shadow", "error").inc()
                log.exception("shadow scoring by %s/%d failed", slot.name, slot.version)
                return
            metrics.observe_predictions(
                slot.name, slot.version, mirrored.predictions, 0, classifier=slot.model.is_classifier
            )
            log_rows(slot, mirrored, ids, role="shadow", protocol=protocol, started=started)

        return BackgroundTask(run)

    # -- ours ----------------------------------------------------------------------------------------

    @app.post("/v1/models/{name}/predict")
    async def predict(name: str, request: Request) -> Response:
        from driftloop.serving._protocol_native import encode_native, parse_native

        started = time.perf_counter()
        model_named(name)
        parsed = parse_native(await read_body(request), request.headers.get("content-type"))
        key = request.headers.get(REQUEST_KEY) or (parsed.request_ids[0] if parsed.request_ids else None)
        slot, role = choose(name, key)
        outcome = _score(slot, parsed.columns, parsed.rows, probabilities=parsed.probabilities)
        request_ids = scored(
            request, slot, outcome, protocol="native", started=started, request_ids=parsed.request_ids, role=role
        )
        return Response(
            encode_native(
                name,
                slot.version,
                outcome.predictions,
                probabilities=outcome.probabilities,
                classes=outcome.classes,
                request_ids=request_ids,
            ),
            media_type=JSON,
            background=shadow(name, role, outcome, request_ids, "native"),
        )

    @app.get("/v1/models")
    async def list_models() -> Response:
        return _json(
            {
                "models": [
                    {
                        "name": name,
                        "alias": model.alias,
                        "version": model.current.version if model.ready else None,
                        "traffic": _traffic_dict(splits[name]),
                    }
                    for name, model in served.items()
                ],
                "default": default_name,
            }
        )

    # -- MLflow ----------------------------------------------------------------------------------------

    @app.post("/invocations")
    async def invocations(request: Request) -> Response:
        from driftloop.serving._protocol_mlflow import encode_mlflow, parse_mlflow

        started = time.perf_counter()
        parsed = parse_mlflow(await read_body(request), request.headers.get("content-type", JSON))
        slot, role = choose(default_name, request.headers.get(REQUEST_KEY))
        outcome = _score(slot, parsed.columns, parsed.rows, probabilities=False, tensor=parsed.tensor)
        ids = scored(request, slot, outcome, protocol="mlflow", started=started, role=role)
        # MLflow's answer has no place for ids: they travel in a header, for feedback.
        return Response(
            encode_mlflow(outcome.predictions),
            media_type=JSON,
            headers={REQUEST_IDS: ",".join(ids)},
            background=shadow(default_name, role, outcome, ids, "mlflow"),
        )

    @app.get("/ping")
    @app.get("/health")
    async def ping() -> Response:
        return _json({"status": "ok"} if all(m.ready for m in served.values()) else {"status": "loading"})

    @app.get("/version")
    async def version() -> Response:
        return Response(driftloop.__version__, media_type="text/plain")

    # -- Open Inference Protocol V2 ----------------------------------------------------------------------

    @app.get("/v2/health/live")
    async def v2_live() -> Response:
        return _json({"live": True})

    @app.get("/v2/health/ready")
    async def v2_ready() -> Response:
        ready = all(m.ready for m in served.values())
        return _json({"ready": ready}, 200 if ready else 503)

    @app.get("/v2/models/{name}")
    async def v2_metadata(name: str) -> Response:
        from driftloop.serving._protocol_v2 import encode_v2_metadata

        slot = model_named(name).current
        columns = [] if slot.signature is None else [(c.name, c.dtype) for c in slot.signature.inputs.columns]
        return Response(encode_v2_metadata(name, [str(slot.version)], columns), media_type=JSON)

    @app.get("/v2/models/{name}/ready")
    async def v2_model_ready(name: str) -> Response:
        ready = model_named(name).ready
        return _json({"name": name, "ready": ready}, 200 if ready else 503)

    async def infer(name: str, version: str | None, request: Request) -> Response:
        from driftloop.serving._protocol_v2 import encode_v2, parse_v2

        model = model_named(name)
        slot = model.current
        if version is not None and version != str(slot.version):
            raise NotFound(
                f"{name} serves version {slot.version} (as {model.alias}); version {version} is not served here."
            )
        started = time.perf_counter()
        parsed = parse_v2(await read_body(request), request.headers.get("content-type"))
        outcome = _score(slot, parsed.columns, parsed.rows, probabilities=parsed.probabilities, tensor=parsed.tensor)
        ids = scored(request, slot, outcome, protocol="v2", started=started)
        return Response(
            encode_v2(
                name,
                str(slot.version),
                outcome.predictions,
                request_id=parsed.request_id,
                probabilities=outcome.probabilities,
            ),
            media_type=JSON,
            headers={REQUEST_IDS: ",".join(ids)},
        )

    @app.post("/v2/models/{name}/infer")
    async def v2_infer(name: str, request: Request) -> Response:
        return await infer(name, None, request)

    @app.post("/v2/models/{name}/versions/{version}/infer")
    async def v2_infer_version(name: str, version: str, request: Request) -> Response:
        return await infer(name, version, request)

    @app.post("/v1/feedback")
    async def feedback(request: Request) -> Response:
        """Ground truth for earlier predictions, all or none: ``{"labels": [{"request_id", "label"}, ...]}``.

        A label is a number, a text or a boolean; where the request id is in the committed prediction log, it must
        fit the version that made the prediction. Request ids not in the log are recorded all the same (their
        predictions may be in a server's buffer) and listed as ``unmatched``; identical repeats are recorded once
        (``duplicates``); labels replacing earlier ones are listed as ``corrections``
        (:func:`~driftloop.serving._label_queue.record_feedback`).
        """
        if labels is None or prediction_log is None:
            raise NotFound("This server keeps no prediction log, so it takes no feedback.")
        from driftloop.serving._label_queue import label_items, record_feedback
        from driftloop.serving._protocols import load_json_object, media_type

        if media_type(request.headers.get("content-type")) not in ("application/json", None):
            raise UnsupportedMediaType(
                f"Feedback is JSON (Content-Type: application/json); got {request.headers.get('content-type')!r}."
            )
        document = load_json_object(await read_body(request))
        items = label_items({"labels": [document]} if "request_id" in document else document)
        answer = await run_in_threadpool(
            record_feedback, workspace, labels, items, log=prediction_log, models=loaded_versions()
        )
        return _json(answer.to_dict())

    @app.get("/v1/labels/pending")
    async def pending_labels(request: Request) -> Response:
        """The label queue (:mod:`driftloop.serving._label_queue`), the most informative first: ``?model=&limit=``."""
        if labels is None:
            raise NotFound("This server keeps no prediction log, so it has no label queue.")
        from driftloop.serving._label_queue import pending_dict

        model = request.query_params.get("model") or None
        limit = request.query_params.get("limit", "100")
        if not (limit.isascii() and limit.isdigit() and 1 <= int(limit) <= MAX_PENDING):
            raise InvalidInput(f"The 'limit' must be a whole number from 1 to {MAX_PENDING}; got {limit!r}.")
        found = await run_in_threadpool(workspace.metadata.label_requests.pending, model, limit=int(limit))
        return _json({"pending": [pending_dict(item) for item in found]})

    @app.post("/v1/labels")
    async def answer_label_queue(request: Request) -> Response:
        """Labels for queued (or logged) predictions, all or none: ``{"labels": [{"request_id", "label"}]}``."""
        if labels is None:
            raise NotFound("This server keeps no prediction log, so it has no label queue.")
        from driftloop.serving._label_queue import answer_labels, label_items
        from driftloop.serving._protocols import load_json_object, media_type

        if media_type(request.headers.get("content-type")) not in ("application/json", None):
            raise UnsupportedMediaType(
                f"Labels are JSON (Content-Type: application/json); got {request.headers.get('content-type')!r}."
            )
        items = label_items(load_json_object(await read_body(request)))
        answer = await run_in_threadpool(
            answer_labels, workspace, labels, items, log=prediction_log, models=loaded_versions()
        )
        return _json(answer.to_dict())

    # -- probes ------------------------------------------------------------------------------------------

    @app.get("/healthz")
    async def healthz() -> Response:
        return _json({"status": "ok"})

    @app.get("/metrics")
    async def prometheus() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST

        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz")
    async def readyz() -> Response:
        ready = all(m.ready for m in served.values())
        return _json({"ready": ready}, 200 if ready else 503)

    from driftloop.serving._fast_lane import FastLane
    from driftloop.serving._openapi import document_requests

    document_requests(app)

    app.add_middleware(FastLane, fastapi=app, paths=SCORING_ROUTES, on_error=driftloop_error)
    app.add_middleware(AccessLog, metrics=metrics, lines=access_lines)  # outermost: sees every answer
    return app


@dataclass(frozen=True)
class Outcome:
    columns: dict[str, Any]
    predictions: np.ndarray
    probabilities: np.ndarray | None
    classes: list[Any] | None
    flags: list[list[str]]


def _score(
    slot: ModelSlot,
    columns: dict[str, list[Any]],
    rows: int,
    *,
    probabilities: bool,
    tensor: np.ndarray | None = None,
) -> Outcome:
    """Check the inputs against the slot's signature and score them with the slot's model."""
    flags: list[list[str]] = [[] for _ in range(rows)]
    if tensor is not None:
        names = list(slot.signature.features) if slot.signature is not None else list(slot.model.feature_names)
        if names and tensor.shape[1] != len(names):
            raise InvalidInput(f"The tensor has {tensor.shape[1]} columns; the model takes {len(names)}: {names}.")
        columns = {name: tensor[:, index].tolist() for index, name in enumerate(names)}
        rows = tensor.shape[0]
    if slot.checker is not None:
        checked = slot.checker.check(columns, rows)
        flags = checked.flags
        if slot.scorer is not None and (not probabilities or slot.scorer.classifier):
            # The fast path: the validated ONNX copy, fed from the checked columns, no DataFrame.
            predictions, scores = slot.scorer.score(
                checked.frame_columns, matrix=checked.matrix, matrix_columns=slot.checker.columns
            )
            if not probabilities:
                return Outcome(columns, predictions, None, None, flags)
            classes = None if slot.model.classes_ is None else list(slot.model.classes_.tolist())
            return Outcome(columns, predictions, scores, classes, flags)
        frame = pd.DataFrame(checked.frame_columns)
    else:
        frame = pd.DataFrame(columns)
    predictions = np.asarray(slot.model.predict(frame))
    scores = None
    classes = None
    if probabilities:
        if not slot.model.is_classifier:
            raise InvalidInput(f"{slot.name}/{slot.version} is not a classifier; it gives no class probabilities.")
        scores = np.asarray(slot.model.predict_proba(frame))
        classes = None if slot.model.classes_ is None else list(slot.model.classes_.tolist())
    return Outcome(columns=columns, predictions=predictions, probabilities=scores, classes=classes, flags=flags)


def _upkeep(prediction_log: PredictionLog, labels: LabelStore) -> None:
    """Compact, checkpoint and vacuum the prediction log and the labels (one server process does it)."""
    for table in (prediction_log, labels):
        report = table.maintain()
        compacted = report.compaction
        log.info(
            "upkeep of %s: %d files compacted into %d, %d old data files and %d expired log files deleted",
            table,
            0 if compacted is None else compacted.files_removed,
            0 if compacted is None else compacted.files_added,
            len(report.vacuumed),
            len(report.expired_log_files),
        )


def _traffic_dict(split: TrafficSplit) -> dict[str, Any]:
    """A served model's traffic policy now, with the challenger version it sends traffic to (None: not loaded)."""
    challenger = split.challenger
    version = challenger.current.version if challenger is not None and challenger.ready else None
    return {**dataclasses.asdict(split.policy), "pinned": split.pinned is not None, "challenger_version": version}


def new_request_ids(count: int) -> list[str]:
    """``count`` random request ids of 32 hex digits (128 bits each), from one call to the system's generator.

    >>> [len(text) for text in new_request_ids(2)]
    [32, 32]
    """
    digits = os.urandom(16 * count).hex()
    return [digits[start : start + 32] for start in range(0, 32 * count, 32)]


def _json(data: Any, status: int = 200) -> Response:
    return Response(orjson.dumps(data, option=orjson.OPT_SERIALIZE_NUMPY), status_code=status, media_type=JSON)
