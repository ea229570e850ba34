"""The loop's triggers: whether each of a policy's reasons to act holds now, and the evidence that it does.

:class:`Triggers` answers for the controller (:mod:`._controller`), one trigger at a time (the options of each are
in :mod:`._policy`): measured or estimated performance drops, data drift, concept drift on the labelled error
stream, broken data (with ``remedy: none``), cron schedules, new dataset versions, new segments, and labels that
arrived since the policy last acted (which also bound what an ``online`` update learns).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from driftloop.errors import NotFound
from driftloop.loop._policy import Policy, Trigger

if TYPE_CHECKING:
    from driftloop.entities import ModelVersionInfo
    from driftloop.monitoring import LiveCheck
    from driftloop.monitoring._live import LabelledWindow
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.store.metadata import LoopRepository
    from driftloop.workspace import Workspace

__all__ = ["Triggers", "filtered", "is_worse", "only", "summary", "tail"]


class Triggers:
    """Evaluates policies' triggers over a workspace's registry, prediction log, labels and loop actions.

    Args:
        workspace: The workspace whose models, datasets and blobs to read.
        repository: The loop's actions (when the policy last acted, and on what).
        log: The prediction log (with its labels).
        clock: Seconds since the epoch for schedules (a replay passes its own).
        label_settle: Seconds a label must have been recorded before it counts as arrived.
    """

    def __init__(
        self,
        workspace: Workspace,
        repository: LoopRepository,
        log: PredictionLog,
        *,
        clock: Callable[[], float],
        label_settle: float,
        schedule_from: Mapping[str, float] | None = None,
    ) -> None:
        self.workspace = workspace
        self.repository = repository
        self.log = log
        self.clock = clock
        self.label_settle = label_settle
        self._started_at = clock()
        self._schedule_from = dict(schedule_from or {})

    def fired(
        self, policy: Policy, trigger: Trigger, champion: ModelVersionInfo, live: LiveCheck | None
    ) -> dict[str, Any] | None:
        """The evidence that ``trigger`` fired, or None."""
        options = trigger.options
        if trigger.kind == "data_drift" and live is not None:
            share = live.report.share
            threshold = options.get("share")
            fired = live.report.dataset_drift is True if threshold is None else share is not None and share >= threshold
            if fired:
                drifted = [f.column for f in live.report.features if f.drifted]
                return {"share": share, "threshold": threshold, "drifted": drifted, **summary(live)}
        if trigger.kind == "performance_drop":
            return self._performance_drop(trigger, champion, live)
        if trigger.kind == "concept_drift":
            return self._concept_drift(policy, trigger, champion)
        if trigger.kind == "quality_failure" and live is not None and live.quality.broken:
            return {"problems": list(live.quality.problems)}  # reached with remedy: none
        if trigger.kind == "schedule":
            return self._schedule(policy, trigger)
        if trigger.kind == "new_data":
            return self._new_data(policy, trigger)
        if trigger.kind == "new_segment" and live is not None:
            return self._new_segment(policy, trigger, champion, live)
        if trigger.kind == "new_labels":
            return self._new_labels(policy, trigger)
        return None

    def _performance_drop(
        self, trigger: Trigger, champion: ModelVersionInfo, live: LiveCheck | None
    ) -> dict[str, Any] | None:
        from driftloop.monitoring import check_window_performance

        metric, by = trigger.options["metric"], float(trigger.options.get("by", 0.1))
        validation = champion.metrics.get(metric)
        if validation is None or champion.task is None:
            return None
        if trigger.options.get("estimated"):
            if live is None or live.estimate is None:
                return None
            current = live.estimate.metrics.get(metric)
            if current is None:
                return None
            worse = is_worse(metric, current, validation, by)
            return {"metric": metric, "estimated": current, "validation": validation, "by": by} if worse else None
        minimum = int(trigger.options.get("min_labels", 200))
        window, rescored = self._judged(champion, minimum)
        if window.rows < minimum:
            return None
        window = tail(window, max(minimum, 1_000))
        check = check_window_performance(
            window.labels.to_numpy(),
            window.predictions.to_numpy(),
            task=champion.task,  # type: ignore[arg-type]
            validation={metric: validation},
            tolerances={metric: by},
        )
        (result,) = check.metrics
        if result.degraded:
            return {"metric": metric, "measured": result.current, "validation": validation, "by": by,
                    "labelled_rows": window.rows, "rescored": rescored}  # fmt: skip
        return None

    def _judged(self, champion: ModelVersionInfo, minimum: int) -> tuple[LabelledWindow, bool]:
        """The labelled predictions the champion's measured performance is judged on, and whether the champion
        re-scored them.

        Its own, once it has ``minimum`` of them. Until then (it was just promoted, and the labels of its own
        predictions are still to come, a month later in the demo) the predictions of any version whose labels
        arrived after the champion was registered, so that it cannot have learnt them, scored again by the
        champion: a concept that moved after the champion's training window shows now, not a label delay later.
        """
        from driftloop.monitoring._live import read_arrived

        own = self._labelled(champion, last=None)
        if own.rows >= minimum:
            return own, False
        later = read_arrived(self.log, champion.model, since=champion.created_at)
        signature = self.workspace.models.signature(champion.reference)
        if later.rows < minimum or signature is None or not set(signature.features) <= set(later.inputs.columns):
            return own, False
        model = self.workspace.models.load(champion.reference)
        predicted = np.asarray(model.predict(later.inputs.select(signature.features).to_pandas()))
        return dataclasses.replace(later, predictions=pl.Series(later.predictions.name, predicted)), True

    def _concept_drift(self, policy: Policy, trigger: Trigger, champion: ModelVersionInfo) -> dict[str, Any] | None:
        from driftloop.monitoring import ConceptDriftMonitor

        window = self._labelled(champion, last=None)
        # The default detector (GLR) tests nothing before about 530 outcomes: fewer labels cannot fire it.
        if window.rows < int(trigger.options.get("min_labels", 600)):
            return None
        truth, predicted = window.labels.to_numpy(), window.predictions.to_numpy()
        if champion.task == "regression":
            # A regressor's outcome is 1 when its relative error exceeds the tolerance (2x its validation MAPE
            # by default): the detectors watch the rate of large misses.
            tolerance = float(trigger.options.get("tolerance", 2.0 * champion.metrics.get("mape", 0.1)))
            truth, predicted = truth.astype(np.float64), predicted.astype(np.float64)
            with np.errstate(divide="ignore", invalid="ignore"):
                errors = np.abs(predicted - truth) > tolerance * np.abs(truth)
        else:
            errors = predicted != truth
        detector = trigger.options.get("detector")
        monitor = ConceptDriftMonitor(detector) if detector else ConceptDriftMonitor()
        events = [event for event in monitor.update_many(errors) if event.kind == "drift"]
        if not events:
            return None
        moment = window.at[events[-1].position]
        last = next(iter(self.repository.list(policy=policy.name, limit=1)), None)
        if last is not None and moment.timestamp() <= last.started_at:
            return None  # the detection predates the policy's last action: already acted on
        return {"detector": monitor.detector, "position": events[-1].position, "at": moment.isoformat(),
                "labelled_rows": window.rows, "error_rate": float(np.mean(errors))}  # fmt: skip

    def _schedule(self, policy: Policy, trigger: Trigger) -> dict[str, Any] | None:
        from croniter import croniter

        previous = [a for a in self.repository.list(policy=policy.name, limit=50) if a.trigger == "schedule"]
        # Before a policy's first scheduled action, its schedule counts from when it was stored (a controller
        # built for one tick, through a workspace server, would otherwise always find the next time ahead).
        since = previous[0].started_at if previous else self._schedule_from.get(policy.name, self._started_at)
        now = self.clock()
        due = croniter(trigger.options["cron"], datetime.fromtimestamp(since, UTC)).get_next(float)
        return {"cron": trigger.options["cron"], "due": due} if due <= now else None

    def _new_data(self, policy: Policy, trigger: Trigger) -> dict[str, Any] | None:
        dataset = trigger.options["dataset"]
        try:
            latest = self.workspace.datasets.get(dataset).info.number
        except NotFound:
            return None
        acted = [a for a in self.repository.list(policy=policy.name, limit=50) if a.trigger == "new_data"]
        seen = acted[0].evidence.get("dataset_version", 0) if acted else self._trained_on(policy, dataset)
        return {"dataset": dataset, "dataset_version": latest, "seen": seen} if latest > seen else None

    def _new_segment(
        self, policy: Policy, trigger: Trigger, champion: ModelVersionInfo, live: LiveCheck
    ) -> dict[str, Any] | None:
        """Categories of ``column`` the champion never saw, taking ``min_share`` of the live window, once
        ``min_labels`` of their predictions are labelled."""
        column = trigger.options["column"]
        known = self._known_categories(champion, column)
        if known is None or column not in live.window.inputs.columns:
            return None
        values = live.window.inputs[column].drop_nulls().cast(str)
        new = values.filter(~values.is_in(sorted(known)))
        if values.len() == 0 or new.len() / values.len() < float(trigger.options.get("min_share", 0.05)):
            return None
        segment = sorted(set(new.to_list()))
        from driftloop.monitoring._live import read_labelled

        labelled = read_labelled(self.log, policy.model).inputs  # any version's: the segment's sales so far
        rows = 0 if column not in labelled.columns else int(labelled[column].cast(str).is_in(segment).sum())
        if rows < int(trigger.options.get("min_labels", 100)):
            return None  # wait until enough of the segment's predictions are labelled
        share = new.len() / values.len()
        return {"column": column, "segment": segment, "share": share, "labelled_rows": rows}

    def _new_labels(self, policy: Policy, trigger: Trigger) -> dict[str, Any] | None:
        """At least ``min`` labels of the model's predictions arrived since the policy last acted."""
        arrived = self.arrived(policy, self.labels_period(policy))
        needed = int(trigger.options.get("min", 100))
        return {"labels": arrived.rows, "min": needed} if arrived.rows >= needed else None

    def labels_period(self, policy: Policy) -> dict[str, Any]:
        """The labels the policy has not acted on yet: from where its last action left off, up to the labels that
        have settled. ``start`` is the first label's (recorded_at, at, request_id). A failed action, and an online
        checkpoint that was rejected, leave their labels to the next action (the champion never learnt them)."""
        # Wall time, not self.clock: labels carry the wall clock of the process that recorded them.
        until = datetime.fromtimestamp(time.time() - self.label_settle, UTC).isoformat()
        for action in self.repository.list(policy=policy.name, limit=100):
            period = action.evidence.get("labels")
            unlearnt = action.state == "failed" or (action.action == "online" and action.state == "rejected")
            if isinstance(period, Mapping) and not unlearnt:
                return {"start": period.get("next"), "until": until}
        return {"start": None, "until": until}

    def arrived(self, policy: Policy, period: Mapping[str, Any]) -> LabelledWindow:
        """The labelled predictions whose labels arrived in ``period``, in arrival order."""
        from driftloop.monitoring._live import read_arrived

        start = period.get("start")
        since = None if start is None else datetime.fromisoformat(start["recorded_at"])
        window = read_arrived(self.log, policy.model, since=since, until=datetime.fromisoformat(period["until"]))
        if start is None or window.rows == 0:
            return window
        assert window.label_recorded_at is not None
        first = (since, datetime.fromisoformat(start["at"]), start["request_id"])
        keys = zip(window.label_recorded_at, window.at, window.request_ids, strict=True)
        return filtered(window, np.fromiter((key >= first for key in keys), dtype=bool, count=window.rows))

    def _known_categories(self, champion: ModelVersionInfo, column: str) -> set[str] | None:
        """The categories of ``column`` the champion learnt from: those its training profile surely counted (else
        its signature's), None when neither knows the column as categorical."""
        from driftloop.data.profiles import CategoricalProfile, Profile

        if champion.profile_digest is not None:
            profile = Profile.from_bytes(self.workspace.blobs.get(champion.profile_digest)).columns.get(column)
            if isinstance(profile, CategoricalProfile):
                return {value for value, count in profile.top(1_000_000) if count > profile.maximum_error}
        signature = self.workspace.models.signature(champion.reference)
        if signature is None or column not in signature.features:
            return None
        categories = signature.inputs.column(column).categories
        return None if categories is None else set(categories)

    def _trained_on(self, policy: Policy, dataset: str) -> int:
        champion = self.workspace.models.get(f"{policy.model}@champion")
        return champion.dataset_version or 0 if champion.dataset == dataset else 0

    def _labelled(self, champion: ModelVersionInfo, *, last: int | None) -> LabelledWindow:
        from driftloop.monitoring._live import read_labelled

        return read_labelled(self.log, champion.model, version=champion.number, last=last)


def is_worse(metric: str, current: float, reference: float, by: float) -> bool:
    """Whether ``current`` is worse than ``reference`` by more than ``by`` (relative), for ``metric``'s direction."""
    from driftloop.training import GREATER_IS_BETTER

    if GREATER_IS_BETTER.get(metric, False):
        return current < reference - by * abs(reference)
    return current > reference + by * abs(reference)


def summary(live: LiveCheck | None) -> dict[str, Any]:
    """What a tick observed of the live window: its rows, drift share and estimated performance."""
    if live is None:
        return {"window_rows": 0}
    observed: dict[str, Any] = {"window_rows": live.window.rows, "drift_share": live.report.share}
    if live.estimate is not None:
        observed["estimate"] = {k: v for k, v in live.estimate.metrics.items() if v is not None}
    return observed


def only(window: LabelledWindow, request_ids: set[str]) -> LabelledWindow:
    """The rows of ``window`` whose request id is in ``request_ids``."""
    return filtered(window, window.request_ids.is_in(list(request_ids)).to_numpy())


def filtered(window: LabelledWindow, keep: np.ndarray) -> LabelledWindow:
    """The rows of ``window`` where ``keep`` is true."""
    recorded = window.label_recorded_at
    return type(window)(
        model=window.model,
        rows=int(keep.sum()),
        request_ids=window.request_ids.filter(keep),
        at=window.at.filter(keep),
        versions=window.versions.filter(keep),
        inputs=window.inputs.filter(keep),
        predictions=window.predictions.filter(keep),
        labels=window.labels.filter(keep),
        label_recorded_at=None if recorded is None else recorded.filter(keep),
    )


def tail(window: LabelledWindow, rows: int) -> LabelledWindow:
    """The newest ``rows`` rows of ``window``."""
    return window if window.rows <= rows else filtered(window, np.arange(window.rows) >= window.rows - rows)
