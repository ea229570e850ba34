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

Every commit also adds a JSON file to ``_delta_log/`` (two a second per server), and deltalake's log cleanup
stays off because it would break reading old versions: ``DeltaTable.cleanup_metadata()`` deletes every log
file older than ``delta.logRetentionDuration`` below the newest checkpoint, checkpoints of older versions
included, and knows nothing of the versions a report refers to. :func:`expire_log` deletes them itself: it
cuts at the oldest version younger than ``retain_hours``, writes a checkpoint at the cut and at each version
in ``keep_versions`` below it (deltalake 1.x checkpoints any version it can load, and never moves
``_last_checkpoint`` back), and only then deletes what lies below, oldest first, so a crash at any point
leaves the latest version and the kept ones readable. A version whose log entries went reads as
:class:`~driftloop.errors.NotFound` saying so.

deltalake's own compaction is not used for a second reason: it writes the files itself, with its own Arrow types
(``list<element>`` where the log writes ``list<item>``), while the tables are read through pyarrow.

The functions reach into :class:`~driftloop.store.tables.TableStore` for its Delta table handle and error
translation; they belong there as methods once the store grows them.
"""

from __future__ import annotations

import contextlib
import json
import logging
import posixpath
import re
import sys
import time
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads

from driftloop.errors import Conflict, InvalidInput, NotFound, StoreError
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
LOG_FILE = re.compile(r"(\d{20})\.(json|checkpoint\.parquet)")


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
        with _expiry_errors(tables, table, [table_version]):
            dataset = tables.dataset(table, table_version)
    with _errors(tables, f"reading table {table!r}"):
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
    with _errors(tables, f"planning the compaction of table {table!r}"):
        snapshot = _delta_table(tables, table, read_version)
        files = _live_files(snapshot)
        if older_than_versions:
            settled = {
                path for path, _, _ in _live_files(_delta_table(tables, table, read_version - older_than_versions))
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

    _check_retain_hours(retain_hours)
    latest = tables.latest_version(table)
    if latest is None:
        return []
    kept = _kept_versions(table, keep_versions, latest)
    # A kept version whose log entries expired cannot be loaded, and the vacuum fails: say which.
    with _expiry_errors(tables, table, kept), _errors(tables, f"vacuuming table {table!r}"):
        deleted = _delta_table(tables, table, None).vacuum(
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
    with _errors(tables, f"checkpointing table {table!r}"):
        snapshot = _delta_table(tables, table, None)
        snapshot.create_checkpoint()
        return int(snapshot.version())


def expire_log(
    tables: TableStore,
    table: str,
    *,
    retain_hours: int,
    keep_versions: Sequence[int] = (),
    now: datetime | None = None,
) -> list[str]:
    """Delete the log entries of ``table`` older than ``retain_hours``; returns their paths in the table folder.

    The cut is the oldest version whose commit is younger than ``retain_hours`` (the latest when all are
    older). Every version from the cut on reads back as before, and so does each version in ``keep_versions``:
    a checkpoint is written at the cut and at each kept version below it, then the commits and checkpoints
    below the cut that no kept version needs are deleted, oldest first. Any other version below the cut then
    reads as :class:`~driftloop.errors.NotFound`.

    A commit's age is its file's modification time, as the storage reports it.

    Args:
        tables: The table store.
        table: The table whose ``_delta_log/`` to trim.
        retain_hours: How long every version stays readable.
        keep_versions: The versions that stay readable whatever their age (those a report refers to).
        now: The moment ages are counted from (timezone-aware; the current time by default).

    Raises:
        NotFound: A version in ``keep_versions`` already expired: it can no longer be kept.
    """
    _check_retain_hours(retain_hours)
    moment = _moment(now)
    latest = tables.latest_version(table)
    if latest is None:
        return []
    kept = _kept_versions(table, keep_versions, latest)
    with _errors(tables, f"listing the log of table {table!r}"):
        files = _log_files(tables, table)
    cut = _cut_version(files, cutoff_ns=int((moment.timestamp() - retain_hours * 3600) * 1e9))
    # Checkpoints first: until they exist nothing is deleted, and once they do, the latest version and the kept
    # ones no longer need any file below the cut. (A kept version that already expired fails here.)
    checkpointed = {entry.version for entry in files if entry.kind == "checkpoint"}
    for version in kept:
        if version < cut and version not in checkpointed:
            _checkpoint_version(tables, table, version)
    expired = [entry for entry in files if entry.version < cut and entry.version not in kept]
    if not expired:
        return []
    if cut not in checkpointed:
        _checkpoint_version(tables, table, cut)
    deleted = _delete_oldest_first(tables, table, expired)
    log.info("expired %d log file(s) of table %r below version %d", len(deleted), table, cut)
    return deleted


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


@dataclass(frozen=True)
class _LogFile:
    """A commit or checkpoint in ``_delta_log/``."""

    name: str
    version: int
    kind: Literal["commit", "checkpoint"]
    modified_ns: int


def _check_retain_hours(retain_hours: object) -> None:
    if isinstance(retain_hours, bool) or not isinstance(retain_hours, int) or retain_hours < 0:
        raise InvalidInput(f"The 'retain_hours' must be an integer >= 0; got {retain_hours!r}.")


def _moment(now: object) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise InvalidInput(f"The 'now' must be a timezone-aware datetime, such as datetime.now(UTC); got {now!r}.")
    return now


def _kept_versions(table: str, keep_versions: Sequence[int], latest: int) -> list[int]:
    kept = sorted(set(keep_versions))
    if any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= latest for v in kept):
        raise InvalidInput(f"The 'keep_versions' must be versions of table {table!r} (0 to {latest}); got {kept}.")
    return kept


def _log_files(tables: TableStore, table: str) -> list[_LogFile]:
    """The commits and checkpoints in the table's ``_delta_log/``, oldest version first (one listing)."""
    from pyarrow import fs

    selector = fs.FileSelector(f"{_table_path(tables, table)}/_delta_log", allow_not_found=True)
    files = []
    for info in tables._filesystem().get_file_info(selector):
        match = LOG_FILE.fullmatch(info.base_name)
        if info.type == fs.FileType.File and match:
            # A storage that reports no modification time makes the file look young: it is kept.
            modified = sys.maxsize if info.mtime_ns is None else int(info.mtime_ns)
            kind: Literal["commit", "checkpoint"] = "commit" if match[2] == "json" else "checkpoint"
            files.append(_LogFile(info.base_name, int(match[1]), kind, modified))
    return sorted(files, key=lambda entry: (entry.version, entry.name))


def _cut_version(files: list[_LogFile], *, cutoff_ns: int) -> int:
    """The oldest version whose commit was written at or after ``cutoff_ns``; the newest when none was.

    The first young commit ends the search: every version below the cut is old, even where writers' clocks
    disagree and a later commit carries an earlier time.

    >>> old, young = 10, 20
    >>> _cut_version([_LogFile("a", 0, "commit", old), _LogFile("b", 1, "commit", young)], cutoff_ns=15)
    1
    >>> _cut_version([_LogFile("a", 0, "commit", old), _LogFile("b", 1, "commit", old)], cutoff_ns=15)
    1
    """
    commits = [entry for entry in files if entry.kind == "commit"]
    for entry in commits:
        if entry.modified_ns >= cutoff_ns:
            return entry.version
    return commits[-1].version if commits else 0


def _checkpoint_version(tables: TableStore, table: str, version: int) -> None:
    with (
        _expiry_errors(tables, table, [version]),
        _errors(tables, f"checkpointing version {version} of table {table!r}"),
    ):
        _delta_table(tables, table, version).create_checkpoint()


def _delete_oldest_first(tables: TableStore, table: str, files: list[_LogFile]) -> list[str]:
    """Delete ``files`` from the oldest version up: a crash leaves a log that still starts at a checkpoint."""
    folder = f"{_table_path(tables, table)}/_delta_log"
    deleted: list[str] = []
    with _errors(tables, f"deleting expired log files of table {table!r}"):
        filesystem = tables._filesystem()
        for entry in sorted(files, key=lambda entry: (entry.version, entry.name)):
            _delete_file(filesystem, f"{folder}/{entry.name}")
            deleted.append(f"_delta_log/{entry.name}")
    return deleted


def _delete_file(filesystem: Any, path: str) -> None:
    with contextlib.suppress(FileNotFoundError):  # another maintenance run deleted it first
        filesystem.delete_file(path)


@contextlib.contextmanager
def _expiry_errors(tables: TableStore, table: str, versions: Iterable[int]) -> Iterator[None]:
    """Turn a failure to load one of ``versions`` whose log entries expired into NotFound saying so.

    deltalake reports such a version as a missing table (below every checkpoint left) or as a log segment
    that ends early (between two): neither names the cause. Only when the load fails is the log listed.
    """
    try:
        yield
    except (NotFound, StoreError) as error:
        expired: NotFound | None = None
        with contextlib.suppress(StoreError):
            expired = _expired_error(tables, table, list(versions))
        if expired is None:
            raise
        raise expired from error


def _expired_error(tables: TableStore, table: str, versions: list[int]) -> NotFound | None:
    """NotFound naming the ``versions`` (all at most the latest) whose log entries are gone; None if none are."""
    with _errors(tables, f"listing the log of table {table!r}"):
        files = _log_files(tables, table)
    present = {entry.version for entry in files}
    expired = [version for version in versions if version not in present]
    if not expired:
        return None
    commits = {entry.version for entry in files if entry.kind == "commit"}
    checkpoints = {entry.version for entry in files if entry.kind == "checkpoint"}
    oldest = _oldest_readable(commits, checkpoints)
    kept = sorted(version for version in checkpoints if oldest is None or version < oldest)
    which = f"version {expired[0]} is" if len(expired) == 1 else f"versions {', '.join(map(str, expired))} are"
    readable = "" if oldest is None else f" Versions from {oldest} on read back"
    if kept:
        readable += f", and so do the versions kept on purpose ({', '.join(map(str, kept))})"
    return NotFound(
        f"Table {table!r} {which} older than the retention of its log: the log entries were deleted, so it "
        f"no longer reads back.{readable}{'.' if readable else ''}"
    )


def _oldest_readable(commits: set[int], checkpoints: set[int]) -> int | None:
    """The oldest version of the unbroken run of commits up to the latest that starts at a checkpoint (or 0).

    >>> _oldest_readable({4, 9, 10, 11, 12}, {4, 10})
    10
    """
    if not commits:
        return None
    oldest = None
    version = max(commits)
    while version in commits:
        if version in checkpoints or version == 0:
            oldest = version
        version -= 1
    return oldest


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
        with _errors(tables, f"committing the compaction of table {table!r}"):
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
    with _errors(tables, f"reading the log of table {table!r}"):
        version = find_commit(dataset.filesystem, folder, token, after=read_version)
    if version is None:
        raise StoreError(f"The compaction of table {table!r} is not in its Delta log after its commit returned.")
    return version


def _delta_table(tables: TableStore, table: str, version: int | None) -> Any:
    return tables._require(table, version)


def _table_path(tables: TableStore, table: str) -> str:
    """The table's folder as the store's pyarrow filesystem names it."""
    return tables._location.table_path(table)


def _errors(tables: TableStore, action: str) -> Any:
    return tables._errors(action)
