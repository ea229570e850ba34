"""Expiring old entries of a serving table's Delta log, so it does not grow by two files a second forever.

Every commit adds a JSON file to ``_delta_log/`` (two a second per server), and deltalake's log cleanup stays
off because it would break reading old versions: ``DeltaTable.cleanup_metadata()`` deletes every log file older
than ``delta.logRetentionDuration`` below the newest checkpoint, checkpoints of older versions included, and
knows nothing of the versions a report refers to. :func:`expire_log` deletes them itself: it cuts at the oldest
version younger than ``retain_hours``, writes a checkpoint at the cut and at each version in ``keep_versions``
below it (deltalake 1.x checkpoints any version it can load, and never moves ``_last_checkpoint`` back), and
only then deletes what lies below, oldest first, so a crash at any point leaves the latest version and the kept
ones readable. A version whose log entries went reads as :class:`~driftloop.errors.NotFound` saying so
(:func:`expiry_errors`).
"""

from __future__ import annotations

import contextlib
import logging
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

from driftloop.errors import InvalidInput, NotFound, StoreError

if TYPE_CHECKING:
    from driftloop.store.tables import TableStore

__all__ = ["check_retain_hours", "checked_moment", "expire_log", "expiry_errors", "kept_versions"]

log = logging.getLogger("driftloop.serving")

LOG_FILE = re.compile(r"(\d{20})\.(json|checkpoint\.parquet)")


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
    check_retain_hours(retain_hours)
    moment = checked_moment(now)
    latest = tables.latest_version(table)
    if latest is None:
        return []
    kept = kept_versions(table, keep_versions, latest)
    with tables.errors(f"listing the log of table {table!r}"):
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


# -- internals -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _LogFile:
    """A commit or checkpoint in ``_delta_log/``."""

    name: str
    version: int
    kind: Literal["commit", "checkpoint"]
    modified_ns: int


def check_retain_hours(retain_hours: object) -> None:
    if isinstance(retain_hours, bool) or not isinstance(retain_hours, int) or retain_hours < 0:
        raise InvalidInput(f"The 'retain_hours' must be an integer >= 0; got {retain_hours!r}.")


def checked_moment(now: object) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if not isinstance(now, datetime) or now.tzinfo is None:
        raise InvalidInput(f"The 'now' must be a timezone-aware datetime, such as datetime.now(UTC); got {now!r}.")
    return now


def kept_versions(table: str, keep_versions: Sequence[int], latest: int) -> list[int]:
    kept = sorted(set(keep_versions))
    if any(isinstance(v, bool) or not isinstance(v, int) or not 0 <= v <= latest for v in kept):
        raise InvalidInput(f"The 'keep_versions' must be versions of table {table!r} (0 to {latest}); got {kept}.")
    return kept


def _log_files(tables: TableStore, table: str) -> list[_LogFile]:
    """The commits and checkpoints in the table's ``_delta_log/``, oldest version first (one listing)."""
    from pyarrow import fs

    selector = fs.FileSelector(f"{tables.table_path(table)}/_delta_log", allow_not_found=True)
    files = []
    for info in tables.filesystem().get_file_info(selector):
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
        expiry_errors(tables, table, [version]),
        tables.errors(f"checkpointing version {version} of table {table!r}"),
    ):
        tables.delta_table(table, version).create_checkpoint()


def _delete_oldest_first(tables: TableStore, table: str, files: list[_LogFile]) -> list[str]:
    """Delete ``files`` from the oldest version up: a crash leaves a log that still starts at a checkpoint."""
    folder = f"{tables.table_path(table)}/_delta_log"
    deleted: list[str] = []
    with tables.errors(f"deleting expired log files of table {table!r}"):
        filesystem = tables.filesystem()
        for entry in sorted(files, key=lambda entry: (entry.version, entry.name)):
            _delete_file(filesystem, f"{folder}/{entry.name}")
            deleted.append(f"_delta_log/{entry.name}")
    return deleted


def _delete_file(filesystem: Any, path: str) -> None:
    with contextlib.suppress(FileNotFoundError):  # another maintenance run deleted it first
        filesystem.delete_file(path)


@contextlib.contextmanager
def expiry_errors(tables: TableStore, table: str, versions: Iterable[int]) -> Iterator[None]:
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
    with tables.errors(f"listing the log of table {table!r}"):
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
