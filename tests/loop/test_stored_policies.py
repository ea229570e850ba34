"""Policies kept in the workspace (``ws.policies``): checked before they are stored, revised, deleted, each change in
the audit log with its document; the same on SQLite, PostgreSQL and through a workspace server (where only an
admin changes them)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from tests.conftest import remote_workspace, stores_of

from driftloop import Workspace
from driftloop.errors import InvalidInput, NotFound, PermissionDenied

POLICY = {
    "name": "houses-loop",
    "model": "houses",
    "triggers": [{"data_drift": {"share": 0.3}}],
    "action": {"retrain": {"window": 4000}},
    "gates": ["mape beats champion by 0"],
    "cooldown": "2h",
}


def register_houses(ws: Workspace) -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, 100), "rooms": rng.integers(1, 6, 100).astype(float)})
    ws.models.register("houses", Ridge().fit(frame, 3 * frame["area"] + rng.normal(0, 5, 100)))


@pytest.fixture
def houses_model(service_workspace: Workspace) -> Workspace:
    register_houses(service_workspace)
    return service_workspace


def test_policies_are_checked_revised_and_deleted_with_an_audit_trail(houses_model: Workspace) -> None:
    ws = houses_model
    first = ws.policies.set(POLICY)
    assert (first.name, first.revision, first.updated_by) == ("houses-loop", 1, "tester")
    second = ws.policies.set({**POLICY, "cooldown": "6h"})
    assert second.revision == 2 and ws.policies.get("houses-loop").document["cooldown"] == "6h"
    (loaded,) = ws.policies.load()
    assert (loaded.model, loaded.action.kind, loaded.cooldown) == ("houses", "retrain", 6 * 3600.0)
    with pytest.raises(InvalidInput, match="Unknown trigger 'drift'"):
        ws.policies.set({**POLICY, "name": "broken", "triggers": ["drift"]})
    with pytest.raises(NotFound, match="'flats', which is not registered"):
        ws.policies.set({**POLICY, "name": "elsewhere", "model": "flats"})
    assert [stored.name for stored in ws.policies.list()] == ["houses-loop"]
    removed = ws.policies.delete("houses-loop")
    assert removed.revision == 2 and ws.policies.list() == []
    with pytest.raises(NotFound, match="No policy 'houses-loop'"):
        ws.policies.get("houses-loop")
    events = ws.events.list(object_type="policy")
    assert [(event.action, event.details["revision"]) for event in events] == [
        ("policy.delete", 2),
        ("policy.set", 2),
        ("policy.set", 1),
    ]
    assert events[0].details["document"]["cooldown"] == "6h"


def test_through_a_server_only_an_admin_changes_policies(tmp_path: Path) -> None:
    with remote_workspace(tmp_path) as admin:
        register_houses(admin)
        identities = stores_of(admin).metadata.identities
        identities.create_user("ed", role="editor", actor="setup")
        _, token = identities.create_token("ed", None, actor="setup")
        admin.policies.set(POLICY)
        editor = Workspace(admin.server.url, token=token)
        try:
            assert [stored.name for stored in editor.policies.list()] == ["houses-loop"]
            with pytest.raises(PermissionDenied, match="admin"):
                editor.policies.set({**POLICY, "cooldown": "1h"})
            with pytest.raises(PermissionDenied, match="admin"):
                editor.policies.delete("houses-loop")
        finally:
            editor.close()
        assert admin.policies.get("houses-loop").revision == 1


def test_the_command_line_stores_a_policy_file_and_lists_it(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    import os

    import yaml

    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, 50)})
    sqlite_workspace.models.register("houses", Ridge().fit(frame, 2 * frame["area"]))
    file = tmp_path / "loop.yaml"
    file.write_text(yaml.safe_dump({"policies": [POLICY]}))
    env = {**os.environ, "DRIFTLOOP_ROOT": sqlite_workspace.settings.root, "COLUMNS": "200"}

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "driftloop", *args], capture_output=True, text=True, env=env)

    stored = cli("policies", "set", str(file))
    assert stored.returncode == 0, stored.stderr
    assert "policy houses-loop: revision 1" in stored.stdout
    listed = cli("policies", "list")
    assert "houses-loop" in listed.stdout and "retrain" in listed.stdout
    assert "cooldown: 2h" in cli("policies", "show", "houses-loop").stdout
