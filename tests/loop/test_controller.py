"""The loop controller on a served regression model: a decay retrains and promotes, bad data is quarantined and
holds retraining, a failed retrain leaves the champion serving, and every step is an event with its cost."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from tests.loop.conftest import Clock, market, policy, serve

from driftloop import Workspace
from driftloop.loop._controller import LoopController


def test_a_calm_market_changes_nothing(ws: Workspace, client: TestClient) -> None:
    serve(client, market(600, 1), ws)
    (outcome,) = LoopController(ws, [policy()]).tick()
    assert outcome.status == "quiet" and outcome.action is None
    assert outcome.observed["window_rows"] == 600 and outcome.observed["drift_share"] is not None
    assert ws.models.get("houses@champion").number == 1


def test_decay_retrains_gates_and_promotes_with_evidence_and_cost(ws: Workspace, client: TestClient) -> None:
    serve(client, market(1_500, 2, scale=1.6), ws)  # prices up 60%: the champion's error grows
    (outcome,) = LoopController(ws, [policy()]).tick()
    assert outcome.status == "promoted", outcome
    action = outcome.action
    assert action is not None and action.challenger_version == 2 and action.champion_version == 1
    assert ws.models.get("houses@champion").number == 2
    trigger = action.evidence["trigger"]
    assert trigger["metric"] == "mape" and trigger["measured"] > trigger["validation"] * 1.5
    assert action.evidence["window"]["rows"] == 1_200 and action.evidence["window"]["dataset_version"] == 1
    challenger = ws.models.get("houses/2")
    assert (challenger.dataset, challenger.dataset_version) == ("houses-window", 1)
    assert challenger.metrics["mape"] < trigger["measured"]
    for step in ("window", "train"):
        assert action.cost[step]["wall_seconds"] > 0 and action.cost[step]["peak_rss_mib"] > 0
    assert 0 < action.cost["detection_to_promotion_seconds"] < 60
    steps = [e.action for e in ws.events.list(object_type="loop_action", object_id=action.id)]
    assert steps == ["loop.promoted", "loop.gated", "loop.started", "loop.started"]
    (move,) = [m for m in ws.models.history("houses", "champion") if m.to_version == 2]
    assert move.evidence["loop_action"] == action.id and "houses-loop" in move.reason


def test_the_cooldown_spaces_actions(ws: Workspace, client: TestClient) -> None:
    serve(client, market(1_500, 3, scale=1.6), ws)
    clock = Clock()
    controller = LoopController(ws, [policy(action={"retrain": {"window": 1_200, "min_rows": 5_000}})], clock=clock)
    (failed,) = controller.tick()
    assert failed.status == "failed" and failed.action is not None
    assert "needs 5000" in (failed.action.error or "")
    assert ws.models.get("houses@champion").number == 1  # the champion keeps serving
    (alert,) = ws.metadata.alerts.list(status="open")
    assert (alert.rule, alert.subject, alert.severity) == ("loop-action-failed", "houses", "critical")
    clock.now += 60
    (waiting,) = controller.tick()
    assert waiting.status == "cooldown" and waiting.evidence["seconds_left"] == pytest.approx(3540)
    clock.now += 3600
    (again,) = controller.tick()
    assert again.status == "failed"


def test_bad_data_is_quarantined_holds_retraining_and_alerts(ws: Workspace, client: TestClient) -> None:
    serve(client, market(600, 4, scale=1.6, missing_area=0.4), ws)
    controller = LoopController(ws, [policy()])
    (remedied,) = controller.tick()
    assert remedied.status == "remedied" and remedied.action is not None
    assert remedied.action.action == "data_remedy" and remedied.action.trigger == "quality_failure"
    assert any("area" in problem for problem in remedied.evidence["problems"])
    (quarantine,) = ws.metadata.loop.quarantines("houses")
    assert quarantine.action_id == remedied.action.id
    (alert,) = ws.metadata.alerts.list(status="open")
    assert (alert.rule, alert.subject, alert.severity) == ("loop-data-quality", "houses", "critical")
    (held,) = controller.tick()
    assert held.status == "held" and ws.models.get("houses@champion").number == 1

    # A healthy feed again: the hold ends, and the retrain leaves the quarantined rows out.
    serve(client, market(1_500, 5, scale=1.6), ws)
    (promoted,) = controller.tick()
    assert promoted.status == "promoted", promoted
    assert promoted.action is not None and promoted.action.evidence["window"]["quarantined_windows"] == 1
    trained_on = ws.datasets.get("houses-window").to_pandas()
    assert trained_on["area"].notna().all() and len(trained_on) == 1_200
    assert ws.metadata.alerts.list(status="open") == []  # resolved by the healthy window


def test_a_challenger_that_fails_its_gates_is_rejected_and_nothing_is_registered(
    ws: Workspace, client: TestClient
) -> None:
    serve(client, market(1_500, 6, scale=1.6), ws)
    strict = policy(gates=["mape beats champion by 0", "r2 >= 0.9999"])
    (outcome,) = LoopController(ws, [strict]).tick()
    assert outcome.status == "rejected" and outcome.action is not None
    assert "r2" in str(outcome.action.evidence["gates"])
    assert [v.number for v in ws.models.versions("houses")] == [1]
    assert ws.models.get("houses@champion").number == 1


def test_the_incremental_action_continues_the_champion_and_gates_it(ws: Workspace, client: TestClient) -> None:
    serve(client, market(1_500, 7, scale=1.6), ws)
    updating = policy(action={"incremental": {"window": 1_200, "rounds": 40, "min_rows": 300}})
    (outcome,) = LoopController(ws, [updating]).tick()
    assert outcome.status == "promoted", outcome
    assert (
        outcome.action is not None
        and "continued boosting: 40 more trees" in outcome.action.evidence["challenger"]["how"]
    )
    champion, challenger = ws.models.load("houses/1"), ws.models.load("houses/2")
    assert challenger.estimator[-1].booster_.num_trees() == champion.estimator[-1].booster_.num_trees() + 40
    info = ws.models.get("houses@champion")
    assert info.number == 2 and (info.dataset, info.dataset_version) == ("houses-window", 1)
    assert info.metrics["mape"] < outcome.action.evidence["trigger"]["measured"]


def test_active_learning_queues_predictions_within_its_budget_and_refuses_a_strategy_that_does_not_fit(
    ws: Workspace, client: TestClient
) -> None:
    serve(client, market(400, 9), ws, labels=False)  # served, not labelled yet
    asking = policy(
        triggers=[{"schedule": {"cron": "0 6 * * *"}}],
        action={"active_learning": {"strategy": "random", "budget_per_day": 25, "hours": 48}},
    )
    clock = Clock()
    clock.now = time.time()  # the queue reads predictions of the last 48 hours of this clock
    controller = LoopController(ws, [asking], clock=clock)
    clock.now += 86_400  # a day later: the schedule is due
    (outcome,) = controller.tick()
    assert outcome.status == "requested" and outcome.action is not None
    queued = outcome.action.evidence["labels"]["queued"]
    assert len(queued) == 25 and outcome.action.evidence["labels"]["candidates"] == 400
    assert len(ws.metadata.label_requests.pending(model="houses", limit=100)) == 25
    trees = policy(
        triggers=[{"schedule": {"cron": "0 6 * * *"}}],
        action={"active_learning": {"strategy": "ensemble_spread", "budget_per_day": 25, "hours": 96}},
        name="other",
    )
    other = LoopController(ws, [trees], clock=clock)
    clock.now += 2 * 86_400  # the first day's budget is spent: two days later
    (failed,) = other.tick()
    assert failed.status == "failed" and failed.action is not None
    assert "ensemble" in (failed.action.error or "")  # a single LightGBM has no members to disagree


def _label(ws: Workspace, frame: object) -> None:
    from driftloop.serving._labels import LabelStore
    from driftloop.store.tables import TableStore

    store = LabelStore(TableStore(ws.settings.tables_url))
    store.record_many(dict(zip(frame["sale_id"], frame["price"].astype(float), strict=True)))  # type: ignore[index]
    store.close()


def test_a_new_champion_is_judged_on_the_labels_that_arrive_after_it_was_registered(
    ws: Workspace, client: TestClient
) -> None:
    early, late = market(1_500, 2, scale=1.6), market(1_500, 3, scale=1.6)
    serve(client, early, ws, labels=False)  # answered by version 1; labelled before version 2 exists
    _label(ws, early)
    serve(client, late, ws, labels=False)  # answered by version 1 too; labelled after version 2 exists
    ws.training.train("sales", "price", algorithms="lightgbm", folds=2, register="houses", promote=True)
    controller = LoopController(ws, [policy()])
    # Version 2 has no labelled prediction of its own, and may have learnt from the labels older than itself.
    (quiet,) = controller.tick()
    assert quiet.status == "quiet" and ws.models.get("houses@champion").number == 2
    _label(ws, late)
    (outcome,) = controller.tick()
    assert outcome.status == "promoted", outcome
    assert outcome.action is not None and outcome.action.champion_version == 2
    trigger = outcome.action.evidence["trigger"]
    assert trigger["rescored"] is True and trigger["labelled_rows"] == 1_000
    assert trigger["measured"] > trigger["validation"] * 1.5
