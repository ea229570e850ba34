"""The one entry point: a workspace opens the stores its settings name and hands out the services.

>>> import tempfile
>>> from driftloop import Workspace
>>> ws = Workspace(tempfile.mkdtemp())      # no I/O yet
>>> ws.tracking.create_experiment("price").name   # the first operation connects and migrates
'price'
>>> ws.close()

In this direct mode every client that holds the database URL is trusted. A team that needs users, roles and an
audit trail of who did what shares the workspace through ``driftloop server`` instead, and each member opens it by
its address and an API token: ``Workspace("http://ml-server:8080", token=...)``, the same methods over HTTP.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from types import TracebackType
from typing import TYPE_CHECKING, cast

from driftloop.errors import InvalidState, PermissionDenied
from driftloop.settings import Settings

if TYPE_CHECKING:
    from driftloop.data import Datasets
    from driftloop.housekeeping import GarbageReport
    from driftloop.loop import StoredPolicies
    from driftloop.registry import ModelRegistry
    from driftloop.remote import ServerClient
    from driftloop.serving._label_queue import LabelQueue
    from driftloop.store.blobs import BlobStore
    from driftloop.store.metadata import (
        AlertRepository,
        EventRepository,
        IdentityRepository,
        LoopRepository,
        MetadataStore,
    )
    from driftloop.tracking import ActiveRun, Tracking
    from driftloop.training import Training

__all__ = ["Workspace"]


class Workspace:
    """A driftloop workspace: metadata, blobs and the services over them.

    ``Workspace()`` is ``.driftloop/`` in the current folder (created on first use);
    ``Workspace(store="postgresql+psycopg://user@host/db", artifacts="s3://bucket/prefix")`` is shared
    infrastructure. Arguments left out come from the environment, a ``driftloop.toml`` or the defaults
    (see :mod:`driftloop.settings`). Building the object does no I/O: the first operation, or
    :meth:`open`, connects to the store and migrates an embedded SQLite database.
    """

    def __init__(
        self,
        root: str | os.PathLike[str] | None = None,
        *,
        store: str | None = None,
        artifacts: str | os.PathLike[str] | None = None,
        actor: str | None = None,
        token: str | None = None,
    ) -> None:
        if store is None and isinstance(root, str) and root.startswith(("http://", "https://")):
            store, root = root, None
        self._arguments = {"root": root, "store": store, "artifacts": artifacts, "actor": actor, "token": token}
        self._cwd = os.getcwd()
        self._settings: Settings | None = None
        self._metadata: MetadataStore | None = None
        self._blobs: BlobStore | None = None
        self._tracking: Tracking | None = None
        self._datasets: Datasets | None = None
        self._models: ModelRegistry | None = None
        self._server: ServerClient | None = None
        self._server_actor: str | None = None
        self._borrowed = False  # stores opened by another workspace (acting_as): closing this one leaves them open
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        if self._settings is None:
            return "Workspace(<not opened>)"
        if self._settings.is_remote:
            return f"Workspace({self._redacted_store()!r})"
        return f"Workspace(root={self._settings.root!r}, store={self._redacted_store()!r})"

    @property
    def settings(self) -> Settings:
        """The resolved settings (reading the environment and driftloop.toml the first time)."""
        if self._settings is None:
            self._settings = Settings.resolve(cwd=self._cwd, **self._arguments)  # type: ignore[arg-type]
        return self._settings

    @property
    def is_remote(self) -> bool:
        """True when this workspace is reached through a workspace server."""
        return self.settings.is_remote

    @property
    def actor(self) -> str:
        """Who this workspace acts as: recorded on every event it writes (a server's: the token's user)."""
        if self.settings.is_remote:
            return self._remote_actor()
        return self.settings.actor

    def open(self) -> Workspace:
        """Connect to the metadata store and migrate it if it is the embedded default; idempotent."""
        from driftloop.store.blobs import open_blob_store
        from driftloop.store.metadata import MetadataStore

        with self._lock:
            if self._metadata is not None or self._server is not None:
                return self
            settings = self.settings
            if settings.is_remote:
                from driftloop.remote import ServerClient

                self._server = ServerClient(settings.store, settings.token)
                return self
            metadata = MetadataStore(settings.store, auto_migrate=settings.is_embedded)
            metadata.open()
            self._blobs = open_blob_store(settings.blobs_url)
            self._metadata = metadata
        return self

    def acting_as(self, actor: str) -> Workspace:
        """This workspace's stores, with services that record ``actor`` on every event they write: what a workspace
        server runs a whole job with (a loop tick) for the caller of one request. Building it does no I/O; closing
        it ends its runs and leaves the stores open.

        Raises:
            InvalidState: This workspace is reached through a server (whose token decides who acts).
        """
        from driftloop.names import validate_actor

        if self.settings.is_remote:
            raise InvalidState(
                "A workspace reached through a server acts as its token's user; open it with another user's token "
                f"to act as {actor!r}."
            )
        self.open()
        other = Workspace(actor=validate_actor(actor))
        other._settings = dataclasses.replace(self.settings, actor=actor)
        other._metadata, other._blobs, other._borrowed = self._metadata, self._blobs, True
        return other

    def close(self) -> None:
        """End open runs as finished, and release database connections."""
        with self._lock:
            if self._tracking is not None:
                for run in self._tracking.active_runs():
                    run.end()
            if self._metadata is not None and not self._borrowed:
                self._metadata.close()
            if self._server is not None:
                self._server.close()
            self._server = None
            self._server_actor = None
            self._metadata = None
            self._blobs = None
            self._tracking = None
            self._datasets = None
            self._models = None

    def __enter__(self) -> Workspace:
        return self.open()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # -- stores and services -----------------------------------------------------------------------

    @property
    def metadata(self) -> MetadataStore:
        self._refuse_if_remote("metadata")
        self.open()
        assert self._metadata is not None
        return self._metadata

    @property
    def blobs(self) -> BlobStore:
        self._refuse_if_remote("blobs")
        self.open()
        assert self._blobs is not None
        return self._blobs

    @property
    def server(self) -> ServerClient:
        """The HTTP client of the workspace server this workspace is reached through."""
        if not self.settings.is_remote:
            raise InvalidState("This workspace is not reached through a workspace server; it has no server client.")
        self.open()
        assert self._server is not None
        return self._server

    @property
    def tracking(self) -> Tracking:
        """Experiments, runs and their queries."""
        from driftloop.tracking import Tracking

        with self._lock:
            if self._tracking is None:
                if self.settings.is_remote:
                    from driftloop.remote import RemoteTracking

                    # The same methods over HTTP, held to it by the contract tests (tests/tracking).
                    self._tracking = cast("Tracking", RemoteTracking(self.server, actor=self._remote_actor))
                else:
                    self._tracking = Tracking(self.metadata, self.blobs, actor=self.actor)
            return self._tracking

    @property
    def datasets(self) -> Datasets:
        """Versioned datasets: ingest, read, diff, lineage."""
        from driftloop.data import Datasets
        from driftloop.store.tables import TableStore

        with self._lock:
            if self._datasets is None:
                if self.settings.is_remote:
                    from driftloop.remote import RemoteDatasets

                    # The same methods over HTTP, held to it by the contract tests (tests/data/test_datasets.py).
                    remote = RemoteDatasets(self.server, current_run=_innermost_run)
                    self._datasets = cast("Datasets", remote)
                else:
                    self._datasets = Datasets(
                        self.metadata,
                        self.blobs,
                        TableStore(self.settings.tables_url),
                        actor=self.actor,
                        current_run=_innermost_run,
                    )
            return self._datasets

    @property
    def models(self) -> ModelRegistry:
        """The model registry: register, load by reference (``"houses@champion"``), aliases, gates."""
        from driftloop.registry import ModelRegistry

        with self._lock:
            if self._models is None:
                if self.settings.is_remote:
                    from driftloop.remote import RemoteModels

                    # The same methods over HTTP, held to it by the contract tests (tests/registry/test_registry.py).
                    self._models = cast("ModelRegistry", RemoteModels(self.server, current_run=_innermost_run))
                else:
                    self._models = ModelRegistry(
                        self.metadata, self.blobs, datasets=self.datasets, actor=self.actor, current_run=_innermost_run
                    )
            return self._models

    @property
    def training(self) -> Training:
        """Train on dataset versions: selection, tuning, validation, registration."""
        from driftloop.training import Training

        return Training(self)

    @property
    def policies(self) -> StoredPolicies:
        """The loop's policies kept in the workspace (``driftloop loop run`` without a file runs them)."""
        if self.settings.is_remote:
            from driftloop.remote import RemotePolicies

            return cast("StoredPolicies", RemotePolicies(self.server))
        from driftloop.loop import StoredPolicies

        return StoredPolicies(self)

    @property
    def identities(self) -> IdentityRepository:
        """Users, service accounts, their tokens and roles (through a server: an admin's)."""
        if self.settings.is_remote:
            from driftloop.remote import RemoteIdentities

            return cast("IdentityRepository", RemoteIdentities(self.server, self._remote_actor))
        return self.metadata.identities

    @property
    def alerts(self) -> AlertRepository:
        """Alerts: list them, acknowledge and resolve them."""
        if self.settings.is_remote:
            from driftloop.remote import RemoteAlerts

            return cast("AlertRepository", RemoteAlerts(self.server, self._remote_actor))
        return self.metadata.alerts

    @property
    def label_queue(self) -> LabelQueue:
        """What active learning asked people to label, and their answers (through a server: a deployer's)."""
        if self.settings.is_remote:
            from driftloop.remote import RemoteLabelQueue

            return cast("LabelQueue", RemoteLabelQueue(self.server, self._remote_actor))
        from driftloop.serving._label_queue import LabelQueue

        return LabelQueue(self)

    @property
    def loop_actions(self) -> LoopRepository:
        """What the loop's policies did (read them with ``ws.loop_actions.list(...)``)."""
        if self.settings.is_remote:
            from driftloop.remote import RemoteLoopActions

            return cast("LoopRepository", RemoteLoopActions(self.server))
        return self.metadata.loop

    @property
    def events(self) -> EventRepository:
        """The append-only event log (read it with ``ws.events.list(...)``)."""
        if self.settings.is_remote:
            from driftloop.remote import RemoteEvents

            return cast("EventRepository", RemoteEvents(self.server))
        return self.metadata.events

    def start_run(self, experiment: str = "default", **kwargs: object) -> ActiveRun:
        """Shortcut for ``ws.tracking.start_run``."""
        return self.tracking.start_run(experiment, **kwargs)  # type: ignore[arg-type]

    def gc(
        self,
        *,
        grace_period: float = 3600.0,
        purge_older_than: float = 0.0,
        dry_run: bool = False,
        actor: str | None = None,
    ) -> GarbageReport:
        """Purge soft-deleted runs and experiments, then remove blobs nothing refers to any more.

        See :func:`driftloop.housekeeping.collect_garbage`. Through a workspace server the server collects, as the
        token's user (an admin), keeping at least a minute's grace for files a client uploads before it registers.
        """
        from driftloop.housekeeping import GarbageReport, collect_garbage
        from driftloop.names import validate_actor

        who = self.actor if actor is None else validate_actor(actor)
        if self.settings.is_remote:
            if actor is not None and who != self.actor:
                raise PermissionDenied(f"A workspace server records its token's user ({self.actor!r}); not {who!r}.")
            body = {"grace_period": grace_period, "purge_older_than": purge_older_than, "dry_run": dry_run}
            answer = self.server.send("POST", "/gc", body, timeout=3600.0)
            return GarbageReport(
                **{name: answer[name] for name in GarbageReport.__dataclass_fields__ if name in answer}
            )
        return collect_garbage(
            self.metadata,
            self.blobs,
            actor=who,
            location=self.settings.artifacts,
            grace_period=grace_period,
            purge_older_than=purge_older_than,
            dry_run=dry_run,
        )

    def schema_revision(self) -> tuple[str | None, str]:
        """The metadata store's schema revision (None when empty) and the newest this code knows.

        Works on a store that still needs migrating, without opening the workspace.
        """
        from driftloop.store.metadata import Database

        database = Database(self.settings.store)
        try:
            return database.revisions()
        finally:
            database.dispose()

    def upgrade_schema(self) -> tuple[str | None, str]:
        """Apply pending migrations to the metadata store; returns (revision before, revision after).

        The embedded SQLite store is migrated on open; a shared database needs this once per release
        (``driftloop db upgrade``).
        """
        from driftloop.store.metadata import Database

        database = Database(self.settings.store)
        try:
            before, _ = database.revisions()
            return before, database.upgrade()
        finally:
            database.dispose()

    def _remote_actor(self) -> str:
        """The user the server records for this workspace's token (asked once)."""
        with self._lock:
            if self._server_actor is None:
                name = str(self.server.get("/me")["name"])
                given = self._arguments["actor"]
                if given is not None and given != name:
                    raise PermissionDenied(
                        f"This workspace's token belongs to {name!r}; it cannot act as {given!r} on the server."
                    )
                self._server_actor = name
            return self._server_actor

    def _refuse_if_remote(self, what: str) -> None:
        if self.settings.is_remote:
            raise InvalidState(
                f"A workspace reached through a server has no direct {what}: the server keeps its stores. Use "
                "ws.tracking, ws.datasets, ws.models and ws.events, which go through the server."
            )

    def _redacted_store(self) -> str:
        from driftloop.store.metadata import redact

        return redact(self.settings.store)


def _innermost_run() -> ActiveRun | None:
    """The run a read through the workspace is recorded on: the innermost ``driftloop.start_run``."""
    from driftloop._fluent import active_run

    return active_run()
