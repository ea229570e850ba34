"""Plain, frozen records that the stores return and the services hand out.

No ORM row ever leaves ``driftloop.store``; these dataclasses are what crosses the layers.
"""

from driftloop.entities.alerts import Alert, AlertDelivery, AlertObservation, AlertState, AlertStatus, Severity
from driftloop.entities.data import Dataset, DatasetVersionInfo
from driftloop.entities.events import Event
from driftloop.entities.identity import (
    WORKSPACE_SCOPE,
    Grant,
    Role,
    Token,
    TokenStatus,
    User,
    UserKind,
    parse_scope,
)
from driftloop.entities.labels import LabelRequest
from driftloop.entities.leases import Lease
from driftloop.entities.loop import ACTION_STATES, FINISHED_STATES, ActionState, LoopAction, Quarantine, StoredPolicy
from driftloop.entities.models import AliasMove, ModelTraffic, ModelVersionInfo, RegisteredModel, TrafficPolicy
from driftloop.entities.monitoring import MonitorKind, MonitorRecord
from driftloop.entities.tracking import (
    Artifact,
    DatasetInput,
    Experiment,
    Lifecycle,
    MetricHistory,
    MetricPoint,
    MetricSummary,
    Resources,
    Run,
    RunEnvironment,
    RunStatus,
)

__all__ = [
    "ACTION_STATES",
    "FINISHED_STATES",
    "WORKSPACE_SCOPE",
    "ActionState",
    "Alert",
    "AlertDelivery",
    "AlertObservation",
    "AlertState",
    "AlertStatus",
    "AliasMove",
    "Artifact",
    "Dataset",
    "DatasetInput",
    "DatasetVersionInfo",
    "Event",
    "Experiment",
    "Grant",
    "LabelRequest",
    "Lease",
    "Lifecycle",
    "LoopAction",
    "MetricHistory",
    "MetricPoint",
    "MetricSummary",
    "ModelTraffic",
    "ModelVersionInfo",
    "MonitorKind",
    "MonitorRecord",
    "Quarantine",
    "RegisteredModel",
    "Resources",
    "Role",
    "Run",
    "RunEnvironment",
    "RunStatus",
    "Severity",
    "StoredPolicy",
    "Token",
    "TokenStatus",
    "TrafficPolicy",
    "User",
    "UserKind",
    "parse_scope",
]
