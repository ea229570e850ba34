"""The one entry point: a workspace opens the stores its settings name and hands out the services.

>>> import tempfile
>>> from driftloop import Workspace
>>> ws = Workspace(tempfile.mkdtemp())      # no I/O yet
>>> ws.tracking.create_experiment("price").name   # the first operation connects and migrates
'price'
>>> ws.close()

In this direct mode every client that holds the database URL is trusted; users and roles come with
the workspace server.
"""

from __future__ import annotations

import os
import threading
from types import TracebackType
from typing import TYPE_CHECKING

from driftloop.settings import Settings

if TYPE_CHECKING:
    from driftloop.data import Datasets
    from driftloop.housekeeping import GarbageReport
    from driftloop.registry import ModelRegistry
    from driftloop.store.blobs import BlobStore
    from driftloop.store.metadata import EventRepository, MetadataStore
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
    ) -> None:
        self._arguments = {"root": root, "store": store, "artifacts": artifacts, "actor": actor}
        self._cwd = os.getcwd()
        self._settings: Settings | None = None
        self._metadata: MetadataStore | None = None
        self._blobs: BlobStore | None = None
        self._tracking: Tracking | None = None
        self._datasets: Datasets | None = None
        self._models: ModelRegistry | None = None
        self._lock = threading.RLock()

    def __repr__(self) -> str:
        if self._settings is None:
            return "Workspace(<not opened>)"
        return f"Workspace(root={self._settings.root!r}, store={self._redacted_store()!r})"

    @property
    def settings(self) -> Settings:
        """The resolved settings (reading the environment and driftloop.toml the first time)."""
        if self._settings is None:
            self._settings = Settings.resolve(cwd=self._cwd, **self._arguments)  # type: ignore[arg-type]
        return self._settings

    @property
    def actor(self) -> str:
        """Who this workspace acts as: recorded on every event it writes."""
        return self.settings.actor

    def open(self) -> Workspace:
        """Connect to the metadata store and migrate it if it is the embedded default; idempotent."""
        from driftloop.store.blobs import open_blob_store
        from driftloop.store.metadata import MetadataStore

        with self._lock:
            if self._metadata is not None:
                return self
            settings = self.settings
            metadata = MetadataStore(settings.store, auto_migrate=settings.is_embedded)
            metadata.open()
            self._blobs = open_blob_store(settings.blobs_url)
            self._metadata = metadata
        return self

    def close(self) -> None:
        """End open runs as finished, and release database connections."""
        with self._lock:
            if self._tracking is not None:
                for run in self._tracking.active_runs():
                    run.end()
            if self._metadata is not None:
                self._metadata.close()
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
        self.open()
        assert self._metadata is not None
        return self._metadata

    @property
    def blobs(self) -> BlobStore:
        self.open()
        assert self._blobs is not None
        return self._blobs

    @property
    def tracking(self) -> Tracking:
        """Experiments, runs and their queries."""
        from driftloop.tracking import Tracking

        with self._lock:
            if self._tracking is None:
                self._tracking = Tracking(self.metadata, self.blobs, actor=self.actor)
            return self._tracking

    @property
    def datasets(self) -> Datasets:
        """Versioned datasets: ingest, read, diff, lineage."""
        from driftloop.data import Datasets
        from driftloop.store.tables import TableStore

        with self._lock:
            if self._datasets is None:
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
    def events(self) -> EventRepository:
        """The append-only event log (read it with ``ws.events.list(...)``)."""
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

        See :func:`driftloop.housekeeping.collect_garbage`.
        """
        from driftloop.housekeeping import collect_garbage
        from driftloop.names import validate_actor

        return collect_garbage(
            self.metadata,
            self.blobs,
            actor=self.actor if actor is None else validate_actor(actor),
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

    def _redacted_store(self) -> str:
        from driftloop.store.metadata import redact

        return redact(self.settings.store)


def _innermost_run() -> ActiveRun | None:
    """The run a read through the workspace is recorded on: the innermost ``driftloop.start_run``."""
    from driftloop._fluent import active_run

    return active_run()
