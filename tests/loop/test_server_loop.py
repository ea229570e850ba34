"""``driftloop serve --policies``: one server process among all runs the loop's controller, and it acts."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.loop.conftest import market, serve
from tests.loop.test_loop_cli import POLICY

from driftloop import Workspace
from driftloop.errors import InvalidInput, NotFound
from driftloop.serving import ServerSettings, create_app


def test_one_server_process_runs_the_controller_and_promotes(ws: Workspace, client: TestClient, tmp_path: Path) -> None:
    serve(client, market(1_500, 2, scale=1.6), ws)
    policies = tmp_path / "loop.yaml"
    policies.write_text(POLICY)
    settings = ServerSettings(
        models=["houses"], policies=str(policies), loop_interval=0.3, monitor_interval=0, upkeep_interval=0
    )
    first, second = create_app(ws, settings), create_app(ws, settings)
    with TestClient(first), TestClient(second):
        deadline = time.monotonic() + 60
        while ws.models.get("houses@champion").number == 1 and time.monotonic() < deadline:
            time.sleep(0.2)
        runs = [first.state.controller.runs, second.state.controller.runs]
    assert ws.models.get("houses@champion").number == 2
    assert min(runs) == 0 < max(runs), runs
    (action,) = ws.metadata.loop.list()
    assert action.state == "promoted"


def test_a_bad_policy_file_stops_the_server_before_it_starts(ws: Workspace, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("policies:\n  - {name: p, model: houses, triggers: [telepathy], action: retrain}\n")
    with pytest.raises(InvalidInput, match="Unknown trigger 'telepathy'"):
        ServerSettings(models=["houses"], policies=str(bad))
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(POLICY.replace("model: houses", "model: flats"))
    with pytest.raises(NotFound, match="not registered"):
        create_app(ws, ServerSettings(models=["houses"], policies=str(unknown)))
