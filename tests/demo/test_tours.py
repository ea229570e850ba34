"""``make demo`` stays working: both tours run on a fresh workspace and leave what they print about."""

from __future__ import annotations

import io

from rich.console import Console

from driftloop import Workspace
from driftloop.demo import run_tour, run_training_tour


def test_tours_run_end_to_end(sqlite_workspace: Workspace) -> None:
    printed = io.StringIO()
    console = Console(file=printed, width=200)
    parent = run_tour(sqlite_workspace, console=console)
    assert sqlite_workspace.tracking.get_run(parent).status.value == "finished"
    reference = run_training_tour(sqlite_workspace, console=console)
    assert reference == "diabetes/1"
    assert sqlite_workspace.models.model("diabetes").aliases == {"champion": 1}
    assert "promoted it to champion" in printed.getvalue()
