"""Storing a model's parts as blobs and reading them back, each checked against the digest its manifest pins."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from driftloop.errors import BlobIntegrityError, InvalidInput
from driftloop.registry._flavours._manifest import Manifest, ModelPart

__all__ = ["Get", "Put", "read_part", "store_part"]

Put = Callable[[bytes], str]
"""Stores bytes and returns their hex SHA-256 digest (a blob store's ``put``)."""

Get = Callable[[str], bytes]
"""Returns the bytes stored under a digest (a blob store's ``get``)."""


def store_part(put: Put, name: str, data: bytes, format: str) -> ModelPart:
    """Store ``data`` with ``put`` and describe it as the part ``name``.

    Raises:
        BlobIntegrityError: ``put`` answered with a digest that is not the SHA-256 of ``data``.
    """
    expected = hashlib.sha256(data).hexdigest()
    digest = put(data)
    if digest != expected:
        raise BlobIntegrityError(
            f"Storing the model part {name!r} returned the digest {digest!r}; its bytes have SHA-256 {expected}."
        )
    return ModelPart(name=name, digest=digest, size=len(data), format=format)


def read_part(manifest: Manifest, name: str, get: Get, *, format: str) -> bytes:
    """Return the bytes of the part ``name`` after checking their size and SHA-256 against the manifest.

    Raises:
        InvalidInput: The manifest has no such part, or lists it in another format.
        BlobIntegrityError: The bytes do not match the digest, naming the part.
    """
    part = manifest.part(name)
    if part.format != format:
        raise InvalidInput(
            f"The {manifest.flavour} model's part {name!r} must be in the {format!r} format; "
            f"the manifest says {part.format!r}."
        )
    try:
        data = get(part.digest)
    except BlobIntegrityError as error:
        raise BlobIntegrityError(f"The {manifest.flavour} model's part {name!r} is damaged: {error}") from error
    actual = hashlib.sha256(data).hexdigest()
    if actual != part.digest or len(data) != part.size:
        raise BlobIntegrityError(
            f"The {manifest.flavour} model's part {name!r} does not match its manifest: expected {part.size} "
            f"bytes with SHA-256 {part.digest}, got {len(data)} bytes with SHA-256 {actual}."
        )
    return data
