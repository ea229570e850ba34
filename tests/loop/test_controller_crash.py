"""A controller killed at any step of an action, then restarted, ends with one champion and no model registered
twice: each kill point stops the process dead (``os._exit``) around one step of the action's record."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.loop.conftest import market, policy, serve

from driftloop import Workspace
from driftloop.loop._controller import LoopController

ROOT = Path(__file__).resolve().parents[2]
CHILD = textwrap.dedent(
    """
    import os, sys
    from driftloop import Workspace
    from driftloop.store.metadata import LoopRepository
    from driftloop.loop._controller import LoopController
    from tests.loop.conftest import policy

    when, index = sys.argv[2], int(sys.argv[3])
    advance, calls = LoopRepository.advance, [0]

    def dying_advance(self, *args, **kwargs):
        calls[0] += 1
        if when == "before" and calls[0] == index:
            os._exit(3)
        result = advance(self, *args, **kwargs)
        if when == "after" and calls[0] == index:
            os._exit(3)
        return result

    LoopRepository.advance = dying_advance
    with Workspace(sys.argv[1]) as ws:
        LoopController(ws, [policy()]).tick()
    sys.exit(0)
    """
)


@pytest.mark.parametrize(
    ("when", "index", "state_left"),
    [
        ("before", 1, "started"),  # triggered: nothing built yet
        ("after", 1, "started"),  # the training window is stored, no model yet
        ("before", 2, "started"),  # the challenger is registered, not yet recorded
        ("after", 2, "gated"),  # recorded as gated, the champion not moved yet
        ("before", 3, "gated"),  # the champion moved, not yet recorded
    ],
)
def test_a_controller_killed_at_each_step_resumes_to_one_champion(
    ws: Workspace, client: TestClient, when: str, index: int, state_left: str
) -> None:
    serve(client, market(1_500, 2, scale=1.6), ws)
    child = subprocess.run(
        [sys.executable, "-c", CHILD, str(ws.settings.root), when, str(index)],
        capture_output=True,
        text=True,
        cwd=ROOT,  # where ``tests`` imports from
    )
    assert child.returncode == 3, child.stderr[-3000:]
    (left,) = ws.metadata.loop.unfinished()
    assert left.state == state_left
    registered_before = len(ws.models.versions("houses"))

    (outcome,) = LoopController(ws, [policy()]).tick()  # the restarted controller resumes the action
    assert ws.metadata.loop.unfinished() == []
    finished = ws.metadata.loop.get(left.id)
    assert finished.state == "promoted", finished
    versions = ws.models.versions("houses")
    assert len(versions) == 2 and registered_before in (1, 2)  # never a second challenger for one action
    assert ws.models.get("houses@champion").number == finished.challenger_version == 2
    assert outcome.status in ("cooldown", "quiet")
