"""The closed loop, end to end, on the generated housing market: what ``make demo`` runs.

1. Months 0-5 of the market (:mod:`._market`) are ingested as a dataset version (its schema says the feeds may
   miss an area), a LightGBM model is trained through the training path, registered and promoted.
2. The champion is served over HTTP on loopback (``driftloop serve``'s application, in this process), an area
   outside the range of the champion's training rows scored as missing (``out_of_range="missing"``: the feeds
   have gaps, and every model learns to answer without the area).
3. Months 6-23 are replayed as live traffic: each month's sales are scored over HTTP, the true prices of the
   month before arrive as feedback (``POST /v1/feedback``), then the loop's controller ticks once, on a clock
   set to the end of that month. Its policy (:data:`POLICY`) watches measured and estimated performance, data
   drift and concept drift, quarantines broken data, retrains on the latest labelled predictions, gates the
   challenger against the champion on a time-later holdout (the newest tenth of its window) and promotes it.
4. Next to the loop, two baselines score the same months offline: the **frozen** first champion, and a
   **scheduled** retrain at the end of every month with the loop's own recipe (algorithm, window, labels
   available then) and no data checks.

Every figure printed is measured in the run: MAPE per month (prices inflate, so errors are relative), actions
with their evidence and cost, requests that failed. While the replay runs, :mod:`._timeline` shows each month as
it ends (a live table on a terminal, plain lines elsewhere); an HTML report (:mod:`._loop_report`) draws them.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

from driftloop.demo._market import FEATURES, TARGET, MarketEvent, MarketParameters, generate_market, market_events
from driftloop.demo._server import DemoServer
from driftloop.demo._timeline import MonthTimeline

if TYPE_CHECKING:
    from rich.console import Console

    from driftloop.entities import LoopAction
    from driftloop.loop._controller import PolicyOutcome
    from driftloop.workspace import Workspace

__all__ = ["POLICY", "LoopDemo", "MonthResult", "run_loop_demo"]

MODEL: Final = "houses"
DATASET: Final = "sales"
FIRST_LIVE_MONTH: Final = 6
PARAMS: Final = {"n_estimators": 300, "learning_rate": 0.05, "num_leaves": 31}
MAY_BE_MISSING: Final = ("area",)
"""Features the feeds may miss: the dataset's schema says so, and every model learns to answer without them. The
server scores their out-of-range values as missing (``out_of_range="missing"``), and the demo scores the baselines'
inputs the same way, each against the range of its own training rows."""
WINDOW: Final = 5_000
"""Labelled predictions a retrain reads: about two and a half months of sales."""
DRIFT_SHARE: Final = 0.5
"""The share of drifted features that triggers a retrain (the timeline shows months at or above it in colour)."""
POLICY: Final[dict[str, Any]] = {
    "name": "houses-loop",
    "model": MODEL,
    "window": 2_000,
    "triggers": [
        {"performance_drop": {"metric": "mape", "by": 0.05, "min_labels": 500}},
        {"performance_drop": {"metric": "mape", "by": 0.25, "estimated": True}},
        {"data_drift": {"share": DRIFT_SHARE}},
        {"concept_drift": {"min_labels": 600}},
    ],
    "action": {"retrain": {"window": WINDOW, "algorithm": "lightgbm", "params": PARAMS, "holdout": 0.1}},
    "gates": ["mape beats champion by 0"],
    "rollout": "promote",
    "cooldown": "25d",
}
"""The demo's main policy, as it would read in a YAML file."""
TRANSFER_POLICY: Final[dict[str, Any]] = {
    "name": "houses-new-districts",
    "model": MODEL,
    "window": 2_000,
    "triggers": [{"new_segment": {"column": "district", "min_share": 0.1, "min_labels": 200}}],
    "action": {"transfer": {"window": WINDOW, "rounds": 150}},
    "gates": ["mape beats champion by 0"],
    "rollout": "promote",
    "cooldown": "25d",
}
"""A district the champion never saw is learnt by continuing the champion on its first labelled sales (and
compared with a model trained from scratch on them), before the main policy's next retrain."""


@dataclass(frozen=True)
class MonthResult:
    """One replayed month: its errors under the loop and the baselines, and what the loop did after it.

    ``status``, ``trigger`` and ``action_id`` are the headline of the month's tick (what changed most);
    ``actions`` every action the tick started or moved on, as it left them, and ``alerts`` the rules whose alerts
    opened during the tick.
    """

    month: int
    rows: int
    failed_requests: int
    champion_version: int
    loop_mape: float
    frozen_mape: float
    scheduled_mape: float
    status: str
    trigger: str | None = None
    action_id: int | None = None
    drift_share: float | None = None
    seconds: float = 0.0
    actions: tuple[LoopAction, ...] = ()
    alerts: tuple[str, ...] = ()


@dataclass
class LoopDemo:
    """The whole run: each month, the market's events, the loop's actions, and where the report went."""

    months: list[MonthResult] = field(default_factory=list)
    events: list[MarketEvent] = field(default_factory=list)
    actions: list[Any] = field(default_factory=list)
    alerts: list[Any] = field(default_factory=list)
    scheduled_retrains: int = 0
    seconds: float = 0.0
    report: Path | None = None
    incident_rows_trained_on: int = 0
    """Rows of the quality incidents that any training window of the loop held (the goal: none)."""
    action_months: dict[int, int] = field(default_factory=dict)
    """The month after which each loop action (by id) started."""

    def mean(self, name: str) -> float:
        return float(np.mean([getattr(month, f"{name}_mape") for month in self.months]))

    @property
    def retrains(self) -> int:
        """Actions that built a new model (retrain, incremental update or transfer), promoted or not."""
        return sum(1 for action in self.actions if action.action in ("retrain", "incremental", "transfer"))

    @property
    def failed_requests(self) -> int:
        return sum(month.failed_requests for month in self.months)

    @property
    def detection_to_promotion(self) -> list[float]:
        """Seconds from each trigger's detection to the champion alias's move, for every direct promotion (one
        after a canary or a shadow waits for its labelled live requests, so it has no such figure)."""
        return [
            a.cost["detection_to_promotion_seconds"]
            for a in self.actions
            if a.state == "promoted" and "detection_to_promotion_seconds" in a.cost
        ]

    def recoveries(self, of: str = "loop") -> list[tuple[MarketEvent, float, int | None]]:
        """For each drift event (concept or data) after the first live month: the MAPE the month before, and how
        many months until it is back within 10% of it (None: not within two months); ``of`` the loop, or of a
        baseline (``"scheduled"``, ``"frozen"``)."""
        by_month = {month.month: getattr(month, f"{of}_mape") for month in self.months}
        found = []
        for event in self.events:
            if event.kind == "quality" or event.month - 1 not in by_month:
                continue
            before = by_month[event.month - 1]
            back = next(
                (after for after in (1, 2) if by_month.get(event.month + after, math.inf) <= 1.1 * before), None
            )
            found.append((event, before, back))
        return found


def run_loop_demo(
    workspace: Workspace,
    *,
    seed: int = 0,
    parameters: MarketParameters | None = None,
    report: str | Path | None = "driftloop-loop-report.html",
    console: Console | None = None,
) -> LoopDemo:
    """Replay the market through the served model and the loop (see the module notes); returns what happened."""
    from rich.console import Console

    from driftloop.loop import policies_from_dict
    from driftloop.loop._controller import LoopController

    out = console or Console(highlight=False)
    started = time.perf_counter()
    parameters = parameters or MarketParameters()
    market = generate_market(parameters, seed=seed)
    result = LoopDemo(events=market_events(parameters))
    out.rule("[bold]driftloop demo: the closed loop on a housing market")
    out.print(
        f"market: {len(market):,} sales over {parameters.months} months (seed {seed}); events: "
        + "; ".join(f"month {e.month} {e.name}" for e in result.events),
        markup=False,
    )
    first = _train_first_champion(workspace, market[market["month"] < FIRST_LIVE_MONTH], seed)
    out.print(
        f"trained {MODEL}/1 on months 0-{FIRST_LIVE_MONTH - 1} ({first['rows']:,} sales): holdout MAPE "
        f"{first['mape']:.2%}; promoted to champion",
        markup=False,
    )
    policies = policies_from_dict({"policies": [TRANSFER_POLICY, POLICY]}, workspace)
    clock = _MonthClock(parameters)
    controller = LoopController(workspace, policies, clock=clock, seed=seed)
    frozen = workspace.models.load(f"{MODEL}/1")
    frozen_ranges = _signature_ranges(workspace, f"{MODEL}/1")
    scheduled = _ScheduledRetrain(seed, first=frozen, ranges=frozen_ranges)
    alerts = _OpenedAlerts(workspace).start()
    timeline = MonthTimeline(out, events=result.events, drift_threshold=DRIFT_SHARE)
    with DemoServer(workspace, MODEL, FEATURES, id_column="sale_id", out_of_range="missing") as server, timeline:
        for month in range(FIRST_LIVE_MONTH, parameters.months):
            month_started = time.perf_counter()
            rows = market[market["month"] == month]
            answered, failed = server.score(rows)
            answered["predictions"] = np.array(
                [math.nan if p is None else p for p in answered["predictions"]], dtype=np.float64
            )
            labelled = market[market["month"] == month - 1]
            server.send_labels(labelled["sale_id"], labelled[TARGET].astype(float))
            server.flush()
            clock.month = month
            outcomes = controller.tick()
            outcome = max(outcomes, key=_weight)  # the month's headline: what changed most
            result.action_months.update({o.action.id: month for o in outcomes if o.action is not None})
            if any(o.status == "promoted" for o in outcomes):
                server.wait_for_version(workspace.models.get(f"{MODEL}@champion").number)
            truth = rows[TARGET].to_numpy()
            month_result = MonthResult(
                month=month,
                rows=len(rows),
                failed_requests=failed,
                champion_version=answered["version"],
                loop_mape=_mape(truth, answered["predictions"]),
                frozen_mape=_mape(truth, frozen.predict(_as_served(rows, frozen_ranges))),
                scheduled_mape=_mape(truth, scheduled.predict(rows)),
                status=outcome.status,
                trigger=None if outcome.action is None else outcome.action.trigger,
                action_id=None if outcome.action is None else outcome.action.id,
                drift_share=outcome.observed.get("drift_share"),
                seconds=time.perf_counter() - month_started,
                actions=tuple(o.action for o in outcomes if o.action is not None),
                alerts=alerts.since_last(),
            )
            result.months.append(month_result)
            scheduled.retrain(market, month)  # the schedule's model for the next month: labels up to this one's
            timeline.add(month_result)
    result.scheduled_retrains = scheduled.retrains
    result.incident_rows_trained_on = _incident_rows_trained_on(workspace, market)
    result.actions = list(reversed(workspace.metadata.loop.list(model=MODEL, limit=1_000)))
    result.alerts = workspace.metadata.alerts.list(limit=1_000)
    result.seconds = time.perf_counter() - started
    _print_summary(out, result)
    if report is not None:
        from driftloop.demo._loop_report import write_loop_report

        result.report = write_loop_report(result, Path(report))
        out.print(f"wrote {result.report}", markup=False)
    return result


def _incident_rows_trained_on(workspace: Workspace, market: pd.DataFrame) -> int:
    """How many rows of the quality incidents any version of the loop's training windows holds."""
    from driftloop.errors import NotFound
    from driftloop.loop._controller import REQUEST_ID, WINDOW_SUFFIX

    bad = set(market.loc[market["incident"] != "", "sale_id"])
    dataset = f"{MODEL}{WINDOW_SUFFIX}"
    try:
        versions = workspace.datasets.versions(dataset)
    except NotFound:
        return 0
    trained: set[str] = set()
    for version in versions:
        trained.update(workspace.datasets.get(dataset, version.number).to_pandas()[REQUEST_ID])
    return len(bad & trained)


def _train_first_champion(workspace: Workspace, months: pd.DataFrame, seed: int) -> dict[str, Any]:
    """Ingest the first months (area may be missing: feeds have gaps), train, register and promote."""
    import pyarrow as pa

    from driftloop.data.validation import DataSchema

    frame = months[["sold_at", *FEATURES, TARGET]].reset_index(drop=True)
    inferred = DataSchema.infer(pa.Table.from_pandas(frame, preserve_index=False))
    schema = DataSchema(
        columns=tuple(
            dataclasses.replace(spec, nullable=True) if spec.name in MAY_BE_MISSING else spec
            for spec in inferred.columns
        )
    )
    workspace.datasets.ingest(DATASET, frame, schema=schema)
    trained = workspace.training.train(
        DATASET,
        TARGET,
        features=list(FEATURES),
        task="regression",
        algorithms="lightgbm",
        params={"lightgbm": PARAMS},
        split="time",
        time_column="sold_at",
        folds=3,
        register=MODEL,
        promote=True,
        experiment="demo-first-champion",
        seed=seed,
    )
    return {"rows": len(frame), "mape": trained.holdout.metrics["mape"]}


class _MonthClock:
    """The controller's clock: the end of the month just replayed."""

    def __init__(self, parameters: MarketParameters) -> None:
        self.start = pd.Timestamp(parameters.start, tz="UTC")
        self.month = FIRST_LIVE_MONTH

    def __call__(self) -> float:
        return float((self.start + pd.DateOffset(months=self.month + 1)).timestamp())


class _OpenedAlerts:
    """The alerts the loop opens, month by month: :meth:`since_last` names the rules of those opened since
    :meth:`start` or its previous call (alert ids only grow)."""

    def __init__(self, workspace: Workspace) -> None:
        self.workspace = workspace
        self.seen = 0

    def start(self) -> _OpenedAlerts:
        self.seen = max((a.id for a in self.workspace.metadata.alerts.list(limit=1)), default=0)
        return self

    def since_last(self) -> tuple[str, ...]:
        opened = [a for a in self.workspace.metadata.alerts.list(limit=1_000) if a.id > self.seen]
        self.seen = max((a.id for a in opened), default=self.seen)
        return tuple(a.rule for a in reversed(opened))


class _ScheduledRetrain:
    """The baseline: retrain at the end of every month with the loop's recipe, on whatever labels arrived."""

    def __init__(self, seed: int, *, first: Any, ranges: dict[str, tuple[float, float]]) -> None:
        self.seed = seed
        self.model = first  # until the first retrain: the first champion
        self.ranges = ranges
        self.retrains = 0

    def predict(self, rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict(_as_served(rows, self.ranges)))

    def retrain(self, market: pd.DataFrame, month: int) -> None:
        """After month ``month``, the labels of months up to ``month - 1`` have arrived: fit on the latest."""
        from driftloop.training import build_model, fit_model

        labelled = market[(market["month"] >= FIRST_LIVE_MONTH) & (market["month"] <= month - 1)].tail(WINDOW)
        if len(labelled) < 500:
            return
        features = labelled[list(FEATURES)]
        model = build_model("lightgbm", "regression", features, PARAMS, seed=self.seed)
        self.model = fit_model(
            model, features, labelled[TARGET].to_numpy(), may_be_missing=MAY_BE_MISSING, seed=self.seed
        )
        self.ranges = {name: (float(features[name].min()), float(features[name].max())) for name in MAY_BE_MISSING}
        self.retrains += 1


def _signature_ranges(workspace: Workspace, reference: str) -> dict[str, tuple[float, float]]:
    """The signature's range of each feature that may be missing, as the server reads it."""
    signature = workspace.models.signature(reference)
    assert signature is not None
    ranges = {}
    for name in MAY_BE_MISSING:
        spec = signature.inputs.column(name)
        ranges[name] = (
            -math.inf if spec.minimum is None else spec.minimum,
            math.inf if spec.maximum is None else spec.maximum,
        )
    return ranges


def _as_served(rows: pd.DataFrame, ranges: dict[str, tuple[float, float]]) -> pd.DataFrame:
    """The features as the server scores them with ``out_of_range="missing"``: a value of a feature that may be
    missing outside its range (``ranges``: of the model's training rows) becomes missing."""
    features = rows[list(FEATURES)].copy()
    for name, (low, high) in ranges.items():
        features[name] = features[name].where(features[name].between(low, high) | features[name].isna())
    return features


def _mape(truth: np.ndarray, predicted: np.ndarray) -> float:
    known = ~np.isnan(predicted)
    return float(np.mean(np.abs(predicted[known] - truth[known]) / np.abs(truth[known])))


_WEIGHTS: Final = {"promoted": 6, "rejected": 5, "failed": 5, "rolling_out": 4, "remedied": 3, "held": 2}


def _weight(outcome: PolicyOutcome) -> int:
    return _WEIGHTS.get(outcome.status, 1 if outcome.status == "cooldown" else 0)


def _print_summary(out: Console, result: LoopDemo) -> None:
    loop, frozen, scheduled = result.mean("loop"), result.mean("frozen"), result.mean("scheduled")
    out.rule("summary")
    out.print(
        f"mean MAPE over months {FIRST_LIVE_MONTH}-{result.months[-1].month}: loop {loop:.2%}, frozen {frozen:.2%} "
        f"({loop / frozen:.2f}x), scheduled monthly retrain {scheduled:.2%} ({loop / scheduled:.2f}x)",
        markup=False,
    )
    states = [a.state for a in result.actions]
    out.print(
        f"loop actions: {len(result.actions)} ({states.count('promoted')} promoted, {states.count('rejected')} "
        f"rejected, {states.count('remedied')} data remedies, {states.count('failed')} failed); retrains: "
        f"{result.retrains} against {result.scheduled_retrains} scheduled; failed requests: {result.failed_requests}; "
        f"incident rows trained on: {result.incident_rows_trained_on}; finished in {result.seconds:.0f} s",
        markup=False,
    )
    for event, before, back in result.recoveries():
        after = "not within two months" if back is None else f"back within 10% after {back} month(s)"
        out.print(f"{event.name} (month {event.month}): MAPE {before:.1%} the month before, {after}", markup=False)
    seconds = result.detection_to_promotion
    if seconds:
        out.print(
            f"detection to the alias move: {min(seconds):.1f}-{max(seconds):.1f} s over {len(seconds)} promotion(s)",
            markup=False,
        )
