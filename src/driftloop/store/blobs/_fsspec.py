"""The content-addressed blob store over any fsspec filesystem."""

from __future__ import annotations

import hashlib
import os
import time
import uuid
from collections.abc import Callable, Iterator
from typing import IO, Any, BinaryIO, cast

from driftloop.errors import InvalidInput, NotFound
from driftloop.store.blobs._damaged import delete_on_mismatch, move_aside_on_mismatch
from driftloop.store.blobs._digests import (
    OnMismatch,
    hash_chunks,
    is_digest,
    read_chunks,
    validate_digest,
    verifying_reader,
)
from driftloop.store.blobs._local_files import (
    changed_since,
    remove_older_than,
    remove_quietly,
    replace_durably,
    touch_if_sized,
    write_synced,
    write_temporary,
)
from driftloop.store.blobs._port import BlobInfo
from driftloop.store.blobs._protocols import resolve_filesystem

__all__ = ["FsspecBlobStore"]

_BLOBS = "sha256"
# Seconds after which storing existing content on an object store uploads it again (see _is_stored).
REFRESH_AFTER = 600.0
_TEMPORARY = "tmp"
_CORRUPT = "corrupt"


class FsspecBlobStore:
    """Blobs named by their SHA-256, under ``<root>/sha256/ab/cdef…`` on any fsspec filesystem.

    The first two hex characters of a digest name a fan-out folder, the other 62 the file. Building the
    store does no I/O: the filesystem is resolved on first use.

    Writes are atomic. On a local filesystem bytes go to ``<root>/tmp/<uuid>``, are fsynced and then
    renamed into place; on object stores a single upload of the whole object is already atomic. A
    blob that exists with the right size is not written again.

    A read that finds a blob damaged sets it aside before it raises: on a local filesystem the file
    moves to ``<root>/corrupt/<digest>.<uuid>`` (kept for inspection), on object stores it is deleted.
    Storing the same content again then writes it afresh.

    Args:
        url: An fsspec URL (``memory://…``, ``s3://bucket/prefix``…) or a local path.
    """

    def __init__(self, url: str) -> None:
        self.url = url
        self._resolved: tuple[Any, str] | None = None

    def __repr__(self) -> str:
        return f"FsspecBlobStore({self.url!r})"

    def put(self, data: bytes) -> str:
        """Store bytes once and return their hex SHA-256 digest (see :class:`BlobStore`)."""
        if not isinstance(data, bytes | bytearray | memoryview):
            raise InvalidInput(f"A blob must be bytes; got {type(data).__name__}.")
        data = bytes(data)
        digest = hashlib.sha256(data).hexdigest()
        if self._is_local:
            if not touch_if_sized(self._blob_path(digest), len(data)):
                replace_durably(write_temporary(self._folder(_TEMPORARY), [data])[0], self._blob_path(digest))
        elif not self._is_stored(digest, len(data)):
            self._upload(lambda path: self._filesystem.pipe_file(path, data), digest)
        return digest

    def put_file(self, path: str | os.PathLike[str]) -> str:
        """Store a file's content, streamed in 1 MiB chunks, and return its digest."""
        source = os.fspath(path)
        if os.path.isdir(source):
            raise InvalidInput(f"Cannot store {source!r}: expected a file, got a folder.")
        if not os.path.exists(source):
            raise NotFound(f"Cannot store {source!r}: there is no such file.")
        with open(source, "rb") as file:
            stat_before = os.fstat(file.fileno())
            if self._is_local:
                # One pass: the bytes hashed are exactly the bytes written.
                temporary, digest, size = write_temporary(self._folder(_TEMPORARY), read_chunks(file))
            else:
                digest, size = hash_chunks(read_chunks(file))
        if self._is_local:
            if touch_if_sized(self._blob_path(digest), size):
                os.remove(temporary)
            else:
                replace_durably(temporary, self._blob_path(digest))
        elif not self._is_stored(digest, size):
            self._upload(lambda target: self._filesystem.put_file(source, target), digest)
            if changed_since(stat_before, source):
                # The upload may hold bytes that do not hash to the name they were stored under.
                self._filesystem.rm_file(self._blob_path(digest))
                raise InvalidInput(f"The file {source!r} changed while it was being stored; store it again.")
        return digest

    def get(self, digest: str) -> bytes:
        """Read a whole blob after checking its digest."""
        source, on_mismatch = self._open_source(digest)
        with source:
            data = b"".join(read_chunks(source))
        actual = hashlib.sha256(data).hexdigest()
        if actual != digest:
            raise on_mismatch(actual, len(data))
        return data

    def get_file(self, digest: str, destination: str | os.PathLike[str]) -> None:
        """Stream a blob to a local file, renamed into place only once its digest matched."""
        target = os.path.abspath(os.fspath(destination))
        source, on_mismatch = self._open_source(digest)
        with source:
            os.makedirs(os.path.dirname(target), exist_ok=True)
            temporary = f"{target}.{uuid.uuid4().hex}.partial"
            try:
                actual, size = write_synced(temporary, read_chunks(source))
            except BaseException:
                remove_quietly(temporary)
                raise
        if actual != digest:
            remove_quietly(temporary)
            raise on_mismatch(actual, size)
        replace_durably(temporary, target)

    def open(self, digest: str) -> BinaryIO:
        """Open a blob for streaming; the read that reaches its end raises BlobIntegrityError on a mismatch."""
        source, on_mismatch = self._open_source(digest)
        return verifying_reader(source, digest, on_mismatch)

    def exists(self, digest: str) -> bool:
        """Tell whether a blob of that digest is stored."""
        return bool(self._filesystem.exists(self._blob_path(validate_digest(digest))))

    def info(self, digest: str) -> BlobInfo:
        """Describe a stored blob: digest, size and modification time (``None`` if unknown)."""
        path = self._blob_path(validate_digest(digest))
        try:
            size = int(self._filesystem.size(path))
        except FileNotFoundError as error:
            raise self._not_found(digest) from error
        try:
            modified: float | None = self._filesystem.modified(path).timestamp()
        except (NotImplementedError, AttributeError):
            modified = None
        return BlobInfo(digest=digest, size=size, modified=modified)

    def delete(self, digest: str) -> None:
        """Remove a blob (garbage collection only); NotFound when it is already gone."""
        try:
            self._filesystem.rm_file(self._blob_path(validate_digest(digest)))
        except FileNotFoundError as error:
            raise self._not_found(digest) from error

    def sweep_temporary(self, older_than: float) -> int:
        """Remove leftovers of crashed writes older than ``older_than`` seconds; return how many went."""
        if isinstance(older_than, bool) or not isinstance(older_than, int | float) or not older_than >= 0:
            raise InvalidInput(
                f"The 'older_than' of sweep_temporary must be a number of seconds >= 0; got {older_than!r}."
            )
        if not self._is_local:
            return 0  # every write is one atomic upload, which leaves nothing behind
        return remove_older_than(self._folder(_TEMPORARY), time.time() - older_than)

    def iter_digests(self) -> Iterator[str]:
        """Yield every stored digest; temporary files and foreign names are skipped."""
        filesystem, root = self._resolve()
        try:
            folders = filesystem.ls(f"{root}/{_BLOBS}", detail=False)
        except FileNotFoundError:
            return
        for folder in sorted(folders):
            prefix = folder.rstrip("/").rsplit("/", 1)[-1]
            if len(prefix) != 2:
                continue
            try:
                names = filesystem.ls(folder, detail=True)
            except (FileNotFoundError, NotADirectoryError):
                continue
            for entry in names:
                digest = prefix + entry["name"].rstrip("/").rsplit("/", 1)[-1]
                if entry.get("type") == "file" and is_digest(digest):
                    yield digest

    def _resolve(self) -> tuple[Any, str]:
        if self._resolved is None:
            self._resolved = resolve_filesystem(self.url)
        return self._resolved

    @property
    def _filesystem(self) -> Any:
        return self._resolve()[0]

    @property
    def _is_local(self) -> bool:
        from fsspec.implementations.local import LocalFileSystem

        return isinstance(self._filesystem, LocalFileSystem)

    def _folder(self, name: str) -> str:
        return f"{self._resolve()[1]}/{name}"

    def _blob_path(self, digest: str) -> str:
        return f"{self._resolve()[1]}/{_BLOBS}/{digest[:2]}/{digest[2:]}"

    def _blob_url(self, digest: str) -> str:
        return f"{self.url.rstrip('/')}/{_BLOBS}/{digest[:2]}/{digest[2:]}"

    def _not_found(self, digest: str) -> NotFound:
        return NotFound(f"No blob with digest {digest} in the blob store at {self.url}.")

    def _open_source(self, digest: str) -> tuple[IO[bytes], OnMismatch]:
        """Open a blob; also return what sets it aside and builds the error if its bytes do not match."""
        path = self._blob_path(validate_digest(digest))
        try:
            source = cast(IO[bytes], self._filesystem.open(path, "rb"))
        except FileNotFoundError as error:
            raise self._not_found(digest) from error
        if self._is_local:
            return source, move_aside_on_mismatch(source, path, self._folder(_CORRUPT), digest, self._blob_url(digest))
        return source, delete_on_mismatch(self._filesystem, path, digest, self._blob_url(digest))

    def _is_stored(self, digest: str, size: int) -> bool:
        # A blob of the wrong size (a truncated copy) is written again rather than trusted. So is one
        # older than REFRESH_AFTER: uploading it again renews its modification time, which is what keeps
        # garbage collection (grace period well above REFRESH_AFTER) from taking a blob just reused.
        try:
            info = self.info(digest)
        except NotFound:
            return False
        if info.size != size:
            return False
        return info.modified is None or time.time() - info.modified < REFRESH_AFTER

    def _upload(self, write: Callable[[str], object], digest: str) -> None:
        path = self._blob_path(digest)
        try:
            write(path)
        except FileNotFoundError:
            # Filesystems with real folders (SFTP, FTP…) need the fan-out folder; object stores never do.
            self._filesystem.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
            write(path)
