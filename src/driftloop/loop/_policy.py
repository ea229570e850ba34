"""Policies: what the loop watches on a served model, what it does when that fires, and how a challenger goes live.

A policy names a model and lists **triggers**, one **action**, **gates** and a **rollout**, in YAML or in Python::

    policies:
      - name: houses-loop
        model: houses                     # its champion is watched and replaced
        window: 2000                      # the latest predictions a check reads (data drift, quality, estimate)
        triggers:
          - data_drift: {share: 0.3}      # drift.share >= 0.3 (without a share: the dataset-drift verdict)
          - performance_drop: {metric: mape, by: 0.15}   # labelled: 15% worse than at validation
          - performance_drop: {metric: mape, by: 0.15, estimated: true}   # before labels arrive
          - concept_drift: {}             # a detector on the labelled error stream
          - schedule: {cron: "0 3 * * 1"} # Mondays at 03:00
          - new_data: {dataset: houses}   # a new version of a dataset
          - new_segment: {column: district, min_share: 0.1}   # a district the champion never saw
          - new_labels: {min: 500}        # 500 labels arrived since the policy last acted
        action:
          retrain: {window: 8000, older: 0.25, algorithm: lightgbm, params: {n_estimators: 300}}
        gates: ["mape beats champion by 0"]
        rollout: promote                  # or {canary: {requests: 500, margin: 0.05}}, {shadow: {requests: 500}}
        cooldown: 2h                      # no new action within 2 hours of the last one's start

**Data quality comes first.** Whatever the triggers, a window whose data is broken (missing-rate jumps,
out-of-range shares, values of the wrong type, a column gone; a new category is drift, not a fault) gets the
data remedy instead of the action: the window
is quarantined (left out of every retrain window), the policy holds its actions until a window is healthy again,
and the ``data_quality`` alert opens. ``remedy: none`` turns that off for a policy.

**Actions.** ``retrain`` fits a new model through the training path on the latest ``window`` labelled
predictions (quarantined windows left out), mixed with ``older`` times as many older labelled rows, its time-later
holdout (the newest ``holdout`` share, never trained on) scoring challenger and champion on identical rows.

``incremental`` updates the champion on the same window without starting over (:mod:`._incremental`: ``rounds``
more boosting rounds for LightGBM and XGBoost, ``partial_fit``, or ``warm_start`` members) and is gated the same
way. ``transfer`` answers a ``new_segment`` trigger (a category the champion never saw, e.g. a new district,
taking ``min_share`` of the live window, with ``min_labels`` of its predictions labelled): the champion is
continued (as ``incremental``) on the segment's labelled rows mixed with as many recent rows of the others,
and a model of the champion's algorithm is trained from scratch on the segment's rows alone; both are scored on
the segment's newest rows, side by side in the evidence, and the continued one is gated and rolled out.

``online`` keeps a River champion learning from each labelled prediction as its label arrives (usually on a
``new_labels`` trigger). The controller is the one learner process: it loads the champion and reads the labels
that arrived since the policy last acted, in arrival order (:func:`~driftloop.monitoring._live.read_arrived`); the
model predicts each row, then learns it (test-then-train), all but the newest ``holdout`` share (0.2). The learnt
model is the next checkpoint, a model version like any other (the rows stored as a version of
``<model>-window`` for lineage), gated against the champion on the held-out rows, which the next checkpoint
learns first. The evidence sets the learner's test-then-train score beside the score of what the servers
answered on the same rows. Serving workers follow the champion alias and load each promoted checkpoint; the
labels of a rejected checkpoint are learnt again, with the next ones, by the next attempt.

``active_learning`` queues the champion's most informative
unlabelled predictions of the last ``hours`` (24) for labelling, by ``strategy`` (:mod:`._active`: margin,
entropy or uncertainty for classifiers; ensemble or quantile spread for regressors), within ``budget_per_day``;
a ``schedule`` trigger usually runs it (``GET /v1/labels/pending`` and ``driftloop labels`` answer the queue).

**Scheduled jobs** run in the same controller, on ``schedule`` triggers only: ``ingest`` (a source into a
dataset: ``{dataset: sales, source: sales.csv, mode: append}``; an unchanged source makes no version),
``train`` (a training config file, as ``driftloop train --config`` runs it: selection, tuning, gates, and
promotion if the config asks) and ``check`` (the model's monitor pass, ``{last: 1000, alerts: rules.yaml}``).

**Rollouts.** ``promote`` moves the champion alias at once. ``canary`` and ``shadow`` point the ``challenger``
alias at the new version first and set the model's traffic policy (``{canary: {share: 0.1}}``, the default
share, or a shadow), which every server of the model follows (:mod:`driftloop.serving._traffic`; a server
started with ``--canary`` or ``--shadow`` of its own keeps those). Once ``requests`` of its live predictions are
labelled, its error is compared with the champion's over the same period (for a shadow, on the very same
requests): worse by more than ``margin`` (relative) rolls it back (the challenger alias is removed, the action
``rejected``), else it is promoted. Either way, and when judging fails, the traffic policy goes back to what it
was before the rollout, unless a deployer changed it meanwhile (theirs stands).

Everything is checked when the policy is loaded: an unknown trigger, action, rollout or option, a model the
registry does not know (when a workspace is given), gates that no model can pass together.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from driftloop.durations import parse_duration
from driftloop.entities import TrafficPolicy
from driftloop.errors import InvalidInput, NotFound
from driftloop.names import validate_name

if TYPE_CHECKING:
    from driftloop.workspace import Workspace

__all__ = [
    "ACTIONS",
    "ROLLOUTS",
    "TRIGGERS",
    "Action",
    "Policy",
    "Rollout",
    "Trigger",
    "load_policies",
    "policies_from_dict",
    "read_policy_file",
]

TRIGGER_OPTIONS: Final[dict[str, dict[str, type | tuple[type, ...]]]] = {
    "data_drift": {"share": (int, float)},
    "performance_drop": {"metric": str, "by": (int, float), "estimated": bool, "min_labels": int},
    "concept_drift": {"detector": str, "tolerance": (int, float), "min_labels": int},
    "quality_failure": {},
    "schedule": {"cron": str},
    "new_data": {"dataset": str},
    "new_segment": {"column": str, "min_share": (int, float), "min_labels": int},
    "new_labels": {"min": int},
}
TRIGGERS: Final = tuple(TRIGGER_OPTIONS)
ACTION_OPTIONS: Final[dict[str, dict[str, type | tuple[type, ...]]]] = {
    "retrain": {
        "window": int,
        "older": (int, float),
        "algorithm": str,
        "params": dict,
        "holdout": (int, float),
        "min_rows": int,
    },
    "incremental": {"window": int, "rounds": int, "holdout": (int, float), "min_rows": int},
    "transfer": {"window": int, "rounds": int, "holdout": (int, float), "min_rows": int},
    "online": {"holdout": (int, float), "min_rows": int},
    "active_learning": {"strategy": str, "budget_per_day": int, "hours": (int, float), "companions": list},
    "ingest": {"dataset": str, "source": str, "mode": str},
    "train": {"config": str},
    "check": {"last": int, "alerts": str},
}
JOBS: Final = ("ingest", "train", "check")
"""Actions that are scheduled jobs rather than answers to drift: they run on a ``schedule`` trigger only."""
ACTIONS: Final = tuple(ACTION_OPTIONS)
ROLLOUT_OPTIONS: Final[dict[str, dict[str, type | tuple[type, ...]]]] = {
    "promote": {},
    "shadow": {"requests": int, "margin": (int, float)},
    "canary": {"requests": int, "margin": (int, float), "share": (int, float)},
}
ROLLOUTS: Final = tuple(ROLLOUT_OPTIONS)
POLICY_KEYS: Final = ("name", "model", "window", "triggers", "action", "gates", "rollout", "cooldown", "remedy")


@dataclass(frozen=True)
class Trigger:
    """One reason to act: ``kind`` (one of :data:`TRIGGERS`) and its options."""

    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _options("trigger", self.kind, TRIGGER_OPTIONS, self.options))
        options = self.options
        if self.kind == "data_drift" and "share" in options and not 0.0 < options["share"] <= 1.0:
            raise InvalidInput(f"The data_drift trigger's share must be in (0, 1]; got {options['share']!r}.")
        if self.kind == "performance_drop":
            if "metric" not in options:
                raise InvalidInput("A performance_drop trigger needs its metric, e.g. {metric: mape, by: 0.1}.")
            _check_metric(options["metric"])
            if not 0.0 <= options.get("by", 0.1) < 10:
                raise InvalidInput(f"The performance_drop trigger's 'by' must be in [0, 10); got {options['by']!r}.")
        if self.kind == "schedule":
            _check_cron(options.get("cron"))
        if self.kind == "new_data":
            if "dataset" not in options:
                raise InvalidInput("A new_data trigger names its dataset, e.g. {dataset: houses}.")
            validate_name("dataset", options["dataset"])
        if self.kind == "new_segment":
            if "column" not in options:
                raise InvalidInput("A new_segment trigger names its categorical column, e.g. {column: district}.")
            if not 0.0 < options.get("min_share", 0.05) <= 1.0:
                raise InvalidInput(
                    f"The new_segment trigger's min_share must be in (0, 1]; got {options['min_share']}."
                )
        if self.kind == "concept_drift" and "detector" in options:
            from driftloop.monitoring._concept import DETECTOR_NAMES

            if options["detector"] not in DETECTOR_NAMES:
                known = ", ".join(DETECTOR_NAMES)
                raise InvalidInput(f"Unknown concept drift detector {options['detector']!r}; known: {known}.")
        if self.kind == "new_labels" and options.get("min", 100) < 1:
            raise InvalidInput(f"The new_labels trigger's min must be >= 1 label; got {options['min']!r}.")
        for name in ("min_labels",):
            if name in options and options[name] < 1:
                raise InvalidInput(f"The {self.kind} trigger's {name} must be >= 1; got {options[name]!r}.")


@dataclass(frozen=True)
class Action:
    """What the loop does when a trigger fires: ``kind`` (one of :data:`ACTIONS`) and its options."""

    kind: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _options("action", self.kind, ACTION_OPTIONS, self.options))
        options = self.options
        if "min_rows" in options and options["min_rows"] < 1:
            raise InvalidInput(f"The {self.kind} action's min_rows must be >= 1; got {options['min_rows']!r}.")
        if "window" in options and options["window"] < 10:
            raise InvalidInput(f"The {self.kind} action's window must be >= 10 labelled rows; got {options['window']}.")
        if "older" in options and not 0.0 <= options["older"] <= 10.0:
            raise InvalidInput(f"The retrain action's 'older' must be in [0, 10]; got {options['older']!r}.")
        if "holdout" in options and not 0.05 <= options["holdout"] <= 0.5:
            raise InvalidInput(f"The {self.kind} action's holdout must be in [0.05, 0.5]; got {options['holdout']!r}.")
        if self.kind == "active_learning":
            from driftloop.loop._active import STRATEGIES

            if options.get("strategy") not in STRATEGIES:
                strategy = options.get("strategy")
                raise InvalidInput(
                    f"The active_learning action needs a strategy, one of {STRATEGIES}; got {strategy!r}."
                )
            if options.get("budget_per_day", 100) < 1:
                raise InvalidInput(
                    f"The active_learning budget_per_day must be >= 1; got {options['budget_per_day']!r}."
                )
            if not 0 < options.get("hours", 24) <= 24 * 365:
                raise InvalidInput(f"The active_learning hours must be in (0, 8760]; got {options['hours']!r}.")
        if "rounds" in options and options["rounds"] < 1:
            raise InvalidInput(f"The incremental action's rounds must be >= 1; got {options['rounds']!r}.")
        if self.kind == "ingest":
            for key in ("dataset", "source"):
                if key not in options:
                    raise InvalidInput(f"The ingest job needs its {key}, e.g. {{dataset: sales, source: sales.csv}}.")
            validate_name("dataset", options["dataset"])
            if options.get("mode", "append") not in ("append", "overwrite"):
                raise InvalidInput(f"The ingest job's mode must be append or overwrite; got {options['mode']!r}.")
        if self.kind == "train" and "config" not in options:
            raise InvalidInput("The train job needs its training config file, e.g. {config: train.yaml}.")
        if self.kind == "check" and options.get("last", 1_000) < 1:
            raise InvalidInput(f"The check job's last must be >= 1 prediction; got {options['last']!r}.")
        if "algorithm" in options:
            from driftloop.training import ALGORITHMS

            if options["algorithm"] not in ALGORITHMS:
                known = ", ".join(sorted(ALGORITHMS))
                raise InvalidInput(f"Unknown algorithm {options['algorithm']!r} in the retrain action; known: {known}.")

    @property
    def window(self) -> int:
        return int(self.options.get("window", 5_000))

    @property
    def holdout(self) -> float:
        return float(self.options.get("holdout", 0.2))

    @property
    def min_rows(self) -> int:
        """Labelled rows the action needs (200 by default; an online update needs 1)."""
        return int(self.options.get("min_rows", 1 if self.kind == "online" else 200))


@dataclass(frozen=True)
class Rollout:
    """How a challenger that passed its gates goes live: ``promote`` at once, ``shadow`` or ``canary`` first."""

    kind: str = "promote"
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "options", _options("rollout", self.kind, ROLLOUT_OPTIONS, self.options))
        requests = self.options.get("requests")
        if requests is not None and requests < 10:
            raise InvalidInput(f"The {self.kind} rollout needs at least 10 labelled requests; got {requests!r}.")
        margin = self.options.get("margin")
        if margin is not None and not -1.0 < margin < 10.0:
            raise InvalidInput(f"The {self.kind} rollout's margin must be in (-1, 10); got {margin!r}.")
        share = self.options.get("share")
        if share is not None and not 0.0 < share <= 1.0:
            raise InvalidInput(f"The canary rollout's share must be in (0, 1]; got {share!r}.")

    @property
    def requests(self) -> int:
        """Labelled live predictions of the challenger needed before it is judged (500 by default)."""
        return int(self.options.get("requests", 500))

    @property
    def margin(self) -> float:
        """How much worse (relative) the challenger's live error may be than the champion's (0: no worse)."""
        return float(self.options.get("margin", 0.0))

    @property
    def traffic(self) -> TrafficPolicy:
        """The model's traffic while the challenger rolls out: a canary ``share`` (0.1 by default), or a shadow."""
        if self.kind == "canary":
            return TrafficPolicy(canary=float(self.options.get("share", 0.1)))
        return TrafficPolicy(shadow=self.kind == "shadow")


@dataclass(frozen=True)
class Policy:
    """A model's triggers, action, gates, rollout and cooldown (see the module notes)."""

    name: str
    model: str
    triggers: tuple[Trigger, ...]
    action: Action
    gates: tuple[Any, ...] = ()
    rollout: Rollout = field(default_factory=Rollout)
    cooldown: float = 3600.0
    window: int = 1_000
    remedy: str = "quarantine"

    def __post_init__(self) -> None:
        validate_name("policy", self.name)
        validate_name("model", self.model)
        if not self.triggers:
            raise InvalidInput(f"Policy {self.name!r} has no trigger; give at least one (e.g. data_drift).")
        if not math.isfinite(self.cooldown) or self.cooldown < 0:
            raise InvalidInput(f"The cooldown of policy {self.name!r} must be seconds >= 0; got {self.cooldown!r}.")
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 10:
            raise InvalidInput(f"The window of policy {self.name!r} must be >= 10 predictions; got {self.window!r}.")
        if self.remedy not in ("quarantine", "none"):
            raise InvalidInput(f"The remedy of policy {self.name!r} must be quarantine or none; got {self.remedy!r}.")
        if self.action.kind in JOBS and any(trigger.kind != "schedule" for trigger in self.triggers):
            raise InvalidInput(
                f"Policy {self.name!r} runs the scheduled job {self.action.kind!r}: its triggers must be schedules."
            )
        if self.action.kind == "transfer" and any(trigger.kind != "new_segment" for trigger in self.triggers):
            raise InvalidInput(
                f"Policy {self.name!r} transfers to new segments: its triggers must be new_segment ones (put the "
                "others in a policy of their own)."
            )
        from driftloop.training import parse_gates

        gates = tuple(parse_gates(list(self.gates)))
        _check_gates_agree(self.name, gates)
        object.__setattr__(self, "gates", gates)

    def triggers_of(self, kind: str) -> list[Trigger]:
        return [trigger for trigger in self.triggers if trigger.kind == kind]

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> Policy:
        """A policy from its YAML form (see the module notes)."""
        if not isinstance(spec, Mapping):
            raise InvalidInput(f"A policy must be a mapping; got {type(spec).__name__}.")
        unknown = sorted(set(spec) - set(POLICY_KEYS))
        name = spec.get("name", "?")
        if unknown:
            raise InvalidInput(f"Policy {name!r} has unknown keys {unknown}; known: {', '.join(POLICY_KEYS)}.")
        for key in ("name", "model", "triggers", "action"):
            if key not in spec:
                raise InvalidInput(f"Policy {name!r} needs a {key!r}.")
        triggers = spec["triggers"]
        if not isinstance(triggers, list):
            raise InvalidInput(f"The triggers of policy {name!r} must be a list; got {type(triggers).__name__}.")
        gates = spec.get("gates", [])
        if not isinstance(gates, list):
            raise InvalidInput(f"The gates of policy {name!r} must be a list; got {type(gates).__name__}.")
        return cls(
            name=spec["name"],
            model=spec["model"],
            triggers=tuple(Trigger(*_kind_and_options("trigger", item)) for item in triggers),
            action=Action(*_kind_and_options("action", spec["action"])),
            gates=tuple(gates),
            rollout=Rollout(*_kind_and_options("rollout", spec.get("rollout", "promote"))),
            cooldown=parse_duration(spec.get("cooldown", 3600.0), f"the cooldown of policy {name!r}"),
            window=spec.get("window", 1_000),
            remedy=spec.get("remedy", "quarantine"),
        )


def policies_from_dict(spec: Mapping[str, Any], workspace: Workspace | None = None) -> list[Policy]:
    """The policies of a YAML document's data (``{"policies": [...]}``), checked against ``workspace``."""
    if not isinstance(spec, Mapping) or set(spec) != {"policies"} or not isinstance(spec["policies"], list):
        raise InvalidInput("A policy file holds one key, 'policies', a list of policies.")
    policies = [Policy.from_dict(item) for item in spec["policies"]]
    names = [policy.name for policy in policies]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise InvalidInput(f"Policy names must be unique; {repeated} appear more than once.")
    if workspace is not None:
        known = {model.name for model in workspace.models.list()}
        for policy in policies:
            if policy.model not in known:
                raise NotFound(f"Policy {policy.name!r} watches the model {policy.model!r}, which is not registered.")
            if policy.action.kind == "online":
                _check_online(policy, workspace)
    return policies


def load_policies(path: str | Path, workspace: Workspace | None = None) -> list[Policy]:
    """Read and check a policy file (YAML)."""
    return policies_from_dict(read_policy_file(path), workspace)


def read_policy_file(path: str | Path) -> Any:
    """The data of a policy file (YAML), not yet checked."""
    import yaml

    file = Path(path)
    try:
        return yaml.safe_load(file.read_text())
    except FileNotFoundError:
        raise InvalidInput(f"No policy file {str(file)!r}.") from None
    except yaml.YAMLError as error:
        raise InvalidInput(f"The policy file {str(file)!r} is not valid YAML: {error}") from None


def _kind_and_options(what: str, item: Any) -> tuple[str, Mapping[str, Any]]:
    """``"promote"`` or ``{"canary": {"share": 0.1}}`` as (kind, options)."""
    if isinstance(item, str):
        return item, {}
    if isinstance(item, Mapping) and len(item) == 1:
        ((kind, options),) = item.items()
        if options is None:
            options = {}
        if not isinstance(options, Mapping):
            raise InvalidInput(f"The options of {what} {kind!r} must be a mapping; got {options!r}.")
        return str(kind), options
    raise InvalidInput(f"A {what} is a name or a one-key mapping such as {{data_drift: {{share: 0.3}}}}; got {item!r}.")


def _options(
    what: str, kind: str, table: Mapping[str, Mapping[str, type | tuple[type, ...]]], options: Mapping[str, Any]
) -> dict[str, Any]:
    if kind not in table:
        raise InvalidInput(f"Unknown {what} {kind!r}; known: {', '.join(table)}.")
    allowed = table[kind]
    unknown = sorted(set(options) - set(allowed))
    if unknown:
        known = ", ".join(allowed) or "none"
        raise InvalidInput(f"The {what} {kind!r} has unknown options {unknown}; known: {known}.")
    for name, value in options.items():
        expected = allowed[name]
        if isinstance(value, bool) and expected is not bool:
            raise InvalidInput(f"The {name!r} of {what} {kind!r} must not be a boolean; got {value!r}.")
        if not isinstance(value, expected):
            raise InvalidInput(f"The {name!r} of {what} {kind!r} has the wrong type: {value!r}.")
        if isinstance(value, float) and not math.isfinite(value):
            raise InvalidInput(f"The {name!r} of {what} {kind!r} must be finite; got {value!r}.")
    return dict(options)


def _check_online(policy: Policy, workspace: Workspace) -> None:
    """An online policy needs a River champion: only it learns one row at a time."""
    try:
        champion = workspace.models.get(f"{policy.model}@champion")
    except NotFound:
        raise NotFound(
            f"Policy {policy.name!r} updates the champion of {policy.model!r} online; it has none."
        ) from None
    if champion.flavour != "river":
        raise InvalidInput(
            f"Policy {policy.name!r} updates {policy.model!r} online, but its champion (version {champion.number}) "
            f"is a {champion.flavour} model; online learning needs a River model (e.g. algorithm river_arf)."
        )


def _check_metric(metric: str) -> None:
    from driftloop.training import TASK_METRICS

    known = sorted({name for names in TASK_METRICS.values() for name in names})
    if metric not in known:
        raise InvalidInput(f"Unknown metric {metric!r}; known: {', '.join(known)}.")


def _check_cron(expression: Any) -> None:
    from croniter import croniter

    if not isinstance(expression, str) or not croniter.is_valid(expression):
        raise InvalidInput(f"A schedule trigger needs a valid cron expression, e.g. '0 3 * * 1'; got {expression!r}.")


def _check_gates_agree(policy: str, gates: Sequence[Any]) -> None:
    """Refuse thresholds on one metric that no value satisfies together (``mape <= 0.1`` and ``mape >= 0.2``)."""
    from driftloop.training import Threshold

    bounds: dict[str, list[float]] = {}
    for gate in gates:
        if isinstance(gate, Threshold):
            low, high = bounds.setdefault(gate.metric, [-math.inf, math.inf])
            bounds[gate.metric] = [
                low if gate.min is None else max(low, gate.min),
                high if gate.max is None else min(high, gate.max),
            ]
    for metric, (low, high) in bounds.items():
        if low > high:
            raise InvalidInput(
                f"The gates of policy {policy!r} contradict each other: {metric} must be >= {low:g} and <= {high:g}."
            )
