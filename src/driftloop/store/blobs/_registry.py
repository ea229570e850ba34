"""Open a blob store from its URL: a small registry from URL scheme to adapter."""

from __future__ import annotations

import os
from collections.abc import Callable

from driftloop.errors import InvalidInput
from driftloop.store.blobs._fsspec import FsspecBlobStore
from driftloop.store.blobs._port import BlobStore
from driftloop.store.blobs._protocols import check_protocol, url_protocols

__all__ = ["open_blob_store"]


def _open_local(url: str) -> BlobStore:
    path = url.removeprefix("file://")
    # Absolute now, so a later change of working folder cannot move the store.
    return FsspecBlobStore(os.path.abspath(os.path.expanduser(path)))


def _open_fsspec(url: str) -> BlobStore:
    for protocol in url_protocols(url):
        check_protocol(protocol, url)
    return FsspecBlobStore(url)


_ADAPTERS: dict[str, Callable[[str], BlobStore]] = {
    "file": _open_local,
    "local": _open_local,
}
"""Adapters by scheme; any other fsspec protocol (memory, s3, gs, az…) falls back to ``_open_fsspec``."""


def open_blob_store(url: str) -> BlobStore:
    """Open the blob store at a URL or local path.

    Nothing is read or written yet: a local folder is created by the first write. The filesystem
    package behind a protocol is imported here, so a missing one fails now rather than at first use.

    Args:
        url: A local path (made absolute), ``file://…``, ``memory://…``, ``s3://bucket/prefix``,
            ``gs://…``, ``az://…`` or any other fsspec URL.

    Returns:
        The blob store.

    Raises:
        InvalidInput: The URL is empty or names a protocol fsspec does not know.
        StoreUnavailable: The protocol needs an optional package that is not installed, such as
            s3fs for ``s3://`` (``pip install 'driftloop[s3]'``).

    >>> open_blob_store("memory://models").url
    'memory://models'
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidInput(f"A blob store URL must be a non-empty string, such as '/srv/blobs'; got {url!r}.")
    protocols = url_protocols(url)
    if len(protocols) == 1 and protocols[0] in _ADAPTERS:
        return _ADAPTERS[protocols[0]](url)
    return _open_fsspec(url)
