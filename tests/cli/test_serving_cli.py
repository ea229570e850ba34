"""``driftloop serve`` and ``driftloop predict`` flags: traffic policies, the prediction log and their mistakes.

``serve`` is run up to the point where uvicorn would start worker processes (``uvicorn.run`` is replaced by a
recorder); the application is then built from the options the workers would read, as they build it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import uvicorn
from fastapi.testclient import TestClient
from sklearn.linear_model import Ridge
from typer.testing import CliRunner, Result

from driftloop import Workspace
from driftloop.cli import app
from driftloop.errors import InvalidInput
from driftloop.serving import LabelStore, PredictionLog, ServerSettings, TrafficPolicy, create_app
from driftloop.serving._server import MODELS_VARIABLE, server_options
from driftloop.store.tables import TableStore

FRAME = pd.DataFrame({"area": np.linspace(30, 200, 40), "rooms": np.tile([1.0, 2.0, 3.0, 4.0], 10)})
ROW = {"area": 100.0, "rooms": 2.0}


@pytest.fixture
def registry(sqlite_workspace: Workspace) -> Workspace:
    """houses: version 1 (slope 1) is the champion, version 2 (slope 2) is aliased blue."""
    for slope in (1.0, 2.0):
        sqlite_workspace.models.register("houses", Ridge().fit(FRAME, slope * FRAME["area"]), signature=FRAME)
    sqlite_workspace.models.set_alias("houses", "champion", 1)
    sqlite_workspace.models.set_alias("houses", "blue", 2)
    return sqlite_workspace


@pytest.fixture
def launches(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[dict[str, Any]]]:
    """Each call ``serve`` makes to start uvicorn, recorded instead of made; the environment is restored after."""
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: calls.append({"app": app, **options}))
    saved = dict(os.environ)
    os.environ.pop(MODELS_VARIABLE, None)
    yield calls
    os.environ.clear()
    os.environ.update(saved)


def invoke(ws: Workspace, *args: str) -> Result:
    return CliRunner().invoke(app, ["--root", ws.settings.root, *args], env={"COLUMNS": "200"})


def test_serve_passes_traffic_and_limits_to_the_workers(registry: Workspace, launches: list[dict[str, Any]]) -> None:
    result = invoke(
        registry,
        "serve",
        "houses",
        "--port",
        "8123",
        "--canary",
        "houses=1",
        "--challenger",
        "houses=blue",
        "--shadow",
        "houses",
        "--max-body-mb",
        "0.5",
    )
    assert result.exit_code == 0, result.output
    assert [(call["app"], call["port"], call["factory"]) for call in launches] == [
        ("driftloop.serving._server:app_from_environment", 8123, True)
    ]
    options = json.loads(os.environ[MODELS_VARIABLE])
    assert options == {
        "models": ["houses"],
        "log_predictions": True,
        "traffic": {"houses": {"canary": 1.0, "shadow": True, "challenger": "blue"}},
        "max_body_bytes": 512 * 1024,
        "upkeep_interval": 300.0,
        "monitor_interval": 300.0,
        "monitor_last": 1_000,
        "loop_interval": 60.0,
        "out_of_range": "flag",
    }
    served = create_app(registry, ServerSettings(**options))
    with TestClient(served) as client:
        answer = client.post("/v1/models/houses/predict", json={"records": [ROW]})
        assert answer.status_code == 200 and answer.json()["version"] == 2  # the whole canary share: blue
        too_big = client.post(
            "/invocations", content=b" " * (512 * 1024 + 1), headers={"content-type": "application/json"}
        )
        assert too_big.status_code == 413
        log = served.state.prediction_log
        log.flush()
        assert [(row["served_by"], row["version"]) for row in log.read("houses").to_pylist()] == [("canary", 2)]


def test_serve_without_flags_and_with_no_log(registry: Workspace, launches: list[dict[str, Any]]) -> None:
    assert invoke(registry, "serve", "houses").exit_code == 0
    options = json.loads(os.environ[MODELS_VARIABLE])
    assert options["traffic"] == {} and options["log_predictions"] is True and "max_body_bytes" not in options
    result = invoke(registry, "serve", "houses", "--no-log", "--shadow", "houses")
    assert result.exit_code == 0, result.output
    options = json.loads(os.environ[MODELS_VARIABLE])
    assert options["log_predictions"] is False
    assert options["traffic"] == {"houses": {"canary": 0.0, "shadow": True, "challenger": "challenger"}}
    assert invoke(registry, "serve", "houses", "--out-of-range", "missing").exit_code == 0
    assert json.loads(os.environ[MODELS_VARIABLE])["out_of_range"] == "missing"
    served = create_app(registry, ServerSettings(**options))
    with TestClient(served) as client:
        assert client.post("/v1/models/houses/predict", json={"records": [ROW]}).json()["version"] == 1
        feedback = client.post("/v1/feedback", json={"labels": [{"request_id": "r1", "label": 1.0}]})
        assert feedback.status_code == 404 and "no prediction log" in feedback.json()["error"]["message"]
    assert served.state.prediction_log is None


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--canary", "houses"], "--canary takes NAME=SHARE, e.g. --canary houses=0.1; got 'houses'"),
        (["--canary", "houses="], "--canary takes NAME=SHARE"),
        (["--canary", "houses=lots"], "The share of --canary houses=lots must be a number in [0, 1]; got 'lots'"),
        (["--canary", "houses=1.5"], "--canary houses=1.5 must be a number in [0, 1]"),
        (["--canary", "houses=-0.1"], "--canary houses=-0.1 must be a number in [0, 1]"),
        (["--canary", "houses=nan"], "--canary houses=nan must be a number in [0, 1]"),
        (["--canary", "flats=0.1"], "--canary flats=0.1 names 'flats', which is not served; served: houses"),
        (["--canary", "houses=0.1", "--canary", "houses=0.2"], "--canary names 'houses' more than once"),
        (["--shadow", "flats"], "--shadow flats names 'flats', which is not served"),
        (["--challenger", "houses"], "--challenger takes NAME=ALIAS, e.g. --challenger houses=challenger"),
        (["--challenger", "houses=a/b", "--shadow", "houses"], "--challenger houses=a/b: The alias name 'a/b'"),
        (["--challenger", "flats=blue"], "--challenger flats=blue names 'flats', which is not served"),
        (["--challenger", "houses=blue"], "--challenger houses=blue does nothing without --canary houses=SHARE"),
        (["--max-body-mb", "0"], "--max-body-mb must be a number of MiB above 0; got 0"),
        (["--out-of-range", "clip"], "The 'out_of_range' must be one of flag, missing; got 'clip'"),
    ],
)
def test_bad_serve_flags_fail_before_anything_starts(
    registry: Workspace, launches: list[dict[str, Any]], flags: list[str], message: str
) -> None:
    result = invoke(registry, "serve", "houses", *flags)
    assert result.exit_code == 1
    assert isinstance(result.exception, InvalidInput) and message in result.exception.message
    assert launches == [] and MODELS_VARIABLE not in os.environ


def test_a_bad_serve_flag_is_one_line_from_the_real_command(registry: Workspace) -> None:
    env = {**os.environ, "DRIFTLOOP_ROOT": registry.settings.root, "COLUMNS": "200"}
    done = subprocess.run(
        [sys.executable, "-m", "driftloop", "serve", "houses", "--canary", "houses=2"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 1 and "Traceback" not in done.stderr
    assert done.stderr.startswith("error:") and "--canary houses=2 must be a number in [0, 1]" in done.stderr
    assert "Uvicorn running" not in done.stderr + done.stdout
    wrong_type = subprocess.run(
        [sys.executable, "-m", "driftloop", "serve", "houses", "--max-body-mb", "big"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert wrong_type.returncode == 2 and "--max-body-mb" in wrong_type.stderr


def test_server_options_are_plain_json_and_checked() -> None:
    options = server_options(
        ["houses", "flats@staging"],
        default="flats",
        traffic={"houses": TrafficPolicy(canary=0.2, challenger="blue"), "flats": {"shadow": True}},
        max_body_bytes=1024,
    )
    assert json.loads(json.dumps(options)) == options
    assert options["traffic"] == {
        "houses": {"canary": 0.2, "shadow": False, "challenger": "blue"},
        "flats": {"canary": 0.0, "shadow": True, "challenger": "challenger"},
    }
    mistakes: list[tuple[dict[str, Any], str]] = [
        ({"models": ["houses"], "traffic": {"flats": {"canary": 0.1}}}, "names 'flats', which is not served"),
        ({"models": ["houses"], "traffic": {"houses": {"canary": 2}}}, r"canary share must be a number in \[0, 1\]"),
        ({"models": ["houses/3"]}, "not a fixed version"),
        ({"models": ["houses", "houses@blue"]}, "listed twice"),
        ({"models": ["houses"], "default": "flats"}, "default model 'flats' is not one of the served models"),
        ({"models": ["houses"], "max_body_bytes": 0}, "'max_body_bytes' must be a whole number of bytes >= 1"),
        ({"models": []}, "Serve at least one model"),
    ]
    for arguments, message in mistakes:
        with pytest.raises(InvalidInput, match=message):
            server_options(**arguments)


def test_predict_log_writes_every_scored_row_under_the_ids_labels_join_by(registry: Workspace, tmp_path: Path) -> None:
    frame = FRAME.assign(listing=[f"L-{i:03d}" for i in range(len(FRAME))])
    frame.to_parquet(tmp_path / "listings.parquet")
    result = invoke(
        registry,
        "predict",
        "houses@blue",
        "-i",
        str(tmp_path / "listings.parquet"),
        "-o",
        str(tmp_path / "scored.parquet"),
        "--batch-rows",
        "16",
        "--log",
        "--id-column",
        "listing",
    )
    assert result.exit_code == 0, result.output
    assert "scored 40 rows with houses/2" in result.output and "logged 40 predictions" in result.output
    scored = pq.read_table(tmp_path / "scored.parquet").to_pandas()
    assert list(scored.columns) == ["area", "rooms", "listing", "prediction"]  # ids come from the input
    tables = TableStore(registry.settings.tables_url)
    log = PredictionLog(tables)
    logged = log.read("houses").to_pandas()
    assert len(logged) == len(scored) == 40
    assert sorted(logged["request_id"]) == sorted(frame["listing"])
    assert set(logged["protocol"]) == {"batch"} and set(logged["version"]) == {2}
    assert json.loads(logged["inputs"].iloc[0]).keys() == {"area", "rooms"}  # the id is no input
    labels = LabelStore(tables)
    labels.record_many({"L-000": 61.0, "L-039": 399.0}, source="appraisal")
    labels.close()
    joined = log.joined("houses").to_pandas().set_index("request_id")
    assert joined.loc["L-000", "label"] == "61.0" and joined.loc["L-039", "label_source"] == "appraisal"
    assert joined["label"].notna().sum() == 2


def test_predict_id_column_needs_log(registry: Workspace, tmp_path: Path) -> None:
    FRAME.to_parquet(tmp_path / "in.parquet")
    result = invoke(
        registry,
        "predict",
        "houses",
        "-i",
        str(tmp_path / "in.parquet"),
        "-o",
        str(tmp_path / "o.parquet"),
        "--id-column",
        "listing",
    )
    assert result.exit_code == 1 and isinstance(result.exception, InvalidInput)
    assert "--id-column listing names the request ids of the prediction log; add --log" in result.exception.message
    assert not list(tmp_path.glob("o.parquet*"))
