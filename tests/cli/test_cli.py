"""The command line: readable tables, --json for scripts, one-line errors with a non-zero exit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from driftloop import Workspace


@pytest.fixture
def populated(sqlite_workspace: Workspace) -> tuple[Workspace, list[str]]:
    ids = []
    for model, rmse in (("lgbm", 2.0), ("ridge", 3.0)):
        with sqlite_workspace.start_run("price", name=f"{model}-run", params={"model": model}) as run:
            for step in range(3):
                run.log_metric("rmse", rmse + 1 - step * 0.5, step=step)
        ids.append(run.id)
    return sqlite_workspace, ids


def cli(ws: Workspace, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DRIFTLOOP_ROOT": ws.settings.root, "COLUMNS": "200"}
    return subprocess.run(
        [sys.executable, "-m", "driftloop", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_experiments_and_runs_listing(populated: tuple[Workspace, list[str]]) -> None:
    ws, ids = populated
    listed = cli(ws, "experiments", "list")
    assert listed.returncode == 0 and "price" in listed.stdout
    runs = json.loads(cli(ws, "runs", "list", "--json").stdout)
    assert {r["id"] for r in runs} == set(ids)
    filtered = json.loads(cli(ws, "runs", "list", "-e", "price", "-f", "params.model = 'lgbm'", "--json").stdout)
    assert [r["name"] for r in filtered] == ["lgbm-run"]
    ordered = json.loads(cli(ws, "runs", "list", "--order-by", "metrics.rmse DESC", "--json").stdout)
    assert [r["name"] for r in ordered] == ["ridge-run", "lgbm-run"]
    table = cli(ws, "runs", "list")
    assert "lgbm-run" in table.stdout and "Traceback" not in table.stderr


def test_show_compare_and_history(populated: tuple[Workspace, list[str]]) -> None:
    ws, ids = populated
    shown = cli(ws, "runs", "show", ids[0][:8])
    assert shown.returncode == 0 and "lgbm-run" in shown.stdout and "rmse" in shown.stdout
    data = json.loads(cli(ws, "runs", "show", ids[0], "--json").stdout)
    assert data["params"] == {"model": "lgbm"} and data["metrics"]["rmse"] == 2.0
    compared = json.loads(cli(ws, "runs", "compare", *ids, "--json").stdout)
    assert compared["params"] == {"model": ["lgbm", "ridge"]}
    assert compared["metrics"] == {"rmse": [2.0, 3.0]}
    history = json.loads(cli(ws, "runs", "history", ids[1], "rmse", "--json").stdout)
    assert history["steps"] == [0, 1, 2] and history["values"] == [4.0, 3.5, 3.0]


def test_delete_gc_and_events(populated: tuple[Workspace, list[str]]) -> None:
    ws, ids = populated
    assert cli(ws, "runs", "delete", ids[0]).returncode == 0
    report = json.loads(cli(ws, "gc", "--grace-period", "0", "--json").stdout)
    assert report["runs_purged"] == 1
    events = json.loads(cli(ws, "events", "--type", "run", "--json").stdout)
    assert {"run.start", "run.end", "run.delete", "run.purge"} <= {e["action"] for e in events}
    (deleted,) = [e for e in events if e["action"] == "run.delete"]
    found = cli(ws, "audit", "--actor", deleted["actor"], "--since", "1h", "--action", "run.delete", "--json")
    audit = json.loads(found.stdout)
    assert [(e["action"], e["object_id"]) for e in audit] == [("run.delete", ids[0])]
    assert json.loads(cli(ws, "audit", "--actor", "nobody", "--json").stdout) == []
    refused = cli(ws, "audit", "--since", "soon")
    assert refused.returncode != 0 and "--since" in refused.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["runs", "show", "0123456789abcdef0123456789abcdef"], "No run with id"),
        (["runs", "list", "-f", "metrics.rmse <"], "Expected a value"),
        (["runs", "list", "-e", "missing"], "No experiment named or numbered 'missing'"),
        (["runs", "show", "zz"], "is not a run id"),
        (["experiments", "create", "a/b"], "path separator"),
    ],
)
def test_user_mistakes_print_one_line_and_exit_non_zero(
    populated: tuple[Workspace, list[str]], args: list[str], message: str
) -> None:
    ws, _ = populated
    done = cli(ws, *args)
    assert done.returncode == 1
    assert message in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.strip().startswith("error:")


def test_unreachable_store_is_one_line(tmp_path: Path) -> None:
    env = {**os.environ, "DRIFTLOOP_STORE": "postgresql+psycopg://x:pw@127.0.0.1:1/none?connect_timeout=2"}
    done = subprocess.run(
        [sys.executable, "-m", "driftloop", "runs", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert done.returncode == 1 and "Cannot reach the metadata store" in done.stderr
    assert "Traceback" not in done.stderr and "pw" not in done.stderr


def test_db_upgrade_and_current(sqlite_workspace: Workspace) -> None:
    assert "up to date" in cli(sqlite_workspace, "db", "upgrade").stdout
    assert "up to date" in cli(sqlite_workspace, "db", "current").stdout


def test_usage_errors_exit_two(sqlite_workspace: Workspace) -> None:
    done = cli(sqlite_workspace, "runs", "list", "--limit", "-3")
    assert done.returncode == 2 and "Traceback" not in done.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["runs", "show", "[/x]"],
        ["runs", "list", "-f", "x[/b]"],
        ["experiments", "create", "[/]"],
    ],
)
def test_user_text_is_never_read_as_markup(sqlite_workspace: Workspace, args: list[str]) -> None:
    done = cli(sqlite_workspace, *args)
    assert done.returncode in (0, 1) and "Traceback" not in done.stderr and "MarkupError" not in done.stderr


def test_values_with_brackets_print_as_written(sqlite_workspace: Workspace) -> None:
    with sqlite_workspace.start_run("brackets", params={"pattern": "[/]"}) as run:
        pass
    done = cli(sqlite_workspace, "runs", "show", run.id)
    assert done.returncode == 0 and "[/]" in done.stdout


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (["--root", "/proc/1/forbidden"], "Cannot create the folder"),
        (["--store", "postgresql+psycopg://x@127.0.0.1:notaport/db"], "not a database URL"),
        (["--store", "postgresql+asyncpg://x@127.0.0.1/db"], "Unsupported PostgreSQL driver"),
        (["--store", "postgresql+psycopg://x@127.0.0.1:1/db?sslmode=bogus"], "Cannot reach the metadata store"),
    ],
)
def test_broken_settings_are_one_line_errors(sqlite_workspace: Workspace, options: list[str], message: str) -> None:
    done = cli(sqlite_workspace, *options, "runs", "list")
    assert done.returncode == 1, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr


def test_a_file_that_is_not_a_database(tmp_path: Path, sqlite_workspace: Workspace) -> None:
    bogus = tmp_path / "bogus.db"
    bogus.write_bytes(b"this is not sqlite" * 100)
    done = cli(sqlite_workspace, "--store", f"sqlite:///{bogus}", "runs", "list")
    assert done.returncode == 1 and "Traceback" not in done.stderr and "not a database" in done.stderr


@pytest.mark.postgres
def test_db_upgrade_migrates_an_empty_shared_database(empty_postgres_url: str, sqlite_workspace: Workspace) -> None:
    before = cli(sqlite_workspace, "--store", empty_postgres_url, "runs", "list")
    assert before.returncode == 1 and "db upgrade" in before.stderr
    assert "revision none" in cli(sqlite_workspace, "--store", empty_postgres_url, "db", "current").stdout
    upgraded = cli(sqlite_workspace, "--store", empty_postgres_url, "db", "upgrade")
    assert upgraded.returncode == 0 and "from revision none to" in upgraded.stdout
    after = cli(sqlite_workspace, "--store", empty_postgres_url, "runs", "list", "--json")
    assert after.returncode == 0 and json.loads(after.stdout) == []
