"""The append-only tables serving writes (prediction log, labels): reading what is committed, and their upkeep.

Reads list a version's files through the Delta log and read them with pyarrow (never deltalake's pyarrow
bridge, which can abort the interpreter at exit), so they see committed rows only.

Upkeep is compaction, checkpoints, a vacuum that keeps what readers need, and the expiry of old log entries.

A log flushed every half second adds a small file per commit. :func:`compact_table` rewrites runs of small
files into files of about ``target_rows`` rows, in one Delta transaction that removes the old files and adds
the new ones (``dataChange=false``: the rows did not change, so nobody reading changes sees them twice). The old
files stay on disk, so every earlier version still reads back; :func:`vacuum_table` deletes them only once they
were removed more than ``retain_hours`` ago, and never the files of a version listed in ``keep_versions``.

Two compactions must not both land: each would remove the same files and add its own copy of their rows.
deltalake 1.6 lets both land: two compactions started from the same version both committed in our test, and
doubled the rows, whether made of ``RemoveAction`` and ``AddAction`` or by ``DeltaTable.optimize.compact()``.
So every compaction commits a Delta application transaction (``txn``) under one application id,
which the conflict check does compare: of two compactions started from the same version, the second fails with
:class:`~driftloop.errors.Conflict`. Appends carry no ``txn`` and never conflict with a compaction.

Old log entries are expired by :mod:`~driftloop.serving._log_expiry`.

deltalake's own compaction is not used for a second reason: it writes the files itself, with its own Arrow types
(``list<element>`` where the log writes ``list<item>``), while the tables are read through pyarrow.

"""

from __future__ import annotations

import json
import logging
import posixpath
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from driftloop.errors import Conflict, InvalidInput, NotFound, StoreError
from driftloop.serving._log_expiry import check_retain_hours, expire_log, expiry_errors, kept_versions
from driftloop.store.tables._log import COMMIT_TOKEN, find_commit

if TYPE_CHECKING:
    from driftloop.store.tables import StagedWrite, TableStore

__all__ = [
    "CompactionResult",
    "MaintenanceReport",
    "checkpoint_table",
    "compact_table",
    "expire_log",
    "maintain_table",
    "read_committed",
    "time_conditions",
    "vacuum_table",
]

log = logging.getLogger("driftloop.serving")

TIMESTAMP = pa.timestamp("us", tz="UTC")
"""How the tables store moments: microseconds, in UTC."""
COMPACTION_APP_ID = "driftloop.compaction"
"""The Delta application id every compaction commits a transaction under, so two concurrent ones conflict."""
DEFAULT_RETAIN_HOURS = 168
# A staged file is committed seconds after it was written; one a day old belongs to a commit that failed.
ORPHAN_GRACE_HOURS = 24
# The log files expiry may delete: commits and classic single-file checkpoints. Anything else (multi-part or
# V2 checkpoints, _last_checkpoint, temporary files) is left alone.


@dataclass(frozen=True)
class CompactionResult:
    """What one compaction did; ``version`` is None when there was nothing to compact."""

    version: int | None
    files_removed: int
    files_added: int
    rows: int


@dataclass(frozen=True)
class MaintenanceReport:
    """What one :func:`maintain_table` did."""

    compaction: CompactionResult | None  # None when another compaction won the race
    checkpoint_version: int | None
    vacuumed: list[str]
    expired_log_files: list[str] = field(default_factory=list)


def read_committed(
    tables: TableStore, table: str, schema: pa.Schema, *, where: pc.Expression | None, table_version: int | None
) -> pa.Table:
    """The rows of ``table`` at ``table_version`` (the latest when None) matching ``where``, in ``schema``.

    A table nobody wrote to yet reads as empty.

    Raises:
        NotFound: ``table_version`` is not a version of the table, or its log entries expired.
    """
    if table_version is not None and (
        isinstance(table_version, bool) or not isinstance(table_version, int) or table_version < 0
    ):
        raise InvalidInput(f"The 'table_version' must be an integer >= 0; got {table_version!r}.")
    latest = tables.latest_version(table)
    if latest is None:
        if table_version is not None:
            raise NotFound(f"Table {table!r} has no version {table_version}: nothing was written to it yet.")
        return schema.empty_table()
    if table_version is not None and table_version > latest:
        raise NotFound(f"Table {table!r} has no version {table_version}; its latest is {latest}.")
    if table_version is None:
        dataset = tables.dataset(table, latest)
    else:
        with expiry_errors(tables, table, [table_version]):
            dataset = tables.dataset(table, table_version)
    with tables.errors(f"reading table {table!r}"):
        rows = dataset.to_table(filter=where)
    return rows if rows.schema.equals(schema) else rows.select(schema.names).cast(schema)


def time_conditions(since: datetime | None, until: datetime | None, column: str = "at") -> list[pc.Expression]:
    """``since <= column < until`` as pyarrow expressions; a naive moment is refused (whose clock would it be?)."""
    conditions: list[pc.Expression] = []
    for name, moment in (("since", since), ("until", until)):
        if moment is None:
            continue
        if not isinstance(moment, datetime) or moment.tzinfo is None:
            raise InvalidInput(
                f"The '{name}' must be a timezone-aware datetime, such as datetime.now(UTC); got {moment!r}."
            )
        bound = pa.scalar(moment, TIMESTAMP)
        conditions.append(pc.field(column) >= bound if name == "since" else pc.field(column) < bound)
    return conditions


def compact_table(
    tables: TableStore, table: str, *, target_rows: int = 500_000, older_than_versions: int = 0
) -> CompactionResult:
    """Rewrite runs of small files of ``table`` into files of about ``target_rows`` rows, in one commit.

    Files are taken in the order their names sort (the order they were staged in), and a rewritten file holds
    their rows in that order. A file with ``target_rows`` rows or more is left alone, as is a run of one file.

    Args:
        tables: The table store.
        table: The table to compact.
        target_rows: About how many rows each rewritten file holds.
        older_than_versions: Only files that the version this many commits back already had are rewritten;
            the newest files stay as they are (0 rewrites them all).

    Raises:
        Conflict: Another compaction of the table committed first; this one changed nothing.
    """
    if isinstance(target_rows, bool) or not isinstance(target_rows, int) or target_rows < 2:
        raise InvalidInput(f"The 'target_rows' must be an integer >= 2; got {target_rows!r}.")
    if isinstance(older_than_versions, bool) or not isinstance(older_than_versions, int) or older_than_versions < 0:
        raise InvalidInput(f"The 'older_than_versions' must be an integer >= 0; got {older_than_versions!r}.")
    nothing = CompactionResult(version=None, files_removed=0, files_added=0, rows=0)
    read_version = tables.latest_version(table)
    if read_version is None or read_version < older_than_versions:
        return nothing
    with tables.errors(f"planning the compaction of table {table!r}"):
        snapshot = tables.delta_table(table, read_version)
        files = _live_files(snapshot)
        if older_than_versions:
            settled = {
                path for path, _, _ in _live_files(tables.delta_table(table, read_version - older_than_versions))
            }
            files = [entry for entry in files if entry[0] in settled]
    bins = _bins(sorted(files), target_rows)
    if not bins:
        return nothing
    dataset = tables.dataset(table, read_version)
    folder = posixpath.dirname(dataset.files[0].replace("\\", "/"))
    staged: list[StagedWrite] = []
    try:
        for run in bins:
            paths = [f"{folder}/{path}" for path, _, _ in run]
            run_dataset = pads.dataset(paths, schema=dataset.schema, format="parquet", filesystem=dataset.filesystem)
            staged.append(tables.stage(table, _batches(run_dataset), fallback_schema=dataset.schema))
    except BaseException:
        for write in staged:  # nothing was committed: these files are nobody's
            tables.discard(write)
        raise
    removed = [entry for run in bins for entry in run]
    version = _commit_rewrite(tables, table, snapshot, removed, staged, dataset, folder, read_version)
    rows = sum(write.rows for write in staged)
    log.info(
        "compacted table %r: %d files into %d (%d rows), version %d", table, len(removed), len(staged), rows, version
    )
    return CompactionResult(
        version=version, files_removed=len(removed), files_added=sum(len(s.files) for s in staged), rows=rows
    )


def vacuum_table(
    tables: TableStore, table: str, *, retain_hours: int = DEFAULT_RETAIN_HOURS, keep_versions: Sequence[int] = ()
) -> list[str]:
    """Delete the files of ``table`` that compaction removed more than ``retain_hours`` ago; returns their paths.

    A version whose files were deleted no longer reads back, so ``retain_hours`` is how far back every version
    stays readable; the versions in ``keep_versions`` (the ones a report or a monitor refers to) stay readable
    whatever their age.

    With ``retain_hours`` below a day, only files the log marks as removed are candidates (deltalake's "lite"
    vacuum): a file another writer staged and is about to commit is in no log yet, and must stay. From a day
    on, files no version refers to and older than ``retain_hours`` go too (a "full" vacuum): Parquet files
    staged for a commit that failed. Finding those through the log would read every commit of the log, and a
    table flushed twice a second has 170,000 a day; a full vacuum lists the table's folder once instead.
    """
    from deltalake.transaction import PostCommitHookProperties

    check_retain_hours(retain_hours)
    latest = tables.latest_version(table)
    if latest is None:
        return []
    kept = kept_versions(table, keep_versions, latest)
    # A kept version whose log entries expired cannot be loaded, and the vacuum fails: say which.
    with expiry_errors(tables, table, kept), tables.errors(f"vacuuming table {table!r}"):
        deleted = tables.delta_table(table).vacuum(
            retention_hours=retain_hours,
            dry_run=False,
            enforce_retention_duration=False,
            full=retain_hours >= ORPHAN_GRACE_HOURS,
            keep_versions=kept or None,
            post_commithook_properties=PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False),
        )
    return sorted(set(deleted))


def checkpoint_table(tables: TableStore, table: str) -> int | None:
    """Write a checkpoint of the latest version, so readers replay one Parquet file instead of many JSON ones."""
    if tables.latest_version(table) is None:
        return None
    with tables.errors(f"checkpointing table {table!r}"):
        snapshot = tables.delta_table(table)
        snapshot.create_checkpoint()
        return int(snapshot.version())


def maintain_table(
    tables: TableStore,
    table: str,
    *,
    target_rows: int = 500_000,
    older_than_versions: int = 0,
    retain_hours: int = DEFAULT_RETAIN_HOURS,
    keep_versions: Sequence[int] = (),
    now: datetime | None = None,
) -> MaintenanceReport:
    """Compact, checkpoint, vacuum ``table`` and expire its old log entries.

    See :func:`vacuum_table` and :func:`expire_log` for what is deleted: every version stays readable for
    ``retain_hours``, and the versions in ``keep_versions`` for good. ``now`` is the moment log entries' ages
    are counted from (the current time by default). Each step leaves the table readable if the process dies
    during it, so a crashed run is simply run again.

    Meant to run every few minutes from one process; when several run it, one compaction wins and the others
    skip theirs.
    """
    try:
        compaction: CompactionResult | None = compact_table(
            tables, table, target_rows=target_rows, older_than_versions=older_than_versions
        )
    except Conflict as error:
        log.info("skipped compacting table %r: %s", table, error.message)
        compaction = None
    checkpoint = checkpoint_table(tables, table)
    vacuumed = vacuum_table(tables, table, retain_hours=retain_hours, keep_versions=keep_versions)
    # After the vacuum: it loads the kept versions, which must not depend on a log file deleted meanwhile.
    expired = expire_log(tables, table, retain_hours=retain_hours, keep_versions=keep_versions, now=now)
    return MaintenanceReport(
        compaction=compaction, checkpoint_version=checkpoint, vacuumed=vacuumed, expired_log_files=expired
    )


# -- internals -----------------------------------------------------------------------------------------


def _bins(files: list[tuple[str, int, int]], target_rows: int) -> list[list[tuple[str, int, int]]]:
    """Runs of consecutive small files holding up to ``target_rows`` rows together; runs of one are left out.

    >>> _bins([("a", 10, 4), ("b", 10, 4), ("c", 10, 9), ("d", 10, 1), ("e", 10, 1)], 8)
    [[('a', 10, 4), ('b', 10, 4)], [('d', 10, 1), ('e', 10, 1)]]
    """
    runs: list[list[tuple[str, int, int]]] = []
    current: list[tuple[str, int, int]] = []
    rows = 0
    for entry in files:
        if entry[2] >= target_rows:  # a big file ends the run: rows keep their order
            runs.append(current)
            current, rows = [], 0
            continue
        if current and rows + entry[2] > target_rows:
            runs.append(current)
            current, rows = [], 0
        current.append(entry)
        rows += entry[2]
    runs.append(current)
    return [run for run in runs if len(run) > 1]


def _batches(dataset: pads.Dataset) -> Iterator[pa.RecordBatch]:
    yield from dataset.to_batches(batch_size=65_536)


def _live_files(snapshot: Any) -> list[tuple[str, int, int]]:
    """(path, bytes, rows) of the files of a version; files without a row count are left out (never rewritten)."""
    actions = pa.table(snapshot.get_add_actions(flatten=True))
    return [
        (str(path), int(size), int(rows))
        for path, size, rows in zip(
            actions["path"].to_pylist(),
            actions["size_bytes"].to_pylist(),
            actions["num_records"].to_pylist(),
            strict=True,
        )
        if rows is not None
    ]


def _commit_rewrite(
    tables: TableStore,
    table: str,
    snapshot: Any,
    removed: list[tuple[str, int, int]],
    staged: list[StagedWrite],
    dataset: pads.FileSystemDataset,
    folder: str,
    read_version: int,
) -> int:
    """Remove ``removed`` and add the ``staged`` files in one commit made against ``snapshot``'s version."""
    from deltalake.transaction import (
        AddAction,
        CommitProperties,
        PostCommitHookProperties,
        RemoveAction,
        Transaction,
    )

    now = int(time.time() * 1000)
    actions: list[Any] = [RemoveAction(path, False, now, size) for path, size, _ in removed]
    actions += [
        AddAction(path, size, {}, now, False, json.dumps({"numRecords": rows}))
        for write in staged
        for path, size, rows in write.files
    ]
    previous = snapshot.transaction_version(COMPACTION_APP_ID) or 0
    token = uuid.uuid4().hex
    properties = CommitProperties(
        custom_metadata={"driftloop.operation": "compaction", COMMIT_TOKEN: token},
        max_commit_retries=50,
        app_transactions=[Transaction(COMPACTION_APP_ID, previous + 1)],
    )
    try:
        with tables.errors(f"committing the compaction of table {table!r}"):
            snapshot.create_write_transaction(
                actions,
                mode="append",
                schema=dataset.schema,
                commit_properties=properties,
                post_commithook_properties=PostCommitHookProperties(create_checkpoint=True, cleanup_expired_logs=False),
            )
    except Exception:
        # The new files stay: a commit that raised may still have landed (a lost response), and deleting
        # them would break it. vacuum_table deletes them once they are old if no version refers to them.
        log.warning("the compaction of table %r did not commit; its %d new file(s) stay", table, len(staged))
        raise
    with tables.errors(f"reading the log of table {table!r}"):
        version = find_commit(dataset.filesystem, folder, token, after=read_version)
    if version is None:
        raise StoreError(f"The compaction of table {table!r} is not in its Delta log after its commit returned.")
    return version
