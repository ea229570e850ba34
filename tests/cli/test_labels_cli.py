"""``driftloop labels request|pending|answer``: fill the queue, list it, answer it from CSV and JSON files (asserted
on --json output: the Rich table is as wide as the terminal)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from tests.cli.test_monitor_cli import invoke
from tests.serving.test_app import classifier, houses
from tests.serving.test_label_queue import send, truth

from driftloop import Workspace
from driftloop.monitoring._live import read_labelled
from driftloop.serving import ServerSettings, create_app
from driftloop.serving._prediction_log import PredictionLog
from driftloop.store.tables import TableStore


def output(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.output)


def test_request_list_and_answer_the_queue(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    ws = sqlite_workspace
    frame = houses(300)
    ws.models.register("houses", classifier(frame.head(40)), target="expensive", holdout=frame.tail(60))
    ws.models.promote("houses/1")
    traffic = houses(100, seed=4)
    with TestClient(create_app(ws, ServerSettings(models=["houses"], monitor_interval=0))) as client:
        labels = truth(traffic, send(client, traffic))
    queued = output(invoke(ws, "labels", "request", "houses", "--strategy", "entropy", "--budget", "6", "--json"))
    assert (queued["candidates"], len(queued["queued"]), queued["note"]) == (100, 6, None)
    again = invoke(ws, "labels", "request", "houses", "--budget", "6")
    assert again.exit_code == 0 and "daily budget of 6 is spent" in again.output  # type: ignore[attr-defined]
    listed = output(invoke(ws, "labels", "pending", "--model", "houses", "--json"))
    assert [item["request_id"] for item in listed] == [item["request_id"] for item in queued["queued"]]
    assert listed[0]["strategy"] == "entropy" and set(listed[0]["inputs"]) == {"area", "rooms", "district"}
    shown = invoke(ws, "labels", "pending")
    assert shown.exit_code == 0 and "strategy" in shown.output  # type: ignore[attr-defined]

    ids = [item["request_id"] for item in listed]
    answers = tmp_path / "answers.csv"
    answers.write_text("request_id,label\n" + "".join(f"{i},{labels[i]}\n" for i in [*ids[:3], ids[0]]))
    recorded = output(invoke(ws, "labels", "answer", str(answers), "--actor", "ana", "--json"))
    assert recorded == {"recorded": 3, "duplicates": 1, "corrections": [], "answered": 3}
    document = tmp_path / "answers.json"
    document.write_text(json.dumps([{"request_id": ids[0], "label": labels[ids[0]]}]))
    corrected = output(invoke(ws, "labels", "answer", str(document), "--json"))
    assert corrected["corrections"] == [ids[0]]
    assert [item["request_id"] for item in output(invoke(ws, "labels", "pending", "--json"))] == ids[3:]
    labelled = read_labelled(PredictionLog(TableStore(ws.settings.tables_url)), "houses")
    assert sorted(labelled.request_ids.to_list()) == sorted(ids[:3])


def test_bad_answer_files_record_nothing(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    ws = sqlite_workspace
    missing = invoke(ws, "labels", "answer", str(tmp_path / "none.csv"))
    assert "No file" in str(missing.exception)  # type: ignore[attr-defined]
    text = tmp_path / "answers.txt"
    text.write_text("r1 yes")
    assert ".csv (request_id,label) or a .json" in str(invoke(ws, "labels", "answer", str(text)).exception)  # type: ignore[attr-defined]
    columns = tmp_path / "columns.csv"
    columns.write_text("id,truth\nr1,yes\n")
    assert "needs the columns request_id and label" in str(invoke(ws, "labels", "answer", str(columns)).exception)  # type: ignore[attr-defined]
    unknown = tmp_path / "unknown.json"
    unknown.write_text(json.dumps({"labels": [{"request_id": "ghost", "label": "yes"}]}))
    refused = invoke(ws, "labels", "answer", str(unknown))
    assert "'ghost'" in str(refused.exception) and "Nothing was recorded" in str(refused.exception)  # type: ignore[attr-defined]
    assert "flats" in str(invoke(ws, "labels", "request", "flats").exception)  # type: ignore[attr-defined]
