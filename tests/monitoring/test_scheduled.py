"""Scheduled monitors: a pass records each served model's findings, sums the server's health, raises alerts;
the server runs it in one process and every process exports the findings as Prometheus gauges."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from tests.cli.test_monitor_cli import invoke
from tests.monitoring.test_channels import Receiver
from tests.monitoring.test_live import send
from tests.serving.test_app import classifier, houses

from driftloop import Workspace
from driftloop.errors import InvalidInput
from driftloop.monitoring import AlertConfig, AlertRule, WebhookChannel
from driftloop.monitoring._scheduled import run_monitors, served_champions
from driftloop.serving import ServerSettings, create_app


@pytest.fixture
def served(sqlite_workspace: Workspace) -> Workspace:
    frame = houses(2_000)
    for name in ("houses", "flats"):
        sqlite_workspace.models.register(name, classifier(frame), target="expensive", holdout=frame.tail(500))
        sqlite_workspace.models.promote(f"{name}/1")
    return sqlite_workspace


def log_traffic(workspace: Workspace, rows: int = 400, *, shifted: bool = False) -> None:
    application = create_app(workspace, ServerSettings(models=["houses"], monitor_interval=0))
    frame = houses(rows, seed=7)
    if shifted:
        frame = frame.assign(area=frame["area"] * 1.6)
    with TestClient(application) as client:
        send(client, frame)


def gauges(client: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = client.get("/metrics").text
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name.startswith("driftloop_monitor_")
    }


def test_a_pass_records_each_champion_and_an_empty_window_is_an_error_not_calm(served: Workspace) -> None:
    log_traffic(served, shifted=True)
    assert served_champions(served) == ["flats", "houses"]
    result = run_monitors(served)
    by_model = {model.model: model for model in result.models}
    assert by_model["houses"].status == "drift" and by_model["houses"].check is not None
    assert by_model["flats"].status == "error" and "no predictions of 'flats'" in (by_model["flats"].error or "")
    assert result.failed and result.health is None
    records = {record.subject: record for record in served.metadata.monitor_records.latest("drift")}
    houses_record = records["houses"]
    assert houses_record.outputs["rows"] == 400 and houses_record.outputs["drifted"] is True
    assert houses_record.outputs["estimate"]["metrics"]["accuracy"] is not None
    assert houses_record.window_start is not None and houses_record.window_start <= (houses_record.window_end or 0)
    assert records["flats"].outputs == {"rows": 0, "error": by_model["flats"].error}
    assert [model["model"] for model in json.loads(json.dumps(result.to_dict()))["models"]] == ["flats", "houses"]


def test_the_window_must_be_bounded_somehow(served: Workspace) -> None:
    with pytest.raises(InvalidInput, match="window"):
        run_monitors(served, ["houses"], last=None)
    with pytest.raises(InvalidInput, match="period"):
        run_monitors(served, ["houses"], period=-5)


def test_server_health_is_summed_over_processes_and_alerts_on_the_error_rate(served: Workspace) -> None:
    records = served.metadata.monitor_records
    bounds = [0.01, 0.1, 1.0]
    for source, requests, errors in (("host:1:aa", 600, 3), ("host:2:bb", 400, 17)):
        counts = [requests * 0.5, requests * 0.99, requests]
        records.record(
            "server",
            "health",
            {
                "seconds": 60.0,
                "requests": requests,
                "client_errors": 0,
                "server_errors": errors,
                "latency_bounds": bounds,
                "latency_counts": counts,
            },
            source=source,
        )
    rule = AlertRule("server-errors", "server.error_rate", ">", 0.01, severity="critical", subjects=("server",))
    result = run_monitors(served, [], alerts=AlertConfig(rules=(rule,)))
    assert result.health is not None
    assert result.health["processes"] == 2 and result.health["requests"] == 1000
    assert result.health["error_rate"] == pytest.approx(0.02)
    assert result.health["requests_per_second"] == pytest.approx(1000 / 60)
    (outcome,) = result.alerts
    assert outcome.subject == "server" and outcome.breached is True
    (alert,) = served.metadata.alerts.list(status="open")
    assert alert.rule == "server-errors" and alert.last_value == pytest.approx(0.02)
    time.sleep(0.05)
    run_monitors(served, [], retention=0.01)  # the records are older than that: deleted
    assert served.metadata.monitor_records.latest("health") == []


def test_the_server_runs_the_monitor_and_every_process_exports_its_findings(served: Workspace, tmp_path: Path) -> None:
    log_traffic(served, shifted=True)
    with Receiver() as receiver:
        config = AlertConfig(
            rules=(AlertRule("drift", "drift.share", ">", 0.3, channels=("hook",), subjects=("houses",)),),
            channels={"hook": WebhookChannel(receiver.url())},
        )
        settings = ServerSettings(models=["houses"], monitor_interval=0.5, alerts=config)
        first, second = create_app(served, settings), create_app(served, settings)
        with TestClient(first) as one, TestClient(second) as two:
            deadline = time.monotonic() + 30
            found: list[dict[tuple[str, tuple[tuple[str, str], ...]], float]] = [{}, {}]
            while time.monotonic() < deadline:
                found = [gauges(one), gauges(two)]
                if all(("driftloop_monitor_drift_share", (("model", "houses"),)) in seen for seen in found):
                    break
                time.sleep(0.2)
            passes = [first.state.monitoring.monitor.runs, second.state.monitoring.monitor.runs]
            assert one.post("/invocations", json={"nothing": 1}).status_code == 400
            health = first.state.monitoring.record_health()
        assert receiver.requests, "the alert's webhook was not called"
    model = ("model", "houses")
    for seen in found:
        assert seen[("driftloop_monitor_drifted", (model,))] == 1.0
        assert seen[("driftloop_monitor_drift_share", (model,))] > 0.3
        assert seen[("driftloop_monitor_feature_drift", (("feature", "area"), ("method", "ks"), model))] > 0.1
        assert seen[("driftloop_monitor_estimated_performance", (("metric", "accuracy"), model))] > 0.5
        assert seen[("driftloop_monitor_rows", (model,))] == 400
    assert min(passes) == 0 < max(passes), "the monitor must run in exactly one of the two processes"
    assert health.outputs["client_errors"] >= 1 and health.outputs["requests"] >= 1
    assert health.source == first.state.monitoring.holder


def test_monitor_run_prints_each_model_and_exits_1_on_drift(served: Workspace, tmp_path: Path) -> None:
    log_traffic(served, shifted=True)
    result = invoke(served, "monitor", "run", "houses", "--last", "400", "--json")
    assert result.exit_code == 1, result.output
    payload = json.loads(result.output)
    assert payload["failed"] is True and payload["models"][0]["status"] == "drift"
    table = invoke(served, "monitor", "run", "houses", "--since", "1h")  # as wide as the terminal: cells may be cut
    assert table.exit_code == 1 and table.output.count("\n") >= 4
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - name: drift\n    metric: drift.share\n    operator: '>'\n    threshold: 0.3\n")
    alerted = invoke(served, "monitor", "run", "--alerts", str(rules))
    assert alerted.exit_code == 1 and "alert 1 (warning, open)" in alerted.output, alerted.output
    assert [alert.subject for alert in served.metadata.alerts.list()] == ["houses"]
    assert len(served.metadata.monitor_records.history("houses", "drift")) == 3
    bad = invoke(served, "monitor", "run", "houses", "--since", "soon")
    assert bad.exit_code != 0 and "soon" in str(bad.exception)


def test_server_settings_read_the_alert_rules_file_before_starting(tmp_path: Path) -> None:
    from driftloop.serving._server import server_options

    rules = tmp_path / "rules.yaml"
    rules.write_text("rules:\n  - {name: errors, metric: server.error_rate, operator: '>', threshold: 0.01}\n")
    settings = ServerSettings(models=["houses"], alerts=str(rules))
    assert isinstance(settings.alerts, AlertConfig) and settings.alerts.rules[0].metric == "server.error_rate"
    assert json.loads(json.dumps(server_options(["houses"], alerts=str(rules))))["alerts"] == str(rules)
    (tmp_path / "bad.yaml").write_text("rules:\n  - name: errors\n")
    with pytest.raises(InvalidInput):
        ServerSettings(models=["houses"], alerts=str(tmp_path / "bad.yaml"))
    with pytest.raises(InvalidInput):
        ServerSettings(models=["houses"], alerts=str(tmp_path / "missing.yaml"))
    with pytest.raises(InvalidInput, match="monitor_last"):
        ServerSettings(models=["houses"], monitor_last=0)
    with pytest.raises(InvalidInput, match="monitor_interval"):
        ServerSettings(models=["houses"], monitor_interval=-1)
