"""Tracking through the server: a run logged to by id, batched metric points read back through the workspace, params,
tags and artifacts, and the answers to bad requests."""

from __future__ import annotations

import math

import numpy as np
from fastapi.testclient import TestClient
from pydantic import TypeAdapter
from tests.server.conftest import People

from driftloop import Workspace
from driftloop.entities import Artifact, Role, Run, RunStatus


def start_run(client: TestClient, headers: dict[str, str], **body: object) -> Run:
    answer = client.post("/api/v1/runs", json={"experiment": "price", **body}, headers=headers)
    assert answer.status_code == 201, answer.text
    return TypeAdapter(Run).validate_python(answer.json())


def test_a_batch_of_metric_points_is_logged_in_one_request_and_reads_back_through_the_workspace(
    client: TestClient, people: People, sqlite_workspace: Workspace
) -> None:
    editor = people.headers("ana", Role.EDITOR)
    run = start_run(client, editor, name="baseline", params={"alpha": 0.5, "model": "ridge", "scaled": True})
    assert (run.user, run.status, run.params) == (
        "ana",
        RunStatus.RUNNING,
        {"alpha": "0.5", "model": "ridge", "scaled": "True"},
    )

    points = [
        {"key": "rmse", "value": 3.0 - step / 100, "step": step, "timestamp": 1_000.0 + step} for step in range(500)
    ]
    points += [{"key": "train/loss", "value": float(step), "step": step} for step in range(3)]
    answer = client.post(f"/api/v1/runs/{run.id}/metrics", json={"points": points}, headers=editor)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"logged": 503}

    history = sqlite_workspace.tracking.metric_history(run.id, "rmse")
    assert np.array_equal(history.steps, np.arange(500))
    assert np.allclose(history.values, [3.0 - step / 100 for step in range(500)])
    assert np.array_equal(history.timestamps, 1_000.0 + np.arange(500))
    loss = sqlite_workspace.tracking.metric_history(run.id, "train/loss")
    assert list(loss.values) == [0.0, 1.0, 2.0] and all(timestamp > 1e9 for timestamp in loss.timestamps)

    read = client.get(f"/api/v1/runs/{run.id}/metrics/train/loss", headers=people.headers("vic", Role.VIEWER)).json()
    assert (read["key"], read["steps"], read["values"]) == ("train/loss", [0, 1, 2], [0.0, 1.0, 2.0])

    ended = client.patch(f"/api/v1/runs/{run.id}", json={"status": "finished"}, headers=editor)
    assert ended.status_code == 200 and ended.json()["status"] == "finished"
    finished = sqlite_workspace.tracking.get_run(run.id)
    assert finished.metric("rmse") == 3.0 - 499 / 100 and finished.metrics["rmse"].count == 500
    actors = {(event.action, event.actor) for event in sqlite_workspace.events.list(object_type="run")}
    assert {("run.start", "ana"), ("run.end", "ana")} <= actors


def test_non_finite_values_are_kept_and_answered_by_name(
    client: TestClient, people: People, sqlite_workspace: Workspace
) -> None:
    editor = people.headers("ana", Role.EDITOR)
    run = start_run(client, editor)
    # JSON has no NaN; Python's reader (and so FastAPI's) takes the literal, as Python clients write it.
    # Names, as proto3's JSON writes them (and driftloop's client sends them), are taken as well.
    body = '{"points": [{"key": "loss", "value": NaN, "step": 0}, {"key": "loss", "value": 1.5, "step": 1, '
    body += '"timestamp": 0.0}, {"key": "loss", "value": "-Infinity", "step": 2}]}'
    answer = client.post(
        f"/api/v1/runs/{run.id}/metrics", content=body, headers={**editor, "Content-Type": "application/json"}
    )
    assert answer.status_code == 200, answer.text
    history = sqlite_workspace.tracking.metric_history(run.id, "loss")
    assert math.isnan(history.values[0]) and history.timestamps[1] == 0.0  # a zero timestamp is a timestamp
    assert history.values[2] == -math.inf
    # JSON has no such numbers: answers name them, so that no client reads a NaN as a missing value.
    assert client.get(f"/api/v1/runs/{run.id}/metrics/loss", headers=editor).json()["values"] == [
        "NaN",
        1.5,
        "-Infinity",
    ]
    summary = client.get(f"/api/v1/runs/{run.id}", headers=editor).json()["metrics"]["loss"]
    assert (summary["last_value"], summary["min_value"], summary["max_value"]) == ("-Infinity", "-Infinity", 1.5)


def test_a_bad_batch_is_refused_whole(client: TestClient, people: People, sqlite_workspace: Workspace) -> None:
    editor = people.headers("ana", Role.EDITOR)
    run = start_run(client, editor)
    target = f"/api/v1/runs/{run.id}/metrics"

    wrong_type = client.post(target, json={"points": [{"key": "loss", "value": "high", "step": 0}]}, headers=editor)
    assert wrong_type.status_code == 422
    error = wrong_type.json()["error"]
    assert error["code"] == "invalid_data" and error["fields"][0]["location"] == "body.points.0.value"
    assert "high" not in wrong_type.text  # an error never repeats what the client sent
    too_far = client.post(target, json={"points": [{"key": "loss", "value": 1.0, "step": 2**63}]}, headers=editor)
    assert too_far.status_code == 422
    no_points = client.post(target, json={"values": []}, headers=editor)
    assert no_points.status_code == 422 and "body.points" in no_points.json()["error"]["message"]
    not_json = client.post(target, content=b"{", headers={**editor, "Content-Type": "application/json"})
    assert not_json.status_code == 422

    bad_key = client.post(
        target,
        json={"points": [{"key": "fine", "value": 1.0, "step": 0}, {"key": "a//b", "value": 1.0, "step": 0}]},
        headers=editor,
    )
    assert bad_key.status_code == 400 and bad_key.json()["error"]["code"] == "invalid_name"
    assert sqlite_workspace.tracking.get_run(run.id).metrics == {}  # nothing of the refused batch was written

    unknown = client.post("/api/v1/runs/nope/metrics", json={"points": []}, headers=editor)
    assert unknown.status_code == 404 and unknown.json()["error"]["message"] == "No run with id 'nope'."
    client.patch(f"/api/v1/runs/{run.id}", json={"status": "killed"}, headers=editor)
    ended = client.post(target, json={"points": [{"key": "loss", "value": 1.0, "step": 0}]}, headers=editor)
    assert ended.status_code == 409 and ended.json()["error"]["code"] == "invalid_state"
    again = client.patch(f"/api/v1/runs/{run.id}", json={"status": "finished"}, headers=editor)
    assert again.status_code == 409
    running = client.patch(f"/api/v1/runs/{run.id}", json={"status": "running"}, headers=editor)
    assert running.status_code == 422


def test_a_json_body_past_the_request_limit_answers_413(client: TestClient, people: People) -> None:
    editor = people.headers("ana", Role.EDITOR)
    run = start_run(client, editor)
    points = [{"key": "loss", "value": 1.0, "step": step} for step in range(2_000)]  # ~80 kB; the limit is 64 KiB
    answer = client.post(f"/api/v1/runs/{run.id}/metrics", json={"points": points}, headers=editor)
    assert answer.status_code == 413 and answer.json()["error"]["code"] == "payload_too_large"


def test_params_tags_experiments_and_search(client: TestClient, people: People, sqlite_workspace: Workspace) -> None:
    editor = people.headers("ana", Role.EDITOR)
    created = client.post("/api/v1/experiments", json={"name": "rent", "description": "monthly"}, headers=editor)
    assert created.status_code == 201 and created.json()["created_by"] == "ana"
    assert client.post("/api/v1/experiments", json={"name": "rent"}, headers=editor).status_code == 409
    assert client.post("/api/v1/experiments", json={"name": "a/b"}, headers=editor).status_code == 400

    run = start_run(client, editor, experiment="rent", tags={"team": "pricing"})
    params = f"/api/v1/runs/{run.id}/params"
    assert client.post(params, json={"params": {"depth": 6}}, headers=editor).status_code == 204
    assert client.post(params, json={"params": {"depth": 6}}, headers=editor).status_code == 204
    conflict = client.post(params, json={"params": {"depth": 7}}, headers=editor)
    assert conflict.status_code == 409 and conflict.json()["error"]["code"] == "param_conflict"
    assert (
        client.post(f"/api/v1/runs/{run.id}/tags", json={"tags": {"team": "rent"}}, headers=editor).status_code == 204
    )
    stored = sqlite_workspace.tracking.get_run(run.id)
    assert (stored.params, stored.tags) == ({"depth": "6"}, {"team": "rent"})

    start_run(client, editor, experiment="rent", params={"depth": 9})
    viewer = people.headers("vic", Role.VIEWER)
    found = client.post(
        "/api/v1/runs/search",
        json={"experiments": ["rent"], "filter": "params.depth > 7", "order_by": ["start_time DESC"]},
        headers=viewer,
    )
    assert found.status_code == 200 and [row["params"]["depth"] for row in found.json()] == ["9"]
    bad_filter = client.post("/api/v1/runs/search", json={"filter": "params.depth >"}, headers=viewer)
    assert bad_filter.status_code == 400 and bad_filter.json()["error"]["code"] == "invalid_filter"
    assert [row["name"] for row in client.get("/api/v1/experiments", headers=viewer).json()] == ["rent"]
    assert client.get("/api/v1/runs/nope", headers=viewer).status_code == 404


def test_artifacts_go_up_and_come_down_under_a_size_limit(
    client: TestClient, people: People, sqlite_workspace: Workspace
) -> None:
    editor = people.headers("ana", Role.EDITOR)
    run = start_run(client, editor)
    data = bytes(range(256)) * 100
    stored = client.put(f"/api/v1/runs/{run.id}/artifacts/plots/résumé.bin", content=data, headers=editor)
    assert stored.status_code == 201, stored.text
    artifact = TypeAdapter(Artifact).validate_python(stored.json())
    assert (artifact.path, artifact.size) == ("plots/résumé.bin", len(data))
    assert sqlite_workspace.tracking.read_artifact(run.id, "plots/résumé.bin") == data

    viewer = people.headers("vic", Role.VIEWER)
    listed = client.get(f"/api/v1/runs/{run.id}/artifacts", params={"prefix": "plots"}, headers=viewer).json()
    assert [item["path"] for item in listed] == ["plots/résumé.bin"]
    down = client.get(f"/api/v1/runs/{run.id}/artifacts/plots/résumé.bin", headers=viewer)
    assert down.status_code == 200 and down.content == data
    assert down.headers["content-disposition"] == "attachment; filename*=UTF-8''r%C3%A9sum%C3%A9.bin"

    too_large = client.put(f"/api/v1/runs/{run.id}/artifacts/big.bin", content=b"x" * (256 * 1024 + 1), headers=editor)
    assert too_large.status_code == 413
    streamed = client.put(
        f"/api/v1/runs/{run.id}/artifacts/big.bin", content=iter([b"x" * 200_000, b"x" * 100_000]), headers=editor
    )
    assert streamed.status_code == 413  # no Content-Length: counted as it arrives
    escaping = client.put(f"/api/v1/runs/{run.id}/artifacts/a/%2E%2E/b", content=b"x", headers=editor)
    assert escaping.status_code == 400 and escaping.json()["error"]["code"] == "invalid_name"
    assert client.put("/api/v1/runs/nope/artifacts/a.txt", content=b"x", headers=editor).status_code == 404
    long_name = client.put(f"/api/v1/runs/{run.id}/artifacts/{'n' * 256}", content=b"x", headers=editor)
    assert long_name.status_code == 400 and "at most 255 bytes" in long_name.json()["error"]["message"]
    assert client.get(f"/api/v1/runs/{run.id}/artifacts/missing.txt", headers=viewer).status_code == 404
    assert [item.path for item in sqlite_workspace.tracking.list_artifacts(run.id)] == ["plots/résumé.bin"]


def test_the_document_says_a_summary_value_may_be_named(client: TestClient, people: People) -> None:
    document = client.get("/api/v1/openapi.json", headers=people.headers("vic", Role.VIEWER)).json()
    value = document["components"]["schemas"]["MetricSummary"]["properties"]["last_value"]
    assert value["anyOf"] == [{"type": "number"}, {"type": "string", "enum": ["NaN", "Infinity", "-Infinity"]}]
