"""Running the server: ``driftloop serve`` and the factory uvicorn's worker processes call.

With ``--workers N`` uvicorn starts N processes that each import the application from a factory; the
settings travel to them in environment variables (the workspace's own, plus the served models).
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping, Sequence
from typing import Any

from fastapi import FastAPI

from driftloop.errors import InvalidInput
from driftloop.serving._app import ServerSettings, create_app
from driftloop.serving._traffic import TrafficPolicy, traffic_policies

__all__ = ["app_from_environment", "serve", "server_options"]

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


def server_options(
    models: Sequence[str],
    *,
    default: str | None = None,
    poll_interval: float = 1.0,
    traffic: Mapping[str, TrafficPolicy | Mapping[str, Any]] | None = None,
    log_predictions: bool = True,
    max_body_bytes: int | None = None,
) -> dict[str, Any]:
    """The keyword arguments of :class:`ServerSettings` every worker gets, as plain JSON values, checked.

    Wrong options fail here, in the process that starts the server, rather than in each worker.

    >>> server_options(["houses"], traffic={"houses": {"canary": 0.1}})["traffic"]
    {'houses': {'canary': 0.1, 'shadow': False, 'challenger': 'challenger'}}

    Raises:
        InvalidInput: An option is not acceptable, or a traffic policy or the default names a model not served.
    """
    policies = traffic_policies(traffic or {})
    options: dict[str, Any] = {
        "models": list(models),
        "default": default,
        "poll_interval": poll_interval,
        "log_predictions": log_predictions,
        "traffic": {name: dataclasses.asdict(policy) for name, policy in policies.items()},
    }
    if max_body_bytes is not None:
        if isinstance(max_body_bytes, bool) or not isinstance(max_body_bytes, int) or max_body_bytes < 1:
            raise InvalidInput(f"The 'max_body_bytes' must be a whole number of bytes >= 1; got {max_body_bytes!r}.")
        options["max_body_bytes"] = max_body_bytes
    ServerSettings(**options)  # checks the references, the default and the policies' names
    return options


def serve(
    models: Sequence[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    default: str | None = None,
    poll_interval: float = 1.0,
    log_level: str = "info",
    traffic: Mapping[str, TrafficPolicy | Mapping[str, Any]] | None = None,
    log_predictions: bool = True,
    max_body_bytes: int | None = None,
) -> None:
    """Serve ``models`` until interrupted (SIGINT/SIGTERM end it gracefully).

    ``traffic``, ``log_predictions`` and ``max_body_bytes`` are those of :class:`ServerSettings`; the defaults
    keep a prediction log, send no traffic to a challenger and take bodies of up to 16 MiB.
    """
    import uvicorn

    options = server_options(
        models,
        default=default,
        poll_interval=poll_interval,
        traffic=traffic,
        log_predictions=log_predictions,
        max_body_bytes=max_body_bytes,
    )  # wrong options fail here, before any process starts
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
