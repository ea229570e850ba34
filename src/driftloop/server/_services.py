"""The workspace's services acting as the caller of one request: what every route calls.

The services record their ``actor`` on every event they write, so each request gets services built for its caller
(building them does no I/O) over the workspace's one set of stores.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Annotated

from fastapi import Depends, Request

from driftloop.entities import Role
from driftloop.identity import require
from driftloop.server._access import Caller

if TYPE_CHECKING:
    from driftloop.data import Datasets
    from driftloop.loop import StoredPolicies
    from driftloop.registry import ModelRegistry
    from driftloop.serving._label_queue import LabelQueue
    from driftloop.store.blobs import BlobStore
    from driftloop.store.metadata import MetadataStore
    from driftloop.store.tables import TableStore
    from driftloop.tracking import Tracking
    from driftloop.workspace import Workspace

__all__ = ["Services", "ServicesDependency", "services"]


class Services:
    """Tracking, datasets and the registry acting as ``caller``, with the metadata repositories (alerts, events,
    loop actions, identities) whose writes take the actor as an argument."""

    def __init__(self, workspace: Workspace, tables: TableStore, caller: Caller) -> None:
        self._workspace = workspace
        self._tables = tables
        self.caller = caller

    @property
    def actor(self) -> str:
        return self.caller.name

    def require(self, role: Role, scope: str) -> None:
        """Check that the caller also holds ``role`` on ``scope``, beyond what its route's rule checked (a route that
        touches a second object: a registration naming the dataset it was trained on).

        Raises:
            PermissionDenied: The caller lacks the role there (403).
        """
        if self.caller.user:
            require(self._workspace.metadata.identities, self.caller.name, role, scope)

    @property
    def workspace(self) -> Workspace:
        """The server's workspace itself, for reads that take a whole workspace (a live drift check): never for a
        write, which must go through a service acting as the caller."""
        return self._workspace

    @property
    def metadata(self) -> MetadataStore:
        return self._workspace.metadata

    @property
    def blobs(self) -> BlobStore:
        return self._workspace.blobs

    @functools.cached_property
    def tracking(self) -> Tracking:
        from driftloop.tracking import Tracking

        return Tracking(self._workspace.metadata, self._workspace.blobs, actor=self.actor)

    @functools.cached_property
    def datasets(self) -> Datasets:
        from driftloop.data import Datasets

        return Datasets(self._workspace.metadata, self._workspace.blobs, self._tables, actor=self.actor)

    @functools.cached_property
    def label_queue(self) -> LabelQueue:
        from driftloop.serving._label_queue import LabelQueue

        return LabelQueue(self._workspace)

    @functools.cached_property
    def policies(self) -> StoredPolicies:
        from driftloop.loop import StoredPolicies

        return StoredPolicies(self._workspace, actor=self.actor)

    @functools.cached_property
    def models(self) -> ModelRegistry:
        from driftloop.registry import ModelRegistry

        return ModelRegistry(self._workspace.metadata, self._workspace.blobs, datasets=self.datasets, actor=self.actor)


def services(request: Request) -> Services:
    """The services for the request's caller, whom its :class:`~driftloop.server._access.GuardedRoute` admitted."""
    caller: Caller = request.state.caller
    return Services(request.app.state.workspace, request.app.state.tables, caller)


ServicesDependency = Annotated[Services, Depends(services)]
