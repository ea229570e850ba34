"""Request bodies under a size limit: read whole (JSON routes) or spooled to a temporary file (uploads).

A body larger than its limit is refused with :class:`~driftloop.errors.PayloadTooLarge` (413) as soon as its
``Content-Length`` says so, or, without one, as soon as the bytes received pass the limit: nothing past it is read.
"""

from __future__ import annotations

import contextlib
import shutil
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.types import Message

from driftloop.errors import PayloadTooLarge

__all__ = ["buffered", "limited", "spooled"]


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

    return Request(request.scope, receive)


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
