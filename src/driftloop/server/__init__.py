"""The workspace server: one workspace shared over HTTP, behind users, API tokens and roles.

``driftloop server`` (:func:`run_server`) serves :func:`create_server_app`: tracking, datasets, the model registry,
the audit log, alerts, loop actions, and users, tokens and grants, under ``/api/v1``, described by an OpenAPI
document. Every route declares the role it needs and on which scope (:mod:`~driftloop.server._access`), and runs
as the caller, whose name the audit log records. The server is an interface: each route calls a service of the
workspace and holds no logic of its own.
"""

from driftloop.server._access import Access, GuardedRoute, unguarded_routes
from driftloop.server._app import WorkspaceServerSettings, create_server_app
from driftloop.server._runner import access_settings, is_loopback, run_server

__all__ = [
    "Access",
    "GuardedRoute",
    "WorkspaceServerSettings",
    "access_settings",
    "create_server_app",
    "is_loopback",
    "run_server",
    "unguarded_routes",
]
