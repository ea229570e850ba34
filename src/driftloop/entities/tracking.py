"""Experiments, runs and what a run records."""

from __future__ import annotations

import enum
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

import numpy as np
import numpy.typing as npt

__all__ = [
    "Artifact",
    "DatasetInput",
    "Experiment",
    "Lifecycle",
    "MetricHistory",
    "MetricPoint",
    "MetricSummary",
    "Resources",
    "Run",
    "RunEnvironment",
    "RunStatus",
]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


class RunStatus(enum.StrEnum):
    """Where a run is in its life. Only ``running`` is not terminal."""

    RUNNING = "running"
    FINISHED = "finished"
    FAILED = "failed"
    KILLED = "killed"

    @property
    def is_terminal(self) -> bool:
        return self is not RunStatus.RUNNING


class Lifecycle(enum.StrEnum):
    """Soft deletion: a deleted object is hidden until it is restored or purged."""

    ACTIVE = "active"
    DELETED = "deleted"


@dataclass(frozen=True, slots=True)
class Experiment:
    """A named group of runs."""

    id: int
    name: str
    created_at: datetime
    created_by: str
    lifecycle: Lifecycle = Lifecycle.ACTIVE
    description: str = ""


@dataclass(frozen=True, slots=True)
class MetricPoint:
    """One logged value of a metric."""

    key: str
    value: float
    step: int
    timestamp: float


@dataclass(frozen=True, slots=True)
class MetricSummary:
    """The latest value of a metric in a run, with how many points were logged and their range."""

    key: str
    last_value: float
    last_step: int
    last_timestamp: float
    count: int
    min_value: float
    max_value: float


@dataclass(frozen=True, slots=True, eq=False)
class MetricHistory:
    """Every point of one metric of one run, as columns ordered by step then time.

    Columns are NumPy arrays so that a history of a million points reads back without building a
    Python object per point. Non-finite values (NaN, ±inf) come back as logged.
    """

    run_id: str
    key: str
    steps: npt.NDArray[np.int64]
    timestamps: npt.NDArray[np.float64]
    values: npt.NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.values)

    def points(self) -> list[MetricPoint]:
        """The history as a list of points (convenient for small histories)."""
        return [
            MetricPoint(self.key, float(v), int(s), float(t))
            for s, t, v in zip(self.steps, self.timestamps, self.values, strict=True)
        ]

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, MetricHistory):
            return NotImplemented
        return (
            (self.run_id, self.key) == (other.run_id, other.key)
            and np.array_equal(self.steps, other.steps)
            and np.array_equal(self.timestamps, other.timestamps)
            and np.array_equal(self.values, other.values, equal_nan=True)
        )

    __hash__ = None  # type: ignore[assignment]


@dataclass(frozen=True, slots=True)
class Artifact:
    """A file a run stored; its bytes live in the blob store under ``digest``."""

    path: str
    digest: str
    size: int


@dataclass(frozen=True, slots=True)
class DatasetInput:
    """A dataset version a run read, and in what role (``training``, ``validation``…)."""

    dataset: str
    version: int
    role: str = "training"


@dataclass(frozen=True, slots=True)
class RunEnvironment:
    """Where the run's code came from and what it ran on."""

    git_commit: str | None = None
    git_dirty: bool | None = None
    python_version: str = ""
    platform: str = ""
    hostname: str = ""
    pid: int | None = None
    command: str = ""
    packages: Mapping[str, str] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class Resources:
    """What a run cost.

    ``wall_time`` and ``cpu_time`` are seconds from the run's start to its end (CPU time of the whole
    process over that span, all threads). ``peak_memory`` is the highest resident memory, in bytes, that
    the process had reached by the end of the run, as the operating system reports it: for a run that
    is not the first in its process it may include an earlier peak.
    """

    wall_time: float | None = None
    cpu_time: float | None = None
    peak_memory: int | None = None

    @property
    def peak_memory_mb(self) -> float | None:
        return None if self.peak_memory is None else self.peak_memory / 2**20


@dataclass(frozen=True, slots=True)
class Run:
    """One execution of training code, with everything it logged."""

    id: str
    experiment_id: int
    experiment_name: str
    name: str
    status: RunStatus
    start_time: datetime
    end_time: datetime | None
    user: str
    parent_id: str | None = None
    lifecycle: Lifecycle = Lifecycle.ACTIVE
    params: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    tags: Mapping[str, str] = field(default_factory=lambda: _EMPTY)
    metrics: Mapping[str, MetricSummary] = field(default_factory=lambda: _EMPTY)
    inputs: Sequence[DatasetInput] = ()
    environment: RunEnvironment = field(default_factory=RunEnvironment)
    resources: Resources = field(default_factory=Resources)

    def metric(self, key: str, default: float = math.nan) -> float:
        """The latest value of metric ``key``, or ``default`` when the run never logged it."""
        summary = self.metrics.get(key)
        return default if summary is None else summary.last_value

    @property
    def duration(self) -> float | None:
        """Seconds from start to end, or ``None`` while running."""
        if self.end_time is None:
            return None
        return (self.end_time - self.start_time).total_seconds()
