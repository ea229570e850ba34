"""The loop's controller: on each tick, every policy looks at its model, and acts when a trigger fires.

A tick, per policy (:meth:`LoopController.tick`):

1. **Resume** the policy's unfinished actions (a controller killed mid-action): an action ``started`` whose
   challenger was registered adopts it (found by the training window's dataset version), else it trains again;
   one ``gated`` rolls out; a champion already moved to the challenger is recorded as promoted. So a kill at any
   step ends in one champion and no half-registered model (registration itself is atomic).
2. **Look**: the champion's latest ``window`` predictions (:func:`~driftloop.monitoring.check_live_drift`:
   data drift, prediction drift, data quality, estimated performance) and its labelled predictions
   (:func:`~driftloop.monitoring._live.read_labelled`: measured performance, the error stream).
3. **Data quality first**: a window whose data is broken (:attr:`~driftloop.monitoring.QualityReport.broken`:
   a missing-rate jump, out-of-range values, values of the wrong type, a column gone; not a new category, which
   is drift) is quarantined (a ``data_remedy`` action, state
   ``remedied``), the ``loop-data-quality`` alert opens, and the policy holds: no action runs until a window is
   healthy again (the alert then resolves).
4. **Cooldown**: no new action within ``cooldown`` seconds of the policy's last one.
5. **Triggers** in the policy's order (:mod:`._triggers`); the first that fires starts the action with its evidence.
6. **Act → gate → roll out**: ``retrain`` ingests the training window (the latest labelled predictions, minus
   quarantined windows) as a version of the dataset ``<model>-window``, trains through the training path with a
   time split (the newest ``holdout`` share is the time-later holdout, never trained on; challenger and champion
   are scored on identical rows by the gates), registers the challenger only when its gates pass (``rejected``
   otherwise), and promotes it by moving ``champion`` from the version the trigger saw (compare-and-set: a
   champion moved by hand meanwhile is never overwritten).

Every step is a :class:`~driftloop.entities.LoopAction` transition, recorded with an event, its evidence and its
cost (wall time, CPU time, the process's peak resident memory). A failed action (no labels yet, bad data, an
exception in training) is recorded as ``failed`` with the error and opens the ``loop-action-failed`` alert; the
champion keeps serving and the next attempt waits for the cooldown.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import resource
import sys
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

import numpy as np

from driftloop.entities import LoopAction
from driftloop.errors import Conflict, DriftloopError, GateFailed, InvalidData, InvalidState, NotFound
from driftloop.loop._policy import JOBS, Policy, Trigger
from driftloop.loop._triggers import Triggers, is_worse, only, summary

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.data.validation import DataSchema
    from driftloop.entities import ModelVersionInfo
    from driftloop.monitoring import AlertConfig, LiveCheck
    from driftloop.monitoring._live import LabelledWindow
    from driftloop.workspace import Workspace

__all__ = ["CONTROLLER_LEASE", "LoopController", "PolicyOutcome"]

log = logging.getLogger("driftloop.loop")

CONTROLLER_LEASE = "loop.controller"
"""The lease of the controller: one process among ``driftloop loop run`` and every server worker runs it."""
WINDOW_SUFFIX = "-window"
LABEL_SETTLE_SECONDS = 5.0
"""Labels are read once they are this old (by when they were recorded): each server process flushes its buffer
about every second, so a label recorded a moment ago by another process may not be on disk yet."""
"""The dataset a policy's training windows are versions of: ``<model>-window``."""
TIME_COLUMN = "at"
REQUEST_ID = "request_id"
SERVED = "served_prediction"
"""In an online window: what the servers answered for the row (scored next to the learner's test-then-train)."""
_RECORDED_AT = "label_recorded_at"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC).isoformat()


@dataclass(frozen=True)
class PolicyOutcome:
    """What one tick did for one policy: the action it started or moved on, or why it did nothing."""

    policy: str
    model: str
    status: str
    action: LoopAction | None = None
    evidence: Mapping[str, Any] = field(default_factory=dict)
    observed: Mapping[str, Any] = field(default_factory=dict)
    """What the tick saw of the champion's latest window: its rows, drifted share, estimated performance."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "policy": self.policy,
            "model": self.model,
            "status": self.status,
            "action": None if self.action is None else {"id": self.action.id, "state": self.action.state},
            "evidence": dict(self.evidence),
            "observed": dict(self.observed),
        }


class LoopController:
    """Runs policies over a workspace (see the module notes).

    Args:
        workspace: The workspace whose models, prediction log, labels and metadata store to use.
        policies: The policies to run.
        clock: Seconds since the epoch for cooldowns, schedules and records (``time.time``; a replay passes its
            own simulated clock).
        alerts: Channels (and extra rules) for the loop's alerts: the built-in ``loop-data-quality`` rule notifies
            every channel given here.
        seed: Seeds the training runs.
        label_settle: Seconds a label must have been recorded before the loop reads it as arrived (``new_labels``
            triggers, the ``online`` action).
        schedule_from: By policy name, when its ``schedule`` triggers start counting, until its first scheduled
            action (when the controller was built, by default).
    """

    def __init__(
        self,
        workspace: Workspace,
        policies: Sequence[Policy],
        *,
        clock: Callable[[], float] = time.time,
        alerts: AlertConfig | None = None,
        seed: int = 0,
        label_settle: float = LABEL_SETTLE_SECONDS,
        schedule_from: Mapping[str, float] | None = None,
    ) -> None:
        from driftloop.monitoring import AlertConfig, AlertEngine, AlertRule
        from driftloop.serving._prediction_log import PredictionLog
        from driftloop.store.metadata import LoopRepository
        from driftloop.store.tables import TableStore

        self.workspace = workspace
        self.policies = tuple(policies)
        self.clock = clock
        self.seed = seed
        self.repository = LoopRepository(workspace.metadata.database, clock=clock)
        self.log = PredictionLog(TableStore(workspace.settings.tables_url))
        config = alerts or AlertConfig(rules=())
        quality = AlertRule(
            "loop-data-quality",
            "quality.broken",
            ">=",
            1.0,
            severity="critical",
            channels=tuple(config.channels),
            message="{subject}: the data quality of the latest window failed; retraining is held.",
        )
        failed = AlertRule(
            "loop-action-failed",
            "loop.failed",
            ">=",
            1.0,
            severity="critical",
            channels=tuple(config.channels),
            message="{subject}: a loop action failed; the champion keeps serving (driftloop loop actions).",
        )
        self.alerts = AlertEngine(workspace.metadata.alerts, (quality, failed, *config.rules), config.channels)
        self.triggers = Triggers(
            workspace, self.repository, self.log, clock=clock, label_settle=label_settle, schedule_from=schedule_from
        )

    # -- the tick ------------------------------------------------------------------------------------

    def tick(self) -> list[PolicyOutcome]:
        """Evaluate every policy once; returns what each did."""
        return [self._tick(policy) for policy in self.policies]

    def _tick(self, policy: Policy) -> PolicyOutcome:
        try:
            for unfinished in self.repository.unfinished(policy.name):
                self._resume(policy, unfinished)
            outcome = self._evaluate(policy)
            if outcome.action is not None and outcome.action.action != "data_remedy" and outcome.action.finished:
                # An action that failed opens the loop-action-failed alert; the next one that ends well resolves it.
                failed = {"loop": {"failed": float(outcome.action.state == "failed"), "action": outcome.action.id}}
                self.alerts.evaluate({policy.model: failed}, at=self.clock())
            return outcome
        except DriftloopError as error:  # the store or the registry refused: report, try again next tick
            log.warning("policy %s: %s", policy.name, error.message)
            return PolicyOutcome(policy.name, policy.model, "error", evidence={"error": error.message})

    def _evaluate(self, policy: Policy) -> PolicyOutcome:
        from driftloop.monitoring import check_live_drift

        champion = self.workspace.models.get(f"{policy.model}@champion")
        try:
            live: LiveCheck | None = check_live_drift(
                self.workspace, champion.reference, last=policy.window, estimate=bool(_estimated(policy))
            )
        except InvalidData:
            live = None  # no traffic yet: only label-based and scheduled triggers can fire
        outcome = self._decide(policy, champion, live)
        return dataclasses.replace(outcome, observed=summary(live))

    def _decide(self, policy: Policy, champion: ModelVersionInfo, live: LiveCheck | None) -> PolicyOutcome:
        if live is not None:
            self.alerts.evaluate({policy.model: live.outputs()}, at=self.clock())
            if policy.remedy == "quarantine" and live.quality.broken:
                return self._remedy(policy, champion, live)
        last = next(iter(self.repository.list(policy=policy.name, limit=1)), None)
        if last is not None and last.action != "data_remedy" and self.clock() - last.started_at < policy.cooldown:
            remaining = policy.cooldown - (self.clock() - last.started_at)
            return PolicyOutcome(policy.name, policy.model, "cooldown", evidence={"seconds_left": remaining})
        for trigger in policy.triggers:
            evidence = self.triggers.fired(policy, trigger, champion, live)
            if evidence is not None:
                return self._act(policy, trigger, champion, live, evidence)
        return PolicyOutcome(policy.name, policy.model, "quiet")

    # -- actions -------------------------------------------------------------------------------------

    def _remedy(self, policy: Policy, champion: ModelVersionInfo, live: LiveCheck) -> PolicyOutcome:
        window = live.window
        assert window.first_at is not None and window.last_at is not None
        start, end = window.first_at.timestamp(), window.last_at.timestamp()
        known = self.repository.quarantines(policy.model)
        if any(q.window_start <= start and end <= q.window_end for q in known):
            return PolicyOutcome(policy.name, policy.model, "held", evidence={"window": [start, end]})
        evidence = {"problems": list(live.quality.problems), "window": [start, end], "rows": window.rows}
        action = self.repository.start(
            policy.name,
            policy.model,
            trigger="quality_failure",
            action="data_remedy",
            champion_version=champion.number,
            evidence=evidence,
        )
        with _measured() as cost:
            self.repository.quarantine(
                policy.model, start, end, reason="; ".join(live.quality.problems)[:2000], action_id=action.id
            )
        action = self.repository.advance(action.id, expected="started", state="remedied", cost={"quarantine": cost})
        return PolicyOutcome(policy.name, policy.model, "remedied", action, evidence)

    def _act(
        self,
        policy: Policy,
        trigger: Trigger,
        champion: ModelVersionInfo,
        live: LiveCheck | None,
        evidence: dict[str, Any],
    ) -> PolicyOutcome:
        detected = time.monotonic()
        period = self.triggers.labels_period(policy)
        # The next action reads labels from the end of this period on (an online update moves it back to its
        # held-out rows, so that the next checkpoint learns them).
        period["next"] = {"recorded_at": period["until"], "at": _EPOCH, "request_id": ""}
        action = self.repository.start(
            policy.name,
            policy.model,
            trigger=trigger.kind,
            action=policy.action.kind,
            champion_version=champion.number,
            evidence={"trigger": evidence, "labels": period},
        )
        action = self._resume(policy, action, detected=detected)
        return PolicyOutcome(policy.name, policy.model, action.state, action, evidence)

    def _resume(self, policy: Policy, action: LoopAction, *, detected: float | None = None) -> LoopAction:
        """Move ``action`` on from wherever it stands to a finished state."""
        try:
            if action.state == "started" and action.action == "active_learning":
                return self._request_labels(policy, action)
            if action.state == "started" and action.action in JOBS:
                return self._run_job(policy, action)
            if action.state == "started":
                action = self._train(policy, action)
            if action.state == "gated":
                action = self._roll_out(policy, action, detected)
            if action.state == "rolling_out":
                action = self._judge_live(policy, action)
        except GateFailed as failed:
            report = failed.report
            gates = report.to_dict() if hasattr(report, "to_dict") else failed.message
            return self.repository.advance(
                action.id, expected=action.state, state="rejected", evidence={"gates": gates}
            )
        except Conflict:  # (after GateFailed, a kind of Conflict) another controller moved it on: leave it
            return self.repository.get(action.id)
        except Exception as error:  # a failed action leaves the champion serving; the cooldown spaces retries
            message = error.message if isinstance(error, DriftloopError) else f"{type(error).__name__}: {error}"
            log.warning("loop action %s of policy %s failed: %s", action.id, policy.name, message)
            ended: dict[str, Any] = {}
            if action.state == "rolling_out":  # a challenger that cannot be judged takes no more live traffic
                ended = self._end_rollout(policy, action, f"rollout failed: {message[:200]}")
            return self.repository.advance(
                action.id, expected=action.state, state="failed", error=message[:4000], evidence=ended or None
            )
        return action

    def _run_job(self, policy: Policy, action: LoopAction) -> LoopAction:
        """A scheduled job: an ingest, a training from a config file, or the model's monitor pass."""
        options = policy.action.options
        with _measured() as cost:
            if action.action == "ingest":
                ingested = self.workspace.datasets.ingest(
                    options["dataset"], options["source"], mode=options.get("mode", "append"), actor="loop"
                )
                done = {"dataset": options["dataset"], "version": ingested.version.number, "created": ingested.created}
            elif action.action == "train":
                from pathlib import Path

                from driftloop.training import TrainConfig

                path = Path(options["config"])
                arguments = TrainConfig.from_yaml(path.read_text(encoding="utf-8"), source=str(path)).arguments()
                result = self.workspace.training.train(**arguments)
                version = None if result.version is None else result.version.number
                done = {"run_id": result.run_id, "algorithm": result.algorithm, "version": version}
            else:
                from driftloop.monitoring import AlertConfig
                from driftloop.monitoring._scheduled import run_monitors

                alerts = AlertConfig.from_yaml(options["alerts"]) if "alerts" in options else None
                checked = run_monitors(
                    self.workspace, [f"{policy.model}@champion"], last=int(options.get("last", 1_000)), alerts=alerts
                )
                done = {"failed": checked.failed, "models": [m.status for m in checked.models]}
        return self.repository.advance(
            action.id, expected="started", state="done", evidence={"job": done}, cost={action.action: cost}
        )

    def _request_labels(self, policy: Policy, action: LoopAction) -> LoopAction:
        """Active learning: queue the most informative unlabelled predictions (``started`` → ``requested``)."""
        from driftloop.loop._active import request_labels

        options = policy.action.options
        with _measured() as cost:
            outcome = request_labels(
                self.workspace,
                policy.model,
                strategy=options["strategy"],
                budget_per_day=int(options.get("budget_per_day", 100)),
                window=float(options.get("hours", 24)) * 3600.0,
                companions=tuple(options.get("companions", ())),
                now=self.clock(),
                seed=self.seed,
            )
        return self.repository.advance(
            action.id,
            expected="started",
            state="requested",
            evidence={"labels": outcome.to_dict()},
            cost={"request": cost},
        )

    def _train(self, policy: Policy, action: LoopAction) -> LoopAction:
        """Build the training window, retrain or update, register the challenger if its gates pass:
        ``started`` → ``gated``."""
        dataset = f"{policy.model}{WINDOW_SUFFIX}"
        recorded = action.evidence.get("window")
        if recorded is not None:  # a controller stopped after the window was stored: was the model registered?
            adopted = self._registered_from(policy.model, dataset, int(recorded["dataset_version"]))
            if adopted is not None:
                return self.repository.advance(
                    action.id, expected="started", state="gated", challenger_version=adopted.number
                )
        champion = self.workspace.models.get(f"{policy.model}/{action.champion_version}")
        with _measured() as window_cost:
            if policy.action.kind == "online":
                frame, target, features, window_evidence = self._arrived_window(policy, champion, action)
            else:
                frame, target, features, window_evidence = self._training_window(policy, champion)
            schema = self._window_schema(champion, frame, features)
            ingested = self.workspace.datasets.ingest(dataset, frame, mode="overwrite", schema=schema)
        window_evidence["dataset_version"] = ingested.version.number
        action = self.repository.advance(
            action.id,
            expected="started",
            state="started",
            evidence={"window": window_evidence},
            cost={"window": window_cost},
        )
        with _measured() as train_cost:
            if policy.action.kind == "incremental":
                challenger, run_id, how = self._update(
                    policy, action, champion, frame, target, features, (dataset, ingested.version.number)
                )
            elif policy.action.kind == "online":
                challenger, run_id, how = self._learn_online(
                    policy, action, champion, frame, target, features, (dataset, ingested.version.number)
                )
            elif policy.action.kind == "transfer":
                challenger, run_id, how = self._transfer(
                    policy, action, champion, frame, target, features, (dataset, ingested.version.number)
                )
            else:
                challenger, run_id, how = self._retrain(
                    policy, champion, dataset, ingested.version.number, target, features
                )
        return self.repository.advance(
            action.id,
            expected="started",
            state="gated",
            challenger_version=challenger.number,
            evidence={"challenger": {"metrics": dict(challenger.metrics), "run_id": run_id, "how": how}},
            cost={"train": train_cost},
        )

    def _retrain(
        self, policy: Policy, champion: ModelVersionInfo, dataset: str, number: int, target: str, features: list[str]
    ) -> tuple[ModelVersionInfo, str | None, str]:
        """A new model through the training path, on the window's dataset version (time split, gates)."""
        options = policy.action.options
        algorithm = options.get("algorithm") or self._algorithm_of(champion)
        result = self.workspace.training.train(
            dataset,
            target,
            version=number,
            features=features,
            task=champion.task,  # type: ignore[arg-type]
            algorithms=algorithm,
            params={algorithm: options["params"]} if "params" in options and algorithm else None,
            split="time",
            time_column=TIME_COLUMN,
            holdout=policy.action.holdout,
            folds=3,
            register=policy.model,
            gates=list(policy.gates),
            experiment=f"loop-{policy.name}",
            seed=self.seed,
        )
        assert result.version is not None
        return result.version, result.run_id, f"retrained: {result.algorithm} on {dataset}/{number}"

    def _update(
        self,
        policy: Policy,
        action: LoopAction,
        champion: ModelVersionInfo,
        frame: pd.DataFrame,
        target: str,
        features: list[str],
        window: tuple[str, int],
    ) -> tuple[ModelVersionInfo, None, str]:
        """The champion updated on the window's older rows (:mod:`._incremental`), gated on its newest rows."""
        from driftloop.loop._incremental import update_model

        learn, holdout = _time_split(frame, policy.action.holdout)
        loaded = self.workspace.models.load(champion.reference)
        rounds = int(policy.action.options.get("rounds", 100))
        model, how = update_model(loaded.estimator, learn[features], learn[target], rounds=rounds)
        how = f"{how} from version {champion.number}"
        return self._register(policy, action, champion, model, window, learn, holdout, target, features, how), None, how

    def _learn_online(
        self,
        policy: Policy,
        action: LoopAction,
        champion: ModelVersionInfo,
        frame: pd.DataFrame,
        target: str,
        features: list[str],
        window: tuple[str, int],
    ) -> tuple[ModelVersionInfo, None, str]:
        """The River champion learns the arrived rows in order, test-then-train, all but the newest ``holdout``
        share, on which its gates score it against the champion (:mod:`._online`)."""
        from driftloop.loop._online import learn_online, split_arrivals
        from driftloop.monitoring._window_performance import window_metrics

        loaded = self.workspace.models.load(champion.reference)
        if loaded.flavour != "river":
            raise InvalidData(
                f"{champion.reference} is a {loaded.flavour} model; the online action needs a River champion."
            )
        learnt = split_arrivals(len(frame), policy.action.holdout)
        if learnt < 1:
            raise InvalidData(f"Only {len(frame)} label(s) arrived: too few to learn from and hold some out.")
        learn, holdout = frame.iloc[:learnt], frame.iloc[learnt:]
        task = champion.task or "regression"
        truth = learn[target].to_numpy()
        tested = learn_online(loaded.estimator, learn[features], truth)
        scored = {
            name: window_metrics(truth, predictions, task=task)  # type: ignore[arg-type]
            for name, predictions in (("test_then_train", tested), ("served", learn[SERVED].to_numpy()))
        }
        first = holdout.iloc[0]
        evidence = {
            "learnt_rows": learnt,
            "holdout_rows": len(holdout),
            **{name: {k: v for k, v in metrics.items() if v is not None} for name, metrics in scored.items()},
        }
        resume_at = {
            "recorded_at": first[_RECORDED_AT].isoformat(),
            "at": first[TIME_COLUMN].isoformat(),
            "request_id": str(first[REQUEST_ID]),
        }
        labels = {**action.evidence.get("labels", {}), "next": resume_at}
        self.repository.advance(
            action.id, expected="started", state="started", evidence={"online": evidence, "labels": labels}
        )
        how = f"online: learnt {learnt} labelled predictions in arrival order from version {champion.number}"
        version = self._register(
            policy, action, champion, loaded.estimator, window, learn, holdout, target, features, how
        )
        return version, None, how

    def _register(
        self,
        policy: Policy,
        action: LoopAction,
        champion: ModelVersionInfo,
        model: Any,
        window: tuple[str, int],
        learn: pd.DataFrame,
        holdout: pd.DataFrame,
        target: str,
        features: list[str],
        how: str,
    ) -> ModelVersionInfo:
        """Register a challenger built outside the training path; its gates judge it against the champion on
        ``holdout`` (identical rows for both), and nothing is registered when they fail."""
        return self.workspace.models.register(
            policy.model,
            model,
            dataset=window,
            task=champion.task,
            target=target,
            holdout=holdout[[*features, target]],
            training_data=learn[[*features, target]],
            gates=list(policy.gates),
            description=f"loop action {action.id}: {how}",
        )

    def _transfer(
        self,
        policy: Policy,
        action: LoopAction,
        champion: ModelVersionInfo,
        frame: pd.DataFrame,
        target: str,
        features: list[str],
        window: tuple[str, int],
    ) -> tuple[ModelVersionInfo, None, str]:
        """The champion continued on a new segment's rows (mixed with as many recent rows of the others), next to
        a model trained from scratch on the segment's rows alone, both scored on the segment's newest rows."""
        import pandas as pd

        from driftloop.loop._incremental import update_model
        from driftloop.monitoring import check_window_performance
        from driftloop.training import build_model, fit_model

        found = action.evidence["trigger"]
        column, segment = found["column"], [str(value) for value in found["segment"]]
        inside = frame[column].astype(str).isin(segment).to_numpy()
        split = [_time_split(part, policy.action.holdout) for part in (frame[inside], frame[~inside])]
        (segment_learn, segment_holdout), (others_learn, others_holdout) = split
        if len(segment_learn) < 10 or len(segment_holdout) < 5:
            raise InvalidData(f"Too few labelled rows of the segment {segment} to transfer to ({inside.sum()}).")
        learn = pd.concat([others_learn.tail(len(segment_learn)), segment_learn]).sort_values(TIME_COLUMN)
        loaded = self.workspace.models.load(champion.reference)
        rounds = int(policy.action.options.get("rounds", 100))
        transferred, how = update_model(loaded.estimator, learn[features], learn[target], rounds=rounds)
        algorithm = self._algorithm_of(champion) or "lightgbm"
        scratch = build_model(algorithm, champion.task, segment_learn[features], seed=self.seed)  # type: ignore[arg-type]
        scratch = fit_model(scratch, segment_learn[features], segment_learn[target].to_numpy())
        metric = _live_metric(policy, champion)
        truth = segment_holdout[target].to_numpy()
        compared = {}
        for name, model in (("transferred", transferred), ("scratch", scratch), ("champion", loaded.estimator)):
            scored = check_window_performance(
                truth,
                model.predict(segment_holdout[features]),
                task=champion.task,  # type: ignore[arg-type]
                validation={metric: champion.metrics.get(metric, 1.0)},
            )
            compared[name] = scored.metrics[0].current
        evidence = {"metric": metric, "segment": segment, "learn_rows": len(segment_learn),
                    "holdout_rows": len(segment_holdout), "algorithm": algorithm, **compared}  # fmt: skip
        self.repository.advance(action.id, expected="started", state="started", evidence={"transfer": evidence})
        holdout = pd.concat([others_holdout, segment_holdout])
        how = f"transfer to {column} {', '.join(segment)}: {how} from version {champion.number}"
        version = self._register(policy, action, champion, transferred, window, learn, holdout, target, features, how)
        return version, None, how

    def _roll_out(self, policy: Policy, action: LoopAction, detected: float | None) -> LoopAction:
        """``gated`` → ``promoted`` at once, or → ``rolling_out`` as the challenger (canary or shadow)."""
        assert action.challenger_version is not None
        cost: dict[str, Any] = {}
        if policy.rollout.kind != "promote":
            models = self.workspace.models
            reason = f"loop policy {policy.name}: {policy.rollout.kind} of version {action.challenger_version}"
            with _measured() as rollout_cost:
                models.set_alias(
                    policy.model,
                    "challenger",
                    action.challenger_version,
                    reason=reason,
                    evidence={"loop_action": action.id},
                )
                before = models.traffic(policy.model).policy
                wanted = policy.rollout.traffic
                models.set_traffic(policy.model, **dataclasses.asdict(wanted), reason=reason, expected=before)
            traffic = {"before": dataclasses.asdict(before), "set": dataclasses.asdict(wanted)}
            evidence = {"rollout": {"kind": policy.rollout.kind, "since": time.time(), "traffic": traffic}}
            return self.repository.advance(
                action.id, expected="gated", state="rolling_out", evidence=evidence, cost={"rollout": rollout_cost}
            )
        self._promote(policy, action, cost)
        if detected is not None:
            cost["detection_to_promotion_seconds"] = round(time.monotonic() - detected, 3)
        return self.repository.advance(action.id, expected="gated", state="promoted", cost=cost)

    def _promote(self, policy: Policy, action: LoopAction, cost: dict[str, Any]) -> None:
        """Move ``champion`` to the challenger, from the version the trigger saw (compare-and-set)."""
        assert action.challenger_version is not None
        current = self.workspace.models.get(f"{policy.model}@champion").number
        if current == action.challenger_version:
            return  # moved already (a controller stopped right after the move)
        if current != action.champion_version:  # moved by hand (or a rollback) since the trigger: leave it
            raise InvalidState(
                f"The champion of {policy.model!r} moved to version {current} since this action started from "
                f"version {action.champion_version}; the challenger {action.challenger_version} was not promoted."
            )
        with _measured() as promote_cost:
            self.workspace.models.set_alias(
                policy.model,
                "champion",
                action.challenger_version,
                reason=f"loop policy {policy.name}: {action.trigger}",
                evidence={"loop_action": action.id, "trigger": action.evidence.get("trigger")},
                expected=action.champion_version,
            )
        cost["promote"] = promote_cost

    def _judge_live(self, policy: Policy, action: LoopAction) -> LoopAction:
        """A challenger in its canary or shadow: once enough of its live predictions are labelled, compare its
        error with the champion's over the same period and promote it, or roll it back."""
        from driftloop.monitoring import check_window_performance
        from driftloop.monitoring._live import read_labelled

        assert action.challenger_version is not None and action.champion_version is not None
        rollout = action.evidence["rollout"]
        since = datetime.fromtimestamp(rollout["since"], UTC)
        role = "canary" if rollout["kind"] == "canary" else "shadow"
        challenger = read_labelled(
            self.log, policy.model, version=action.challenger_version, since=since, served_by=role
        )
        if challenger.rows < policy.rollout.requests:
            return action  # not enough labelled live predictions yet
        champion = read_labelled(
            self.log, policy.model, version=action.champion_version, since=since, served_by="champion"
        )
        if role == "shadow":  # the very same requests, answered by the champion
            champion = only(champion, set(challenger.request_ids.to_list()))
        info = self.workspace.models.get(f"{policy.model}/{action.challenger_version}")
        metric = _live_metric(policy, info)
        scores: dict[str, float] = {}
        for name, window in (("challenger", challenger), ("champion", champion)):
            if window.rows == 0:
                raise InvalidData(f"No labelled {name} predictions of {policy.model!r} since the rollout began.")
            check = check_window_performance(
                window.labels.to_numpy(),
                window.predictions.to_numpy(),
                task=info.task,  # type: ignore[arg-type]
                validation={metric: info.metrics.get(metric, 1.0)},
            )
            current = check.metrics[0].current
            if current is None:
                raise InvalidData(f"The {metric} of the {name}'s labelled live predictions is undefined.")
            scores[name] = current
        live = {"metric": metric, **scores, "challenger_rows": challenger.rows, "champion_rows": champion.rows}
        worse = is_worse(metric, scores["challenger"], scores["champion"], policy.rollout.margin)
        cost: dict[str, Any] = {}
        if worse:
            ended = self._end_rollout(policy, action, "worse live than the champion")
            return self.repository.advance(
                action.id,
                expected="rolling_out",
                state="rejected",
                evidence={"live": live, "rolled_back": True, **ended},
            )
        self._promote(policy, action, cost)
        ended = self._end_rollout(policy, action, "promoted")
        return self.repository.advance(
            action.id, expected="rolling_out", state="promoted", evidence={"live": live, **ended}, cost=cost
        )

    def _end_rollout(self, policy: Policy, action: LoopAction, why: str) -> dict[str, Any]:
        """Put the model's traffic policy back as it was before the rollout and remove the challenger alias.

        A traffic policy someone changed during the rollout is theirs: it stays. Returns the evidence of what was
        done (``traffic_restored``).
        """
        from driftloop.entities import TrafficPolicy

        models = self.workspace.models
        reason = f"loop policy {policy.name}: {why}"
        traffic = action.evidence.get("rollout", {}).get("traffic")
        ended: dict[str, Any] = {}
        try:
            if traffic is not None:
                try:
                    models.set_traffic(
                        policy.model, **traffic["before"], reason=reason, expected=TrafficPolicy(**traffic["set"])
                    )
                    ended["traffic_restored"] = True
                except Conflict:  # a deployer (or another rollout) changed the traffic meanwhile: theirs stands
                    ended["traffic_restored"] = False
            with contextlib.suppress(NotFound):  # removed by hand already
                models.delete_alias(policy.model, "challenger", reason=reason)
        except DriftloopError as error:  # the outcome stands (a promotion stays one); what is left is said
            log.warning("ending the rollout of loop action %s: %s", action.id, error.message)
            ended["rollout_end_error"] = error.message
        return ended

    def _training_window(
        self, policy: Policy, champion: ModelVersionInfo
    ) -> tuple[pd.DataFrame, str, list[str], dict[str, Any]]:
        """The latest labelled predictions (quarantined windows left out) as training rows."""
        from driftloop.monitoring._live import read_labelled

        excluded = [
            (datetime.fromtimestamp(q.window_start, UTC), datetime.fromtimestamp(q.window_end, UTC))
            for q in self.repository.quarantines(policy.model)
        ]
        rows = int(policy.action.window * (1.0 + float(policy.action.options.get("older", 0.0))))
        window = read_labelled(self.log, policy.model, last=rows, exclude=excluded)
        frame, target, features, evidence = self._as_rows(policy, champion, window)
        return frame, target, features, {**evidence, "quarantined_windows": len(excluded)}

    def _as_rows(
        self, policy: Policy, champion: ModelVersionInfo, window: LabelledWindow
    ) -> tuple[pd.DataFrame, str, list[str], dict[str, Any]]:
        """``window`` as training rows of the champion's features and target, with ``at`` and ``request_id``
        (not features: the time split's order, and the rows' lineage)."""
        target = champion.evaluation.get("target")
        signature = self.workspace.models.signature(champion.reference)
        if target is None or signature is None:
            raise InvalidData(f"{champion.reference} was registered without its target or signature: cannot retrain.")
        features = list(signature.features)
        if window.rows < policy.action.min_rows:
            raise InvalidData(
                f"Only {window.rows} labelled predictions of {policy.model!r} outside quarantined windows; "
                f"the {policy.action.kind} action needs {policy.action.min_rows}."
            )
        missing = [name for name in features if name not in window.inputs.columns]
        if missing:
            raise InvalidData(f"The logged inputs of {policy.model!r} lack the features {missing}.")
        frame = window.inputs.select(features).to_pandas()
        labels = window.labels.to_numpy()
        frame[target] = labels.astype(np.float64) if champion.task == "regression" else labels
        frame[TIME_COLUMN] = window.at.to_pandas().to_numpy()
        frame[REQUEST_ID] = window.request_ids.to_list()  # lineage: which predictions the model learnt from
        first, last = cast(datetime, window.at.min()), cast(datetime, window.at.max())
        evidence = {"rows": window.rows, "first_at": first.isoformat(), "last_at": last.isoformat()}
        return frame, target, features, evidence

    def _arrived_window(
        self, policy: Policy, champion: ModelVersionInfo, action: LoopAction
    ) -> tuple[pd.DataFrame, str, list[str], dict[str, Any]]:
        """The labelled predictions whose labels arrived in the action's period, in arrival order, as rows with
        ``at``, ``request_id``, when the label arrived and what the servers answered (kept: the rows' lineage)."""
        window = self.triggers.arrived(policy, action.evidence["labels"])
        frame, target, features, evidence = self._as_rows(policy, champion, window)
        assert window.label_recorded_at is not None
        frame[_RECORDED_AT] = window.label_recorded_at.to_pandas().to_numpy()
        served = window.predictions.to_numpy()
        frame[SERVED] = served.astype(np.float64) if champion.task == "regression" else served
        return frame, target, features, evidence

    def _window_schema(self, champion: ModelVersionInfo, frame: pd.DataFrame, features: list[str]) -> DataSchema:
        """The window's schema: inferred from it, but each feature keeps the champion's type and stays nullable
        where the champion's was, so a challenger takes every input its champion took (a feed with gaps is
        quarantined, and the next model must still accept the gaps the serving side lets through)."""
        import dataclasses

        import pyarrow as pa

        from driftloop.data.validation import DataSchema

        inferred = DataSchema.infer(pa.Table.from_pandas(frame, preserve_index=False))
        signature = self.workspace.models.signature(champion.reference)
        assert signature is not None
        kept = {spec.name: spec for spec in signature.inputs.columns}
        columns = tuple(
            dataclasses.replace(spec, dtype=kept[spec.name].dtype, nullable=spec.nullable or kept[spec.name].nullable)
            if spec.name in kept and spec.name in features
            else spec
            for spec in inferred.columns
        )
        return DataSchema(columns=columns)

    def _algorithm_of(self, champion: ModelVersionInfo) -> str | None:
        """The algorithm the champion's training run chose (None, when unknown: the training path selects)."""
        if champion.run_id is None:
            return None
        try:
            return self.workspace.metadata.runs.get(champion.run_id).params.get("algorithm")
        except NotFound:
            return None

    def _registered_from(self, model: str, dataset: str, dataset_version: int) -> ModelVersionInfo | None:
        for version in reversed(self.workspace.models.versions(model)):
            if version.dataset == dataset and version.dataset_version == dataset_version:
                return version
        return None


def _estimated(policy: Policy) -> bool:
    return any(trigger.options.get("estimated") for trigger in policy.triggers_of("performance_drop"))


def _time_split(frame: pd.DataFrame, holdout: float) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The oldest rows to learn from and the newest ``holdout`` share to score on (rows come oldest first)."""
    cut = len(frame) - max(1, round(len(frame) * holdout)) if len(frame) else 0
    return frame.iloc[:cut], frame.iloc[cut:]


def _live_metric(policy: Policy, version: ModelVersionInfo) -> str:
    """The metric a live comparison uses: the first the gates name, else the task's usual window metric."""
    from driftloop.monitoring._window_performance import CLASSIFICATION_METRICS, REGRESSION_METRICS

    known = REGRESSION_METRICS if version.task == "regression" else CLASSIFICATION_METRICS
    named = [gate.metric for gate in policy.gates if gate.metric in known]
    return named[0] if named else ("mae" if version.task == "regression" else "accuracy")


@contextlib.contextmanager
def _measured() -> Iterator[dict[str, float]]:
    """Fill the yielded dict with the block's wall and CPU seconds and the process's peak memory after it."""
    cost: dict[str, float] = {}
    wall, cpu = time.perf_counter(), time.process_time()
    try:
        yield cost
    finally:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        cost["wall_seconds"] = round(time.perf_counter() - wall, 3)
        cost["cpu_seconds"] = round(time.process_time() - cpu, 3)
        cost["peak_rss_mib"] = round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)
