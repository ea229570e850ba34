"""Writing to a run by its id, as a client elsewhere does through the workspace server: no handle in this process,
each point checked as ``log_metric`` checks it, nothing of a refused batch written."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from driftloop import Workspace
from driftloop.entities import MetricPoint, RunEnvironment, RunStatus
from driftloop.errors import InvalidInput, InvalidName, InvalidState, NotFound, ParamConflict


def test_a_run_created_by_id_records_the_clients_environment_and_is_not_held_here(
    sqlite_workspace: Workspace,
) -> None:
    tracking = sqlite_workspace.tracking
    environment = RunEnvironment(hostname="laptop", python_version="3.12.1", packages={"numpy": "2.0"})
    run = tracking.create_run("price", name="remote", params={"alpha": 0.5}, environment=environment, actor="ana")
    assert (run.status, run.user, run.params, run.environment) == (
        RunStatus.RUNNING,
        "ana",
        {"alpha": "0.5"},
        environment,
    )
    assert tracking.active_runs() == []  # closing the workspace must not end a run someone else logs to
    sqlite_workspace.close()
    assert sqlite_workspace.tracking.get_run(run.id).status is RunStatus.RUNNING


def test_points_params_tags_artifacts_and_the_end(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    tracking = sqlite_workspace.tracking
    run = tracking.create_run("price", actor="ana")
    points = [MetricPoint("loss", 1.0 / (step + 1), step, 100.0 + step) for step in range(4)]
    assert tracking.log_metrics(run.id, [*points, MetricPoint("loss", math.nan, 4, 104.0)]) == 5
    history = tracking.metric_history(run.id, "loss")
    assert list(history.steps) == [0, 1, 2, 3, 4] and math.isnan(history.values[-1])

    tracking.log_params(run.id, {"depth": 6}, actor="ana")
    with pytest.raises(ParamConflict):
        tracking.log_params(run.id, {"depth": 7})
    tracking.set_tags(run.id, {"team": "pricing"})
    (tmp_path / "notes.txt").write_text("hello")
    (artifact,) = tracking.log_artifact(run.id, tmp_path / "notes.txt", "docs", actor="ana")
    assert artifact.path == "docs/notes.txt" and tracking.read_artifact(run.id, "docs/notes.txt") == b"hello"

    ended = tracking.end_run(run.id, "failed", actor="ana")
    assert ended.status is RunStatus.FAILED and ended.end_time is not None
    with pytest.raises(InvalidState, match="has ended"):
        tracking.log_metrics(run.id, points)
    with pytest.raises(InvalidState, match="already ended"):
        tracking.end_run(run.id)
    tracking.set_tags(run.id, {"reviewed": True})  # tags may still be set on an ended run
    actors = {(event.action, event.actor) for event in sqlite_workspace.events.list(object_id=run.id)}
    assert {("run.start", "ana"), ("run.log_params", "ana"), ("run.end", "ana")} <= actors


@pytest.mark.parametrize(
    ("point", "error", "message"),
    [
        (MetricPoint("a//b", 1.0, 0, 1.0), InvalidName, "empty, '.' or '..' segment"),
        (MetricPoint("loss", True, 0, 1.0), InvalidInput, "must be a real number; got bool True"),  # type: ignore[arg-type]
        (MetricPoint("loss", 1.0, 2**63, 1.0), InvalidInput, "must be an integer that fits in 64 bits"),
        (MetricPoint("loss", 1.0, 1.5, 1.0), InvalidInput, "must be an integer"),  # type: ignore[arg-type]
        (MetricPoint("loss", 1.0, 0, math.inf), InvalidInput, "finite number of seconds"),
    ],
)
def test_one_bad_point_refuses_the_whole_batch(
    sqlite_workspace: Workspace, point: MetricPoint, error: type[Exception], message: str
) -> None:
    tracking = sqlite_workspace.tracking
    run = tracking.create_run("price")
    with pytest.raises(error, match=message):
        tracking.log_metrics(run.id, [MetricPoint("fine", 1.0, 0, 1.0), point])
    assert tracking.get_run(run.id).metrics == {}


def test_unknown_and_deleted_runs_take_no_points(sqlite_workspace: Workspace) -> None:
    tracking = sqlite_workspace.tracking
    with pytest.raises(NotFound):
        tracking.log_metrics("nope", [])
    run = tracking.create_run("price")
    tracking.delete_run(run.id)
    with pytest.raises(InvalidState, match="is deleted"):
        tracking.log_metrics(run.id, [MetricPoint("loss", 1.0, 0, 1.0)])
    with pytest.raises(InvalidInput, match="ends as finished, failed or killed"):
        tracking.end_run(run.id, "running")
