"""The HTTP client of a workspace server: one connection pool, the caller's token, errors as driftloop's own.

The server answers every error as ``{"error": {"code", "message"}}`` with a code of :mod:`driftloop.errors`; the
client raises the class of that code with the server's message, so code written against an embedded workspace
catches the same exceptions from a remote one. The token travels only in the ``Authorization`` header and never
appears in a message, a ``repr`` or a log line of this module.
"""

from __future__ import annotations

import contextlib
import functools
import io
import urllib.parse
from collections.abc import Iterator, Mapping
from typing import IO, Any, TypeVar

import httpx
import orjson
from pydantic import TypeAdapter

from driftloop import errors
from driftloop.errors import DriftloopError, InvalidSettings, StoreUnavailable

__all__ = ["ServerClient", "quoted"]

API_PREFIX = "/api/v1"
T = TypeVar("T")


class ServerClient:
    """Requests to one workspace server at ``url`` (``http://host:port``), as the holder of ``token``.

    Without a token the server must be open (loopback, no users): it then acts as its local admin.
    """

    def __init__(self, url: str, token: str | None = None, *, timeout: float = 60.0) -> None:
        parsed = urllib.parse.urlsplit(url)
        if parsed.scheme not in ("http", "https") or not parsed.hostname:
            raise InvalidSettings(f"A workspace server's address is http(s)://host[:port]; got {redact(url)!r}.")
        if parsed.username or parsed.password:
            raise InvalidSettings("Give the workspace server's token with token= or DRIFTLOOP_TOKEN, not in its URL.")
        self.url = f"{parsed.scheme}://{parsed.netloc}{parsed.path.rstrip('/')}"
        headers = {"User-Agent": "driftloop"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        self._http = httpx.Client(base_url=self.url + API_PREFIX, headers=headers, timeout=timeout)

    def __repr__(self) -> str:
        return f"ServerClient({self.url!r})"

    def close(self) -> None:
        self._http.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        content: bytes | Iterator[bytes] | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
    ) -> httpx.Response:
        """Send one request; a 4xx or 5xx answer raises the driftloop error its body names. ``timeout`` replaces
        the client's (seconds) for a request that runs a whole job on the server.

        Raises:
            StoreUnavailable: The server cannot be reached.
            DriftloopError: The server refused the request (the subclass its error code names).
        """
        body = content
        sent_headers = dict(headers or {})
        if json is not None:
            body = orjson.dumps(json, option=orjson.OPT_SERIALIZE_NUMPY)
            sent_headers["Content-Type"] = "application/json"
        query = None if params is None else {key: value for key, value in params.items() if value is not None}
        try:
            answer = self._http.request(
                method,
                path,
                content=body,
                params=query,
                headers=sent_headers,
                timeout=httpx.USE_CLIENT_DEFAULT if timeout is None else timeout,
            )
        except httpx.TransportError as error:
            raise StoreUnavailable(f"The workspace server at {self.url} cannot be reached: {error}.") from error
        if answer.status_code >= 400:
            raise error_from(answer)
        return answer

    @contextlib.contextmanager
    def stream(self, path: str, *, params: Mapping[str, Any] | None = None) -> Iterator[IO[bytes]]:
        """The body of a ``GET`` as a file read while it arrives (a large answer never sits whole in memory).

        Raises:
            StoreUnavailable: The server cannot be reached.
            DriftloopError: The server refused the request.
        """
        query = None if params is None else {key: value for key, value in params.items() if value is not None}
        try:
            with self._http.stream("GET", path, params=query) as answer:
                if answer.status_code >= 400:
                    answer.read()
                    raise error_from(answer)
                yield io.BufferedReader(_ArrivingBody(answer.iter_bytes()))
        except httpx.TransportError as error:
            raise StoreUnavailable(f"The workspace server at {self.url} cannot be reached: {error}.") from error

    def get(self, path: str, **options: Any) -> Any:
        """The JSON of a ``GET``."""
        return orjson.loads(self.request("GET", path, **options).content)

    def send(self, method: str, path: str, body: Any = None, **options: Any) -> Any:
        """The JSON answer of a request with a JSON ``body`` (None for an empty answer)."""
        answer = self.request(method, path, json=body, **options)
        return orjson.loads(answer.content) if answer.content else None


class _ArrivingBody(io.RawIOBase):
    """A response body's chunks as a read-only file (what pyarrow's stream reader takes)."""

    def __init__(self, chunks: Iterator[bytes]) -> None:
        self._chunks = chunks
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._pending = chunk
        size = min(len(buffer), len(self._pending))
        buffer[:size] = self._pending[:size]
        self._pending = self._pending[size:]
        return size


def decode(kind: type[T], data: Any) -> T:
    """``data`` (parsed JSON) as the entity ``kind``, nested entities and enums included."""
    return _adapter(kind).validate_python(data)  # type: ignore[no-any-return,arg-type]


def decode_list(kind: type[T], data: Any) -> list[T]:
    return [decode(kind, item) for item in data]


@functools.cache
def _adapter(kind: type[Any]) -> TypeAdapter[Any]:
    return TypeAdapter(kind)


def error_from(answer: httpx.Response) -> DriftloopError:
    """The driftloop error a refused request's body names, or a plain one with the status."""
    code, message = None, None
    try:
        detail = orjson.loads(answer.content)["error"]
        code, message = str(detail["code"]), str(detail["message"])
    except (orjson.JSONDecodeError, KeyError, TypeError):
        pass
    if message is None:
        message = f"The workspace server answered {answer.status_code} {answer.reason_phrase}."
    kind = _ERRORS_BY_CODE.get(code or "", None)
    if kind is None:
        kind = errors.StoreError if answer.status_code >= 500 else DriftloopError
    return kind(message)


def _error_classes() -> dict[str, type[DriftloopError]]:
    """Each code of :mod:`driftloop.errors` with the class that declares it (not a subclass elsewhere that only
    inherits it and takes other arguments)."""
    found: dict[str, type[DriftloopError]] = {}
    for name in errors.__all__:
        kind = getattr(errors, name)
        if isinstance(kind, type) and issubclass(kind, DriftloopError) and "code" in vars(kind):
            found[kind.code] = kind
    return found


_ERRORS_BY_CODE = _error_classes()


def quoted(*segments: str | int, tail: str | None = None) -> str:
    """A path of URL-quoted segments, then ``tail`` with its slashes kept (an artifact's path, a metric's key).

    Every reserved character of a segment is escaped, so no value can reach another route:
    ``quoted("runs", "a/b")`` is ``'/runs/a%2Fb'``.
    """
    path = "/" + "/".join(urllib.parse.quote(str(segment), safe="") for segment in segments)
    return path if tail is None else f"{path}/{urllib.parse.quote(tail, safe='/')}"


def redact(url: str) -> str:
    """``url`` without a password or token in it."""
    parsed = urllib.parse.urlsplit(url)
    if parsed.password is None and parsed.username is None:
        return url
    host = parsed.hostname or ""
    if parsed.port:
        host = f"{host}:{parsed.port}"
    return urllib.parse.urlunsplit((parsed.scheme, f"***@{host}", parsed.path, "", ""))
