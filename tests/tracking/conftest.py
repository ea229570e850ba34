"""The tracking tests are the tracking contract: each runs on an embedded SQLite workspace, on PostgreSQL, and on a
workspace reached through ``driftloop server`` over HTTP."""

from __future__ import annotations

import pytest

from driftloop import Workspace


@pytest.fixture
def workspace(service_workspace: Workspace) -> Workspace:
    return service_workspace
