"""Runs across process boundaries: many writers at once, SIGKILL, SIGTERM, normal exit, fork."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from driftloop import Workspace
from driftloop.entities import RunStatus

WRITERS = 8
POINTS_PER_WRITER = 20_000


def _script(body: str, store: str, root: str) -> list[str]:
    prelude = f"""
        import os, sys, time
        from driftloop import Workspace, set_workspace, start_run
        set_workspace(Workspace({root!r}, store={store!r}))
    """
    return [sys.executable, "-c", textwrap.dedent(prelude) + textwrap.dedent(body)]


def _run(body: str, store: str, root: str, *, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(_script(body, store, root), capture_output=True, text=True, timeout=120, check=check)


def _start(body: str, store: str, root: str) -> subprocess.Popen[str]:
    """The script in a child process; its stderr goes to a file that :func:`_stderr` reads (for failure messages)."""
    path = Path(root).parent / f"stderr-{time.monotonic_ns()}.txt"
    with path.open("w") as errors:  # the child keeps its own copy of the descriptor
        process = subprocess.Popen(_script(body, store, root), stdout=subprocess.PIPE, stderr=errors, text=True)
    process.stderr_path = path  # type: ignore[attr-defined]
    return process


def _stderr(process: subprocess.Popen[str]) -> str:
    return str(process.stderr_path.read_text()[-4000:])  # type: ignore[attr-defined]


WRITER = """
    index = int(sys.argv[1])
    with start_run("shared", name=f"writer-{index}") as run:
        run.log_params({"index": index})
        for step in range(POINTS // 2):
            run.log_metric("loss", 1.0 / (step + 1), step=step)
            run.log_metric("acc", step / POINTS, step=step)
            if step % 2500 == 0:
                run.set_tag("progress", str(step))
    print(run.id)
"""


@pytest.mark.slow
def test_eight_processes_log_into_one_store_without_losing_a_point(store_url: str, tmp_path: Path) -> None:
    root = str(tmp_path / "ws")
    body = WRITER.replace("POINTS", str(POINTS_PER_WRITER))
    processes = [
        subprocess.Popen(
            [*_script(body, store_url, root), str(index)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for index in range(WRITERS)
    ]
    outcomes = []
    try:
        for process in processes:
            out, err = process.communicate(timeout=300)
            outcomes.append((process.returncode, out, err))
    finally:
        for process in processes:
            if process.poll() is None:
                process.kill()
                process.communicate()
    for returncode, _out, err in outcomes:
        assert returncode == 0, err
        assert "locked" not in err
    run_ids = [out.strip() for _code, out, _err in outcomes]
    ws = Workspace(root, store=store_url)
    runs = ws.tracking.search_runs("shared")
    assert sorted(r.id for r in runs) == sorted(run_ids)
    for run in runs:
        assert run.status is RunStatus.FINISHED
        assert run.metrics["loss"].count + run.metrics["acc"].count == POINTS_PER_WRITER
        assert len(ws.tracking.metric_history(run.id, "loss")) == POINTS_PER_WRITER // 2
    assert len(ws.tracking.list_experiments()) == 1  # created once although eight raced for it
    ws.close()


def test_sigkill_leaves_a_readable_unfinished_run_with_everything_flushed(store_url: str, tmp_path: Path) -> None:
    root = str(tmp_path / "ws")
    process = _start(
        """
        run = start_run("crash")
        run.log_param("kind", "sigkill")
        for step in range(10_000):
            run.log_metric("loss", step, step=step)
        run.flush()
        print(run.id, flush=True)
        for step in range(10_000, 10_100):
            run.log_metric("loss", step, step=step)
        time.sleep(60)
        """,
        store_url,
        root,
    )
    with process:
        assert process.stdout is not None
        run_id = process.stdout.readline().strip()
        assert run_id
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    ws = Workspace(root, store=store_url)
    run = ws.tracking.get_run(run_id)
    assert run.status is RunStatus.RUNNING and run.end_time is None  # not finished
    assert run.params == {"kind": "sigkill"}
    assert len(ws.tracking.metric_history(run_id, "loss")) >= 10_000
    ws.close()


def test_sigterm_flushes_and_marks_the_run_killed(store_url: str, tmp_path: Path) -> None:
    root = str(tmp_path / "ws")
    process = _start(
        """
        run = start_run("term")
        for step in range(50_000):
            run.log_metric("loss", step, step=step)
        print(run.id, flush=True)
        time.sleep(60)
        """,
        store_url,
        root,
    )
    with process:
        assert process.stdout is not None
        run_id = process.stdout.readline().strip()
        assert run_id
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM, _stderr(process)
    ws = Workspace(root, store=store_url)
    run = ws.tracking.get_run(run_id)
    assert run.status is RunStatus.KILLED
    assert run.metrics["loss"].count == 50_000
    ws.close()


def test_normal_exit_ends_open_runs_with_everything_flushed(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    store, root = sqlite_workspace.settings.store, sqlite_workspace.settings.root
    done = _run(
        """
            run = start_run("exit")
            for step in range(30_000):
                run.log_metric("loss", step, step=step)
            print(run.id)
            """,
        store,
        root,
    )
    run = sqlite_workspace.tracking.get_run(done.stdout.strip())
    assert run.status is RunStatus.FINISHED and run.metrics["loss"].count == 30_000


def test_uncaught_exception_outside_with_marks_the_run_failed(sqlite_workspace: Workspace) -> None:
    store, root = sqlite_workspace.settings.store, sqlite_workspace.settings.root
    done = _run(
        """
            run = start_run("exit")
            run.log_metric("loss", 1.0)
            print(run.id, flush=True)
            raise RuntimeError("boom")
            """,
        store,
        root,
        check=False,
    )
    assert done.returncode == 1 and "boom" in done.stderr
    run = sqlite_workspace.tracking.get_run(done.stdout.strip())
    assert run.status is RunStatus.FAILED and run.metrics["loss"].count == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_gets_a_fresh_logger(sqlite_workspace: Workspace) -> None:
    store, root = sqlite_workspace.settings.store, sqlite_workspace.settings.root
    done = _run(
        """
            import warnings
            warnings.simplefilter("ignore", DeprecationWarning)  # fork with threads: exactly what we test
            from driftloop import get_workspace
            run = start_run("fork")
            for step in range(1000):
                run.log_metric("parent", step)
            pid = os.fork()
            if pid == 0:
                with get_workspace().tracking.start_run("fork", name="child") as child:
                    for step in range(500):
                        child.log_metric("child", step)
                os._exit(0)
            _, status = os.waitpid(pid, 0)
            assert status == 0, status
            for step in range(1000, 2000):
                run.log_metric("parent", step)
            run.end()
            print(run.id)
            """,
        store,
        root,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    parent = sqlite_workspace.tracking.get_run(done.stdout.strip())
    child = sqlite_workspace.tracking.search_runs("fork", filter="name = 'child'")[0]
    assert parent.metrics["parent"].count == 2000 and "child" not in parent.metrics
    assert child.status is RunStatus.FINISHED and child.metrics["child"].count == 500


def test_sigterm_during_a_flush_neither_hangs_nor_loses_the_run(store_url: str, tmp_path: Path) -> None:
    root = str(tmp_path / "ws")
    process = _start(
        """
        run = start_run("busy")
        print(run.id, flush=True)
        step = 0
        while True:  # the signal lands inside a flush sooner or later
            for _ in range(2000):
                run.log_metric("loss", step, step=step)
                step += 1
            run.flush()
        """,
        store_url,
        root,
    )
    with process:
        assert process.stdout is not None
        run_id = process.stdout.readline().strip()
        time.sleep(1.0)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=60) == 128 + signal.SIGTERM, _stderr(process)
    ws = Workspace(root, store=store_url)
    run = ws.tracking.get_run(run_id)
    assert run.status is RunStatus.KILLED
    assert run.metrics["loss"].count == len(ws.tracking.metric_history(run_id, "loss")) > 0
    ws.close()


def test_runs_of_any_api_end_when_the_process_exits(sqlite_workspace: Workspace) -> None:
    store, root = sqlite_workspace.settings.store, sqlite_workspace.settings.root
    done = _run(
        """
            from driftloop import get_workspace
            run = get_workspace().tracking.start_run("direct")  # not driftloop.start_run
            for step in range(1000):
                run.log_metric("loss", step)
            print(run.id)
            """,
        store,
        root,
    )
    run = sqlite_workspace.tracking.get_run(done.stdout.strip())
    assert run.status is RunStatus.FINISHED and run.metrics["loss"].count == 1000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX only")
def test_a_forked_child_exiting_does_not_end_the_parents_run(sqlite_workspace: Workspace) -> None:
    store, root = sqlite_workspace.settings.store, sqlite_workspace.settings.root
    done = _run(
        """
            import warnings
            warnings.simplefilter("ignore", DeprecationWarning)
            run = start_run("fork-exit")
            run.log_metric("x", 1.0)
            pid = os.fork()
            if pid == 0:
                sys.exit(0)  # runs the exit hooks in the child
            os.waitpid(pid, 0)
            time.sleep(0.2)
            from driftloop import get_workspace
            print(get_workspace().tracking.get_run(run.id).status.value)
            run.end()
            print(run.id)
            """,
        store,
        root,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    status_in_between, run_id = done.stdout.split()
    assert status_in_between == "running"
    assert sqlite_workspace.tracking.get_run(run_id).status is RunStatus.FINISHED
