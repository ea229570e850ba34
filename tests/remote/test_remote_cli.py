"""The command line against a workspace server: ``DRIFTLOOP_STORE=http://...`` and ``DRIFTLOOP_TOKEN`` make the same
commands work through it, as the token's user."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from tests.conftest import remote_workspace, stores_of

from driftloop import Workspace


def cli(ws: Workspace, *args: str, token: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {
        **{key: value for key, value in os.environ.items() if not key.startswith("DRIFTLOOP_")},
        "DRIFTLOOP_STORE": ws.server.url,
        "DRIFTLOOP_TOKEN": token if token is not None else str(ws.settings.token),
        "COLUMNS": "200",
    }
    return subprocess.run(
        [sys.executable, "-m", "driftloop", *args], capture_output=True, text=True, env=env, timeout=120
    )


def test_the_same_commands_work_through_the_server(tmp_path: Path) -> None:
    data = tmp_path / "houses.csv"
    pd.DataFrame({"area": [50.0, 72.5, 90.0], "district": ["a", "b", "a"]}).to_csv(data, index=False)
    with remote_workspace(tmp_path, actor="ana") as ws:
        with ws.start_run("price", name="first") as run:
            run.log_metric("rmse", 2.5)
        ingested = cli(ws, "data", "ingest", "houses", "--source", str(data), "--json")
        assert ingested.returncode == 0, ingested.stderr
        assert json.loads(ingested.stdout)["rows"] == 3
        versions = json.loads(cli(ws, "data", "versions", "houses", "--json").stdout)
        assert [version["number"] for version in versions] == [1]
        runs = json.loads(cli(ws, "runs", "list", "-e", "price", "--json").stdout)
        assert [found["id"] for found in runs] == [run.id]
        audit = json.loads(cli(ws, "audit", "--actor", "ana", "--json").stdout)
        assert {"run.start", "dataset.version"} <= {event["action"] for event in audit}
        # The server recorded the token's user, with the file's name, as the version's origin.
        (version,) = stores_of(ws).datasets.versions("houses")
        assert "'houses.csv' by ana from 127.0.0.1" in version.source


def test_a_wrong_token_fails_the_command_in_one_line(tmp_path: Path) -> None:
    with remote_workspace(tmp_path) as ws:
        secret = "dl_0123456789abcdef_" + "q" * 43
        refused = cli(ws, "experiments", "list", token=secret)
    assert refused.returncode != 0
    assert "token" in refused.stderr.lower() and "Traceback" not in refused.stderr
    assert "q" * 43 not in refused.stderr + refused.stdout


def test_users_tokens_grants_alerts_and_loop_actions_through_the_server(tmp_path: Path) -> None:
    with remote_workspace(tmp_path, actor="root") as ws:
        created = cli(ws, "users", "create", "ana", "--role", "editor")
        assert created.returncode == 0, created.stderr
        token = cli(ws, "tokens", "create", "ana", "--json")
        assert token.returncode == 0, token.stderr
        secret = json.loads(token.stdout)["token"]
        granted = cli(ws, "grants", "add", "ana", "deployer", "--scope", "model:houses")
        assert granted.returncode == 0, granted.stderr
        grants = json.loads(cli(ws, "grants", "list", "--json").stdout)
        assert {(grant["user"], grant["role"], grant["scope"]) for grant in grants} >= {
            ("ana", "editor", "workspace"),
            ("ana", "deployer", "model:houses"),
        }
        assert json.loads(cli(ws, "alerts", "list", "--json").stdout) == []
        assert json.loads(cli(ws, "loop", "actions", "--json").stdout) == []
        # ana's token is an editor's: she may not manage users.
        refused = cli(ws, "users", "list", token=secret)
        assert refused.returncode != 0 and "admin" in refused.stderr and secret not in refused.stderr
        events = stores_of(ws).events.list(object_type="user")
        assert {(event.actor, event.action) for event in events} >= {("root", "user.create"), ("root", "grant.set")}


def test_monitor_check_runs_on_the_server_next_to_its_prediction_log(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient
    from tests.monitoring.test_live import send
    from tests.serving.test_app import classifier, houses

    from driftloop.entities import Role
    from driftloop.serving import ServerSettings, create_app

    with remote_workspace(tmp_path, actor="root") as ws:
        behind = stores_of(ws)
        data = houses(2_000)
        behind.models.register(
            "houses", classifier(data), target="expensive", holdout=data.tail(500), training_data=data.head(1_500)
        )
        behind.models.promote("houses/1")
        empty = cli(ws, "monitor", "check", "houses")
        assert empty.returncode != 0 and "no predictions" in empty.stderr, empty.stderr
        with TestClient(create_app(behind, ServerSettings(models=["houses"]))) as scoring:
            send(scoring, houses(500, seed=9).assign(area=lambda f: f["area"] * 1.6))
        behind.metadata.identities.create_user("ci", role=Role.VIEWER, actor="setup")
        _, viewer = behind.metadata.identities.create_token("ci", None, actor="setup")

        drifted = cli(ws, "monitor", "check", "houses@champion", "--last", "500", token=viewer)
        assert drifted.returncode == 1, drifted.stderr  # drift fails the check, as where the workspace is
        assert "houses/1: 500 predictions" in drifted.stdout and "training profile" in drifted.stdout
        assert "area" in drifted.stdout and "of the features drifted" in drifted.stdout
        found = json.loads(cli(ws, "monitor", "check", "houses/1", "--since", "1h", "--json", token=viewer).stdout)
        assert found["window"]["rows"] == 500 and found["drifted"] is True
        assert [f["column"] for f in found["report"]["features"] if f["drifted"]] == ["area"]
        exact = json.loads(cli(ws, "monitor", "check", "houses", "--against", "holdout", "--json").stdout)
        assert exact["reference"] == "holdout" and exact["reference_rows"] == 500
        rules = tmp_path / "alerts.yaml"
        rules.write_text("rules:\n  - {name: any-drift, metric: drifted, operator: '>=', threshold: 1}\n")
        refused = cli(ws, "monitor", "check", "houses", "--alerts", str(rules))
        assert refused.returncode != 0 and "where the workspace is" in refused.stderr
        missing = cli(ws, "monitor", "check", "flats", token=viewer)
        assert missing.returncode != 0 and "flats" in missing.stderr and "Traceback" not in missing.stderr

        # The drift report is made on the server, next to the log, and written here.
        page, data = tmp_path / "report.html", tmp_path / "report.json"
        args = ("monitor", "report", "--model", "houses", "--last", "500", "-o", str(page), "--json", str(data))
        reported = cli(ws, *args, token=viewer)
        assert reported.returncode == 0, reported.stderr
        text = page.read_text()
        assert text.startswith("<!DOCTYPE html>") and "Drift of houses/1: 500 predictions" in text
        written = json.loads(data.read_text())
        assert written["title"].startswith("Drift of houses/1") and len(written["history"]) == 4
        assert [f["column"] for f in written["drift"]["features"] if f["drifted"]] == ["area"]
        page_only = ws.server.request("GET", "/models/houses/report", params={"last": 500}).text
        assert page_only.startswith("<!DOCTYPE html>") and "Drift of houses/1: 500 predictions" in page_only
        nowhere = cli(ws, "monitor", "report", "--model", "flats", "-o", str(tmp_path / "flats.html"), token=viewer)
        assert nowhere.returncode != 0 and "flats" in nowhere.stderr and not (tmp_path / "flats.html").exists()

        # A monitor pass runs on the server too (a deployer's): the findings are recorded there.
        denied = cli(ws, "monitor", "run", token=viewer)
        assert denied.returncode != 0 and "deployer" in denied.stderr
        passed = cli(ws, "monitor", "run", "--last", "500", "--json")
        assert passed.returncode == 1, passed.stderr  # drift fails the pass, as where the workspace is
        found = json.loads(passed.stdout)
        assert [(m["model"], m["status"], m["rows"]) for m in found["models"]] == [("houses", "drift", 500)]
        (record,) = behind.metadata.monitor_records.history("houses", "drift", limit=5)
        assert record.outputs["rows"] == 500 and record.outputs["drifted"] is True
        table = cli(ws, "monitor", "run", "houses", "flats", "--last", "500")
        assert table.returncode == 1 and "drift" in table.stdout and "flats" in table.stdout


def test_a_live_check_in_python_on_a_remote_workspace_points_to_the_server(tmp_path: Path) -> None:
    from driftloop.errors import InvalidState
    from driftloop.monitoring._live import check_live_drift

    with remote_workspace(tmp_path) as ws, pytest.raises(InvalidState, match="/models/<name>/drift"):
        check_live_drift(ws, "houses")


@pytest.mark.parametrize(
    ("command", "name", "instead"),
    [
        ("serve houses", "serve", "driftloop server --serve MODEL"),
        ("loop run loop.yaml", "loop run FILE", "driftloop policies set FILE"),
        ("loop run --alerts alerts.yaml", "loop run --alerts", "driftloop alerts list"),
        ("monitor run --alerts alerts.yaml", "monitor run --alerts", "driftloop serve --alerts"),
        ("monitor run --every 5m", "monitor run --every", "driftloop server --serve MODEL"),
        ("db upgrade", "db upgrade", "ask its admin"),
    ],
)
def test_the_workspace_jobs_say_where_they_run(
    command: str, name: str, instead: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from typer.testing import CliRunner

    from driftloop.cli import app
    from driftloop.errors import InvalidState

    monkeypatch.chdir(tmp_path)
    # Nothing listens there: the command is refused before it sends a request.
    env = {"DRIFTLOOP_STORE": "http://ana:secret@127.0.0.1:9", "DRIFTLOOP_TOKEN": "dl_x_" + "y" * 43}
    result = CliRunner().invoke(app, command.split(), env=env)
    assert result.exit_code == 1 and isinstance(result.exception, InvalidState), result.output
    assert result.exception.message.startswith(f"`driftloop {name}` runs where the workspace is")
    assert instead in result.exception.message and "secret" not in result.exception.message


def test_batch_scoring_through_a_server_logs_its_rows_on_the_server(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    from driftloop.entities import Role
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.store.tables import TableStore

    frame = pd.DataFrame({"listing": ["a", "b", "c"], "area": [50.0, 80.0, 120.0], "price": [150.0, 240.0, 360.0]})
    rows = tmp_path / "rows.csv"
    frame[["listing", "area"]].to_csv(rows, index=False)
    with remote_workspace(tmp_path) as ws:
        behind = stores_of(ws)
        behind.models.register("houses", LinearRegression().fit(frame[["area"]], frame["price"]), target="price")
        behind.models.promote("houses/1")
        behind.metadata.identities.create_user("vic", role=Role.VIEWER, actor="setup")
        _, viewer = behind.metadata.identities.create_token("vic", None, actor="setup")
        out = tmp_path / "out.parquet"
        args = ("predict", "houses", "--input", str(rows), "--output", str(out), "--id-column", "listing")
        refused = cli(ws, *args, "--log", token=viewer)
        assert refused.returncode != 0 and "editor" in refused.stderr and not out.exists()
        scored = cli(ws, *args, "--log")
        assert scored.returncode == 0, scored.stderr
        assert pd.read_parquet(out)["prediction"].round(6).tolist() == [150.0, 240.0, 360.0]
        log = PredictionLog(TableStore(behind.settings.tables_url))
        logged = log.read("houses").to_pylist()
        assert sorted(row["request_id"] for row in logged) == ["a", "b", "c"]
        assert {(row["served_by"], row["protocol"], row["version"]) for row in logged} == {("batch", "batch", 1)}


def test_rows_a_client_logs_must_be_a_batch_scoring_s_of_the_model(tmp_path: Path) -> None:
    import io

    import httpx
    import pyarrow as pa
    from sklearn.linear_model import LinearRegression

    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.serving._prediction_records import PREDICTION_SCHEMA, RequestRows, encode_predictions
    from driftloop.store.tables import TableStore

    def stream(**changes: object) -> bytes:
        fields = {"model": "houses", "version": 1, "served_by": "batch", "protocol": "batch", "ids": ["r1", "r2"]}
        fields.update(changes)
        rows = RequestRows(
            fields["ids"], datetime(2099, 1, 1, tzinfo=UTC), fields["model"], fields["version"], {"area": [50.0, 80.0]},
            [150.0, 240.0], None, None, None, 1.0, fields["served_by"], fields["protocol"],
        )  # fmt: skip
        sink = io.BytesIO()
        with pa.ipc.new_stream(sink, PREDICTION_SCHEMA) as writer:
            writer.write_batch(encode_predictions([rows]))
        return sink.getvalue()

    frame = pd.DataFrame({"area": [50.0, 80.0, 120.0], "price": [150.0, 240.0, 360.0]})
    with remote_workspace(tmp_path) as ws:
        behind = stores_of(ws)
        behind.models.register("houses", LinearRegression().fit(frame[["area"]], frame["price"]))
        headers = {"Authorization": f"Bearer {ws.settings.token}"}
        with httpx.Client(base_url=f"{ws.server.url}/api/v1/models", headers=headers) as http:
            for body, message in (
                (stream(served_by="champion"), "served_by must be 'batch'"),
                (stream(protocol="native"), "protocol must be 'batch'"),
                (stream(model="flats"), "model must be 'houses'"),
                (stream(version=7), "no version 7"),
                (stream(ids=["r1", ""]), "needs a request id"),
                (stream(ids=["r1", "r1"]), "a request id of its own"),
                (b"not arrow", "Arrow IPC stream"),
                (stream()[:-40], "breaks off or is damaged"),
            ):
                answer = http.post("/houses/predictions", content=body)
                assert answer.status_code == 400 and message in answer.json()["error"]["message"], answer.text
            assert http.post("/flats/predictions", content=stream()).status_code == 404
            assert PredictionLog(TableStore(behind.settings.tables_url)).read("houses").num_rows == 0
            answer = http.post("/houses/predictions", content=stream())
            assert answer.status_code == 200 and answer.json() == {"rows": 2}
            # Dated by the server when it took them, not by the client (which said 2099).
            (logged,) = {
                row["at"].year for row in PredictionLog(TableStore(behind.settings.tables_url)).read().to_pylist()
            }
            assert logged == datetime.now(UTC).year
            again = http.post("/houses/predictions", content=stream(ids=["r3", "r1"]))
            assert again.status_code == 400 and "in the prediction log already (such as 'r1')" in again.text
            assert PredictionLog(TableStore(behind.settings.tables_url)).read("houses").num_rows == 2


def test_a_deployer_changes_traffic_through_the_server_and_an_editor_cannot(tmp_path: Path) -> None:
    from sklearn.linear_model import LinearRegression

    from driftloop.entities import Role, TrafficPolicy

    frame = pd.DataFrame({"area": [50.0, 72.5, 90.0, 120.0], "price": [150.0, 220.0, 270.0, 360.0]})
    with remote_workspace(tmp_path) as ws:
        behind = stores_of(ws)
        behind.models.register("houses", LinearRegression().fit(frame[["area"]], frame["price"]))
        identities = behind.metadata.identities
        tokens = {}
        for user, role in (("eve", Role.EDITOR), ("dan", Role.DEPLOYER)):
            identities.create_user(user, role=role, actor="setup")
            tokens[user] = identities.create_token(user, None, actor="setup")[1]
        refused = cli(ws, "models", "traffic", "houses", "--canary", "0.2", token=tokens["eve"])
        assert refused.returncode != 0 and "deployer" in refused.stderr and "Traceback" not in refused.stderr
        assert behind.models.traffic("houses").updated_at is None
        changed = cli(ws, "models", "traffic", "houses", "--canary", "0.2", "-m", "canary", token=tokens["dan"])
        assert changed.returncode == 0, changed.stderr
        assert "20% canary to @challenger" in changed.stdout
        stored = behind.models.traffic("houses")
        assert stored.policy == TrafficPolicy(canary=0.2) and stored.updated_by == "dan"
        shown = json.loads(cli(ws, "models", "traffic", "houses", "--json", token=tokens["eve"]).stdout)
        assert shown["policy"]["canary"] == 0.2 and shown["reason"] == "canary"


def test_an_admin_collects_garbage_through_the_server(tmp_path: Path) -> None:
    from driftloop.entities import Role

    with remote_workspace(tmp_path, actor="root") as ws:
        behind = stores_of(ws)
        orphan = behind.blobs.put(b"uploaded, never registered")
        with ws.start_run("price") as run:
            run.log_metric("rmse", 1.0)
        ws.tracking.delete_run(run.id)
        behind.metadata.identities.create_user("dan", role=Role.DEPLOYER, actor="setup")
        _, deployer = behind.metadata.identities.create_token("dan", None, actor="setup")
        refused = cli(ws, "gc", token=deployer)
        assert refused.returncode != 0 and "admin" in refused.stderr
        too_eager = cli(ws, "gc", "--grace-period", "0")
        assert too_eager.returncode != 0 and "grace_period" in too_eager.stderr
        dry = json.loads(cli(ws, "gc", "--grace-period", "60", "--dry-run", "--json").stdout)
        assert dry["dry_run"] and dry["runs_purged"] == 1 and dry["blobs_removed"] == 0  # the orphan is too young
        assert behind.blobs.exists(orphan)
        report = ws.gc(grace_period=60)
        assert report.runs_purged == 1 and not report.dry_run
        (event,) = behind.events.list(action="workspace.gc")
        assert event.actor == "root" and event.details["from"] == "127.0.0.1"


def test_db_current_through_the_server_names_its_revision_and_any_skew(tmp_path: Path) -> None:
    from driftloop.store.metadata import Database

    with remote_workspace(tmp_path) as ws:
        shown = cli(ws, "db", "current")
        newest = Database.newest_revision()
        assert shown.returncode == 0, shown.stderr
        assert f"revision {newest}; newest it knows {newest} (up to date)." in shown.stdout.replace("\n", "")
        assert ws.server.get("/schema")["revision"] == newest
        upgrade = cli(ws, "db", "upgrade")
        assert upgrade.returncode != 0 and "ask its admin" in upgrade.stderr
