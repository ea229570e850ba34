"""Running the workspace server (``driftloop server``), with safe defaults.

Whether a request needs a token is decided when the server starts, from where it listens and whether the workspace
has users:

============  ===========  ==============  ===============================================================
bound to      users exist  ``--insecure``  the server
============  ===========  ==============  ===============================================================
any address   yes          either          needs a token on every request
loopback      no           either          starts open: a request without a token acts as the local admin
other         no           no              refuses to start
other         no           yes             starts open, with a loud warning
============  ===========  ==============  ===============================================================

"Open" serves a single local user who needs no token, as the embedded workspace does; the startup log says so.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from driftloop.errors import InvalidSettings
from driftloop.server._app import WorkspaceServerSettings, create_server_app

if TYPE_CHECKING:
    from driftloop.workspace import Workspace

__all__ = ["access_settings", "is_loopback", "run_server"]

log = logging.getLogger("driftloop.server")

DEFAULT_PORT = 8787


def is_loopback(host: str) -> bool:
    """Whether ``host`` only reaches this machine: ``localhost`` or a loopback address.

    >>> is_loopback("127.0.0.1"), is_loopback("::1"), is_loopback("localhost"), is_loopback("0.0.0.0")
    (True, True, True, False)
    """
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:  # a host name other than localhost: it may resolve to anything
        return False


def access_settings(
    workspace: Workspace, *, host: str, port: int = DEFAULT_PORT, insecure: bool = False, **limits: Any
) -> WorkspaceServerSettings:
    """The settings a server on ``host`` runs with, as the table of this module decides; logged.

    ``limits`` are :class:`~driftloop.server.WorkspaceServerSettings` sizes (``max_upload_bytes``…).

    Raises:
        InvalidSettings: ``host`` is not loopback, the workspace has no users and ``insecure`` is not set.
    """
    users = len(workspace.metadata.identities.list_users())
    address = f"{host}:{port}"
    if users:
        log.info("Authentication is on (%d users): every request needs an API token.", users)
        if insecure:
            log.info("--insecure changes nothing: the workspace has users, so every request needs a token.")
        if not is_loopback(host):
            log.warning(
                "Serving on %s over plain HTTP: tokens cross the network readable; put a TLS proxy in front.", address
            )
        return WorkspaceServerSettings(open_access=False, **limits)
    admin = workspace.actor
    if is_loopback(host):
        log.info(
            "No users are configured and the server listens on loopback (%s): requests without a token act as the "
            "local admin %r. Create a user (`driftloop users create NAME --role admin`) to turn authentication on.",
            address,
            admin,
        )
        return WorkspaceServerSettings(open_access=True, **limits)
    if not insecure:
        raise InvalidSettings(
            f"Refusing to serve the workspace on {address} without authentication: it has no users. Create an admin "
            "(`driftloop users create NAME --role admin`, then `driftloop tokens create NAME`), listen on 127.0.0.1, "
            "or pass --insecure to serve it open on purpose."
        )
    log.warning(
        "INSECURE: serving the workspace on %s without authentication (--insecure, no users): anyone who can reach "
        "this address acts as the admin %r, with every right on every dataset, model and user.",
        address,
        admin,
    )
    return WorkspaceServerSettings(open_access=True, **limits)


def run_server(
    workspace: Workspace,
    *,
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    insecure: bool = False,
    log_level: str = "info",
    serve: Sequence[str] = (),
    serving: Mapping[str, Any] | None = None,
    **limits: Any,
) -> None:
    """Serve ``workspace`` until interrupted (SIGINT/SIGTERM end it gracefully), with the models ``serve`` names
    (``"houses"``, ``"houses@challenger"``) scored on the same port behind the same tokens and roles, with the
    further :class:`~driftloop.serving.ServerSettings` ``serving`` gives (``{"out_of_range": "missing"}``).

    Raises:
        InvalidSettings: As :func:`access_settings`, before anything listens.
    """
    import uvicorn

    from driftloop.serving._server import configure_process_logging

    configure_process_logging("driftloop.server.access")
    settings = access_settings(workspace, host=host, port=port, insecure=insecure, **limits)
    app: Any = create_server_app(workspace, settings)
    if serve:
        from driftloop.server._serving import with_models

        app = with_models(app, workspace, serve, **(serving or {}))
    # uvicorn's access log would print query strings; the app writes its own (driftloop.server.access).
    uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
