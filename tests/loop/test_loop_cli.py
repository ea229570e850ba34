"""``driftloop loop run|actions``: one tick from a policy file, its actions listed; bad files fail before work."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient
from tests.cli.test_monitor_cli import invoke
from tests.loop.conftest import market, serve

from driftloop import Workspace

POLICY = """
policies:
  - name: houses-loop
    model: houses
    window: 600
    triggers:
      - performance_drop: {metric: mape, by: 0.5, min_labels: 300}
    action:
      retrain: {window: 1200, min_rows: 300}
    gates: ["mape beats champion by 0"]
"""


def test_loop_run_ticks_once_and_actions_lists_what_it_did(ws: Workspace, client: TestClient, tmp_path: Path) -> None:
    serve(client, market(1_500, 2, scale=1.6), ws)
    policies = tmp_path / "loop.yaml"
    policies.write_text(POLICY)
    ran = invoke(ws, "loop", "run", str(policies), "--json")
    assert ran.exit_code == 0, ran.output  # type: ignore[attr-defined]
    (outcome,) = json.loads(ran.output)  # type: ignore[attr-defined]
    assert outcome["status"] == "promoted" and outcome["action"]["state"] == "promoted"
    listed = invoke(ws, "loop", "actions", "--json")
    (action,) = json.loads(listed.output)  # type: ignore[attr-defined]
    assert action["trigger"] == "performance_drop" and action["challenger_version"] == 2
    assert action["cost"]["train"]["cpu_seconds"] > 0
    shown = invoke(ws, "loop", "actions")  # a table as wide as the terminal: its cells may be cut short
    assert shown.exit_code == 0 and "trigger" in shown.output  # type: ignore[attr-defined]
    again = invoke(ws, "loop", "run", str(policies))
    assert again.exit_code == 0 and "cooldown" in again.output  # type: ignore[attr-defined]


def test_loop_run_refuses_a_bad_policy_file_before_any_work(ws: Workspace, tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.yaml"
    unknown.write_text(POLICY.replace("model: houses", "model: flats"))
    assert "'flats', which is not registered" in str(invoke(ws, "loop", "run", str(unknown)).exception)  # type: ignore[attr-defined]
    assert "No policy file" in str(invoke(ws, "loop", "run", str(tmp_path / "none.yaml")).exception)  # type: ignore[attr-defined]
    bad_every = invoke(ws, "loop", "run", str(unknown), "--every", "often")
    assert bad_every.exit_code != 0  # type: ignore[attr-defined]
    assert ws.metadata.loop.list() == []
