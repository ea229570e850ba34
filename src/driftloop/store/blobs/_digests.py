"""Digest validation and the checks every blob read goes through."""

from __future__ import annotations

import hashlib
import io
import re
from collections.abc import Callable, Iterable, Iterator
from typing import IO, TYPE_CHECKING, BinaryIO

from driftloop.errors import BlobIntegrityError, InvalidInput

if TYPE_CHECKING:
    from _typeshed import WriteableBuffer

CHUNK_SIZE = 1024 * 1024
"""How many bytes a stream reads or writes at a time."""

_DIGEST = re.compile(r"[0-9a-f]{64}")

OnMismatch = Callable[[str, int], BlobIntegrityError]
"""Called once a read found a blob's bytes do not hash to its digest, with the SHA-256 and the size
that were read; it sets the damaged blob aside and returns the error to raise."""


def is_digest(value: object) -> bool:
    """Tell whether ``value`` is a hex SHA-256 digest as blob stores spell it (64 lowercase hex)."""
    return isinstance(value, str) and _DIGEST.fullmatch(value) is not None


def validate_digest(value: object) -> str:
    """Return ``value`` if it is a valid digest, else raise InvalidInput naming it.

    Checked before a digest becomes part of a path, so a value like ``'../x'`` never reaches storage.
    """
    if not is_digest(value):
        shown = repr(value)
        if len(shown) > 100:
            shown = shown[:97] + "..."
        raise InvalidInput(f"A blob digest must be 64 lowercase hexadecimal characters (a SHA-256); got {shown}.")
    assert isinstance(value, str)
    return value


def integrity_error(digest: str, blob_url: str, actual: str, fate: str) -> BlobIntegrityError:
    """Build the error raised when a blob's bytes do not hash to its digest; ``fate`` says what became of it."""
    return BlobIntegrityError(
        f"The blob {digest} at {blob_url} was altered or corrupted: its bytes have SHA-256 {actual}, "
        f"expected {digest}. {fate}"
    )


def read_chunks(source: IO[bytes]) -> Iterator[bytes]:
    """Yield a stream's bytes in chunks of at most CHUNK_SIZE until its end."""
    while chunk := source.read(CHUNK_SIZE):
        yield chunk


def hash_chunks(chunks: Iterable[bytes]) -> tuple[str, int]:
    """Return the hex SHA-256 and the total size of a stream of chunks."""
    hasher = hashlib.sha256()
    size = 0
    for chunk in chunks:
        hasher.update(chunk)
        size += len(chunk)
    return hasher.hexdigest(), size


class _VerifyingReader(io.RawIOBase):
    """Pass a blob's bytes through while hashing them; check the digest at the end of the stream."""

    def __init__(self, source: IO[bytes], digest: str, on_mismatch: OnMismatch) -> None:
        self._source = source
        self._digest = digest
        self._on_mismatch = on_mismatch
        self._hash = hashlib.sha256()
        self._size = 0
        self._verified = False
        self._error: BlobIntegrityError | None = None

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        if self._error is not None:
            raise self._error  # every later read at the end raises again
        view = memoryview(buffer).cast("B")
        data = self._source.read(len(view))
        if not data:
            self._verify()
            return 0
        view[: len(data)] = data
        self._hash.update(data)
        self._size += len(data)
        return len(data)

    def _verify(self) -> None:
        if self._verified:
            return
        actual = self._hash.hexdigest()
        if actual == self._digest:
            self._verified = True
            return
        # Closed before the damaged blob is set aside: some systems refuse to move an open file.
        self._source.close()
        self._error = self._on_mismatch(actual, self._size)
        raise self._error

    def close(self) -> None:
        if not self.closed:
            self._source.close()
        super().close()


def verifying_reader(source: IO[bytes], digest: str, on_mismatch: OnMismatch) -> BinaryIO:
    """Wrap an open blob in a buffered reader that raises BlobIntegrityError at the end on a mismatch.

    Args:
        source: The open blob; the reader closes it.
        digest: The digest the bytes must hash to.
        on_mismatch: Sets the blob aside and builds the error, once, when the bytes do not match.

    Returns:
        A buffered, non-seekable binary reader.
    """
    return io.BufferedReader(_VerifyingReader(source, digest, on_mismatch), buffer_size=CHUNK_SIZE)
