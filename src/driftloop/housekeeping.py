"""Garbage collection: purge what users deleted, then free blobs that nothing refers to.

A blob is removed only when no metadata row refers to its digest *and* it is older than the grace
period. The grace period covers the moment between storing an artifact's bytes and committing the
row that refers to them: a collection running then must not take the new blob. Storing content that
exists already renews the blob's time (a touch on local disks, a fresh upload on object stores once
it is ten minutes old), so the grace period protects reused blobs too; keep it well above that.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from driftloop.errors import NotFound

if TYPE_CHECKING:
    from driftloop.workspace import Workspace

__all__ = ["GarbageReport", "collect_garbage"]


@dataclass(frozen=True, slots=True)
class GarbageReport:
    """What a collection removed (or, in a dry run, would remove)."""

    runs_purged: int
    experiments_purged: int
    blobs_removed: int
    bytes_freed: int
    blobs_kept: int
    dry_run: bool = False
    removed_digests: tuple[str, ...] = field(default=(), repr=False)


def collect_garbage(
    workspace: Workspace,
    *,
    grace_period: float = 3600.0,
    purge_older_than: float = 0.0,
    dry_run: bool = False,
) -> GarbageReport:
    """Purge runs and experiments soft-deleted at least ``purge_older_than`` seconds ago, then delete
    every blob that no row refers to and that is older than ``grace_period`` seconds.
    """
    tracking = workspace.tracking
    metadata = workspace.metadata
    blobs = workspace.blobs
    doomed_runs: set[str] = set()
    if dry_run:
        doomed_runs = set(metadata.runs.deleted_before(time.time() - purge_older_than))
        runs_purged = len(doomed_runs)
        experiments_purged = len(metadata.experiments.deleted_before(time.time() - purge_older_than))
    else:
        runs_purged, experiments_purged = tracking.purge_deleted(older_than=purge_older_than)
    # Referenced digests are read after listing the blobs' ages, so a blob committed in between is kept
    # by the reference check, and one stored later is kept by the grace period.
    cutoff = time.time() - grace_period
    candidates = []
    for digest in blobs.iter_digests():
        info = blobs.info(digest)
        if grace_period > 0 and (info.modified is None or info.modified > cutoff):
            continue
        candidates.append(info)
    referenced = metadata.referenced_digests(excluding_runs=doomed_runs)
    removed = [info for info in candidates if info.digest not in referenced]
    if not dry_run:
        for info in removed:
            try:
                blobs.delete(info.digest)
            except NotFound:  # a concurrent collection took it first
                continue
        metadata.events.append(
            actor=workspace.actor,
            action="workspace.gc",
            object_type="workspace",
            object_id=workspace.settings.root,
            details={
                "runs_purged": runs_purged,
                "experiments_purged": experiments_purged,
                "blobs_removed": len(removed),
                "bytes_freed": sum(info.size for info in removed),
            },
        )
    total = sum(1 for _ in blobs.iter_digests())
    return GarbageReport(
        runs_purged=runs_purged,
        experiments_purged=experiments_purged,
        blobs_removed=len(removed),
        bytes_freed=sum(info.size for info in removed),
        blobs_kept=total if not dry_run else total - len(removed),
        dry_run=dry_run,
        removed_digests=tuple(info.digest for info in removed),
    )
