"""Turning a URL into an fsspec filesystem, with driftloop errors instead of fsspec's."""

from __future__ import annotations

from typing import Any

from driftloop.errors import InvalidInput, StoreUnavailable

_INSTALL_HINTS = {
    "s3": "pip install 'driftloop[s3]'",
    "s3a": "pip install 'driftloop[s3]'",
}


def url_protocols(url: str) -> list[str]:
    """List the fsspec protocols a URL names, outermost first; a plain path is ``['file']``.

    >>> url_protocols("simplecache::s3://bucket/blobs")
    ['simplecache', 's3']
    >>> url_protocols("/srv/blobs")
    ['file']
    """
    if "://" not in url:
        return ["file"]
    return url.split("://", 1)[0].split("::")


def check_protocol(protocol: str, url: str) -> None:
    """Import the filesystem class behind a protocol, so a missing one fails early and clearly.

    Args:
        protocol: An fsspec protocol, such as ``'s3'``.
        url: The store URL, for the error message.

    Raises:
        InvalidInput: fsspec knows no such protocol.
        StoreUnavailable: The protocol needs an optional package that is not installed.
    """
    import fsspec

    try:
        fsspec.get_filesystem_class(protocol)
    except ImportError as error:
        raise _missing_dependency(protocol, url, error) from error
    except ValueError as error:
        raise InvalidInput(
            f"The blob store URL {url!r} uses the protocol {protocol!r}, which fsspec does not know; "
            "expected a local path, 'file://', 'memory://', 's3://', 'gs://', 'az://' "
            "or another fsspec protocol."
        ) from error


def resolve_filesystem(url: str) -> tuple[Any, str]:
    """Return the fsspec filesystem for a URL and the root path inside it, without a trailing slash.

    Args:
        url: The store URL or local path.

    Raises:
        InvalidInput: A protocol is unknown.
        StoreUnavailable: A protocol needs an optional package that is not installed.
    """
    from fsspec.core import url_to_fs

    for protocol in url_protocols(url):
        check_protocol(protocol, url)
    try:
        filesystem, root = url_to_fs(url)
    except ImportError as error:
        raise _missing_dependency(url_protocols(url)[-1], url, error) from error
    return filesystem, str(root).rstrip("/")


def _missing_dependency(protocol: str, url: str, error: ImportError) -> StoreUnavailable:
    hint = _INSTALL_HINTS.get(protocol, str(error) or f"install the fsspec backend for {protocol!r}")
    return StoreUnavailable(
        f"The blob store at {url!r} needs an optional dependency for the protocol {protocol!r}, "
        f"which is not installed: {hint}."
    )
