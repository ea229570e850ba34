"""Running the server: ``driftloop serve`` and the factory uvicorn's worker processes call.

With ``--workers N`` uvicorn starts N processes that each import the application from a factory; the
settings travel to them in environment variables (the workspace's own, plus the served models).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from driftloop.serving._app import ServerSettings, create_app

__all__ = ["app_from_environment", "serve"]

MODELS_VARIABLE = "DRIFTLOOP_SERVE"


def app_from_environment() -> FastAPI:
    """The application for one uvicorn worker, from ``DRIFTLOOP_SERVE`` and the workspace settings."""
    from driftloop.workspace import Workspace

    options = json.loads(os.environ[MODELS_VARIABLE])
    _configure_logging()
    return create_app(Workspace(), ServerSettings(**options))


def _configure_logging() -> None:
    """Access lines as bare JSON on stderr (one object per line, for log shippers); the rest with a level."""
    import logging

    for name, pattern in (("driftloop.access", "%(message)s"), ("driftloop", "%(levelname)s %(name)s: %(message)s")):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter(pattern))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    logging.getLogger("driftloop.access").propagate = False


def serve(
    models: Sequence[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    default: str | None = None,
    poll_interval: float = 1.0,
    log_level: str = "info",
) -> None:
    """Serve ``models`` until interrupted (SIGINT/SIGTERM end it gracefully)."""
    import uvicorn

    options: dict[str, Any] = {"models": list(models), "default": default, "poll_interval": poll_interval}
    ServerSettings(**options)  # wrong options fail here, before any process starts
    os.environ[MODELS_VARIABLE] = json.dumps(options)
    uvicorn.run(
        "driftloop.serving._server:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        access_log=False,  # driftloop writes its own, as JSON
    )
