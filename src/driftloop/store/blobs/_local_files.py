"""Crash-safe file writes on the local disk: write beside, fsync, then rename into place."""

from __future__ import annotations

import contextlib
import hashlib
import os
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
