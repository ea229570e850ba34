"""Metadata persistence: one SQLAlchemy engine, a repository per aggregate.

Only entities (``driftloop.entities``) leave this package; SQL rows stay inside.
"""

from __future__ import annotations

from collections.abc import Collection

from driftloop.store.metadata._alerts import AlertRepository
from driftloop.store.metadata._artifacts import ArtifactRepository
from driftloop.store.metadata._database import Database, redact
from driftloop.store.metadata._datasets import DatasetRepository, NewVersion
from driftloop.store.metadata._events import EventRepository
from driftloop.store.metadata._experiments import ExperimentRepository
from driftloop.store.metadata._identity import IdentityRepository
from driftloop.store.metadata._keys import KeyRepository
from driftloop.store.metadata._label_requests import LabelRequestRepository, NewLabelRequest
from driftloop.store.metadata._leases import LeaseRepository
from driftloop.store.metadata._loop import LoopRepository
from driftloop.store.metadata._metrics import MetricRepository
from driftloop.store.metadata._models import ModelRepository, NewModelVersion
from driftloop.store.metadata._monitor_records import MonitorRecordRepository
from driftloop.store.metadata._policies import PolicyRepository
from driftloop.store.metadata._runs import RunRepository

__all__ = [
    "AlertRepository",
    "ArtifactRepository",
    "Database",
    "DatasetRepository",
    "EventRepository",
    "ExperimentRepository",
    "IdentityRepository",
    "KeyRepository",
    "LabelRequestRepository",
    "LeaseRepository",
    "LoopRepository",
    "MetadataStore",
    "MetricRepository",
    "ModelRepository",
    "MonitorRecordRepository",
    "NewLabelRequest",
    "NewModelVersion",
    "NewVersion",
    "PolicyRepository",
    "RunRepository",
    "redact",
]


class MetadataStore:
    """The repositories over one database. Building it does no I/O; :meth:`open` connects and migrates."""

    def __init__(self, url: str, *, auto_migrate: bool | None = None) -> None:
        self.database = Database(url, auto_migrate=auto_migrate)
        self.experiments = ExperimentRepository(self.database)
        self.metrics = MetricRepository(self.database)
        self.runs = RunRepository(self.database, self.metrics)
        self.artifacts = ArtifactRepository(self.database)
        self.events = EventRepository(self.database)
        self.datasets = DatasetRepository(self.database)
        self.policies = PolicyRepository(self.database)
        self.models = ModelRepository(self.database)
        self.keys = KeyRepository(self.database)
        self.leases = LeaseRepository(self.database)
        self.alerts = AlertRepository(self.database)
        self.monitor_records = MonitorRecordRepository(self.database)
        self.loop = LoopRepository(self.database)
        self.label_requests = LabelRequestRepository(self.database)
        self.identities = IdentityRepository(self.database)

    @property
    def url(self) -> str:
        return self.database.url

    def open(self) -> None:
        self.database.open()

    def referenced_digests(self, *, excluding_runs: Collection[str] = ()) -> set[str]:
        """Every blob digest some metadata row refers to; garbage collection keeps exactly these.

        ``excluding_runs`` answers "what would still be referenced once these runs are purged?".
        """
        return (
            self.artifacts.referenced_digests(excluding_runs=excluding_runs)
            | self.datasets.referenced_digests()
            | self.models.referenced_digests()
        )

    def close(self) -> None:
        self.database.dispose()
