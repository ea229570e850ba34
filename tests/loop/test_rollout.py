"""Canary and shadow rollouts by the loop: the challenger serves live traffic first, and is promoted or rolled
back on its labelled live error against the champion's over the same period. The loop sets the model's traffic
policy for the rollout, which servers follow, and puts it back afterwards."""

from __future__ import annotations

import time

import pytest
from fastapi.testclient import TestClient
from tests.loop.conftest import market, policy, serve

from driftloop import Workspace
from driftloop.entities import TrafficPolicy
from driftloop.errors import InvalidInput, NotFound
from driftloop.loop import policies_from_dict
from driftloop.loop._controller import LoopController
from driftloop.serving import ServerSettings, create_app


def served_with(ws: Workspace, traffic: dict[str, object] | None = None) -> TestClient:
    """A server of ``houses`` following its stored traffic policy, or keeping ``traffic`` when given."""
    settings = ServerSettings(
        models=["houses"],
        traffic={} if traffic is None else {"houses": traffic},
        poll_interval=0.05,
        monitor_interval=0,
        upkeep_interval=0,
    )
    app = create_app(ws, settings)
    client = TestClient(app)
    client.app_state = app.state  # type: ignore[attr-defined]  # what serve() flushes
    return client


@pytest.mark.parametrize(("margin", "expected"), [(0.0, "promoted"), (-0.95, "rejected")])
def test_a_canary_is_judged_on_its_labelled_live_error(ws: Workspace, margin: float, expected: str) -> None:
    rollout = {"canary": {"requests": 100, "margin": margin, "share": 0.5}}
    with served_with(ws) as client:
        serve(client, market(1_500, 2, scale=1.6), ws)
        controller = LoopController(ws, [policy(rollout=rollout)])
        (started,) = controller.tick()
        assert started.status == "rolling_out" and started.action is not None
        assert ws.models.get("houses@challenger").number == 2 and ws.models.get("houses@champion").number == 1
        traffic = ws.models.traffic("houses")
        assert (
            traffic.policy == TrafficPolicy(canary=0.5)
            and traffic.reason == "loop policy houses-loop: canary of version 2"
        )
        (waiting,) = controller.tick()  # no labelled canary predictions yet
        assert waiting.action is None and ws.metadata.loop.get(started.action.id).state == "rolling_out"
        time.sleep(0.5)  # the servers follow the challenger alias
        serve(client, market(600, 3, scale=1.6), ws)
        controller.tick()
    judged = ws.metadata.loop.get(started.action.id)
    assert judged.state == expected, judged
    live = judged.evidence["live"]
    assert live["metric"] == "mape" and live["challenger_rows"] >= 100 and live["champion_rows"] > 0
    assert live["challenger"] < live["champion"]  # learnt the new prices, live
    assert ws.models.get("houses@champion").number == (2 if expected == "promoted" else 1)
    with pytest.raises(NotFound):
        ws.models.get("houses@challenger")  # promoted or rolled back, the challenger alias is gone
    if expected == "rejected":
        assert judged.evidence["rolled_back"] is True
    assert judged.evidence["traffic_restored"] is True
    assert ws.models.traffic("houses").policy == TrafficPolicy()  # as before the rollout
    changes = [e for e in ws.events.list(object_id="houses") if e.action == "model.traffic"]
    assert [e.details["after"]["canary"] for e in reversed(changes)] == [0.5, 0.0]


def test_a_traffic_policy_a_deployer_changed_during_a_rollout_stands(ws: Workspace) -> None:
    with served_with(ws) as client:
        serve(client, market(1_500, 2, scale=1.6), ws)
        controller = LoopController(ws, [policy(rollout={"canary": {"requests": 100, "share": 0.5}})])
        (started,) = controller.tick()
        assert started.action is not None
        ws.models.set_traffic(
            "houses", canary=0.5, shadow=True, reason="see it all", expected=TrafficPolicy(canary=0.5)
        )
        time.sleep(0.5)
        serve(client, market(600, 3, scale=1.6), ws)
        controller.tick()
    judged = ws.metadata.loop.get(started.action.id)
    assert judged.state == "promoted" and judged.evidence["traffic_restored"] is False
    assert ws.models.traffic("houses").policy == TrafficPolicy(canary=0.5, shadow=True)


def test_a_rollout_that_cannot_be_judged_takes_its_challenger_out_of_the_traffic(ws: Workspace) -> None:
    with served_with(ws) as client:
        serve(client, market(1_500, 2, scale=1.6), ws)
        controller = LoopController(ws, [policy(rollout={"canary": {"requests": 100, "share": 1.0}})])
        (started,) = controller.tick()
        assert started.action is not None
        time.sleep(0.5)
        serve(client, market(300, 3, scale=1.6), ws)  # all of it to the challenger: the champion has no labels
        controller.tick()
    failed = ws.metadata.loop.get(started.action.id)
    assert failed.state == "failed" and "No labelled champion predictions" in (failed.error or "")
    assert failed.evidence["traffic_restored"] is True
    assert ws.models.traffic("houses").policy == TrafficPolicy()
    with pytest.raises(NotFound):
        ws.models.get("houses@challenger")


def test_a_shadow_is_compared_on_the_very_same_requests(ws: Workspace) -> None:
    with served_with(ws, {"shadow": True}) as client:
        serve(client, market(1_500, 4, scale=1.6), ws)
        controller = LoopController(ws, [policy(rollout={"shadow": {"requests": 100}})])
        (started,) = controller.tick()
        assert started.status == "rolling_out" and started.action is not None
        time.sleep(0.5)
        serve(client, market(300, 5, scale=1.6), ws)
        controller.tick()
    judged = ws.metadata.loop.get(started.action.id)
    assert judged.state == "promoted", judged
    assert judged.evidence["live"]["challenger_rows"] == judged.evidence["live"]["champion_rows"] == 300


def test_rollout_options_are_checked() -> None:
    spec = {"name": "p", "model": "m", "triggers": ["quality_failure"], "action": "retrain"}
    with pytest.raises(InvalidInput, match="at least 10 labelled requests"):
        policies_from_dict({"policies": [{**spec, "rollout": {"canary": {"requests": 3}}}]})
    with pytest.raises(InvalidInput, match=r"margin must be in \(-1, 10\)"):
        policies_from_dict({"policies": [{**spec, "rollout": {"shadow": {"margin": -2}}}]})
    with pytest.raises(InvalidInput, match=r"share must be in \(0, 1\]"):
        policies_from_dict({"policies": [{**spec, "rollout": {"canary": {"share": 0}}}]})
    with pytest.raises(InvalidInput, match="share"):
        policies_from_dict({"policies": [{**spec, "rollout": {"shadow": {"share": 0.5}}}]})
