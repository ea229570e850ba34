"""``driftloop models …`` over a real registry: tables, --json, history, rollback and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from typer.testing import CliRunner

from driftloop import Workspace
from driftloop.cli import app


@pytest.fixture
def registry(sqlite_workspace: Workspace) -> Workspace:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, 200), "rooms": rng.integers(1, 6, 200).astype(float)})
    frame["price"] = 3 * frame["area"] + 10 * frame["rooms"] + rng.normal(0, 5, 200)
    for alpha in (1000.0, 1.0):
        model = Ridge(alpha=alpha).fit(frame[["area", "rooms"]], frame["price"])
        sqlite_workspace.models.register("houses", model, target="price", holdout=frame.tail(50))
    sqlite_workspace.models.promote("houses/1", reason="first")
    sqlite_workspace.models.promote("houses/2", reason="better")
    return sqlite_workspace


def run(ws: Workspace, *args: str) -> tuple[int, str]:
    """Exit code and output; a driftloop error (which ``main`` prints as one line) as its message."""
    result = CliRunner().invoke(app, ["--root", ws.settings.root, *args], env={"COLUMNS": "200"})
    return result.exit_code, result.output + (str(result.exception) if result.exception else "")


def test_versions_show_history_and_diff(registry: Workspace) -> None:
    code, output = run(registry, "models", "versions", "houses")
    assert code == 0 and "Versions of houses" in output
    code, output = run(registry, "models", "versions", "houses", "--json")
    listed = json.loads(output)
    assert [v["aliases"] for v in listed] == [[], ["champion"]] and "rmse" in listed[1]["metrics"]
    code, output = run(registry, "models", "show", "houses@champion", "--json")
    shown = json.loads(output)
    assert code == 0 and shown["version"] == 2 and shown["files"][0]["format"] == "skops"
    code, output = run(registry, "models", "history", "houses")
    assert code == 0 and "better" in output and "first" in output
    code, output = run(registry, "models", "diff", "houses/1", "houses/2", "--score", "--json")
    diff = json.loads(output)
    assert code == 0 and diff["scored"]["rows"] == 50
    assert diff["scored"]["houses/2"]["rmse"] < diff["scored"]["houses/1"]["rmse"]


def test_rollback_alias_and_errors(registry: Workspace, tmp_path: Path) -> None:
    code, output = run(registry, "models", "rollback", "houses", "-m", "live error up")
    assert code == 0 and "version 2 → version 1 (live error up)" in output
    code, output = run(registry, "models", "alias", "houses", "staging", "2")
    assert code == 0 and "houses@staging: unset → version 2" in output
    code, output = run(registry, "models", "alias", "houses", "staging", "--delete")
    assert code == 0 and "removed" in output
    code, output = run(registry, "models", "promote", "houses/9")
    assert code == 1 and "no version 9" in output
    code, output = run(registry, "models", "show", "nope")
    assert code == 1 and "No registered model named 'nope'" in output


def test_traffic_is_shown_changed_field_by_field_and_reset(registry: Workspace) -> None:
    code, output = run(registry, "models", "traffic", "houses")
    assert code == 0 and "houses: all to the champion (never set)" in output
    code, output = run(registry, "models", "traffic", "houses", "--canary", "0.1", "-m", "a tenth")
    assert code == 0 and "10% canary to @challenger" in output and "no alias 'challenger' yet" in output
    registry.models.set_alias("houses", "challenger", 1)
    code, output = run(registry, "models", "traffic", "houses", "--shadow")  # the canary share stays
    assert code == 0 and "10% canary to @challenger, shadowed by @challenger" in output and "no alias" not in output
    code, output = run(registry, "models", "traffic", "houses", "--json")
    shown = json.loads(output)
    assert shown["policy"] == {"canary": 0.1, "shadow": True, "challenger": "challenger"}
    assert shown["updated_by"] and shown["updated_at"]
    code, output = run(registry, "models", "traffic", "houses", "--off")
    assert code == 0 and "all to the champion (set by" in output
    events = [e for e in registry.events.list(object_id="houses") if e.action == "model.traffic"]
    assert [e.details["reason"] for e in events] == ["", "", "a tenth"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--canary", "1.5"], "Invalid value for '--canary'"),
        (["--off", "--canary", "0.2"], "give it alone"),
        (["--challenger", "../x"], "path separator"),
    ],
)
def test_a_bad_traffic_change_exits_non_zero_and_changes_nothing(
    registry: Workspace, args: list[str], message: str
) -> None:
    code, output = run(registry, "models", "traffic", "houses", *args)
    assert code != 0 and message in output
    assert registry.models.traffic("houses").updated_at is None
