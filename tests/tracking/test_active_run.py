"""The fluent API: starting runs, logging, ending them by ``with``, nesting."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import driftloop
from driftloop import Workspace
from driftloop.entities import RunStatus
from driftloop.errors import InvalidInput, InvalidName, InvalidState, NotFound, ParamConflict


def test_with_block_logs_and_finishes(workspace: Workspace) -> None:
    with driftloop.start_run(experiment="price") as run:
        run.log_params({"model": "lgbm", "lr": 0.1})
        for step in range(100):
            run.log_metric("rmse", 10.0 / (step + 1), step=step)
        run.log_metrics({"mae": 1.5, "r2": 0.9})
    stored = workspace.tracking.get_run(run.id)
    assert stored.status is RunStatus.FINISHED and stored.end_time is not None
    assert stored.experiment_name == "price"
    assert stored.params == {"lr": "0.1", "model": "lgbm"}
    assert stored.metric("rmse") == pytest.approx(0.1) and stored.metrics["rmse"].count == 100
    assert stored.resources.wall_time is not None and stored.resources.wall_time >= 0
    assert stored.resources.cpu_time is not None and stored.resources.peak_memory is not None
    assert stored.resources.peak_memory > 10 * 2**20
    assert stored.environment.python_version.startswith("3.")
    assert "numpy" in stored.environment.packages
    history = workspace.tracking.metric_history(run.id, "rmse")
    assert history.steps.tolist() == list(range(100))
    assert np.allclose(history.values, [10.0 / (s + 1) for s in range(100)])


def test_exception_marks_the_run_failed_and_keeps_what_was_logged(workspace: Workspace) -> None:
    with pytest.raises(ZeroDivisionError), driftloop.start_run("price") as run:
        run.log_param("alpha", 1)
        for step in range(1000):
            run.log_metric("loss", float(step), step=step)
        _ = 1 / 0
    stored = workspace.tracking.get_run(run.id)
    assert stored.status is RunStatus.FAILED
    assert stored.params == {"alpha": "1"}
    assert stored.metrics["loss"].count == 1000
    assert driftloop.active_run() is None


def test_keyboard_interrupt_marks_the_run_killed(workspace: Workspace) -> None:
    with pytest.raises(KeyboardInterrupt), driftloop.start_run("price") as run:
        raise KeyboardInterrupt
    assert workspace.tracking.get_run(run.id).status is RunStatus.KILLED


def test_default_steps_count_up_per_key(workspace: Workspace) -> None:
    with workspace.start_run() as run:
        for value in (3.0, 2.0, 1.0):
            run.log_metric("loss", value)
        run.log_metric("acc", 0.5)
    assert workspace.tracking.metric_history(run.id, "loss").steps.tolist() == [0, 1, 2]
    assert workspace.tracking.metric_history(run.id, "acc").steps.tolist() == [0]


def test_non_finite_values_round_trip(workspace: Workspace) -> None:
    with workspace.start_run() as run:
        run.log_metric("x", math.nan)
        run.log_metric("x", math.inf)
        run.log_metric("x", -math.inf)
        run.log_metric("x", np.float32(2.5))
    values = workspace.tracking.metric_history(run.id, "x").values
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == -math.inf and values[3] == 2.5


def test_nested_runs(workspace: Workspace) -> None:
    with driftloop.start_run("tune", name="study") as parent:
        with driftloop.start_run("tune", name="trial-0", nested=True) as child:
            assert driftloop.active_run() is child
            child.log_metric("score", 0.5)
        with parent.child(name="trial-1") as other:
            other.log_metric("score", 0.7)
        assert driftloop.active_run() is parent
    children = workspace.tracking.child_runs(parent.id)
    assert {c.name for c in children} == {"trial-0", "trial-1"}
    assert all(c.parent_id == parent.id for c in children)


def test_starting_a_second_run_without_nested_is_refused(workspace: Workspace) -> None:
    with driftloop.start_run("a") as run, pytest.raises(InvalidState, match=f"{run.id}.*nested=True"):
        driftloop.start_run("a")


@pytest.mark.parametrize(
    ("call", "error", "message"),
    [
        (lambda run: run.log_metric("", 1.0), InvalidName, "must not be empty"),
        (lambda run: run.log_metric("a" * 251, 1.0), InvalidName, "limit is 250"),
        (lambda run: run.log_metric("bad\x00key", 1.0), InvalidName, "control character U\\+0000"),
        (lambda run: run.log_metric("a\\b", 1.0), InvalidName, "backslash"),
        (lambda run: run.log_metric("../up", 1.0), InvalidName, "'..' segment"),
        (lambda run: run.log_metric("loss", "high"), InvalidInput, "must be a real number; got str 'high'"),
        (
            lambda run: run.log_metric("loss", 1.0, step=1.5),
            InvalidInput,
            "step of metric 'loss' must be an integer",
        ),
        (lambda run: run.log_metric("loss", 1.0, step=2**63), InvalidInput, "fits in 64 bits"),
        (lambda run: run.log_param("", 1), InvalidName, "param key must not be empty"),
    ],
)
def test_invalid_input_is_refused_with_a_clear_message(workspace: Workspace, call, error, message) -> None:  # type: ignore[no-untyped-def]
    with workspace.start_run() as run, pytest.raises(error, match=message):
        call(run)


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "must not be empty"),
        ("x" * 257, "limit is 256"),
        ("a/b", "path separator"),
        ("a\\b", "path separator"),
        ("tab\there", "control character"),
        (" padded", "white space"),
    ],
)
def test_invalid_experiment_and_run_names(workspace: Workspace, name: str, message: str) -> None:
    with pytest.raises(InvalidName, match=message):
        workspace.tracking.start_run(name)
    with pytest.raises(InvalidName, match=message):
        workspace.tracking.start_run("ok", name=name)
    assert workspace.tracking.search_runs() == []  # nothing half-created


def test_param_logged_twice_with_another_value(workspace: Workspace) -> None:
    with workspace.start_run() as run:
        run.log_param("lr", 0.1)
        run.log_param("lr", 0.1)
        with pytest.raises(ParamConflict, match=r"'lr' .* is '0\.1' already"):
            run.log_param("lr", 0.2)


def test_artifacts_files_folders_text_and_json(workspace: Workspace, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    (folder / "sub").mkdir(parents=True)
    (folder / "weights.bin").write_bytes(b"\x00\x01" * 1000)
    (folder / "sub" / "config.yaml").write_text("depth: 3\n")
    single = tmp_path / "notes.txt"
    single.write_text("hello")
    with workspace.start_run() as run:
        run.log_artifact(folder)
        run.log_artifact(single)
        run.log_artifact(single, artifact_path="docs")
        run.log_text("report", "reports/summary.txt")
        run.log_dict({"a": 1}, "meta.json")
        with pytest.raises(NotFound, match="No file or folder"):
            run.log_artifact(tmp_path / "missing")
    paths = [a.path for a in workspace.tracking.list_artifacts(run.id)]
    assert paths == [
        "docs/notes.txt",
        "meta.json",
        "model/sub/config.yaml",
        "model/weights.bin",
        "notes.txt",
        "reports/summary.txt",
    ]
    assert workspace.tracking.read_artifact(run.id, "model/weights.bin") == b"\x00\x01" * 1000
    written = workspace.tracking.download_artifacts(run.id, tmp_path / "out", prefix="model")
    assert sorted(p.relative_to(tmp_path / "out").as_posix() for p in written) == [
        "model/sub/config.yaml",
        "model/weights.bin",
    ]
    assert (tmp_path / "out" / "model" / "sub" / "config.yaml").read_text() == "depth: 3\n"


def test_dataset_inputs_are_recorded(workspace: Workspace) -> None:
    with workspace.start_run() as run:
        run.log_input("houses", 3)
        run.log_input("houses", 4, role="validation")
        with pytest.raises(InvalidInput, match="an integer from 0 to"):
            run.log_input("houses", -1)
    assert [(i.dataset, i.version, i.role) for i in workspace.tracking.get_run(run.id).inputs] == [
        ("houses", 3, "training"),
        ("houses", 4, "validation"),
    ]


def test_ending_twice_is_refused(workspace: Workspace) -> None:
    run = workspace.start_run()
    run.end()
    with pytest.raises(InvalidState, match="already ended as 'finished'"):
        run.end("failed")
    with pytest.raises(InvalidInput, match="finished, failed or killed"):
        workspace.start_run().end("running")


def test_metric_history_while_running_sees_everything_logged(workspace: Workspace) -> None:
    with workspace.start_run() as run:
        for step in range(5000):
            run.log_metric("x", step)
        assert len(workspace.tracking.metric_history(run.id, "x")) == 5000


def test_git_commit_and_dirty_flag_are_recorded(
    workspace: Workspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import subprocess

    from driftloop.tracking import _provenance

    repo = tmp_path / "repo"
    repo.mkdir()
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q"], cwd=repo, check=True)
    (repo / "train.py").write_text("print(1)\n")
    subprocess.run([*git, "add", "."], cwd=repo, check=True)
    subprocess.run([*git, "commit", "-qm", "first"], cwd=repo, check=True)
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    monkeypatch.chdir(repo)
    monkeypatch.setattr(_provenance, "GIT_CACHE_SECONDS", 0.0)
    with workspace.start_run() as clean:
        pass
    (repo / "train.py").write_text("print(2)\n")
    with workspace.start_run() as dirty:
        pass
    assert workspace.tracking.get_run(clean.id).environment.git_commit == commit
    assert workspace.tracking.get_run(clean.id).environment.git_dirty is False
    assert workspace.tracking.get_run(dirty.id).environment.git_dirty is True


def test_an_artifact_altered_on_disk_is_refused(sqlite_workspace: Workspace) -> None:
    from driftloop.errors import BlobIntegrityError

    with sqlite_workspace.start_run() as run:
        artifact = run.log_text("the original bytes", "notes.txt")
    path = Path(sqlite_workspace.settings.root) / "blobs" / "sha256" / artifact.digest[:2] / artifact.digest[2:]
    path.write_bytes(b"the altered bytes!")
    with pytest.raises(BlobIntegrityError, match=artifact.digest):
        sqlite_workspace.tracking.read_artifact(run.id, "notes.txt")


def test_a_failed_start_leaves_nothing_behind(workspace: Workspace) -> None:
    for bad in (
        lambda: workspace.tracking.start_run("brand-new", name="a/b"),
        lambda: workspace.tracking.start_run("brand-new", params={"": 1}),
        lambda: workspace.tracking.start_run("brand-new", tags={"x\x00": 1}),
    ):
        with pytest.raises(InvalidName):
            bad()
    assert workspace.tracking.list_experiments() == []
    assert workspace.tracking.search_runs() == []


def test_a_bad_timestamp_is_refused_at_the_call(workspace: Workspace) -> None:
    with workspace.start_run() as run:
        run.log_metric("loss", 1.0)
        with pytest.raises(InvalidInput, match="timestamp of metric 'loss'"):
            run.log_metric("loss", 2.0, timestamp="yesterday")  # type: ignore[arg-type]
        with pytest.raises(InvalidInput, match="timestamp"):
            run.log_metric("loss", 2.0, timestamp=math.inf)
        run.log_metric("loss", 3.0, timestamp=1_700_000_000)
    assert workspace.tracking.get_run(run.id).metrics["loss"].count == 2


def test_logging_after_the_end_is_refused(workspace: Workspace) -> None:
    run = workspace.start_run()
    run.end()
    with pytest.raises(InvalidState, match="has ended"):
        run.log_metric("loss", 1.0)
    with pytest.raises(InvalidState, match="has ended"):
        run.log_param("late", 1)
    run.set_tag("reviewed", "yes")  # annotations are still welcome


def test_points_that_cannot_be_written_fail_the_run(sqlite_workspace: Workspace) -> None:
    from driftloop.errors import StoreError

    run = sqlite_workspace.start_run()
    run.log_metric("loss", 1.0)
    run.flush()

    def broken(points: object) -> None:
        raise RuntimeError("disk on fire")

    run._logger._writer = broken
    run.log_metric("loss", 2.0)
    with pytest.raises(StoreError, match="disk on fire; 1 points could not be written"):
        run.end()
    stored = sqlite_workspace.tracking.get_run(run.id)
    assert stored.status is RunStatus.FAILED and stored.metrics["loss"].count == 1
    event = sqlite_workspace.events.list(action="run.end", object_id=run.id)[0]
    assert event.details["unwritten_points"] == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda ws: ws.tracking.search_runs(offset=-1), "offset must be a non-negative"),
        (lambda ws: ws.tracking.search_runs(limit=-1), "limit must be a non-negative"),
        (lambda ws: ws.start_run().log_input("houses", 2**31), "dataset version is an integer"),
        (lambda ws: ws.start_run().log_input("houses", 1, role="r" * 65), "limit is 64"),
        (lambda ws: ws.start_run(actor="a" * 257), "limit is 256"),
        (lambda ws: ws.gc(actor="bad\nactor"), "control character"),
    ],
)
def test_out_of_range_input_is_refused_the_same_on_every_backend(workspace: Workspace, call, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInput, match=message):
        call(workspace)
