"""Monitoring inside the server: the scheduled monitor, health records, and the monitors' Prometheus gauges.

Every server process (each ``--workers`` worker, on every machine) runs a :class:`ServerMonitoring`:

- every ``interval`` seconds it records its own health since its previous record (requests, 4xx and 5xx
  answers, latency buckets; :meth:`ServingMetrics.request_totals`), which the monitor sums over processes;
- every ``refresh`` seconds it reads the latest monitor findings of the models it serves from the store and
  exports them as gauges, so a scrape of any worker shows the same drift scores and estimates;
- one process among all of them, the holder of the lease ``monitoring.monitor``, runs the monitor pass
  (:func:`~driftloop.monitoring._scheduled.run_monitors`) every ``interval`` seconds on its own thread.

Gauges (labels ``model``, and ``feature``/``method``/``metric`` where named):

- ``driftloop_monitor_rows``: rows of the window checked; ``driftloop_monitor_checked_timestamp_seconds``;
- ``driftloop_monitor_drifted``: 1 when the data, the prediction or the joint distribution drifted, else 0;
- ``driftloop_monitor_drift_share``: the share of drifted features;
- ``driftloop_monitor_feature_drift{feature, method}``: each feature's statistic (a distance, or a test's
  statistic) and ``driftloop_monitor_feature_drifted{feature}`` (0/1);
- ``driftloop_monitor_prediction_drift{method}``;
- ``driftloop_monitor_quality_ok``: 1 when the window's data quality is fine, else 0;
- ``driftloop_monitor_estimated_performance{metric}``: performance estimated before labels arrive.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from driftloop.entities import MonitorRecord
from driftloop.monitoring._health import SERVER_SUBJECT

if TYPE_CHECKING:
    from driftloop.monitoring import AlertConfig
    from driftloop.serving._metrics import ServingMetrics
    from driftloop.workspace import Workspace

__all__ = ["MonitorGauges", "ServerMonitoring"]

log = logging.getLogger("driftloop.serving")


class MonitorGauges(Collector):
    """Prometheus gauges of the latest monitor finding of each model, rebuilt from records at each scrape."""

    def __init__(self) -> None:
        self._records: tuple[MonitorRecord, ...] = ()

    def update(self, records: Sequence[MonitorRecord]) -> None:
        self._records = tuple(records)  # one assignment: a scrape sees the old set or the new one

    def collect(self) -> Iterator[Metric]:
        families = {
            "rows": GaugeMetricFamily("driftloop_monitor_rows", "Rows of the window checked.", labels=["model"]),
            "checked": GaugeMetricFamily(
                "driftloop_monitor_checked_timestamp_seconds", "When the window was checked.", labels=["model"]
            ),
            "drifted": GaugeMetricFamily(
                "driftloop_monitor_drifted", "1 when data, prediction or joint drift was found.", labels=["model"]
            ),
            "share": GaugeMetricFamily(
                "driftloop_monitor_drift_share", "Share of the features that drifted.", labels=["model"]
            ),
            "feature": GaugeMetricFamily(
                "driftloop_monitor_feature_drift",
                "Each feature's drift statistic.",
                labels=["model", "feature", "method"],
            ),
            "feature_drifted": GaugeMetricFamily(
                "driftloop_monitor_feature_drifted", "1 when the feature drifted.", labels=["model", "feature"]
            ),
            "prediction": GaugeMetricFamily(
                "driftloop_monitor_prediction_drift", "The prediction's drift statistic.", labels=["model", "method"]
            ),
            "quality": GaugeMetricFamily(
                "driftloop_monitor_quality_ok", "1 when the window's data quality is fine.", labels=["model"]
            ),
            "estimate": GaugeMetricFamily(
                "driftloop_monitor_estimated_performance",
                "Performance estimated before labels arrive.",
                labels=["model", "metric"],
            ),
        }
        for record in self._records:
            _add_record(families, record)
        yield from families.values()


def _add_record(families: dict[str, GaugeMetricFamily], record: MonitorRecord) -> None:
    model, outputs = record.subject, record.outputs
    families["checked"].add_metric([model], record.recorded_at)
    families["rows"].add_metric([model], float(outputs.get("rows") or 0))
    if outputs.get("error") is not None:
        return  # nothing was measured: only when it was tried, and the empty window
    families["drifted"].add_metric([model], float(bool(outputs.get("drifted"))))
    drift = outputs.get("drift") or {}
    if _number(drift.get("share")):
        families["share"].add_metric([model], float(drift["share"]))
    for feature in drift.get("features") or []:
        if _number(feature.get("statistic")):
            families["feature"].add_metric(
                [model, str(feature["column"]), str(feature["method"])], float(feature["statistic"])
            )
        if feature.get("drifted") is not None:
            families["feature_drifted"].add_metric([model, str(feature["column"])], float(feature["drifted"]))
    prediction = drift.get("prediction") or {}
    if _number(prediction.get("statistic")):
        families["prediction"].add_metric([model, str(prediction["method"])], float(prediction["statistic"]))
    quality = outputs.get("quality") or {}
    if quality.get("ok") is not None:
        families["quality"].add_metric([model], float(bool(quality["ok"])))
    for metric, value in ((outputs.get("estimate") or {}).get("metrics") or {}).items():
        if _number(value):
            families["estimate"].add_metric([model, str(metric)], float(value))


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


class ServerMonitoring:
    """The monitoring threads of one server process (see the module notes).

    Args:
        workspace: The served workspace.
        metrics: This process's metrics (its request counters feed the health records; the gauges join its
            registry).
        served: The alias served of each model, by name: the monitor checks those versions, and their models'
            findings are exported.
        interval: Seconds between two health records, and between two monitor passes.
        refresh: Seconds between two reads of the latest findings for the gauges (``interval`` at most).
        check_drift: Whether the monitor checks the models (it needs the prediction log).
        last: The window the monitor checks: the latest ``last`` predictions.
        alerts: Alert rules and channels the monitor evaluates over its findings and the server's health.
    """

    def __init__(
        self,
        workspace: Workspace,
        metrics: ServingMetrics,
        served: Mapping[str, str],
        *,
        interval: float,
        refresh: float = 15.0,
        check_drift: bool = True,
        last: int = 1_000,
        alerts: AlertConfig | None = None,
    ) -> None:
        from driftloop.execution import LeasedJob, process_holder_name
        from driftloop.monitoring._scheduled import MONITOR_LEASE

        self.workspace = workspace
        self.metrics = metrics
        self.served = dict(served)
        self.interval = float(interval)
        self.refresh = min(float(refresh), self.interval)
        self.last = last
        self.holder = process_holder_name()
        self.gauges = MonitorGauges()
        metrics.registry.register(self.gauges)
        self.engine = None
        if alerts is not None:
            from driftloop.monitoring import AlertEngine

            self.engine = AlertEngine.from_config(workspace.metadata.alerts, alerts)
        self.monitor = (
            LeasedJob(workspace.metadata.leases, MONITOR_LEASE, self._run_monitors, interval=self.interval)
            if check_drift or self.engine is not None
            else None
        )
        self.check_drift = check_drift
        self.last_pass: Any = None
        self._previous: dict[str, Any] = metrics.request_totals()
        self._previous_at = time.monotonic()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="driftloop-monitoring", daemon=True)
        self._thread.start()
        if self.monitor is not None:
            self.monitor.start()

    def stop(self) -> None:
        self._stop.set()
        if self.monitor is not None:
            self.monitor.stop()
        if self._thread is not None:
            self._thread.join(timeout=5.0)

    def record_health(self) -> MonitorRecord:
        """Record what this process answered since its previous health record."""
        totals = self.metrics.request_totals()
        now = time.monotonic()
        previous, seconds = self._previous, now - self._previous_at
        self._previous, self._previous_at = totals, now
        outputs = {
            "seconds": seconds,
            "requests": totals["requests"] - previous["requests"],
            "client_errors": totals["client_errors"] - previous["client_errors"],
            "server_errors": totals["server_errors"] - previous["server_errors"],
            "latency_bounds": totals["latency_bounds"],
            "latency_counts": [
                now_count - then_count
                for now_count, then_count in zip(totals["latency_counts"], previous["latency_counts"], strict=True)
            ],
        }
        wall = time.time()
        return self.workspace.metadata.monitor_records.record(
            SERVER_SUBJECT, "health", outputs, source=self.holder, window_start=wall - seconds, window_end=wall
        )

    def refresh_gauges(self) -> None:
        """Export the latest finding of each served model."""
        latest = self.workspace.metadata.monitor_records.latest("drift")
        self.gauges.update([record for record in latest if record.subject in self.served])

    def _loop(self) -> None:
        next_health = time.monotonic() + self.interval
        while not self._stop.wait(self.refresh):
            try:
                if time.monotonic() >= next_health:
                    next_health += self.interval
                    self.record_health()
                self.refresh_gauges()
            except Exception:  # the store may be briefly unreachable: try again at the next tick
                log.exception("monitoring: could not record health or read the latest findings")

    def _run_monitors(self, token: int) -> None:
        from driftloop.monitoring._scheduled import run_monitors

        self.last_pass = run_monitors(
            self.workspace,
            [f"{name}@{alias}" for name, alias in self.served.items()] if self.check_drift else [],
            last=self.last,
            alerts=self.engine,
            health_within=2.5 * self.interval,
        )
        self.refresh_gauges()
