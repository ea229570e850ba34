"""Scheduled monitors: one pass checks every served model's latest window, keeps the findings, raises alerts.

:func:`run_monitors` is what ``driftloop monitor run`` and the server's monitor (run by one process among all
sharing the workspace, under the lease :data:`MONITOR_LEASE`) do on every tick:

1. for each model (every model with a ``champion`` alias unless named), :func:`check_live_drift` on its latest
   window of the prediction log, the last ``last`` predictions, or those of the last ``period`` seconds:
   data drift, prediction drift, data quality and, before labels arrive, estimated performance;
2. each finding is appended to the store's monitor records (``drift``), which every server process exports as
   Prometheus gauges and reports draw over time; a model that cannot be checked (no traffic yet) is recorded
   with its error, so an empty window never passes for "no drift";
3. the server's health, summed over the latest health record of every server process
   (:func:`~driftloop.monitoring._health.server_health`), becomes the subject ``server``;
4. alert rules, when given, run over every subject's output (``drift.share``, ``estimate.metrics.mae``,
   ``server.error_rate``...);
5. records older than ``retention`` (30 days by default) are deleted.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from driftloop.errors import DriftloopError, InvalidInput
from driftloop.monitoring._alerts import AlertConfig, AlertEngine, RuleOutcome
from driftloop.monitoring._health import SERVER_SUBJECT, server_health
from driftloop.monitoring._live import LiveCheck, check_live_drift

if TYPE_CHECKING:
    from driftloop.workspace import Workspace

__all__ = ["MONITOR_LEASE", "ModelMonitor", "MonitorPass", "run_monitors", "served_champions"]

MONITOR_LEASE = "monitoring.monitor"
"""The lease of the scheduled monitor: one process among the server's workers and ``monitor run --every``."""
RETENTION_SECONDS = 30 * 86_400.0
"""How long monitor records are kept by default."""


@dataclass(frozen=True)
class ModelMonitor:
    """One model's part of a pass: its check, or why it could not be checked."""

    model: str
    check: LiveCheck | None = None
    error: str | None = None

    @property
    def status(self) -> str:
        """``ok``, ``drift`` (data, prediction or joint), ``quality`` (a data-quality problem) or ``error``."""
        if self.check is None:
            return "error"
        if self.check.drifted:
            return "drift"
        return "ok" if self.check.quality.ok is not False else "quality"

    def outputs(self) -> dict[str, Any]:
        """What is recorded and what alert rules read."""
        if self.check is None:
            return {"rows": 0, "error": self.error}
        return self.check.outputs()


@dataclass(frozen=True)
class MonitorPass:
    """What one pass found: each model's check, the server's health, and the alert rules' outcomes."""

    models: tuple[ModelMonitor, ...]
    health: dict[str, Any] | None
    alerts: tuple[RuleOutcome, ...] = ()

    @property
    def failed(self) -> bool:
        """Whether any model drifted, has a quality problem or could not be checked."""
        return any(model.status != "ok" for model in self.models)

    def to_dict(self) -> dict[str, Any]:
        return {
            "failed": self.failed,
            "models": [{"model": m.model, "status": m.status, **m.outputs()} for m in self.models],
            "server": self.health,
            "alerts": [outcome.to_dict() for outcome in self.alerts],
        }


def served_champions(workspace: Workspace) -> list[str]:
    """The models that have a ``champion`` alias, by name: what a pass checks unless told otherwise."""
    return sorted(model.name for model in workspace.models.list() if "champion" in model.aliases)


def run_monitors(
    workspace: Workspace,
    models: Sequence[str] | None = None,
    *,
    last: int | None = 1_000,
    period: float | None = None,
    multivariate: bool = False,
    alerts: AlertConfig | AlertEngine | None = None,
    health_within: float = 600.0,
    retention: float | None = RETENTION_SECONDS,
) -> MonitorPass:
    """Check each model's latest window, record the findings, and run the alert rules over them.

    Args:
        workspace: The workspace whose registry, prediction log and metadata store to use.
        models: References (``"houses"``: its champion, ``"houses@challenger"``); every champion by default.
        last: The window: at most this many of the latest predictions (None: no limit).
        period: The window: only predictions of the last ``period`` seconds (None: no limit).
        multivariate: Also test the joint distribution (a domain classifier: slower).
        alerts: Rules (and channels) to evaluate over the outputs, or an engine already built.
        health_within: Server health records older than this many seconds are stale (a stopped process).
        retention: Seconds monitor records are kept (None: for ever).
    """
    if last is None and period is None:
        raise InvalidInput("Give the window: 'last' predictions, a 'period' of seconds, or both.")
    if period is not None and (isinstance(period, bool) or not isinstance(period, int | float) or period <= 0):
        raise InvalidInput(f"The 'period' must be a number of seconds > 0; got {period!r}.")
    engine = AlertEngine.from_config(workspace.metadata.alerts, alerts) if isinstance(alerts, AlertConfig) else alerts
    references = served_champions(workspace) if models is None else list(models)
    now = time.time()
    since = None if period is None else datetime.fromtimestamp(now - period, UTC)
    records = workspace.metadata.monitor_records
    results = []
    for reference in references:
        try:
            check = check_live_drift(workspace, reference, last=last, since=since, multivariate=multivariate)
        except DriftloopError as error:
            name = _model_name(reference)
            result = ModelMonitor(name or reference, error=error.message)
            if name is not None:  # a reference that names no model has nothing to record under
                records.record(name, "drift", result.outputs())
        else:
            result = ModelMonitor(check.version.model, check=check)
            window = check.window
            records.record(
                result.model,
                "drift",
                result.outputs(),
                window_start=None if window.first_at is None else window.first_at.timestamp(),
                window_end=None if window.last_at is None else window.last_at.timestamp(),
            )
        results.append(result)
    processes = [record for record in records.latest("health", since=now - health_within) if record.source]
    health = server_health(processes) if processes else None
    outcomes: list[RuleOutcome] = []
    if engine is not None:
        outputs: dict[str, Any] = {result.model: result.outputs() for result in results if result.check is not None}
        if health is not None:
            outputs[SERVER_SUBJECT] = {"server": health}
        outcomes = engine.evaluate(outputs, at=now)
    if retention is not None:
        records.prune(before=now - retention)
    return MonitorPass(models=tuple(results), health=health, alerts=tuple(outcomes))


def _model_name(reference: str) -> str | None:
    from driftloop.registry import parse_reference

    try:
        return parse_reference(reference).name
    except DriftloopError:
        return None
