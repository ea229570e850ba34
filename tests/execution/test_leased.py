"""Leased jobs: one process at a time runs a job, another takes over when it stops or dies."""

from __future__ import annotations

import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from driftloop import Workspace
from driftloop.errors import InvalidInput
from driftloop.execution import LeasedJob
from driftloop.store.metadata import LeaseRepository


def test_only_the_holder_runs_and_another_takes_over_when_it_stops(sqlite_workspace: Workspace) -> None:
    leases = sqlite_workspace.metadata.leases
    ran: list[tuple[str, int]] = []
    first = LeasedJob(leases, "upkeep", lambda token: ran.append(("first", token)), interval=60, holder="first")
    second = LeasedJob(leases, "upkeep", lambda token: ran.append(("second", token)), interval=60, holder="second")
    assert first.run_once() and not second.run_once() and first.run_once()
    assert first.holding and not second.holding
    first.stop()  # releases the lease
    assert second.run_once()
    assert ran == [("first", 1), ("first", 1), ("second", 2)]  # a new holder, a new fencing token


def test_a_holder_that_died_is_replaced_once_its_lease_expires(sqlite_workspace: Workspace) -> None:
    now = [1000.0]
    leases = LeaseRepository(sqlite_workspace.metadata.database, clock=lambda: now[0])
    ran: list[str] = []
    dead = LeasedJob(leases, "upkeep", lambda token: ran.append("dead"), interval=10, holder="dead")
    alive = LeasedJob(leases, "upkeep", lambda token: ran.append("alive"), interval=10, holder="alive")
    assert dead.run_once()  # ... and then the process dies without releasing
    now[0] += 29
    assert not alive.run_once()
    now[0] += 2  # past the default ttl of three intervals
    assert alive.run_once()
    assert ran == ["dead", "alive"]


def test_a_failing_job_is_counted_and_keeps_its_lease(sqlite_workspace: Workspace) -> None:
    def broken(token: int) -> None:
        raise RuntimeError("disk full")

    job = LeasedJob(sqlite_workspace.metadata.leases, "upkeep", broken, interval=60, holder="one")
    assert job.run_once()
    assert job.holding and job.failures == 1 and "disk full" in (job.last_error or "")
    assert job.runs == 0


def test_the_thread_runs_the_job_on_its_schedule(sqlite_workspace: Workspace) -> None:
    ran: list[int] = []
    job = LeasedJob(sqlite_workspace.metadata.leases, "upkeep", ran.append, interval=0.05, first_run_after=0)
    job.start()
    deadline = time.monotonic() + 10
    while len(ran) < 3:
        assert time.monotonic() < deadline, "the job did not run on its schedule"
        time.sleep(0.02)
    job.stop()
    count = len(ran)
    time.sleep(0.2)
    assert len(ran) == count  # stopped means stopped
    assert sqlite_workspace.metadata.leases.get("upkeep").expired()  # type: ignore[union-attr]


def test_bad_settings_are_refused(sqlite_workspace: Workspace) -> None:
    leases = sqlite_workspace.metadata.leases
    with pytest.raises(InvalidInput, match="interval"):
        LeasedJob(leases, "upkeep", print, interval=0)
    with pytest.raises(InvalidInput, match="outlast"):
        LeasedJob(leases, "upkeep", print, interval=10, ttl=5)


PROCESS = textwrap.dedent(
    """
    import sys, time
    from driftloop import Workspace
    from driftloop.execution import LeasedJob

    root, out = sys.argv[1], sys.argv[2]
    ws = Workspace(root)

    def job(token):
        with open(out, "a") as file:
            file.write(f"{job_runner.holder} {token}\\n")

    job_runner = LeasedJob(ws.metadata.leases, "upkeep", job, interval=0.1, first_run_after=0)
    job_runner.start()
    time.sleep(float(sys.argv[3]))
    job_runner.stop()
    """
)


@pytest.mark.slow
def test_among_processes_one_runs_the_job_at_a_time(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    script = tmp_path / "job.py"
    script.write_text(PROCESS)
    out = tmp_path / "runs.txt"
    root = sqlite_workspace.settings.root
    sqlite_workspace.metadata.leases.list()  # the database exists and is migrated before the processes start
    processes = [
        subprocess.Popen([sys.executable, str(script), root, str(out), str(seconds)]) for seconds in (3.0, 3.0, 3.0)
    ]
    for process in processes:
        assert process.wait(timeout=120) == 0
    runs = [line.split() for line in out.read_text().splitlines()]
    assert len(runs) >= 5
    # Each tenure has its own token and one holder; tokens only grow.
    holders_by_token: dict[str, set[str]] = {}
    for holder, token in runs:
        holders_by_token.setdefault(token, set()).add(holder)
    assert all(len(holders) == 1 for holders in holders_by_token.values()), holders_by_token
    tokens = [int(token) for _, token in runs]
    assert tokens == sorted(tokens)


def test_in_the_foreground_it_runs_until_stopped_and_releases_its_lease(sqlite_workspace: Workspace) -> None:
    import threading

    runs: list[int] = []
    job = LeasedJob(sqlite_workspace.metadata.leases, "fg", runs.append, interval=0.05, first_run_after=0.0)
    threading.Timer(0.5, job.stop).start()  # what Ctrl-C does to the command: the wait ends, the lease goes
    job.run_in_foreground()
    assert runs and sqlite_workspace.metadata.leases.get("fg").expired()  # type: ignore[union-attr]
    other = LeasedJob(sqlite_workspace.metadata.leases, "fg", runs.append, interval=1.0)
    assert other.run_once() is True  # released: another process may take it at once


def test_a_run_longer_than_the_lease_keeps_it_renewed(sqlite_workspace: Workspace) -> None:
    leases = sqlite_workspace.metadata.leases
    others: list[bool] = []
    rival = LeasedJob(leases, "long", lambda token: None, interval=0.1, ttl=0.3)

    def slow(token: int) -> None:
        for _ in range(6):  # 1.2 s: four times the lease's time to live
            time.sleep(0.2)
            others.append(rival.run_once())

    job = LeasedJob(leases, "long", slow, interval=0.1, ttl=0.3)
    assert job.run_once() is True
    assert others == [False] * 6  # renewed all along: the rival never got it
    assert job.failures == 0 and rival.runs == 0
