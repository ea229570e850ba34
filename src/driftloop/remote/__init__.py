"""A workspace served by ``driftloop server``, used from another process or machine.

``Workspace("http://host:8080", token=...)`` (or ``DRIFTLOOP_STORE=http://host:8080`` with ``DRIFTLOOP_TOKEN``)
hands out the same tracking, dataset and registry methods as an embedded workspace; each call is a request to the
server, which checks the token's roles and records the token's user in the audit log. Nothing here touches a
database or the artifact store directly.
"""

from driftloop.remote._client import ServerClient
from driftloop.remote._datasets import RemoteDatasets, RemoteDatasetVersion
from driftloop.remote._events import RemoteEvents
from driftloop.remote._operations import RemoteAlerts, RemoteIdentities, RemoteLabelQueue, RemoteLoopActions
from driftloop.remote._policies import RemotePolicies
from driftloop.remote._registry import RemoteModels
from driftloop.remote._tracking import RemoteTracking

__all__ = [
    "RemoteAlerts",
    "RemoteDatasetVersion",
    "RemoteDatasets",
    "RemoteEvents",
    "RemoteIdentities",
    "RemoteLabelQueue",
    "RemoteLoopActions",
    "RemoteModels",
    "RemotePolicies",
    "RemoteTracking",
    "ServerClient",
]
