"""The handle of a run in progress: what ``start_run`` returns and ``with`` manages."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from driftloop.entities import Artifact, DatasetInput, Run, RunStatus
from driftloop.errors import InvalidState
from driftloop.names import validate_key
from driftloop.tracking import _lifecycle
from driftloop.tracking._async_logger import MetricLogger
from driftloop.tracking._checks import MAX_STEP, MIN_STEP, ending_status, metric_step, metric_timestamp, metric_value
from driftloop.tracking._provenance import ResourceMeter
from driftloop.tracking._run_writer import RunWrites

__all__ = ["ActiveRun"]


class ActiveRun:
    """A run being logged to. Metrics are batched in the background; params, tags and artifacts are
    written at once so that a conflict is raised where it happens.

    Used as a context manager, the run ends ``finished`` when the block completes, ``failed`` when it
    raises (everything logged until then is kept), and ``killed`` on ``KeyboardInterrupt`` or SIGTERM.
    A run left open ends when its process exits (see ``driftloop.tracking._lifecycle``).
    """

    def __init__(
        self,
        run: Run,
        writer: RunWrites,
        *,
        start_child: Callable[..., ActiveRun],
        owner: object = None,
    ) -> None:
        self.id = run.id
        self.experiment_id = run.experiment_id
        self.experiment_name = run.experiment_name
        self.name = run.name
        self.parent_id = run.parent_id
        self._writer = writer
        self._start_child = start_child
        self._owner = owner
        self._meter = ResourceMeter.start()
        self._metric_keys: set[str] = set()
        self._next_step: dict[str, int] = {}
        self._points_logged = 0
        self._logger = MetricLogger(self._write_points)
        self._ended: RunStatus | None = None
        self._end_lock = threading.Lock()
        self._end_callbacks: list[Callable[[ActiveRun], None]] = []
        _lifecycle.register(self)

    def __repr__(self) -> str:
        return f"ActiveRun(id={self.id!r}, experiment={self.experiment_name!r}, name={self.name!r})"

    # -- logging -----------------------------------------------------------------------------------

    def log_metric(self, key: str, value: float, step: int | None = None, timestamp: float | None = None) -> None:
        """Log one point; ``step`` defaults to one past this key's previous step (0 for the first)."""
        if key not in self._metric_keys:
            validate_key("metric", key)
            self._metric_keys.add(key)
        if step is None:
            step = self._next_step.get(key, 0)
        elif type(step) is not int or not MIN_STEP <= step <= MAX_STEP:
            step = metric_step(key, step)
        self._next_step[key] = step + 1
        if type(value) is not float:
            value = metric_value(key, value)
        if timestamp is None:
            timestamp = time.time()
        elif type(timestamp) is not float or timestamp - timestamp != 0.0:  # the subtraction catches inf, NaN
            timestamp = metric_timestamp(key, timestamp)
        self._logger.log((key, value, step, timestamp))
        self._points_logged += 1

    def log_metrics(self, values: Mapping[str, float], step: int | None = None) -> None:
        """Log several metrics at the same step and time."""
        now = time.time()
        for key, value in values.items():
            self.log_metric(key, value, step=step, timestamp=now)

    def log_param(self, key: str, value: Any) -> None:
        self.log_params({key: value})

    def log_params(self, values: Mapping[str, Any]) -> None:
        """Record params (stored as text); a key logged again must keep its value."""
        self._writer.log_params(self.id, values)

    def set_tag(self, key: str, value: Any) -> None:
        self.set_tags({key: value})

    def set_tags(self, values: Mapping[str, Any]) -> None:
        self._writer.set_tags(self.id, values)

    def log_input(self, dataset: str, version: int, role: str = "training") -> None:
        """Record that this run read version ``version`` of ``dataset``."""
        self._writer.log_inputs(self.id, [DatasetInput(dataset, version, role)])

    def log_artifact(self, path: str | os.PathLike[str], artifact_path: str | None = None) -> list[Artifact]:
        """Store a file, or a folder with everything below it, as artifacts of this run.

        ``artifact_path`` is the folder to store them under: by default a file lands at the top level
        under its own name, and a folder's files under the folder's name.
        """
        return self._writer.log_artifact(self.id, Path(path), artifact_path)

    def log_text(self, text: str, artifact_path: str) -> Artifact:
        """Store ``text`` (UTF-8) as the artifact ``artifact_path``."""
        return self._writer.log_bytes(self.id, text.encode("utf-8"), artifact_path)

    def log_dict(self, data: Mapping[str, Any], artifact_path: str) -> Artifact:
        """Store ``data`` as a JSON artifact."""
        return self.log_text(json.dumps(data, indent=2, sort_keys=True, default=str), artifact_path)

    # -- life --------------------------------------------------------------------------------------

    def flush(self) -> None:
        """Write every metric point logged so far."""
        self._logger.flush()

    def end(self, status: RunStatus | str = RunStatus.FINISHED) -> Run:
        """Flush, record the resources used and mark the run ``status``; returns the ended run.

        When the last points cannot be written, the run is marked ``failed`` (with how many points were
        lost) and the write error is raised.
        """
        status = ending_status(status)
        with self._end_lock:
            if self._ended is not None:
                raise InvalidState(f"The run {self.id!r} has already ended as {self._ended.value!r}.")
            self._ended = status
            details: dict[str, Any] = {"metric_points": self._points_logged, "metric_keys": len(self._metric_keys)}
            flush_error: Exception | None = None
            try:
                self._logger.close()
            except Exception as error:
                flush_error = error
                status = self._ended = RunStatus.FAILED
                details["unwritten_points"] = self._logger.pending
            try:
                run = self._writer.end_run(self.id, status=status, resources=self._meter.read(), details=details)
            finally:
                _lifecycle.forget(self)
                for callback in self._end_callbacks:
                    callback(self)
            if flush_error is not None:
                raise flush_error
        return run

    def on_end(self, callback: Callable[[ActiveRun], None]) -> None:
        """Call ``callback(run)`` once the run has ended."""
        self._end_callbacks.append(callback)

    @property
    def ended(self) -> bool:
        return self._ended is not None

    def child(self, name: str | None = None, **kwargs: Any) -> ActiveRun:
        """Start a nested run under this one (a tuning trial, a cross-validation fold…)."""
        return self._start_child(self.experiment_name, name=name, parent=self.id, **kwargs)

    def __enter__(self) -> ActiveRun:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        if self._ended is not None:
            return
        if kind is None:
            status = RunStatus.FINISHED
        elif issubclass(kind, KeyboardInterrupt | SystemExit):
            status = RunStatus.KILLED
        else:
            status = RunStatus.FAILED
        self.end(status)

    # -- internals ---------------------------------------------------------------------------------

    def _write_points(self, points: Any) -> None:
        self._writer.append_points(self.id, points)
