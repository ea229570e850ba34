"""What a server tells about itself: Prometheus metrics and one JSON access-log line per request.

Metrics (``GET /metrics``), per model and version where it applies:

- ``driftloop_requests_total{model, version, route, status}`` and ``driftloop_request_seconds`` (a histogram);
- ``driftloop_requests_in_flight``;
- ``driftloop_model_load_seconds{model, version}``: how long the version took to load and check;
- ``driftloop_predicted_value{model, version}`` (regressors: a histogram of predictions) and
  ``driftloop_predicted_class_total{model, version, class}`` (classifiers): the distribution of what is predicted,
  the first thing to move when the inputs drift;
- ``driftloop_input_flags_total{model, version}``: rows served with an expectation broken (unseen category,
  out of range).

Each application has its own registry, so several apps in one process (tests) never share counters. With
``--workers N`` each worker process reports its own numbers (a scraper sums them per pod).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import numpy as np
import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.requests import Request
from starlette.responses import Response

__all__ = ["ServingMetrics", "access_log_middleware"]

access_log = logging.getLogger("driftloop.access")

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)


class ServingMetrics:
    """The Prometheus metrics of one server application."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "driftloop_requests", "Requests answered.", ["model", "version", "route", "status"], registry=self.registry
        )
        self.latency = Histogram(
            "driftloop_request_seconds",
            "Time from request to answer.",
            ["model", "version", "route"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge("driftloop_requests_in_flight", "Requests being answered.", registry=self.registry)
        self.load_seconds = Gauge(
            "driftloop_model_load_seconds",
            "Seconds the version took to load.",
            ["model", "version"],
            registry=self.registry,
        )
        self.predicted_value = Histogram(
            "driftloop_predicted_value",
            "Predicted values of regressors.",
            ["model", "version"],
            buckets=(-1e6, -1e3, -100, -10, -1, 0, 1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7),
            registry=self.registry,
        )
        self.predicted_class = Counter(
            "driftloop_predicted_class", "Predicted classes.", ["model", "version", "class"], registry=self.registry
        )
        self.input_flags = Counter(
            "driftloop_input_flags",
            "Rows served with an expectation broken.",
            ["model", "version"],
            registry=self.registry,
        )

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))

    def observe_predictions(self, model: str, version: int, predictions: np.ndarray, flagged_rows: int) -> None:
        labels = (model, str(version))
        if predictions.dtype.kind in "fiu":
            histogram = self.predicted_value.labels(*labels)
            for value in predictions.tolist():
                histogram.observe(float(value))
        else:
            values, counts = np.unique(predictions.astype(str), return_counts=True)
            for value, count in zip(values.tolist(), counts.tolist(), strict=True):
                self.predicted_class.labels(*labels, value).inc(count)
        if flagged_rows:
            self.input_flags.labels(*labels).inc(flagged_rows)


def access_log_middleware(
    metrics: ServingMetrics,
) -> Callable[[Request, Callable[[Request], Awaitable[Response]]], Awaitable[Response]]:
    """Count, time and log (one JSON line to ``driftloop.access``) every request."""

    async def middleware(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        started = time.perf_counter()
        metrics.in_flight.inc()
        status = 500
        try:
            response = await call_next(request)
            status = response.status_code
            return response
        finally:
            metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            model = str(getattr(request.state, "model", "-"))
            version = str(getattr(request.state, "version", "-"))
            route = _route(request)
            metrics.requests.labels(model, version, route, str(status)).inc()
            metrics.latency.labels(model, version, route).observe(seconds)
            if access_log.isEnabledFor(logging.INFO):
                line: dict[str, Any] = {
                    "at": time.time(),
                    "method": request.method,
                    "path": request.url.path,
                    "status": status,
                    "ms": round(seconds * 1000, 3),
                    "model": model,
                    "version": version,
                    "client": request.client.host if request.client else None,
                }
                access_log.info(orjson.dumps(line).decode())

    return middleware


def _route(request: Request) -> str:
    """The route template (``/v1/models/{name}/predict``), never the raw path: label values stay few."""
    route = request.scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
