"""HTTP GETs with retries and exponential back-off, and a streamed response read as a file.

Connection errors, ``429 Too Many Requests`` (after its ``Retry-After`` seconds) and ``5xx`` answers
are retried; any other ``4xx`` fails at once. Messages name the URL with secrets redacted and never
show request headers, which often carry credentials.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import IO

import httpx

from driftloop.data.sources._base import redact_url
from driftloop.errors import InvalidInput, SourceError

__all__ = ["HttpSettings", "check_http_url", "get", "open_stream"]

MAX_RETRY_AFTER = 300.0
"""The longest ``Retry-After`` honoured, in seconds; a server asking for more is waited on this long."""


@dataclass(frozen=True, repr=False)
class HttpSettings:
    """How to send requests: headers (kept out of every message and repr), retries, back-off, timeout."""

    headers: Mapping[str, str] = field(default_factory=dict)
    retries: int = 3
    backoff: float = 0.5
    timeout: float = 30.0

    def __post_init__(self) -> None:
        if isinstance(self.retries, bool) or not isinstance(self.retries, int) or self.retries < 0:
            raise InvalidInput(f"retries must be a whole number >= 0, such as 3; got {self.retries!r}.")
        for name in ("backoff", "timeout"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise InvalidInput(f"{name} must be a number of seconds >= 0; got {value!r}.")
        if not isinstance(self.headers, Mapping) or not all(
            isinstance(key, str) and isinstance(value, str) for key, value in self.headers.items()
        ):
            raise InvalidInput("headers must map header names to string values.")

    def __repr__(self) -> str:
        return f"HttpSettings(headers=<{len(self.headers)} hidden>, retries={self.retries}, backoff={self.backoff})"

    def client(self) -> httpx.Client:
        """A client with these headers and timeout, following redirects."""
        return httpx.Client(headers=dict(self.headers), timeout=self.timeout, follow_redirects=True)


def check_http_url(url: str, what: str) -> str:
    """Return ``url`` when it is an http(s) URL httpx can parse, else raise :class:`InvalidInput`."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError) as error:
        raise InvalidInput(f"The {what} URL {redact_url(str(url))!r} is not a valid URL: {error}.") from error
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise InvalidInput(
            f"The {what} URL must start with http:// or https:// and name a host; got {redact_url(url)!r}."
        )
    return url


def get(client: httpx.Client, url: str, settings: HttpSettings, *, stream: bool = False) -> httpx.Response:
    """GET ``url``, retrying as the module docstring says.

    Raises:
        SourceError: A 4xx answer other than 429, or retries exhausted.
    """
    problem = ""
    for attempt in range(settings.retries + 1):
        delay = settings.backoff * 2**attempt
        try:
            response = client.send(client.build_request("GET", url), stream=stream)
        except httpx.TransportError as error:
            problem = f"{type(error).__name__}: {error}" if str(error) else type(error).__name__
        else:
            status = response.status_code
            if status < 400:
                return response
            response.close()
            problem = f"HTTP {status} {response.reason_phrase}".rstrip()
            if status != 429 and status < 500:
                raise SourceError(f"GET {redact_url(url)} answered {problem}.")
            delay = _retry_after(response, default=delay)
        if attempt < settings.retries:
            time.sleep(delay)
    attempts = "1 attempt" if settings.retries == 0 else f"{settings.retries + 1} attempts"
    raise SourceError(f"GET {redact_url(url)} failed after {attempts}; the last: {problem}.")


def _retry_after(response: httpx.Response, *, default: float) -> float:
    """Seconds the server asks us to wait (``Retry-After: 2``), else the back-off ``default``."""
    value = response.headers.get("Retry-After", "").strip()
    try:
        seconds = float(value)
    except ValueError:
        return default  # an HTTP date, or no header: our own back-off is a fair stand-in
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


@contextmanager
def open_stream(url: str, settings: HttpSettings) -> Iterator[IO[bytes]]:
    """The body of ``GET url`` as a buffered binary file, streamed as it is read.

    Raises:
        SourceError: As :func:`get`, or the connection fails mid-body.
    """
    with settings.client() as client:
        response = get(client, url, settings, stream=True)
        try:
            yield io.BufferedReader(_ResponseReader(response, url), buffer_size=1 << 20)
        finally:
            response.close()


class _ResponseReader(io.RawIOBase):
    """A streamed response body as a raw binary file (content-encoding already undone)."""

    def __init__(self, response: httpx.Response, url: str) -> None:
        self._chunks = response.iter_bytes()
        self._pending = b""
        self._url = url

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        while not self._pending:
            try:
                self._pending = next(self._chunks)
            except StopIteration:
                return 0
            except httpx.HTTPError as error:
                raise SourceError(f"Reading {redact_url(self._url)} failed mid-way: {type(error).__name__}.") from error
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size
