"""Tracking through a workspace server: the same methods as :class:`driftloop.tracking.Tracking`, over HTTP.

A run started here is an ordinary :class:`~driftloop.tracking.ActiveRun` whose writes go to the server: metric
points are batched in the background as in an embedded workspace and sent as one request a batch, and the run's
environment and resources are measured here, where its code runs. Every value is checked here first, as the
embedded service checks it, so a mistake is refused before anything is sent; the server checks again.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np

from driftloop.entities import (
    Artifact,
    DatasetInput,
    Experiment,
    MetricHistory,
    MetricPoint,
    Resources,
    Run,
    RunStatus,
)
from driftloop.errors import InvalidInput, NotFound, PermissionDenied
from driftloop.names import validate_actor, validate_key, validate_name
from driftloop.remote._client import ServerClient, decode, decode_list, quoted
from driftloop.tracking import _lifecycle
from driftloop.tracking._active_run import ActiveRun
from driftloop.tracking._checks import ending_status
from driftloop.tracking._provenance import capture_environment
from driftloop.tracking._run_writer import artifact_path_of, artifact_targets, as_text, check_inputs
from driftloop.tracking._service import DEFAULT_EXPERIMENT, RunComparison, checked_points
from driftloop.types import MetricRow

__all__ = ["RemoteTracking"]


class RemoteTracking:
    """Experiments and runs of a workspace served by ``driftloop server``. Reach it as ``Workspace(url).tracking``.

    Every write is recorded by the server as the token's user; ``actor=`` arguments, which an embedded workspace
    takes, are refused here unless they name that user.
    """

    def __init__(self, client: ServerClient, *, actor: Callable[[], str]) -> None:
        self._client = client
        self._actor = actor

    # -- experiments -------------------------------------------------------------------------------

    def create_experiment(self, name: str, *, description: str = "", actor: str | None = None) -> Experiment:
        self._check_actor(actor)
        body = {"name": validate_name("experiment", name), "description": description}
        return decode(Experiment, self._client.send("POST", "/experiments", body))

    def get_experiment(self, name_or_id: str | int) -> Experiment:
        return decode(Experiment, self._client.get(quoted("experiments", name_or_id)))

    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        found = self._client.get("/experiments", params={"include_deleted": include_deleted})
        return decode_list(Experiment, found)

    def delete_experiment(self, name_or_id: str | int, *, actor: str | None = None) -> Experiment:
        self._check_actor(actor)
        return decode(Experiment, self._client.send("DELETE", quoted("experiments", name_or_id)))

    def restore_experiment(self, name_or_id: str | int, *, actor: str | None = None) -> Experiment:
        self._check_actor(actor)
        return decode(Experiment, self._client.send("POST", quoted("experiments", name_or_id, "restore")))

    # -- runs --------------------------------------------------------------------------------------

    def start_run(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        *,
        name: str | None = None,
        parent: str | ActiveRun | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> ActiveRun:
        """Start a run in ``experiment`` (created on first use) and return its handle, logging to the server."""
        self._check_actor(actor)
        parent_id = parent.id if isinstance(parent, ActiveRun) else parent
        run = self.create_run(experiment, name=name, parent=parent_id, tags=tags, params=params)
        return ActiveRun(run, RemoteRunWriter(self._client), start_child=self.start_run, owner=self)

    def create_run(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        *,
        name: str | None = None,
        parent: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> Run:
        """Create a running run, recorded with this process's environment (its code runs here)."""
        self._check_actor(actor)
        body = {
            "experiment": validate_name("experiment", experiment),
            "name": None if name is None else validate_name("run", name),
            "parent_id": parent,
            "tags": as_text("tag", tags or {}),
            "params": as_text("param", params or {}),
            "environment": capture_environment(),
        }
        return decode(Run, self._client.send("POST", "/runs", body))

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> int:
        """Append metric points to a running run in one request; nothing is written when one is refused."""
        return RemoteRunWriter(self._client).send_points(run_id, checked_points(points))

    def log_params(self, run_id: str, values: Mapping[str, Any], *, actor: str | None = None) -> None:
        self._check_actor(actor)
        RemoteRunWriter(self._client).log_params(run_id, values)

    def set_tags(self, run_id: str, values: Mapping[str, Any], *, actor: str | None = None) -> None:
        self._check_actor(actor)
        RemoteRunWriter(self._client).set_tags(run_id, values)

    def log_inputs(self, run_id: str, inputs: Sequence[DatasetInput], *, actor: str | None = None) -> None:
        self._check_actor(actor)
        RemoteRunWriter(self._client).log_inputs(run_id, inputs)

    def log_artifact(
        self,
        run_id: str,
        path: str | os.PathLike[str],
        artifact_path: str | None = None,
        *,
        actor: str | None = None,
    ) -> list[Artifact]:
        self._check_actor(actor)
        return RemoteRunWriter(self._client).log_artifact(run_id, Path(path), artifact_path)

    def end_run(
        self,
        run_id: str,
        status: RunStatus | str = RunStatus.FINISHED,
        *,
        resources: Resources | None = None,
        details: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> Run:
        self._check_actor(actor)
        return RemoteRunWriter(self._client).end_run(
            run_id, status=ending_status(status), resources=resources or Resources(), details=details or {}
        )

    def get_run(self, run_id: str) -> Run:
        return decode(Run, self._client.get(quoted("runs", run_id)))

    def search_runs(
        self,
        experiments: str | int | Sequence[str | int] | None = None,
        *,
        filter: str | None = None,
        order_by: str | Sequence[str] = (),
        limit: int | None = 1000,
        offset: int = 0,
        include_deleted: bool = False,
    ) -> list[Run]:
        """Runs matching ``filter`` (see :meth:`driftloop.tracking.Tracking.search_runs`), searched by the server."""
        if limit is not None and limit < 0:
            raise InvalidInput(f"The limit must be a non-negative integer or None; got {limit}.")
        if offset < 0:
            raise InvalidInput(f"The offset must be a non-negative integer; got {offset}.")
        body = {
            "experiments": _references(experiments),
            "filter": filter,
            "order_by": [order_by] if isinstance(order_by, str) else list(order_by),
            "limit": limit,
            "offset": offset,
            "include_deleted": include_deleted,
        }
        return decode_list(Run, self._client.send("POST", "/runs/search", body))

    def best_run(
        self,
        experiments: str | int | Sequence[str | int] | None,
        metric: str,
        *,
        mode: Literal["min", "max"] = "min",
        filter: str | None = None,
    ) -> Run:
        """The run with the lowest (``mode="min"``) or highest latest value of ``metric``."""
        if mode not in ("min", "max"):
            raise InvalidInput(f"The mode of best_run must be 'min' or 'max'; got {mode!r}.")
        field = f"metrics.`{_escaped(validate_key('metric', metric))}`"
        condition = f"{field} is not null" if filter is None else f"({filter}) and {field} is not null"
        order = f"{field} {'DESC' if mode == 'max' else 'ASC'}"
        found = self.search_runs(experiments, filter=condition, order_by=order, limit=1)
        if not found:
            raise NotFound(f"No run in {experiments!r} has logged the metric {metric!r}.")
        return found[0]

    def compare_runs(self, run_ids: Sequence[str]) -> RunComparison:
        """Params and latest metrics of several runs, aligned by key."""
        return RunComparison.of(tuple(self.get_run(run_id) for run_id in run_ids))

    def metric_history(self, run_id: str, key: str) -> MetricHistory:
        """Every point logged for ``key`` in the run, as NumPy columns ordered by step."""
        for active in self.active_runs():
            if active.id == run_id:
                active.flush()
        body = self._client.get(quoted("runs", run_id, "metrics", tail=validate_key("metric", key)))
        return MetricHistory(
            run_id=body["run_id"],
            key=body["key"],
            steps=np.asarray(body["steps"], dtype=np.int64),
            timestamps=np.asarray(body["timestamps"], dtype=np.float64),
            values=np.asarray([float(value) for value in body["values"]], dtype=np.float64),
        )

    def child_runs(self, run_id: str) -> list[Run]:
        """The runs started with ``run_id`` as their parent, newest first."""
        return self.search_runs(filter=f"parent_run_id = '{_escaped(run_id)}'", limit=None)

    def delete_run(self, run_id: str, *, actor: str | None = None) -> None:
        self._check_actor(actor)
        self._client.request("DELETE", quoted("runs", run_id))

    def restore_run(self, run_id: str, *, actor: str | None = None) -> None:
        self._check_actor(actor)
        self._client.request("POST", quoted("runs", run_id, "restore"))

    def count_runs(
        self, experiment: str | int | Sequence[str | int] | None = None, *, include_deleted: bool = False
    ) -> int:
        body = {"experiments": _references(experiment), "include_deleted": include_deleted}
        return int(self._client.send("POST", "/runs/count", body)["runs"])

    # -- artifacts ---------------------------------------------------------------------------------

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        return decode_list(Artifact, self._client.get(quoted("runs", run_id, "artifacts"), params={"prefix": prefix}))

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The bytes of one artifact, checked against their digest by the server."""
        return self._client.request("GET", quoted("runs", run_id, "artifacts", tail=path)).content

    def download_artifacts(self, run_id: str, destination: str | os.PathLike[str], prefix: str = "") -> list[Path]:
        """Copy the run's artifacts below ``prefix`` into ``destination``, keeping their paths."""
        found = self.list_artifacts(run_id, prefix)
        if not found:
            raise NotFound(f"The run {run_id!r} has no artifact at {prefix or '/'!r}.")
        written = []
        for artifact in found:
            target = Path(destination) / artifact.path
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(self.read_artifact(run_id, artifact.path))
            written.append(target)
        return written

    def active_runs(self) -> list[ActiveRun]:
        """Runs started through this service, in this process, that have not ended yet."""
        return [run for run in _lifecycle.open_runs() if run._owner is self]

    def _check_actor(self, actor: str | None) -> None:
        """The server records the token's user: an ``actor=`` naming anyone else is refused, not ignored."""
        if actor is None:
            return
        validate_actor(actor)
        user = self._actor()
        if actor != user:
            raise PermissionDenied(
                f"A workspace server records its token's user ({user!r}) as the actor; it cannot act as {actor!r}."
            )


class RemoteRunWriter:
    """An :class:`~driftloop.tracking.ActiveRun`'s writes, sent to the workspace server."""

    def __init__(self, client: ServerClient) -> None:
        self._client = client

    def log_params(self, run_id: str, values: Mapping[str, Any]) -> None:
        if values:
            self._client.request("POST", quoted("runs", run_id, "params"), json={"params": as_text("param", values)})

    def set_tags(self, run_id: str, values: Mapping[str, Any]) -> None:
        if values:
            self._client.request("POST", quoted("runs", run_id, "tags"), json={"tags": as_text("tag", values)})

    def log_inputs(self, run_id: str, inputs: Sequence[DatasetInput]) -> None:
        self._client.request("POST", quoted("runs", run_id, "inputs"), json={"inputs": check_inputs(inputs)})

    def append_points(self, run_id: str, points: Sequence[MetricRow]) -> None:
        self.send_points(run_id, points)

    def send_points(self, run_id: str, points: Sequence[MetricRow]) -> int:
        batch = [
            {"key": key, "value": _finite_or_name(value), "step": step, "timestamp": timestamp}
            for key, value, step, timestamp in points
        ]
        return int(self._client.send("POST", quoted("runs", run_id, "metrics"), {"points": batch})["logged"])

    def log_artifact(self, run_id: str, path: Path, artifact_path: str | None) -> list[Artifact]:
        targets = artifact_targets(path, artifact_path)
        return [self._upload(run_id, file.read_bytes(), target) for file, target in targets]

    def log_bytes(self, run_id: str, data: bytes, artifact_path: str) -> Artifact:
        return self._upload(run_id, data, artifact_path_of(artifact_path))

    def end_run(self, run_id: str, *, status: RunStatus, resources: Resources, details: Mapping[str, Any]) -> Run:
        body = {"status": status.value, "resources": resources, "details": dict(details)}
        return decode(Run, self._client.send("PATCH", quoted("runs", run_id), body))

    def _upload(self, run_id: str, data: bytes, target: str) -> Artifact:
        answer = self._client.request(
            "PUT",
            quoted("runs", run_id, "artifacts", tail=target),
            content=data,
            headers={"Content-Type": "application/octet-stream"},
        )
        return decode(Artifact, answer.json())


def _finite_or_name(value: float) -> float | str:
    """A metric value as the server's JSON takes it: NaN and the infinities by name."""
    if value - value == 0.0:
        return value
    return "NaN" if value != value else ("Infinity" if value > 0 else "-Infinity")


def _references(experiments: str | int | Sequence[str | int] | None) -> list[str | int] | None:
    if experiments is None:
        return None
    return [experiments] if isinstance(experiments, str | int) else list(experiments)


def _escaped(value: str) -> str:
    """``value`` inside a quoted literal or a backticked key of the search language."""
    return value.replace("\\", "\\\\").replace("'", "\\'").replace("`", "\\`")
