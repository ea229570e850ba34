"""The tracking service: experiments, runs, and the queries over them."""

from __future__ import annotations

import functools
import os
import time
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from driftloop.entities import (
    Artifact,
    DatasetInput,
    Experiment,
    Lifecycle,
    MetricHistory,
    MetricPoint,
    Resources,
    Run,
    RunEnvironment,
    RunStatus,
)
from driftloop.errors import InvalidInput, InvalidState, NotFound
from driftloop.filtering import And, Comparison, Expression, Field, OrderBy, parse_filter, parse_order_by
from driftloop.names import validate_actor, validate_key, validate_name
from driftloop.store.blobs import BlobStore
from driftloop.store.metadata import MetadataStore
from driftloop.tracking import _lifecycle
from driftloop.tracking._active_run import ActiveRun
from driftloop.tracking._checks import MAX_STEP, MIN_STEP, ending_status, metric_step, metric_timestamp, metric_value
from driftloop.tracking._provenance import capture_environment
from driftloop.tracking._run_writer import RunWriter, as_text
from driftloop.types import MetricRow

__all__ = ["DEFAULT_EXPERIMENT", "RunComparison", "Tracking", "checked_points"]

DEFAULT_EXPERIMENT = "default"


@dataclass(frozen=True, slots=True)
class RunComparison:
    """Runs side by side: every param and metric key any of them has, with each run's value or None."""

    runs: tuple[Run, ...]
    params: dict[str, tuple[str | None, ...]]
    metrics: dict[str, tuple[float | None, ...]]

    @classmethod
    def of(cls, runs: tuple[Run, ...]) -> RunComparison:
        param_keys = sorted({key for run in runs for key in run.params})
        metric_keys = sorted({key for run in runs for key in run.metrics})
        return cls(
            runs=runs,
            params={key: tuple(run.params.get(key) for run in runs) for key in param_keys},
            metrics={
                key: tuple(run.metrics[key].last_value if key in run.metrics else None for run in runs)
                for key in metric_keys
            },
        )

    def differing_params(self) -> dict[str, tuple[str | None, ...]]:
        """Only the params whose values are not all equal."""
        return {key: values for key, values in self.params.items() if len(set(values)) > 1}


class Tracking:
    """Experiments and runs of one workspace. Reach it as ``Workspace().tracking``."""

    def __init__(self, metadata: MetadataStore, blobs: BlobStore, *, actor: str) -> None:
        self._metadata = metadata
        self._blobs = blobs
        self._actor = validate_actor(actor)

    # -- experiments -------------------------------------------------------------------------------

    def create_experiment(self, name: str, *, description: str = "", actor: str | None = None) -> Experiment:
        return self._metadata.experiments.create(
            validate_name("experiment", name), description=description, actor=self._who(actor)
        )

    def get_experiment(self, name_or_id: str | int) -> Experiment:
        return self._metadata.experiments.get(name_or_id)

    def list_experiments(self, *, include_deleted: bool = False) -> list[Experiment]:
        return self._metadata.experiments.list(include_deleted=include_deleted)

    def delete_experiment(self, name_or_id: str | int, *, actor: str | None = None) -> Experiment:
        """Soft-delete an experiment with its runs; ``restore_experiment`` undoes it until a purge."""
        return self._metadata.experiments.delete(name_or_id, actor=self._who(actor))

    def restore_experiment(self, name_or_id: str | int, *, actor: str | None = None) -> Experiment:
        return self._metadata.experiments.restore(name_or_id, actor=self._who(actor))

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
        """Start a run in ``experiment`` (created on first use) and return its handle.

        >>> import tempfile, driftloop
        >>> ws = driftloop.Workspace(tempfile.mkdtemp())
        >>> with ws.tracking.start_run("price", name="baseline") as run:
        ...     run.log_params({"model": "ridge", "alpha": 0.5})
        ...     for epoch in range(3):
        ...         run.log_metric("rmse", 3.0 - epoch)
        >>> finished = ws.tracking.get_run(run.id)
        >>> finished.status.value, finished.params["alpha"], finished.metric("rmse")
        ('finished', '0.5', 1.0)
        >>> ws.close()
        """
        actor = self._who(actor)
        parent_id = parent.id if isinstance(parent, ActiveRun) else parent
        run = self.create_run(experiment, name=name, parent=parent_id, tags=tags, params=params, actor=actor)
        writer = RunWriter(self._metadata, self._blobs, actor=actor)
        return ActiveRun(run, writer, start_child=functools.partial(self.start_run, actor=actor), owner=self)

    # -- a run logged to by id, from elsewhere -------------------------------------------------------
    # ActiveRun's writes, addressed by the run's id: what a client in another process or on another machine
    # calls through the workspace server, which holds no ActiveRun for it (and must not end it on exit).

    def create_run(
        self,
        experiment: str = DEFAULT_EXPERIMENT,
        *,
        name: str | None = None,
        parent: str | None = None,
        tags: Mapping[str, Any] | None = None,
        params: Mapping[str, Any] | None = None,
        environment: RunEnvironment | None = None,
        actor: str | None = None,
    ) -> Run:
        """Create a running run in ``experiment`` (created on first use) without a handle in this process.

        ``environment`` is where the run's code runs (a remote client's); by default this process's.
        """
        actor = self._who(actor)
        # Everything is checked before anything is written: a bad name or key leaves no trace.
        validate_name("experiment", experiment)
        run_id = uuid.uuid4().hex
        run_name = validate_name("run", name) if name is not None else _default_run_name(run_id)
        tag_text = as_text("tag", tags or {})
        param_text = as_text("param", params or {})
        experiment_id = self._metadata.experiments.get_or_create(experiment, actor=actor).id
        return self._metadata.runs.create(
            run_id=run_id,
            experiment_id=experiment_id,
            name=run_name,
            user=actor,
            start_time=time.time(),
            environment=capture_environment() if environment is None else environment,
            parent_id=parent,
            tags=tag_text,
            params=param_text,
            actor=actor,
        )

    def log_metrics(self, run_id: str, points: Sequence[MetricPoint]) -> int:
        """Append metric points to a running run in one write; returns how many were written.

        Each point is checked as :meth:`ActiveRun.log_metric` checks it, and nothing is written when one fails.

        Raises:
            NotFound: No such run.
            InvalidState: The run has ended or is deleted.
            InvalidInput: A point's key, value, step or timestamp is not acceptable; the message names the key.
        """
        rows = checked_points(points)
        run = self.get_run(run_id)
        if run.lifecycle is Lifecycle.DELETED:
            raise InvalidState(f"The run {run_id!r} is deleted; restore it before logging to it.")
        if run.status is not RunStatus.RUNNING:
            raise InvalidState(
                f"The run {run_id!r} has ended ({run.status}); metrics can only be logged while it runs."
            )
        self._metadata.metrics.append(run_id, rows)
        return len(rows)

    def log_params(self, run_id: str, values: Mapping[str, Any], *, actor: str | None = None) -> None:
        """Record params of a running run (stored as text); a key logged again must keep its value."""
        RunWriter(self._metadata, self._blobs, actor=self._who(actor)).log_params(run_id, values)

    def set_tags(self, run_id: str, values: Mapping[str, Any], *, actor: str | None = None) -> None:
        """Set tags of a run, running or ended; unlike params, tags may be overwritten."""
        RunWriter(self._metadata, self._blobs, actor=self._who(actor)).set_tags(run_id, values)

    def log_artifact(
        self,
        run_id: str,
        path: str | os.PathLike[str],
        artifact_path: str | None = None,
        *,
        actor: str | None = None,
    ) -> list[Artifact]:
        """Store a file, or a folder with everything below it, as artifacts of a run (see
        :meth:`ActiveRun.log_artifact`)."""
        return RunWriter(self._metadata, self._blobs, actor=self._who(actor)).log_artifact(
            run_id, Path(path), artifact_path
        )

    def end_run(
        self,
        run_id: str,
        status: RunStatus | str = RunStatus.FINISHED,
        *,
        resources: Resources | None = None,
        details: Mapping[str, Any] | None = None,
        actor: str | None = None,
    ) -> Run:
        """Mark a running run ``finished``, ``failed`` or ``killed``; returns the ended run.

        ``resources`` is what the run cost where it ran (a remote client measures it); left out, it stays empty.
        ``details`` (how many points were logged...) go into the ``run.end`` event.

        Raises:
            InvalidState: The run has ended already.
        """
        writer = RunWriter(self._metadata, self._blobs, actor=self._who(actor))
        return writer.end_run(
            run_id, status=ending_status(status), resources=resources or Resources(), details=details or {}
        )

    def log_inputs(self, run_id: str, inputs: Sequence[DatasetInput], *, actor: str | None = None) -> None:
        """Record the dataset versions a run read (see :meth:`ActiveRun.log_input`)."""
        RunWriter(self._metadata, self._blobs, actor=self._who(actor)).log_inputs(run_id, inputs)

    def get_run(self, run_id: str) -> Run:
        return self._metadata.runs.get(run_id)

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
        """Runs of the given experiments (all by default) that match ``filter``.

        ``filter`` is the search language of :mod:`driftloop.filtering`, e.g.
        ``"metrics.rmse < 3 and params.model = 'lgbm'"``; ``order_by`` takes clauses such as
        ``"metrics.rmse"`` or ``"start_time DESC"``. Without an order, the newest runs come first.
        """
        if limit is not None and limit < 0:
            raise InvalidInput(f"The limit must be a non-negative integer or None; got {limit}.")
        if offset < 0:
            raise InvalidInput(f"The offset must be a non-negative integer; got {offset}.")
        clauses = [order_by] if isinstance(order_by, str) else list(order_by)
        return self._metadata.runs.search(
            experiment_ids=self._experiment_ids(experiments),
            where=parse_filter(filter),
            order_by=[parse_order_by(clause) for clause in clauses],
            limit=limit,
            offset=offset,
            include_deleted=include_deleted,
        )

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
        field = Field("metric", validate_key("metric", metric))
        condition: Expression = Comparison(field, "is not null", None)
        user_condition = parse_filter(filter)
        if user_condition is not None:
            condition = And((user_condition, condition))
        found = self._metadata.runs.search(
            experiment_ids=self._experiment_ids(experiments),
            where=condition,
            order_by=[OrderBy(field, descending=mode == "max")],
            limit=1,
        )
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
        return self._metadata.metrics.history(run_id, key)

    def child_runs(self, run_id: str) -> list[Run]:
        """The runs started with ``run_id`` as their parent, newest first."""
        parent = Comparison(Field("attribute", "parent_run_id"), "=", run_id)
        return self._metadata.runs.search(where=parent, limit=None)

    def delete_run(self, run_id: str, *, actor: str | None = None) -> None:
        """Soft-delete: hidden from searches until restored, removed for good by ``Workspace.gc``."""
        self._metadata.runs.delete(run_id, actor=self._who(actor))

    def restore_run(self, run_id: str, *, actor: str | None = None) -> None:
        self._metadata.runs.restore(run_id, actor=self._who(actor))

    # -- artifacts ---------------------------------------------------------------------------------

    def list_artifacts(self, run_id: str, prefix: str = "") -> list[Artifact]:
        self.get_run(run_id)
        return self._metadata.artifacts.list(run_id, prefix)

    def read_artifact(self, run_id: str, path: str) -> bytes:
        """The bytes of one artifact, verified against its digest."""
        return self._blobs.get(self._metadata.artifacts.get(run_id, path).digest)

    def download_artifacts(self, run_id: str, destination: str | os.PathLike[str], prefix: str = "") -> list[Path]:
        """Copy the run's artifacts below ``prefix`` into ``destination``, keeping their paths."""
        found = self.list_artifacts(run_id, prefix)
        if not found:
            raise NotFound(f"The run {run_id!r} has no artifact at {prefix or '/'!r}.")
        written = []
        for artifact in found:
            target = Path(destination) / artifact.path
            target.parent.mkdir(parents=True, exist_ok=True)
            self._blobs.get_file(artifact.digest, target)
            written.append(target)
        return written

    def active_runs(self) -> list[ActiveRun]:
        """Runs started through this service, in this process, that have not ended yet."""
        return [run for run in _lifecycle.open_runs() if run._owner is self]

    def count_runs(
        self, experiment: str | int | Sequence[str | int] | None = None, *, include_deleted: bool = False
    ) -> int:
        """How many runs some experiments (or the workspace) hold."""
        return self._metadata.runs.count(
            experiment_ids=self._experiment_ids(experiment), include_deleted=include_deleted
        )

    def _who(self, actor: str | None) -> str:
        return self._actor if actor is None else validate_actor(actor)

    def _experiment_ids(self, experiments: str | int | Sequence[str | int] | None) -> list[int] | None:
        if experiments is None:
            return None
        references: Iterable[str | int] = [experiments] if isinstance(experiments, str | int) else experiments
        return [self._metadata.experiments.get(reference).id for reference in references]


def _default_run_name(run_id: str) -> str:
    return f"run-{run_id[:8]}"


def checked_points(points: Sequence[MetricPoint]) -> list[MetricRow]:
    """The points as rows for the store, each checked as ``ActiveRun.log_metric`` checks it."""
    keys: set[str] = set()
    rows: list[MetricRow] = []
    for point in points:
        key, value, step, timestamp = point.key, point.value, point.step, point.timestamp
        if key not in keys:
            keys.add(validate_key("metric", key))
        if type(value) is not float:
            value = metric_value(key, value)
        if type(step) is not int or not MIN_STEP <= step <= MAX_STEP:
            step = metric_step(key, step)
        if type(timestamp) is not float or timestamp - timestamp != 0.0:  # the subtraction catches inf, NaN
            timestamp = metric_timestamp(key, timestamp)
        rows.append((key, value, step, timestamp))
    return rows
