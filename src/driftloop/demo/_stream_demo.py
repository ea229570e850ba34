"""The stream demo (``driftloop demo --scenario stream``): online and active learning on a classification
stream whose concept drifts at a known point.

The stream is River's Agrawal generator (nine columns describing a loan applicant, and a 0/1 class), whose
classification function 0 gives way to function 2 around event :data:`DRIFT_AT` (``ConceptDriftStream``, over
:data:`DRIFT_WIDTH` events), seeded; it is generated in the run, nothing is downloaded.

1. The first :data:`INITIAL` events are ingested as a dataset version; River's adaptive random forest is
   trained on them through the training path, registered and promoted as ``stream/1``.
2. It is served over HTTP on loopback, and the later events arrive in batches of :data:`BATCH`: each batch is
   scored over HTTP, its true classes arrive as feedback (``POST /v1/feedback``), and the loop's controller
   ticks. Its policy (:data:`ONLINE_POLICY`) updates the champion **online** on every batch of arrived labels:
   the forest learns them in arrival order, test-then-train, and becomes the next checkpoint, a model version
   gated against the one serving on the batch's newest rows and promoted; the server loads it before the next
   batch.
3. In this process, on the same events: the **frozen** ``stream/1``, and two copies of it that may each ask for
   :data:`BUDGET` of every batch's labels (the label budget of **active learning**): one chooses the batch's
   rows by **margin** (the label queue's own scoring and selection, :mod:`driftloop.loop._active`), the other
   at **random**. Each learns the labels it asked for.

Every batch is scored by each model before anything learns it. Every figure printed is measured in the run.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from rich.console import Console

    from driftloop.workspace import Workspace

__all__ = ["BUDGET", "ONLINE_POLICY", "StreamBatch", "StreamDemo", "make_stream", "run_stream_demo"]

MODEL: Final = "stream"
DATASET: Final = "stream-events"
TARGET: Final = "label"
ID_COLUMN: Final = "event_id"
INITIAL: Final = 2_000
EVENTS: Final = 12_000
BATCH: Final = 500
DRIFT_AT: Final = 4_000
DRIFT_WIDTH: Final = 400
BUDGET: Final = 0.1
"""The share of each batch's labels the active learners may ask for."""
ONLINE_POLICY: Final[dict[str, Any]] = {
    "name": "stream-online",
    "model": MODEL,
    "triggers": [{"new_labels": {"min": BATCH // 2}}],
    "action": {"online": {"holdout": 0.2}},
    "gates": ["accuracy beats champion by -0.02"],
    "rollout": "promote",
    "cooldown": 0,
}
"""The demo's policy, as it would read in a YAML file: every batch of arrived labels makes a checkpoint, which
may be at most 0.02 less accurate than the one serving on the held-out newest rows."""


@dataclass(frozen=True)
class StreamBatch:
    """One batch of the stream: each model's accuracy on it (before learning it), and the labels used so far."""

    first_event: int
    served_version: int
    failed_requests: int
    online: float
    frozen: float
    margin: float
    random: float
    active_labels: int
    online_status: str


@dataclass
class StreamDemo:
    """What the stream demo measured."""

    batches: list[StreamBatch] = field(default_factory=list)
    checkpoints: int = 0
    seconds: float = 0.0

    def mean(self, name: str, *, after: int = DRIFT_AT) -> float:
        """The mean accuracy of ``name`` over the batches that start at or after event ``after``."""
        values = [getattr(batch, name) for batch in self.batches if batch.first_event >= after]
        return float(np.mean(values)) if values else float("nan")


def make_stream(seed: int = 0, events: int = EVENTS) -> pd.DataFrame:
    """The seeded Agrawal stream (function 0, then 2 from about :data:`DRIFT_AT`), one row per event."""
    from river.datasets import synth

    stream = synth.ConceptDriftStream(
        stream=synth.Agrawal(classification_function=0, seed=seed),
        drift_stream=synth.Agrawal(classification_function=2, seed=seed + 1),
        position=DRIFT_AT,
        width=DRIFT_WIDTH,
        seed=seed,
    )
    rows = [{**x, TARGET: int(y)} for x, y in stream.take(events)]
    frame = pd.DataFrame(rows)
    frame[ID_COLUMN] = [f"e{seed}-{index}" for index in range(len(frame))]
    return frame


def run_stream_demo(
    workspace: Workspace, *, seed: int = 0, events: int = EVENTS, console: Console | None = None
) -> StreamDemo:
    """Run ``events`` of the stream through the served, online-learning champion and the active learners (see
    the module notes)."""
    from rich.console import Console

    from driftloop.demo._server import DemoServer
    from driftloop.loop import policies_from_dict
    from driftloop.loop._controller import LoopController

    out = console or Console(highlight=False)
    started = time.perf_counter()
    stream = make_stream(seed, events)
    features = [name for name in stream.columns if name not in (TARGET, ID_COLUMN)]
    out.rule("[bold]driftloop demo: online and active learning on a drifting stream")
    out.print(
        f"River's Agrawal stream, {len(stream):,} events (seed {seed}); its concept changes from function 0 to 2 "
        f"around event {DRIFT_AT:,} (over {DRIFT_WIDTH} events)",
        markup=False,
    )
    initial = stream.iloc[:INITIAL]
    workspace.datasets.ingest(DATASET, initial[[*features, TARGET]])
    trained = workspace.training.train(
        DATASET, TARGET, algorithms="river_arf", folds=2, register=MODEL, promote=True, seed=seed
    )
    accuracy = trained.holdout.metrics.get("accuracy", float("nan"))
    out.print(
        f"trained {MODEL}/1 (River's adaptive random forest) on the first {INITIAL:,} events: holdout accuracy "
        f"{accuracy:.3f}; promoted to champion and served",
        markup=False,
    )
    policies = policies_from_dict({"policies": [ONLINE_POLICY]}, workspace)
    controller = LoopController(workspace, policies, seed=seed, label_settle=0.0)  # the demo flushes first
    frozen = workspace.models.load(f"{MODEL}/1")
    learners = {name: _ActiveLearner(frozen.estimator, name, seed) for name in ("margin", "random")}
    result = StreamDemo()
    out.print(
        f"{'events':>13}  {'served':>6}  {'online':>6}  {'frozen':>6}  {'margin':>6}  {'random':>6}  "
        f"{'labels asked':>12}  loop",
        markup=False,
    )
    with DemoServer(workspace, MODEL, features, id_column=ID_COLUMN) as server:
        for start in range(INITIAL, len(stream), BATCH):
            rows = stream.iloc[start : start + BATCH]
            truth = rows[TARGET].to_numpy()
            answered, failed = server.score(rows)
            scores = {name: learner.score(rows[features], truth) for name, learner in learners.items()}
            server.send_labels(rows[ID_COLUMN], rows[TARGET])
            server.flush()
            (outcome,) = controller.tick()
            if outcome.status == "promoted":
                result.checkpoints += 1
                server.wait_for_version(workspace.models.get(f"{MODEL}@champion").number)
            for learner in learners.values():
                learner.ask(rows[features], truth, budget=round(BATCH * BUDGET))
            batch = StreamBatch(
                first_event=start,
                served_version=answered["version"],
                failed_requests=failed,
                online=_accuracy(truth, answered["predictions"]),
                frozen=_accuracy(truth, list(frozen.predict(rows[features]))),
                margin=scores["margin"],
                random=scores["random"],
                active_labels=learners["margin"].labels,
                online_status=outcome.status,
            )
            result.batches.append(batch)
            out.print(
                f"{start:>6,}-{start + len(rows) - 1:<6,} {batch.served_version:>6}  {batch.online:6.3f}  "
                f"{batch.frozen:6.3f}  {batch.margin:6.3f}  {batch.random:6.3f}  {batch.active_labels:>12,}  "
                f"{outcome.status}",
                markup=False,
            )
    result.seconds = time.perf_counter() - started
    _print_summary(out, result, learners)
    return result


class _ActiveLearner:
    """A copy of the first champion that learns only the labels it asks for, chosen by ``strategy``."""

    def __init__(self, model: Any, strategy: str, seed: int) -> None:
        self.model = copy.deepcopy(model)
        self.strategy = strategy
        self.seed = seed
        self.labels = 0
        self._asked = 0

    def score(self, features: pd.DataFrame, truth: np.ndarray) -> float:
        from driftloop.training._river import river_predict

        return _accuracy(truth, list(river_predict(self.model, features)))

    def ask(self, features: pd.DataFrame, truth: np.ndarray, *, budget: int) -> None:
        """Ask for ``budget`` labels of the batch, chosen by the strategy, and learn them."""
        from driftloop.loop._active import margin, random_scores, select
        from driftloop.training._river import river_learn, river_predict_proba

        if self.strategy == "margin":
            scores = margin(river_predict_proba(self.model, features, [0, 1]))
        else:
            scores = random_scores(len(features), seed=self.seed * 100_000 + self._asked)
        chosen = select(scores, budget)
        river_learn(self.model, features.iloc[chosen], truth[chosen])
        self.labels += len(chosen)
        self._asked += 1


def _accuracy(truth: np.ndarray, predicted: list[Any]) -> float:
    return float(np.mean([p is not None and int(p) == int(t) for p, t in zip(predicted, truth, strict=True)]))


def _print_summary(out: Console, result: StreamDemo, learners: dict[str, _ActiveLearner]) -> None:
    after = f"mean accuracy from event {DRIFT_AT:,} (the drift) on"
    out.print(
        f"{after}: online {result.mean('online'):.3f}, frozen {result.mean('frozen'):.3f} "
        f"({result.checkpoints} checkpoints promoted; every label learnt)",
        markup=False,
    )
    margin, random = result.mean("margin"), result.mean("random")
    verdict = "beats" if margin > random else "does not beat"
    labels = learners["margin"].labels
    out.print(
        f"active learning, {labels:,} labels each ({BUDGET:.0%} of every batch): margin {margin:.3f} {verdict} "
        f"random {random:.3f}",
        markup=False,
    )
    failed = sum(batch.failed_requests for batch in result.batches)
    out.print(f"failed requests: {failed}; the run took {result.seconds:.0f} s", markup=False)
