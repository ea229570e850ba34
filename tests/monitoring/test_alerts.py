"""Alert rules end to end: a SQLite store, a real HTTP receiver, de-duplication, cooldown, ack, recovery."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from tests.monitoring.test_channels import Receiver
from typer.testing import CliRunner

from driftloop import Workspace
from driftloop.cli._app import app
from driftloop.errors import InvalidInput
from driftloop.monitoring._alerts import AlertConfig, AlertEngine, AlertRule, read_metric
from driftloop.monitoring._channels import LogFileChannel, RetryPolicy, SlackChannel, WebhookChannel
from driftloop.store.metadata import MetadataStore


@pytest.fixture
def store(tmp_path: Path) -> Iterator[MetadataStore]:
    store = MetadataStore(f"sqlite:///{tmp_path / 'meta.db'}")
    store.open()
    yield store
    store.close()


def output(share: float | None = 0.5, error_rate: float = 0.0) -> dict[str, Any]:
    return {
        "drift": {"share": share, "features": [{"column": "area", "statistic": 0.4, "drifted": True}]},
        "server": {"error_rate": error_rate, "p99_ms": 120.0},
    }


def engine(store: MetadataStore, receiver: Receiver, *rules: AlertRule, attempts: int = 3) -> AlertEngine:
    return AlertEngine(
        store.alerts,
        rules,
        {"hook": WebhookChannel(receiver.url()), "slack": SlackChannel(receiver.url("/slack"))},
        retry=RetryPolicy(attempts=attempts, backoff=0.01),
        sleep=lambda _: None,
    )


def drift_rule(**options: Any) -> AlertRule:
    return AlertRule("drift-share", "drift.share", ">", 0.3, severity="critical", channels=("hook",), **options)


def test_read_metric_follows_dotted_paths() -> None:
    data = output()
    assert read_metric(data, "drift.share") == 0.5
    assert read_metric(data, "drift.features.area.statistic") == 0.4
    assert read_metric(data, "drift.features.0.drifted") == 1.0
    assert read_metric(data, "server.p99_ms") == 120.0
    assert read_metric(data, "drift.features.price.statistic") is None
    assert read_metric(data, "estimate.metrics.mae") is None
    assert read_metric(output(share=None), "drift.share") is None
    assert read_metric({"x": float("nan")}, "x") is None
    with pytest.raises(InvalidInput, match=r"'drift\.features' must be a number; the output holds list"):
        read_metric(data, "drift.features")


def test_two_breaching_windows_make_one_alert_with_count_two(store: MetadataStore) -> None:
    with Receiver() as receiver:
        alerts = engine(store, receiver, drift_rule(cooldown=3600))
        [first] = alerts.evaluate({"houses": output(0.5)}, at=1000.0)
        [second] = alerts.evaluate({"houses": output(0.6)}, at=1060.0)
    assert first.observation is not None and first.observation.change == "opened"
    assert second.observation is not None and second.observation.change == "updated"
    [alert] = store.alerts.list()
    assert (alert.count, alert.last_value, alert.status, alert.severity) == (2, 0.6, "open", "critical")
    assert alert.message == "drift.share = 0.6, alert when > 0.3"
    assert alert.evidence["condition"] == "drift.share > 0.3"
    assert len(receiver.requests) == 1  # the second window is within the cooldown
    assert [d.ok for d in store.alerts.deliveries(alert.id)] == [True]


def test_for_windows_three_needs_three_in_a_row(store: MetadataStore) -> None:
    with Receiver() as receiver:
        alerts = engine(store, receiver, drift_rule(for_windows=3))
        changes = [
            alerts.evaluate({"houses": output(share)}, at=float(i))[0].observation.change  # type: ignore[union-attr]
            for i, share in enumerate([0.5, 0.5, 0.1, 0.5, 0.5, 0.5])
        ]
    assert changes == ["pending", "pending", "ok", "pending", "pending", "opened"]
    assert len(receiver.requests) == 1 and store.alerts.list()[0].count == 3


def test_cooldown_then_repeat_ack_silences_and_recovery_resolves(store: MetadataStore) -> None:
    with Receiver() as receiver:
        alerts = engine(store, receiver, drift_rule(cooldown=600, resolve_windows=2))
        alerts.evaluate({"houses": output()}, at=0.0)
        alerts.evaluate({"houses": output()}, at=300.0)  # within cooldown: silent
        alerts.evaluate({"houses": output()}, at=600.0)  # cooldown over: repeated
        assert [r["json"]["kind"] for r in receiver.requests] == ["opened", "repeated"]
        [alert] = store.alerts.list()
        store.alerts.acknowledge(alert.id, by="ana")
        alerts.evaluate({"houses": output()}, at=1500.0)  # acknowledged: silent
        assert len(receiver.requests) == 2
        alerts.evaluate({"houses": output(0.1)}, at=1600.0)
        [outcome] = alerts.evaluate({"houses": output(0.1)}, at=1700.0)
        assert outcome.observation is not None and outcome.observation.change == "resolved"
        assert [r["json"]["kind"] for r in receiver.requests] == ["opened", "repeated", "resolved"]
        reopened = alerts.evaluate({"houses": output(0.9)}, at=1800.0)[0]
    assert reopened.observation is not None and reopened.observation.change == "opened"
    assert [a.status for a in store.alerts.list()] == ["open", "resolved"]
    assert len(receiver.requests) == 4


def test_retries_are_recorded_and_a_dead_channel_leaves_the_alert_open(store: MetadataStore) -> None:
    server_rule = AlertRule("errors", "server.error_rate", ">=", 0.05, channels=("hook", "slack"))
    with Receiver([500, 500, 200, 503, 503, 503]) as receiver:
        alerts = engine(store, receiver, server_rule)
        [outcome] = alerts.evaluate({"server": output(error_rate=0.2)}, at=10.0)
    hook, slack = outcome.deliveries
    assert (hook.ok, hook.attempts) == (True, 3)
    assert (slack.ok, slack.attempts) == (False, 3) and "HTTP 503" in str(slack.error)
    [alert] = store.alerts.list()
    assert alert.status == "open" and alert.subject == "server"
    rows = [(d.channel, d.attempt, d.ok) for d in store.alerts.deliveries(alert.id)]
    assert rows == [
        ("hook", 1, False),
        ("hook", 2, False),
        ("hook", 3, True),
        ("slack", 1, False),
        ("slack", 2, False),
        ("slack", 3, False),
    ]
    assert outcome.to_dict()["deliveries"][1]["ok"] is False


def test_rules_apply_per_subject_and_skip_missing_metrics(store: MetadataStore, tmp_path: Path) -> None:
    log = tmp_path / "alerts.jsonl"
    rules = [
        AlertRule("drift-share", "drift.share", ">", 0.3, channels=("log",), subjects=("houses",)),
        AlertRule("mae", "estimate.metrics.mae", ">", 10.0, channels=("log",)),
    ]
    alerts = AlertEngine(store.alerts, rules, {"log": LogFileChannel(log)})
    outcomes = alerts.evaluate({"houses": output(), "cars": output(), "bikes": {"estimate": {"metrics": {"mae": 12}}}})
    summary = [(o.rule, o.subject, o.value, o.breached) for o in outcomes]
    assert summary == [
        ("drift-share", "houses", 0.5, True),
        ("mae", "houses", None, None),
        ("mae", "cars", None, None),
        ("mae", "bikes", 12.0, True),
    ]
    assert sorted(json.loads(line)["alert"]["subject"] for line in log.read_text().splitlines()) == ["bikes", "houses"]


def test_rules_and_channels_from_yaml(store: MetadataStore, tmp_path: Path) -> None:
    (tmp_path / "alerts.yaml").write_text(
        f"""
channels:
  audit: {{type: log, path: {tmp_path / "alerts.jsonl"}}}
rules:
  - name: p99
    metric: server.p99_ms
    operator: ">"
    threshold: 100
    severity: warning
    for_windows: 2
    cooldown: 60
    channels: [audit]
    message: "p99 of {{subject}} is {{value:.0f}} ms"
"""
    )
    config = AlertConfig.from_yaml(tmp_path / "alerts.yaml")
    [rule] = config.rules
    assert (rule.for_windows, rule.windows_to_resolve, rule.channels) == (2, 2, ("audit",))
    alerts = AlertEngine.from_config(store.alerts, config)
    alerts.evaluate({"api": output()}, at=1.0)
    alerts.evaluate({"api": output()}, at=2.0)
    [alert] = store.alerts.list()
    assert alert.message == "p99 of api is 120 ms"


def test_bad_rules_are_refused_with_clear_messages(store: MetadataStore) -> None:
    with pytest.raises(InvalidInput, match="operator of alert rule 'x' must be one of"):
        AlertRule("x", "a.b", "==", 1.0)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="dotted path"):
        AlertRule("x", "a..b", ">", 1.0)
    with pytest.raises(InvalidInput, match="for_windows"):
        AlertRule("x", "a", ">", 1.0, for_windows=0)
    with pytest.raises(InvalidInput, match=r"threshold .* finite"):
        AlertRule("x", "a", ">", float("inf"))
    with pytest.raises(InvalidInput, match="unknown settings \\['thresold'\\]"):
        AlertRule.from_dict({"name": "x", "metric": "a", "operator": ">", "thresold": 1})
    with pytest.raises(InvalidInput, match="unknown channels \\['pager'\\]"):
        AlertEngine(store.alerts, [AlertRule("x", "a", ">", 1.0, channels=("pager",))])
    with pytest.raises(InvalidInput, match="unique"):
        AlertEngine(store.alerts, [AlertRule("x", "a", ">", 1.0), AlertRule("x", "b", ">", 1.0)])


def invoke(ws: Workspace, *args: str) -> Any:
    return CliRunner().invoke(app, ["--root", ws.settings.root, *args], env={"COLUMNS": "200"})


def test_cli_lists_acknowledges_and_resolves(sqlite_workspace: Workspace) -> None:
    repository = sqlite_workspace.metadata.alerts
    alert = repository.observe("drift-share", "houses", value=0.5, breached=True, message="drift!").alert
    assert alert is not None
    listed = invoke(sqlite_workspace, "alerts", "list")
    assert listed.exit_code == 0, listed.output
    # The table's width follows the terminal the process started with; its content is checked as JSON.
    listed_json = json.loads(invoke(sqlite_workspace, "alerts", "list", "--json").output)
    assert [(a["rule"], a["message"]) for a in listed_json] == [("drift-share", "drift!")]
    acked = invoke(sqlite_workspace, "alerts", "ack", str(alert.id), "--by", "ana")
    assert acked.exit_code == 0 and "acknowledged by ana" in acked.output
    as_json = json.loads(invoke(sqlite_workspace, "alerts", "list", "--status", "acknowledged", "--json").output)
    assert [a["id"] for a in as_json] == [alert.id] and as_json[0]["acked_by"] == "ana"
    resolved = invoke(sqlite_workspace, "alerts", "resolve", str(alert.id))
    assert resolved.exit_code == 0 and "resolved by" in resolved.output
    assert json.loads(invoke(sqlite_workspace, "alerts", "list", "--status", "open", "--json").output) == []
    shown = json.loads(invoke(sqlite_workspace, "alerts", "show", str(alert.id), "--json").output)
    assert shown["status"] == "resolved" and shown["deliveries"] == []
    missing = invoke(sqlite_workspace, "alerts", "ack", "999")
    assert missing.exit_code != 0 and "No alert with id 999" in str(missing.exception)
    again = invoke(sqlite_workspace, "alerts", "resolve", str(alert.id))
    assert again.exit_code != 0 and "resolved already" in str(again.exception)
    bad = invoke(sqlite_workspace, "alerts", "list", "--status", "closed")
    assert bad.exit_code == 2
