"""Policies load from YAML and refuse, at load time, what they could not run."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop import Workspace
from driftloop.errors import InvalidInput, NotFound
from driftloop.loop import load_policies, policies_from_dict
from driftloop.training import BeatsChampion, Threshold

GOOD = """
policies:
  - name: houses-loop
    model: houses
    window: 2000
    triggers:
      - data_drift: {share: 0.3}
      - performance_drop: {metric: mape, by: 0.15}
      - performance_drop: {metric: mape, by: 0.2, estimated: true}
      - concept_drift: {}
      - quality_failure
      - schedule: {cron: "0 3 * * 1"}
      - new_data: {dataset: sales}
    action:
      retrain: {window: 8000, older: 0.25, algorithm: lightgbm, params: {n_estimators: 300}}
    gates: ["mape beats champion by 0", "r2 >= 0.5"]
    rollout: promote
    cooldown: 2h
"""


def spec(**changes: object) -> dict[str, object]:
    policy: dict[str, object] = {
        "name": "p",
        "model": "houses",
        "triggers": ["quality_failure"],
        "action": {"retrain": {}},
    }
    policy.update(changes)
    return {"policies": [policy]}


def test_a_full_policy_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "loop.yaml"
    path.write_text(GOOD)
    (policy,) = load_policies(path)
    assert (policy.name, policy.model, policy.window, policy.cooldown) == ("houses-loop", "houses", 2000, 7200.0)
    assert [trigger.kind for trigger in policy.triggers] == [
        "data_drift", "performance_drop", "performance_drop", "concept_drift", "quality_failure", "schedule",
        "new_data",
    ]  # fmt: skip
    assert policy.action.kind == "retrain" and policy.action.window == 8000 and policy.action.holdout == 0.2
    assert policy.gates == (BeatsChampion("mape", 0.0), Threshold("r2", min=0.5))
    assert policy.rollout.kind == "promote" and policy.remedy == "quarantine"


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"triggers": [{"drift_storm": {}}]}, "Unknown trigger 'drift_storm'; known: data_drift"),
        ({"action": {"reboot": {}}}, "Unknown action 'reboot'; known: retrain"),
        ({"action": {"retrain": {"windw": 5}}}, r"unknown options \['windw'\]"),
        ({"action": {"retrain": {"window": "big"}}}, "'window' of action 'retrain' has the wrong type"),
        ({"action": {"retrain": {"algorithm": "magic"}}}, "Unknown algorithm 'magic'"),
        ({"rollout": {"canary": {"shares": 0.1}}}, r"unknown options \['shares'\]; known: requests, margin, share"),
        ({"rollout": "teleport"}, "Unknown rollout 'teleport'"),
        ({"triggers": []}, "has no trigger"),
        ({"triggers": [{"schedule": {"cron": "every day"}}]}, "valid cron expression"),
        ({"triggers": [{"performance_drop": {"by": 0.1}}]}, "needs its metric"),
        ({"triggers": [{"performance_drop": {"metric": "happiness"}}]}, "Unknown metric 'happiness'"),
        ({"triggers": [{"data_drift": {"share": 2}}]}, r"share must be in \(0, 1\]"),
        ({"triggers": [{"concept_drift": {"detector": "crystal_ball"}}]}, "Unknown concept drift detector"),
        ({"gates": ["mape <= 0.1", "mape >= 0.2"]}, "contradict each other: mape must be >= 0.2 and <= 0.1"),
        ({"cooldown": "soon"}, "cooldown of policy 'p' must be seconds or a duration"),
        ({"remedy": "pray"}, "remedy of policy 'p' must be quarantine or none"),
        ({"colour": "blue"}, r"unknown keys \['colour'\]"),
    ],
)
def test_a_policy_that_could_not_run_is_refused_at_load_time(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        policies_from_dict(spec(**changes))


def test_a_file_must_be_a_list_of_uniquely_named_policies(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="one key, 'policies'"):
        policies_from_dict({"policy": []})
    twice = spec()
    twice["policies"] = [*twice["policies"], *twice["policies"]]  # type: ignore[misc]
    with pytest.raises(InvalidInput, match="unique"):
        policies_from_dict(twice)
    with pytest.raises(InvalidInput, match="No policy file"):
        load_policies(tmp_path / "absent.yaml")
    (tmp_path / "bad.yaml").write_text("policies: [\n")
    with pytest.raises(InvalidInput, match="not valid YAML"):
        load_policies(tmp_path / "bad.yaml")


def test_a_policy_on_a_model_the_registry_does_not_know_is_refused(sqlite_workspace: Workspace) -> None:
    with pytest.raises(NotFound, match="'houses', which is not registered"):
        policies_from_dict(spec(), sqlite_workspace)
