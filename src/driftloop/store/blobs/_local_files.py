"""Crash-safe file writes on the local disk (write beside, fsync, rename into place) and their clean-up."""

from __future__ import annotations

import contextlib
import hashlib
import os
import uuid
from collections.abc import Iterable


def write_synced(path: str, chunks: Iterable[bytes]) -> tuple[str, int]:
    """Write chunks to a new file and fsync it.

    Args:
        path: The file to create; it must not exist yet.
        chunks: The bytes to write.

    Returns:
        The hex SHA-256 and the size of what was written.
    """
    hasher = hashlib.sha256()
    size = 0
    with open(path, "xb") as file:
        for chunk in chunks:
            hasher.update(chunk)
            size += len(chunk)
            file.write(chunk)
        file.flush()
        os.fsync(file.fileno())
    return hasher.hexdigest(), size


def write_temporary(folder: str, chunks: Iterable[bytes]) -> tuple[str, str, int]:
    """Write chunks to a fresh file in ``folder``; return its path, the SHA-256 and the size written."""
    os.makedirs(folder, exist_ok=True)
    temporary = f"{folder}/{uuid.uuid4().hex}"
    try:
        digest, size = write_synced(temporary, chunks)
    except BaseException:
        remove_quietly(temporary)
        raise
    return temporary, digest, size


def replace_durably(temporary: str, destination: str) -> None:
    """Rename a finished file over ``destination``, creating folders; the temporary file goes on failure."""
    try:
        folder = os.path.dirname(destination)
        os.makedirs(folder, exist_ok=True)
        os.replace(temporary, destination)
    except BaseException:
        remove_quietly(temporary)
        raise
    # Without syncing the folder, a power cut can undo the rename after the caller recorded the blob.
    if os.name == "posix":
        descriptor = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(descriptor)
        finally:
            os.close(descriptor)


def remove_quietly(path: str) -> None:
    """Remove a file if it is still there."""
    with contextlib.suppress(FileNotFoundError):
        os.remove(path)


def changed_since(before: os.stat_result, path: str) -> bool:
    """Tell whether a file's size or modification time moved since ``before`` was taken."""
    after = os.stat(path)
    return (after.st_size, after.st_mtime_ns) != (before.st_size, before.st_mtime_ns)


def touch_if_sized(path: str, size: int) -> bool:
    """Tell whether ``path`` holds ``size`` bytes; a file that exists gets its modification time renewed.

    Renewing the time tells garbage collection that the blob was just wanted again.
    """
    try:
        os.utime(path)
        return os.stat(path).st_size == size
    except FileNotFoundError:
        return False


def file_identity(status: os.stat_result) -> tuple[int, int]:
    """The device and inode of a file: what stays the same while it is altered in place or renamed."""
    return status.st_dev, status.st_ino


def set_aside(path: str, destination: str, identity: tuple[int, int]) -> bool:
    """Move the file at ``path`` to ``destination`` if it is still the file of that identity.

    Returns:
        False when the file read is no longer at ``path``: another reader set it aside first, or a writer
        published a sound copy since, which stays where it is.
    """
    os.makedirs(os.path.dirname(destination), exist_ok=True)
    try:
        os.rename(path, destination)
    except FileNotFoundError:
        return False
    # Checked after the rename rather than before it, so that no write can slip in between.
    if file_identity(os.stat(destination)) != identity:
        os.replace(destination, path)
        return False
    return True


def remove_older_than(folder: str, cutoff: float) -> int:
    """Remove the files directly in ``folder`` last modified before ``cutoff`` (epoch seconds).

    Returns:
        How many files were removed; a missing folder has none.
    """
    removed = 0
    try:
        with os.scandir(folder) as entries:
            for entry in entries:
                try:
                    if entry.is_file(follow_symlinks=False) and entry.stat(follow_symlinks=False).st_mtime < cutoff:
                        os.remove(entry.path)
                        removed += 1
                except FileNotFoundError:  # another sweep took it first
                    continue
    except FileNotFoundError:
        return 0
    return removed
