"""Running the server: ``driftloop serve`` and the factory uvicorn's worker processes call.

With ``--workers N`` uvicorn starts N processes that each import the application from a factory; the
settings travel to them in environment variables (the workspace's own, plus the served models).
"""

from __future__ import annotations

import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from typing import Any

from fastapi import FastAPI

from driftloop.errors import InvalidInput
from driftloop.serving._app import ServerSettings, create_app
from driftloop.serving._traffic import traffic_policies

__all__ = ["app_from_environment", "serve", "server_options"]

MODELS_VARIABLE = "DRIFTLOOP_SERVE"
SWITCH_INTERVAL_SECONDS = 0.001


def app_from_environment() -> FastAPI:
    """The application for one uvicorn worker, from ``DRIFTLOOP_SERVE`` and the workspace settings."""
    from driftloop.workspace import Workspace

    options = json.loads(os.environ[MODELS_VARIABLE])
    # The request path (the event loop) and the prediction log's flushing thread share the interpreter lock: a
    # thread waiting for it takes it after the switch interval. At CPython's default 5 ms, every flush stalls
    # the requests in flight by that much, several times over; at 1 ms, p99 latency under load halves (wrk, 32
    # connections: 18 -> 10.5 ms) for a few percent of throughput.
    sys.setswitchinterval(SWITCH_INTERVAL_SECONDS)
    configure_process_logging("driftloop.access")
    return create_app(Workspace(), ServerSettings(**options))


def configure_process_logging(access_logger: str) -> None:
    """A server process's logging: ``access_logger``'s lines bare on stderr (one JSON object each, for log
    shippers, not passed on to driftloop's), every other driftloop line with its level and logger name."""
    import logging

    for name, pattern in ((access_logger, "%(message)s"), ("driftloop", "%(levelname)s %(name)s: %(message)s")):
        logger = logging.getLogger(name)
        if not logger.handlers:
            handler = logging.StreamHandler()
            handler.setFormatter(logging.Formatter(pattern))
            logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    logging.getLogger(access_logger).propagate = False


def server_options(models: Sequence[str], **settings: Any) -> dict[str, Any]:
    """The keyword arguments of :class:`ServerSettings` every worker gets, as plain JSON values, checked.

    ``settings`` are :class:`ServerSettings` fields (``default``, ``traffic``, ``log_predictions``, ...); a
    ``None`` leaves a field at its default. Wrong options fail here, in the process that starts the server,
    rather than in each worker.

    >>> server_options(["houses"], traffic={"houses": {"canary": 0.1}})["traffic"]
    {'houses': {'canary': 0.1, 'shadow': False, 'challenger': 'challenger'}}

    Raises:
        InvalidInput: An option is unknown or not acceptable, or names a model that is not served.
    """
    known = {field.name for field in dataclasses.fields(ServerSettings)} - {"models"}
    unknown = sorted(set(settings) - known)
    if unknown:
        raise InvalidInput(f"Unknown server settings: {', '.join(unknown)}; known: {', '.join(sorted(known))}.")
    options: dict[str, Any] = {"models": list(models)}
    options.update({name: value for name, value in settings.items() if value is not None})
    if "traffic" in options:
        policies = traffic_policies(options["traffic"])
        options["traffic"] = {name: dataclasses.asdict(policy) for name, policy in policies.items()}
    ServerSettings(**options)  # checks every value, the references, the default and the policies' names
    return options


def serve(
    models: Sequence[str],
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 1,
    log_level: str = "info",
    **settings: Any,
) -> None:
    """Serve ``models`` until interrupted (SIGINT/SIGTERM end it gracefully).

    ``settings`` are :class:`ServerSettings` fields: ``default``, ``traffic``, ``log_predictions``,
    ``max_body_bytes``, ``poll_interval``, ``upkeep_interval``, ``monitor_interval``, ``monitor_last``, ``alerts``
    (the path of an alert rules file: every worker reads it), ``policies`` (the loop's policy file),
    ``loop_interval`` and ``out_of_range``.
    """
    import uvicorn

    options = server_options(models, **settings)  # wrong options fail here, before any process starts
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
