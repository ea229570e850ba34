"""``driftloop monitor check|compare``: exit 1 on drift, 0 without; bad input raises the error the command's
boundary prints as one line (tests/cli/test_serving_cli.py checks that boundary in a real process)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import polars as pl
from fastapi.testclient import TestClient
from tests.monitoring.test_live import send
from tests.serving.test_app import classifier, houses
from typer.testing import CliRunner

from driftloop import Workspace
from driftloop.cli._app import app
from driftloop.serving import ServerSettings, create_app


def invoke(ws: Workspace, *args: str) -> object:
    return CliRunner().invoke(app, ["--root", ws.settings.root, *args], env={"COLUMNS": "200"})


def frame(rows: int, shift: float, seed: int) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame({"x": rng.normal(shift, 1.0, rows), "colour": rng.choice(["red", "blue"], rows)})


def test_compare_exits_one_on_drift_and_zero_without(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    frame(2_000, 0.0, 0).write_parquet(tmp_path / "reference.parquet")
    frame(2_000, 0.0, 1).write_csv(tmp_path / "alike.csv")
    frame(2_000, 1.0, 2).write_parquet(tmp_path / "moved.parquet")
    alike = invoke(
        sqlite_workspace, "monitor", "compare", str(tmp_path / "reference.parquet"), str(tmp_path / "alike.csv")
    )
    assert alike.exit_code == 0, alike.output  # type: ignore[attr-defined]
    assert "no drift" in alike.output  # type: ignore[attr-defined]
    moved = invoke(
        sqlite_workspace,
        "monitor",
        "compare",
        str(tmp_path / "reference.parquet"),
        str(tmp_path / "moved.parquet"),
        "--json",
    )
    assert moved.exit_code == 1  # type: ignore[attr-defined]
    report = json.loads(moved.output)  # type: ignore[attr-defined]
    assert [f["column"] for f in report["features"] if f["drifted"]] == ["x"]


def test_compare_refuses_what_it_cannot_read(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    (tmp_path / "data.txt").write_text("x\n1\n")
    missing = invoke(sqlite_workspace, "monitor", "compare", str(tmp_path / "none.parquet"), str(tmp_path / "data.txt"))
    assert "No file" in str(missing.exception)  # type: ignore[attr-defined]
    wrong = invoke(sqlite_workspace, "monitor", "compare", str(tmp_path / "data.txt"), str(tmp_path / "data.txt"))
    assert "Parquet" in str(wrong.exception)  # type: ignore[attr-defined]


def test_check_reads_the_served_models_log(sqlite_workspace: Workspace) -> None:
    data = houses(2_000)
    sqlite_workspace.models.register("houses", classifier(data), target="expensive", holdout=data.tail(500))
    sqlite_workspace.models.promote("houses/1")
    empty = invoke(sqlite_workspace, "monitor", "check", "houses")
    assert "no predictions" in str(empty.exception)  # type: ignore[attr-defined]
    served = create_app(sqlite_workspace, ServerSettings(models=["houses"]))
    with TestClient(served) as client:
        send(client, houses(500, seed=9).assign(area=lambda f: f["area"] * 1.6))
    result = invoke(sqlite_workspace, "monitor", "check", "houses", "--last", "500")
    assert result.exit_code == 1, result.output  # type: ignore[attr-defined]
    assert "houses/1: 500 predictions" in result.output and "area" in result.output  # type: ignore[attr-defined]
    bad = invoke(sqlite_workspace, "monitor", "check", "houses", "--since", "yesterday")
    assert "30m" in str(bad.exception)  # type: ignore[attr-defined]
    recent = invoke(sqlite_workspace, "monitor", "check", "houses", "--since", "1h", "--json")
    assert json.loads(recent.output)["window"]["rows"] == 500  # type: ignore[attr-defined]
    # Registered without its training rows, the version has no profile: the holdout is the reference, said so.
    assert json.loads(recent.output)["reference"] == "holdout"  # type: ignore[attr-defined]
    exact = invoke(sqlite_workspace, "monitor", "check", "houses", "--against", "holdout", "--json")
    assert json.loads(exact.output)["reference_rows"] == 500  # type: ignore[attr-defined]
    wrong = invoke(sqlite_workspace, "monitor", "check", "houses", "--against", "yesterday")
    assert "--against takes profile or holdout" in str(wrong.exception)  # type: ignore[attr-defined]


def test_check_with_alert_rules_opens_an_alert_and_notifies(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    data = houses(2_000)
    sqlite_workspace.models.register("houses", classifier(data), target="expensive", holdout=data.tail(500))
    sqlite_workspace.models.promote("houses/1")
    served = create_app(sqlite_workspace, ServerSettings(models=["houses"]))
    with TestClient(served) as client:
        send(client, houses(500, seed=9).assign(area=lambda f: f["area"] * 1.6))
    log = tmp_path / "alerts.jsonl"
    rules = tmp_path / "alerts.yaml"
    rules.write_text(
        "channels:\n"
        f"  audit: {{type: log, path: {log}}}\n"
        "rules:\n"
        "  - {name: area-drift, metric: drift.features.area.statistic, operator: '>', threshold: 0.1,\n"
        "     severity: critical, channels: [audit]}\n"
        "  - {name: any-drift, metric: drifted, operator: '>=', threshold: 1}\n"
    )
    result = invoke(sqlite_workspace, "monitor", "check", "houses", "--last", "500", "--alerts", str(rules), "--json")
    assert result.exit_code == 1  # type: ignore[attr-defined]
    fired = {a["rule"]: a for a in json.loads(result.output)["alerts"]}  # type: ignore[attr-defined]
    assert fired["area-drift"]["breached"] and fired["area-drift"]["alert"]["status"] == "open"
    assert fired["any-drift"]["breached"]
    lines = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(lines) == 1 and "area-drift" in json.dumps(lines[0])
    assert {a.rule for a in sqlite_workspace.metadata.alerts.list()} == {"area-drift", "any-drift"}
    bad = invoke(sqlite_workspace, "monitor", "check", "houses", "--alerts", str(tmp_path / "none.yaml"))
    assert "No alert settings file" in str(bad.exception)  # type: ignore[attr-defined]


def test_report_writes_an_html_page_and_json_for_two_files(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    frame(2_000, 0.0, 0).write_parquet(tmp_path / "reference.parquet")
    frame(2_000, 1.0, 2).write_csv(tmp_path / "current.csv")
    page, data = tmp_path / "report.html", tmp_path / "report.json"
    result = invoke(
        sqlite_workspace,
        "monitor",
        "report",
        str(tmp_path / "reference.parquet"),
        str(tmp_path / "current.csv"),
        "--output",
        str(page),
        "--json",
        str(data),
    )
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    html = page.read_text()
    assert html.count('class="plot"') == 2 and "Drift: current.csv against reference.parquet" in html
    machine = json.loads(data.read_text())
    assert [f["column"] for f in machine["drift"]["features"] if f["drifted"]] == ["x"]
    assert machine["quality"]["rows"] == 2_000 and machine["history"] is None
    assert "dataset: drift" in result.output  # type: ignore[attr-defined]


def test_report_refuses_unclear_arguments(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    frame(100, 0.0, 0).write_parquet(tmp_path / "reference.parquet")
    nothing = invoke(sqlite_workspace, "monitor", "report", "--output", str(tmp_path / "r.html"))
    assert "two data files" in str(nothing.exception)  # type: ignore[attr-defined]
    both = invoke(
        sqlite_workspace, "monitor", "report", str(tmp_path / "reference.parquet"), str(tmp_path / "reference.parquet"),
        "--model", "houses",
    )  # fmt: skip
    assert "not both" in str(both.exception)  # type: ignore[attr-defined]
    nowhere = invoke(
        sqlite_workspace, "monitor", "report", str(tmp_path / "reference.parquet"), str(tmp_path / "reference.parquet"),
        "--output", str(tmp_path / "absent" / "r.html"),
    )  # fmt: skip
    assert "folder" in str(nowhere.exception)  # type: ignore[attr-defined]


def test_report_of_a_served_models_window_has_drift_over_time(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    data = houses(2_000)
    sqlite_workspace.models.register("houses", classifier(data), target="expensive", holdout=data.tail(500))
    sqlite_workspace.models.promote("houses/1")
    served = create_app(sqlite_workspace, ServerSettings(models=["houses"]))
    with TestClient(served) as client:
        send(client, houses(400, seed=9).assign(area=lambda f: f["area"] * 1.6))
    page, data_file = tmp_path / "houses.html", tmp_path / "houses.json"
    result = invoke(
        sqlite_workspace, "monitor", "report", "--model", "houses", "--last", "400", "--output", str(page),
        "--json", str(data_file),
    )  # fmt: skip
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    machine = json.loads(data_file.read_text())
    assert machine["title"].startswith("Drift of houses/1: 400 predictions")
    assert [point["at"] for point in machine["history"]] == [
        "predictions 1-100", "predictions 101-200", "predictions 201-300", "predictions 301-400",
    ]  # fmt: skip
    assert all(point["scores"]["area"] is not None for point in machine["history"])
    assert "area" in machine["drift"]["drifted_columns"]
    html = page.read_text()
    assert "Drift scores over time" in html and "(prediction)" in html and "Data quality" in html
    assert machine["estimate"]["task"] == "binary" and machine["estimate"]["metrics"]["accuracy"] is not None

    # Once the monitor has recorded passes, the report draws those instead of slices of one window.
    for _ in range(2):
        invoke(sqlite_workspace, "monitor", "run", "houses", "--last", "400")
    again = invoke(
        sqlite_workspace, "monitor", "report", "--model", "houses", "--last", "400", "--output", str(page),
        "--json", str(data_file),
    )  # fmt: skip
    assert again.exit_code == 0, again.output  # type: ignore[attr-defined]
    recorded = json.loads(data_file.read_text())["history"]
    assert len(recorded) == 2 and all(point["scores"]["area"] is not None for point in recorded)
    assert not recorded[0]["at"].startswith("predictions")
