"""Garbage collection: purge what users deleted, then free blobs that nothing refers to.

A blob is removed only when no metadata row refers to its digest *and* it is older than the grace
period. The grace period covers the moment between storing an artifact's bytes and committing the
row that refers to them: a collection running then must not take the new blob. Storing content that
exists already renews the blob's time (a touch on local disks, a fresh upload on object stores once
it is ten minutes old), each candidate's age is read again just before it is deleted, and a writer
checks its blobs are still there once its row is committed; so keep the grace period well above ten
minutes.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from driftloop.errors import NotFound
from driftloop.store.blobs import BlobInfo, BlobStore
from driftloop.store.metadata import MetadataStore

__all__ = ["GarbageReport", "collect_garbage"]


@dataclass(frozen=True, slots=True)
class GarbageReport:
    """What a collection removed (or, in a dry run, would remove)."""

    runs_purged: int
    experiments_purged: int
    blobs_removed: int
    bytes_freed: int
    blobs_kept: int
    temporary_files_removed: int = 0
    dry_run: bool = False
    removed_digests: tuple[str, ...] = field(default=(), repr=False)


def collect_garbage(
    metadata: MetadataStore,
    blobs: BlobStore,
    *,
    actor: str,
    location: str = "",
    grace_period: float = 3600.0,
    purge_older_than: float = 0.0,
    dry_run: bool = False,
) -> GarbageReport:
    """Purge runs and experiments soft-deleted at least ``purge_older_than`` seconds ago, then delete
    every blob that no row refers to and that is older than ``grace_period`` seconds, and leftovers of
    crashed writes older than that. ``location`` names the workspace in the event.
    """
    cutoff = time.time() - purge_older_than
    doomed_runs = metadata.runs.deleted_before(cutoff)
    doomed_experiments = metadata.experiments.deleted_before(cutoff)
    runs_purged = len(doomed_runs)
    if not dry_run:
        runs_purged = metadata.runs.purge(doomed_runs, actor=actor)
        for experiment in doomed_experiments:
            metadata.experiments.purge(experiment.id, actor=actor)
    # The ages are read before the references: a blob committed in between is kept by the reference
    # check, one stored later by the grace period.
    candidates = [info for info in map(blobs.info, blobs.iter_digests()) if _expired(info, grace_period)]
    referenced = metadata.referenced_digests(excluding_runs=set(doomed_runs) if dry_run else ())
    removed = []
    for info in candidates:
        if info.digest in referenced:
            continue
        if not dry_run:
            try:
                if not _expired(blobs.info(info.digest), grace_period):  # reused since we looked
                    continue
                blobs.delete(info.digest)
            except NotFound:  # a concurrent collection took it first
                continue
        removed.append(info)
    temporary = 0 if dry_run else blobs.sweep_temporary(grace_period)
    report = GarbageReport(
        runs_purged=runs_purged,
        experiments_purged=len(doomed_experiments),
        blobs_removed=len(removed),
        bytes_freed=sum(info.size for info in removed),
        blobs_kept=sum(1 for _ in blobs.iter_digests()) - (len(removed) if dry_run else 0),
        temporary_files_removed=temporary,
        dry_run=dry_run,
        removed_digests=tuple(info.digest for info in removed),
    )
    if not dry_run:
        metadata.events.append(
            actor=actor,
            action="workspace.gc",
            object_type="workspace",
            object_id=location,
            details={
                "runs_purged": report.runs_purged,
                "experiments_purged": report.experiments_purged,
                "blobs_removed": report.blobs_removed,
                "bytes_freed": report.bytes_freed,
                "temporary_files_removed": temporary,
            },
        )
    return report


def _expired(info: BlobInfo, grace_period: float) -> bool:
    if grace_period <= 0:
        return True
    return info.modified is not None and info.modified <= time.time() - grace_period
