"""Request bodies under a size limit: read whole (JSON routes) or spooled to a temporary file (uploads).

A body larger than its limit is refused with :class:`~driftloop.errors.PayloadTooLarge` (413) as soon as its
``Content-Length`` says so, or, without one, as soon as the bytes received pass the limit: nothing past it is read.
A body read whole is parsed as JSON by :func:`parse_json`: what Python's reader makes of it, faster (Python's reader
took a quarter of the server's time on batches of 10,000 metric points).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pydantic_core
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Message

from driftloop.errors import InvalidInput, PayloadTooLarge
from driftloop.store.blobs import BlobStore

__all__ = ["buffered", "limited", "parse_json", "spooled", "store_upload"]


def parse_json(body: bytes) -> Any:
    """``json.loads(body)``, computed by pydantic's JSON reader whenever that one accepts the body.

    A document both readers accept, they read alike: big integers stay integers, ``NaN`` and ``Infinity`` (which
    Python clients write) become floats. What pydantic's reader refuses (a byte-order mark, a lone surrogate,
    UTF-16, very deep nesting, malformed JSON) goes to Python's reader, which takes it or words the error as FastAPI
    expects. pydantic's reader is about two to three times faster on a batch of metric points.

    >>> parse_json(b'{"value": NaN, "step": 18446744073709551616, "key": "loss"}')
    {'value': nan, 'step': 18446744073709551616, 'key': 'loss'}
    """
    try:
        return pydantic_core.from_json(body, allow_inf_nan=True)
    except ValueError:
        parsed = json.loads(body)
    _refuse_lone_surrogates(parsed)
    return parsed


def _refuse_lone_surrogates(value: Any) -> None:
    """A JSON escape such as ``"\\udfff"`` reads as a string no UTF-8 writer takes back: kept, it would break every
    later answer that holds it (the audit log's included), so the body is refused as malformed JSON (422).

    Raises:
        json.JSONDecodeError: A string of the body holds a lone UTF-16 surrogate.
    """
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                message = "a lone UTF-16 surrogate (an escape such as \\udfff without its pair) is not text"
                raise json.JSONDecodeError(message, "", 0) from None
        elif isinstance(item, dict):
            pending.extend(item.keys())
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)


class _JsonRequest(Request):
    """A request whose JSON body (as FastAPI reads it for a route's body parameter) is parsed by :func:`parse_json`."""

    async def json(self) -> Any:
        if not hasattr(self, "_parsed_json"):
            self._parsed_json = parse_json(await self.body())
        return self._parsed_json


async def limited(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The chunks of the request's body, refused past ``limit`` bytes."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"The body has {int(declared):,} bytes; the limit is {limit:,}.")
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise PayloadTooLarge(f"The body is larger than the limit of {limit:,} bytes.")
        yield chunk


async def buffered(request: Request, limit: int) -> Request:
    """The request with its body read (under ``limit``), for FastAPI to parse as if it came from the client."""
    body = b"".join([chunk async for chunk in limited(request, limit)])
    replayed = False

    async def receive() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        # After the body, the client's own messages: a streaming response listens here for a disconnect.
        return await request.receive()

    return _JsonRequest(request.scope, receive)


@contextlib.asynccontextmanager
async def spooled(request: Request, limit: int, filename: str) -> AsyncIterator[Path]:
    """The request's body in a temporary file called ``filename`` (under ``limit``), removed afterwards."""
    folder = Path(tempfile.mkdtemp(prefix="driftloop-upload-"))
    try:
        path = folder / filename
        with path.open("wb") as sink:
            async for chunk in limited(request, limit):
                await run_in_threadpool(sink.write, chunk)
        yield path
    finally:
        shutil.rmtree(folder, ignore_errors=True)


async def store_upload(request: Request, blobs: BlobStore, limit: int, digest: str) -> None:
    """Store the request's body (under ``limit``) as a blob, which must be the one whose SHA-256 is ``digest``.

    Raises:
        InvalidInput: The body's SHA-256 is another. It is stored all the same, as nothing refers to it the
            garbage collection takes it.
    """
    async with spooled(request, limit, "upload") as file:
        stored = await run_in_threadpool(blobs.put_file, file)
    if stored != digest:
        raise InvalidInput(f"The file's SHA-256 is {stored}, not the {digest} its path names.")
