"""Scheduled jobs in the controller: an ingest, a training from a config file and a monitor pass, each on its cron,
each an action with its evidence; policies that mix jobs with drift triggers are refused."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.loop.conftest import Clock, market, policy, serve

from driftloop import Workspace
from driftloop.errors import InvalidInput
from driftloop.loop import policies_from_dict
from driftloop.loop._controller import LoopController

DAILY = [{"schedule": {"cron": "0 2 * * *"}}]


def test_an_ingest_job_runs_on_its_schedule_and_an_unchanged_source_makes_no_version(
    ws: Workspace, tmp_path: Path
) -> None:
    source = tmp_path / "sales.csv"
    market(200, 1).drop(columns=["sale_id"]).to_csv(source, index=False)
    nightly = policy(
        name="nightly-sales", triggers=DAILY, action={"ingest": {"dataset": "feed", "source": str(source)}}
    )
    clock = Clock()
    controller = LoopController(ws, [nightly], clock=clock)
    (early,) = controller.tick()
    assert early.status == "quiet"  # not due yet
    clock.now += 86_400
    (first,) = controller.tick()
    assert first.status == "done" and first.action is not None
    assert first.action.evidence["job"] == {"dataset": "feed", "version": 1, "created": True}
    clock.now += 86_400
    (second,) = controller.tick()
    assert second.action is not None and second.action.evidence["job"]["created"] is False
    assert [v.number for v in ws.datasets.versions("feed")] == [1]


def test_a_train_job_runs_a_training_config(ws: Workspace, tmp_path: Path) -> None:
    config = tmp_path / "train.yaml"
    config.write_text(
        "dataset: sales\ntarget: price\nalgorithms: [lightgbm]\nparams: {lightgbm: {n_estimators: 40}}\nfolds: 3\n"
        "register: houses\nalias: challenger\n"
    )
    weekly = policy(name="weekly-train", triggers=DAILY, action={"train": {"config": str(config)}})
    clock = Clock()
    controller = LoopController(ws, [weekly], clock=clock)
    clock.now += 86_400
    (trained,) = controller.tick()
    assert trained.status == "done" and trained.action is not None, trained
    assert trained.action.evidence["job"]["version"] == 2 and trained.action.evidence["job"]["algorithm"] == "lightgbm"
    assert ws.models.get("houses@challenger").number == 2 and ws.models.get("houses@champion").number == 1


def test_a_check_job_records_the_models_monitor_pass(ws: Workspace, client: TestClient) -> None:
    serve(client, market(400, 2), ws)
    hourly = policy(
        name="hourly-check", triggers=[{"schedule": {"cron": "0 * * * *"}}], action={"check": {"last": 400}}
    )
    clock = Clock()
    clock.now = time.time()
    controller = LoopController(ws, [hourly], clock=clock)
    clock.now += 3_600
    (checked,) = controller.tick()
    assert checked.status == "done" and checked.action is not None
    assert checked.action.evidence["job"]["models"] == ["ok"]
    (record,) = ws.metadata.monitor_records.latest("drift", subject="houses")
    assert record.outputs["rows"] == 400


def test_jobs_listen_to_schedules_only() -> None:
    spec = {"name": "p", "model": "m", "triggers": ["quality_failure"], "action": {"train": {"config": "t.yaml"}}}
    with pytest.raises(InvalidInput, match="its triggers must be schedules"):
        policies_from_dict({"policies": [spec]})
    with pytest.raises(InvalidInput, match="needs its source"):
        policies_from_dict({"policies": [{**spec, "triggers": DAILY, "action": {"ingest": {"dataset": "d"}}}]})


def test_a_tick_of_the_stored_policies_fires_a_schedule_due_since_the_policy_was_stored(
    ws: Workspace, client: TestClient
) -> None:
    """``ws.policies.tick()`` builds a controller for one tick (as a workspace server does for each request): a
    schedule counts from when its policy was stored, not from when that controller was built."""
    import sqlalchemy as sa

    from driftloop.store.metadata._schema import policies

    serve(client, market(400, 2), ws)
    document = {
        "name": "hourly-check",
        "model": "houses",
        "triggers": [{"schedule": {"cron": "0 * * * *"}}],
        "action": {"check": {"last": 400}},
    }
    ws.policies.set(document)
    (quiet,) = ws.policies.tick()
    assert quiet.status != "done"  # stored just now: the next full hour is ahead
    with ws.metadata.database.write() as conn:  # as if stored two hours ago
        conn.execute(sa.update(policies).values(updated_at=time.time() - 7_200))
    (checked,) = ws.policies.tick()
    assert checked.status == "done" and checked.action is not None
    assert checked.action.evidence["job"]["models"] == ["ok"]
    (again,) = ws.policies.tick()  # the next one counts from that action
    assert again.status != "done"
