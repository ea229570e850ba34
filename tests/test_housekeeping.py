"""Soft delete, purge and garbage collection: nothing still referenced is ever removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from driftloop import Workspace
from driftloop.errors import NotFound


def _run_with_artifacts(ws: Workspace, experiment: str, *contents: bytes) -> str:
    with ws.start_run(experiment) as run:
        for index, data in enumerate(contents):
            run.log_text(data.decode(), f"file-{index}.txt")
        run.log_metric("x", 1.0)
    return run.id


def test_gc_frees_only_unreferenced_blobs(workspace: Workspace) -> None:
    kept = _run_with_artifacts(workspace, "gc", b"shared", b"kept-only")
    doomed = _run_with_artifacts(workspace, "gc", b"shared", b"doomed-only")
    workspace.tracking.delete_run(doomed)

    dry = workspace.gc(grace_period=0, dry_run=True)
    assert (dry.runs_purged, dry.blobs_removed) == (1, 1)
    workspace.tracking.get_run(doomed)  # a dry run touches nothing

    report = workspace.gc(grace_period=0)
    assert (report.runs_purged, report.experiments_purged, report.blobs_removed) == (1, 0, 1)
    assert report.bytes_freed == len(b"doomed-only") and report.blobs_kept == 2
    with pytest.raises(NotFound):
        workspace.tracking.get_run(doomed)
    # The shared blob and the survivor's own are intact and verified on read.
    assert workspace.tracking.read_artifact(kept, "file-0.txt") == b"shared"
    assert workspace.tracking.read_artifact(kept, "file-1.txt") == b"kept-only"
    assert workspace.events.list(action="workspace.gc")[0].details["blobs_removed"] == 1


def test_gc_respects_the_grace_period_for_fresh_blobs(workspace: Workspace) -> None:
    digest = workspace.blobs.put(b"written but not yet referenced")
    report = workspace.gc()  # default grace period: one hour
    assert report.blobs_removed == 0 and workspace.blobs.exists(digest)
    assert workspace.gc(grace_period=0).blobs_removed == 1
    assert not workspace.blobs.exists(digest)


def test_deleting_an_experiment_purges_its_runs(workspace: Workspace) -> None:
    run_id = _run_with_artifacts(workspace, "old", b"old-bytes")
    workspace.tracking.delete_experiment("old")
    assert workspace.tracking.search_runs() == []
    workspace.tracking.restore_experiment("old")
    assert [r.id for r in workspace.tracking.search_runs()] == [run_id]
    workspace.tracking.delete_experiment("old")
    report = workspace.gc(grace_period=0)
    assert (report.runs_purged, report.experiments_purged, report.blobs_removed) == (1, 1, 1)
    assert workspace.tracking.list_experiments(include_deleted=True) == []
    workspace.tracking.create_experiment("old")  # the name is free again


def test_purge_waits_for_the_requested_age(workspace: Workspace) -> None:
    run_id = _run_with_artifacts(workspace, "age", b"x")
    workspace.tracking.delete_run(run_id)
    assert workspace.gc(grace_period=0, purge_older_than=3600).runs_purged == 0
    workspace.tracking.restore_run(run_id)
    assert workspace.tracking.get_run(run_id).lifecycle.value == "active"


def test_gc_on_an_empty_workspace(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    report = sqlite_workspace.gc(grace_period=0)
    assert (report.runs_purged, report.blobs_removed, report.blobs_kept) == (0, 0, 0)
