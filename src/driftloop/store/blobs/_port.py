"""The byte-level blob port every blob backend implements."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO, Protocol, runtime_checkable

__all__ = ["BlobInfo", "BlobStore"]


@dataclass(frozen=True, slots=True)
class BlobInfo:
    """What a blob store knows about one stored blob.

    Attributes:
        digest: The hex SHA-256 digest that names the blob.
        size: The blob's length in bytes.
        modified: When the blob was last written (or reused by a write of identical content, where the
            backend can record that), in epoch seconds; ``None`` when the backend cannot tell.
    """

    digest: str
    size: int
    modified: float | None


@runtime_checkable
class BlobStore(Protocol):
    """A content-addressed store of immutable blobs, each named by the SHA-256 digest of its bytes.

    Digests are 64 lowercase hexadecimal characters; any other value raises
    :class:`~driftloop.errors.InvalidInput`. A digest that names no blob raises
    :class:`~driftloop.errors.NotFound`. Every read recomputes the digest of the bytes it returns and
    raises :class:`~driftloop.errors.BlobIntegrityError` when they were altered or truncated.

    Before raising, that read sets the damaged blob aside (a backend may move it somewhere for inspection
    or delete it; the error message says which), so that the blob is no longer stored under its digest
    and the next ``put`` or ``put_file`` of the same content stores it afresh. Without that, a damaged
    blob of the right size would be kept for good, since a write keeps a blob that already exists.
    """

    @property
    def url(self) -> str:
        """The URL (or absolute path) of the store's root."""
        ...

    def put(self, data: bytes) -> str:
        """Store bytes once, whoever stores them again.

        Args:
            data: The bytes to store.

        Returns:
            The hex SHA-256 digest of ``data``, which names the blob from now on.
        """
        ...

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store a file's content, read in chunks of 1 MiB so the file never sits whole in memory.

        Args:
            path: The local file to store.

        Returns:
            The hex SHA-256 digest of the file's bytes.
        """
        ...

    def get(self, digest: str) -> bytes:
        """Read a whole blob into memory, after checking its digest.

        Args:
            digest: The blob's hex SHA-256 digest.

        Returns:
            The blob's bytes.
        """
        ...

    def get_file(self, digest: str, destination: str | os.PathLike[str]) -> None:
        """Copy a blob to a local file, streaming, and only once its digest checked out.

        The bytes go to a temporary file beside ``destination``, which is renamed into place after the
        digest matched; on a mismatch ``destination`` is left as it was.

        Args:
            digest: The blob's hex SHA-256 digest.
            destination: The local file to write; its parent folders are created when missing.
        """
        ...

    def open(self, digest: str) -> BinaryIO:
        """Open a blob for streaming reads.

        The reader hashes what it hands out and checks the digest when it reaches the end of the blob:
        the read that hits the end raises :class:`~driftloop.errors.BlobIntegrityError` if the bytes were
        altered. Bytes returned before that point are unverified, so a caller must read to the end
        before trusting (or committing) what it read; a reader closed early verifies nothing. It cannot
        seek.

        Args:
            digest: The blob's hex SHA-256 digest.

        Returns:
            A binary file object; close it (or use it in a ``with`` block) when done.
        """
        ...

    def exists(self, digest: str) -> bool:
        """Tell whether a blob of that digest is stored (without reading or checking its bytes).

        Args:
            digest: The blob's hex SHA-256 digest.

        Returns:
            ``True`` when a blob file of that name exists.
        """
        ...

    def info(self, digest: str) -> BlobInfo:
        """Describe a stored blob without reading it.

        Args:
            digest: The blob's hex SHA-256 digest.

        Returns:
            The blob's digest, size and modification time.
        """
        ...

    def delete(self, digest: str) -> None:
        """Remove a blob; only garbage collection calls this, for blobs nothing references.

        Args:
            digest: The blob's hex SHA-256 digest.
        """
        ...

    def sweep_temporary(self, older_than: float) -> int:
        """Remove what crashed writes left behind, once it is older than ``older_than`` seconds.

        A write that dies between creating its temporary file and renaming it into place leaves that
        file behind (local folders keep them under ``<root>/tmp/``). No read ever sees it, but it takes
        space until swept. Backends whose writes are one atomic upload leave nothing, and return 0.
        Age counts from the last byte written, so a write in progress is safe unless it stalls for longer
        than ``older_than``; it then fails instead of storing anything. Garbage collection calls this
        with its grace period.

        Args:
            older_than: How many seconds a leftover must have gone unmodified before it is removed;
                a number ``>= 0``.

        Returns:
            How many leftovers were removed.
        """
        ...

    def iter_digests(self) -> Iterator[str]:
        """Yield the digest of every stored blob, in no particular order.

        Returns:
            An iterator over digests; unfinished writes and foreign files are never yielded.
        """
        ...
