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

import asyncio
import logging
import time
from typing import Any

import numpy as np
import orjson
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["AccessLines", "AccessLog", "ServingMetrics"]

access_log = logging.getLogger("driftloop.access")

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
PROBE_ROUTES = frozenset({"/metrics", "/healthz", "/readyz", "/ping", "/v2/health/live", "/v2/health/ready"})
"""Routes that scrapers and orchestrators call: left out of the server's health (they would dilute its rates)."""


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
        self._children: dict[tuple[int, tuple[str, ...]], Any] = {}
        self._request_children: dict[tuple[str, str, str, int], tuple[Any, Any]] = {}

    def render(self) -> bytes:
        return bytes(generate_latest(self.registry))

    def request_totals(self) -> dict[str, Any]:
        """Requests answered since start, probes left out: totals by status class and cumulative latency buckets."""
        requests = client_errors = server_errors = 0
        for family in self.requests.collect():
            for sample in family.samples:
                if not sample.name.endswith("_total") or sample.labels["route"] in PROBE_ROUTES:
                    continue
                count, status = int(sample.value), int(sample.labels["status"])
                requests += count
                client_errors += count if 400 <= status < 500 else 0
                server_errors += count if status >= 500 else 0
        latency = [0.0] * len(LATENCY_BUCKETS)
        for family in self.latency.collect():
            for sample in family.samples:
                if sample.name.endswith("_bucket") and sample.labels["route"] not in PROBE_ROUTES:
                    bound = float(sample.labels["le"])
                    if bound in LATENCY_BUCKETS:
                        latency[LATENCY_BUCKETS.index(bound)] += sample.value
        return {
            "requests": requests,
            "client_errors": client_errors,
            "server_errors": server_errors,
            "latency_bounds": list(LATENCY_BUCKETS),
            "latency_counts": latency,
        }

    def observe_predictions(
        self, model: str, version: int, predictions: np.ndarray, flagged_rows: int, *, classifier: bool
    ) -> None:
        """Count a request's predictions: classes by class, values in the value histogram."""
        labels = (model, str(version))
        if not classifier and predictions.dtype.kind in "fiu":
            _observe_all(self._child(self.predicted_value, labels), predictions)
        elif len(predictions) == 1:  # the common request: no sorting for one value
            self._child(self.predicted_class, (*labels, str(predictions[0]))).inc()
        else:
            values, counts = np.unique(predictions.astype(str), return_counts=True)
            for value, count in zip(values.tolist(), counts.tolist(), strict=True):
                self._child(self.predicted_class, (*labels, value)).inc(count)
        if flagged_rows:
            self._child(self.input_flags, labels).inc(flagged_rows)

    def observe_request(self, model: str, version: str, route: str, status: int, seconds: float) -> None:
        """Count one answered request and its latency."""
        key = (model, version, route, status)
        children = self._request_children.get(key)
        if children is None:
            children = (
                self.requests.labels(model, version, route, str(status)),
                self.latency.labels(model, version, route),
            )
            self._request_children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def _child(self, metric: Any, labels: tuple[str, ...]) -> Any:
        """``metric.labels(*labels)``, looked up once: prometheus_client's lookup costs microseconds a call."""
        key = (id(metric), labels)
        child = self._children.get(key)
        if child is None:
            child = self._children[key] = metric.labels(*labels)
        return child


class AccessLines:
    """The JSON access-log lines of requests answered, emitted in batches on the event loop.

    A logging call per request costs more than scoring a row; the lines are buffered and emitted as one
    ``driftloop.access`` record (one JSON object per line) at most ``interval`` seconds after the first
    of them, and by :meth:`flush` at shutdown.
    """

    def __init__(self, interval: float = 0.2) -> None:
        self.interval = interval
        self._lines: list[str] = []
        self._scheduled = False

    def add(self, line: dict[str, Any]) -> None:
        self._lines.append(orjson.dumps(line).decode())
        if not self._scheduled:
            self._scheduled = True
            asyncio.get_running_loop().call_later(self.interval, self.flush)

    def flush(self) -> None:
        self._scheduled = False
        lines, self._lines = self._lines, []
        if lines:
            access_log.info("\n".join(lines))


class AccessLog:
    """Pure ASGI middleware: count, time and log (a JSON line, through :class:`AccessLines`) every HTTP request.

    A plain ASGI wrapper rather than Starlette's ``BaseHTTPMiddleware``, which costs a task and a stream per
    request. The handlers leave the model and version they used in the request's state.
    """

    def __init__(self, app: ASGIApp, metrics: ServingMetrics, lines: AccessLines) -> None:
        self.app = app
        self.metrics = metrics
        self.lines = lines

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        metrics = self.metrics

        async def send_and_note(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_and_note)
        finally:
            metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            state = scope.get("state") or {}
            model = str(state.get("model", "-"))
            version = str(state.get("version", "-"))
            route = _route(scope)
            metrics.observe_request(model, version, route, status, seconds)
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client")
                self.lines.add(
                    {
                        "at": time.time(),
                        "method": scope["method"],
                        "path": scope["path"],
                        "status": status,
                        "ms": round(seconds * 1000, 3),
                        "model": model,
                        "version": version,
                        "client": client[0] if client else None,
                    }
                )


def _observe_all(histogram: Any, values: np.ndarray) -> None:
    """``histogram.observe(value)`` for every value; a large batch is counted per bucket with numpy, at once.

    prometheus_client has no bulk observe: the counts go into the child's bucket counters directly (its
    ``_buckets`` and ``_sum``, stable since the library's first releases), else one value at a time.
    """
    numbers = np.asarray(values, dtype=np.float64).ravel()
    numbers = numbers[~np.isnan(numbers)]  # a missing prediction has no value to count
    buckets = getattr(histogram, "_buckets", None)
    upper_bounds = getattr(histogram, "_upper_bounds", None)
    if len(numbers) <= 8 or buckets is None or upper_bounds is None or len(buckets) != len(upper_bounds):
        for value in numbers.tolist():
            histogram.observe(value)
        return
    # A value lands in the first bucket whose upper bound is >= the value (prometheus_client's rule).
    positions = np.searchsorted(np.asarray(upper_bounds, dtype=np.float64), numbers, side="left")
    for position, count in enumerate(np.bincount(positions, minlength=len(buckets)).tolist()):
        if count:
            buckets[position].inc(count)
    histogram._sum.inc(float(numbers.sum()))


def _route(scope: Scope) -> str:
    """The route template (``/v1/models/{name}/predict``), never the raw path: label values stay few."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return str(path) if path else "unmatched"
