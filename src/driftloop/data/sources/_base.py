"""What every source shares: the ``Source`` protocol, batch sizes and redacted descriptions."""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable, Iterator
from typing import Protocol, runtime_checkable

import pyarrow as pa

from driftloop.errors import InvalidInput

__all__ = ["DEFAULT_BATCH_ROWS", "Source", "check_batch_rows", "limit_rows", "redact_url"]

DEFAULT_BATCH_ROWS = 65_536
"""Rows per batch unless the caller asks otherwise: a few MB for a typical table."""

# Query parameters whose values are secrets in common APIs and presigned URLs.
_SECRET_PARAMETER = re.compile(r"key|token|secret|pass|signature|sig$|auth|credential", re.IGNORECASE)
_REDACTED = "***"


@runtime_checkable
class Source(Protocol):
    """A readable input: a file, a web API, a SQL query or an in-memory frame.

    Building a source does no I/O; :meth:`batches` opens the input each time it is called and streams
    it. Batches carry the source's own columns only (the ingest pipeline adds ``_source_row``), never
    hold more than the ``batch_rows`` the source was opened with, and are never empty.
    """

    description: str
    """What the source reads, for lineage and messages, with secrets redacted: ``"CSV file /data/houses.csv"``."""

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Stream the source as Arrow record batches."""
        ...


def check_batch_rows(batch_rows: object) -> int:
    """Return ``batch_rows`` when it is a positive integer, else raise :class:`InvalidInput`.

    >>> check_batch_rows(1000)
    1000
    """
    if isinstance(batch_rows, bool) or not isinstance(batch_rows, int) or batch_rows < 1:
        raise InvalidInput(f"batch_rows must be a positive integer, such as 65536; got {batch_rows!r}.")
    return batch_rows


def limit_rows(batches: Iterable[pa.RecordBatch], batch_rows: int) -> Iterator[pa.RecordBatch]:
    """Split batches longer than ``batch_rows`` (zero-copy slices) and drop empty ones.

    >>> batch = pa.record_batch({"x": list(range(5))})
    >>> [b.num_rows for b in limit_rows([batch], 2)]
    [2, 2, 1]
    """
    for batch in batches:
        for start in range(0, batch.num_rows, batch_rows):
            yield batch.slice(start, batch_rows)


def redact_url(url: str) -> str:
    """Hide the password and secret-looking query values of a URL, for descriptions and messages.

    >>> redact_url("https://me:pw@api.example.com/items?api_key=abc&page=2")
    'https://me:***@api.example.com/items?api_key=***&page=2'
    >>> redact_url("/data/houses.csv")
    '/data/houses.csv'
    """
    if "://" not in url:
        return url
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if parts.password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.split(':', 1)[0]}:{_REDACTED}@{host}"
    query = parts.query
    if query:
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        query = "&".join(
            f"{urllib.parse.quote(name, safe='')}="
            + (_REDACTED if _SECRET_PARAMETER.search(name) else urllib.parse.quote(value, safe=":/,@"))
            for name, value in pairs
        )
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
