"""A served model follows its alias, swaps atomically, and never serves a version that fails to load."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from driftloop import Workspace
from driftloop.errors import NotFound
from driftloop.serving._served_model import AliasWatcher, ServedModel

FRAME = pd.DataFrame({"area": np.linspace(30, 200, 50), "rooms": np.tile([1.0, 2.0, 3.0, 4.0, 5.0], 10)})


def register(ws: Workspace, slope: float) -> int:
    model = Ridge().fit(FRAME, slope * FRAME["area"])
    return ws.models.register("houses", model).number


def test_follows_the_alias_and_keeps_serving_after_a_failed_load(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    ws = sqlite_workspace
    register(ws, 1.0)
    register(ws, 2.0)
    bad = register(ws, 3.0)
    ws.models.set_alias("houses", "champion", 1)
    swaps: list[tuple[int | None, int]] = []
    served = ServedModel(
        ws.models, "houses", on_swap=lambda old, new: swaps.append((None if old is None else old.version, new.version))
    )
    assert served.refresh() and served.current.version == 1
    first = served.current
    assert not served.refresh()  # nothing moved
    ws.models.set_alias("houses", "champion", 2)
    assert served.refresh() and served.current.version == 2
    assert first.version == 1  # a request holding the old slot still has its model
    prediction = served.current.model.predict(FRAME.head(1))[0]
    assert prediction == pytest.approx(2.0 * 30, rel=0.05)

    # Version 3's file is altered on disk: it is never served; version 2 keeps serving.
    part = ws.models.manifest(f"houses/{bad}").parts[0]
    blob = next((tmp_path / "ws").rglob(part.digest[2:]))
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    ws.models.set_alias("houses", "champion", bad)
    assert not served.refresh()
    assert served.current.version == 2
    assert served.failures[-1].version == bad
    assert swaps == [(None, 1), (1, 2)]


def test_first_load_errors_surface(sqlite_workspace: Workspace) -> None:
    with pytest.raises(NotFound):
        ServedModel(sqlite_workspace.models, "nope").refresh()
    register(sqlite_workspace, 1.0)
    served = ServedModel(sqlite_workspace.models, "houses")
    with pytest.raises(NotFound, match="no alias 'champion'"):
        served.refresh()
    assert not served.ready


def test_watcher_notices_a_move_made_by_another_workspace_within_two_seconds(
    sqlite_workspace: Workspace,
) -> None:
    register(sqlite_workspace, 1.0)
    register(sqlite_workspace, 2.0)
    sqlite_workspace.models.set_alias("houses", "champion", 1)
    served = ServedModel(sqlite_workspace.models, "houses")
    served.refresh()
    watcher = AliasWatcher([served], interval=0.2).start()
    try:
        other = Workspace(sqlite_workspace.settings.root, actor="someone-else")
        moved_at = time.monotonic()
        other.models.promote("houses/2", reason="elsewhere")
        while served.current.version != 2 and time.monotonic() - moved_at < 5:
            time.sleep(0.02)
        assert served.current.version == 2
        assert time.monotonic() - moved_at < 2.0
        other.close()
    finally:
        watcher.stop()
