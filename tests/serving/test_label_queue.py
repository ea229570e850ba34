"""The label queue over HTTP: ``GET /v1/labels/pending`` and ``POST /v1/labels`` with a served model, each bad
input, and answered labels reaching what the next retrain reads."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import RandomForestRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder
from tests.serving.test_app import classifier, houses

from driftloop import Workspace
from driftloop.loop._active import request_labels
from driftloop.monitoring._live import read_labelled
from driftloop.serving import ServerSettings, create_app
from driftloop.serving._prediction_log import PredictionLog
from driftloop.store.tables import TableStore

COLUMNS = ["area", "rooms", "district"]


def send(client: TestClient, frame: pd.DataFrame, prefix: str = "r") -> list[str]:
    """Score the rows under the ids ``<prefix>0``, ``<prefix>1``...; the log is flushed before this returns."""
    ids = [f"{prefix}{index}" for index in range(len(frame))]
    body = {"columns": {name: frame[name].tolist() for name in COLUMNS}, "request_ids": ids}
    assert client.post("/v1/models/houses/predict", json=body).status_code == 200
    state(client).prediction_log.flush()
    return ids


def state(client: TestClient) -> Any:
    return client.app.state  # type: ignore[attr-defined]


def truth(frame: pd.DataFrame, ids: list[str]) -> dict[str, str]:
    return dict(zip(ids, frame["expensive"], strict=True))


@pytest.fixture
def served(sqlite_workspace: Workspace) -> Iterator[tuple[Workspace, TestClient, dict[str, str]]]:
    """A served classifier, 300 logged predictions and 20 of them queued by margin; the true labels by id."""
    ws = sqlite_workspace
    frame = houses(400)
    ws.models.register("houses", classifier(frame.head(40)), target="expensive", holdout=frame.tail(60))
    ws.models.promote("houses/1")
    app = create_app(ws, ServerSettings(models=["houses"], monitor_interval=0, upkeep_interval=0))
    with TestClient(app) as client:
        traffic = houses(300, seed=5)
        ids = send(client, traffic)
        outcome = request_labels(ws, "houses", strategy="margin", budget_per_day=20)
        assert len(outcome.queued) == 20
        yield ws, client, truth(traffic, ids)


def pending(client: TestClient, query: str = "") -> list[dict[str, Any]]:
    answer = client.get(f"/v1/labels/pending{query}")
    assert answer.status_code == 200, answer.text
    return list(answer.json()["pending"])


def test_answered_labels_leave_the_queue_and_reach_the_next_retrain(
    served: tuple[Workspace, TestClient, dict[str, str]],
) -> None:
    ws, client, labels = served
    queue = pending(client)
    assert len(queue) == 20 and [item["score"] for item in queue] == sorted((i["score"] for i in queue), reverse=True)
    first = queue[0]
    assert set(first) == {"request_id", "model", "version", "inputs", "prediction", "score", "strategy", "requested_at"}
    assert (first["model"], first["version"], first["strategy"]) == ("houses", 1, "margin")
    assert set(first["inputs"]) == set(COLUMNS) and first["prediction"] in ("yes", "no")
    assert len(pending(client, "?limit=5")) == 5 and pending(client, "?model=flats") == []
    answered = [item["request_id"] for item in queue[:5]]
    body = {"labels": [{"request_id": request_id, "label": labels[request_id]} for request_id in answered]}
    answer = client.post("/v1/labels", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"recorded": 5, "duplicates": 0, "corrections": [], "answered": 5}
    assert {item["request_id"] for item in pending(client)} == {item["request_id"] for item in queue[5:]}
    state(client).labels.flush()
    log = PredictionLog(TableStore(ws.settings.tables_url))
    labelled = read_labelled(log, "houses")  # what the loop's retrain reads
    assert sorted(labelled.request_ids.to_list()) == sorted(answered)
    assert dict(zip(labelled.request_ids.to_list(), labelled.labels.to_list(), strict=True)) == {
        request_id: labels[request_id] for request_id in answered
    }
    sources = log.joined("houses").to_pandas().dropna(subset=["label"])["label_source"]
    assert set(sources) == {"label_queue"}
    assert ws.metadata.label_requests.find(answered)[answered[0]].answer_source == "label_queue"


def test_unknown_request_ids_are_listed_and_nothing_is_recorded(
    served: tuple[Workspace, TestClient, dict[str, str]],
) -> None:
    ws, client, _ = served
    queued = pending(client)[0]["request_id"]
    body = {"labels": [{"request_id": queued, "label": "yes"}, {"request_id": "ghost-1", "label": "no"}]}
    answer = client.post("/v1/labels", json=body)
    assert answer.status_code == 404, answer.text
    assert answer.json()["error"]["code"] == "not_found" and "'ghost-1'" in answer.json()["error"]["message"]
    assert queued not in answer.json()["error"]["message"]
    state(client).labels.flush()
    assert state(client).labels.read().num_rows == 0
    assert not ws.metadata.label_requests.find([queued])[queued].answered


def test_a_logged_prediction_not_queued_is_labelled_too(served: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _, client, labels = served
    queued = {item["request_id"] for item in pending(client)}
    other = next(request_id for request_id in labels if request_id not in queued)
    answer = client.post("/v1/labels", json={"labels": [{"request_id": other, "label": labels[other]}]})
    assert answer.json() == {"recorded": 1, "duplicates": 0, "corrections": [], "answered": 0}


@pytest.mark.parametrize(
    ("label", "problem"),
    [("maybe", "is a classifier of the classes 'no', 'yes'; 'maybe' is not one of them"), (1, "1 is not one")],
)
def test_a_label_the_classifier_does_not_know_is_refused_naming_the_item(
    served: tuple[Workspace, TestClient, dict[str, str]], label: Any, problem: str
) -> None:
    _, client, labels = served
    first, second = (item["request_id"] for item in pending(client)[:2])
    body = {"labels": [{"request_id": first, "label": labels[first]}, {"request_id": second, "label": label}]}
    answer = client.post("/v1/labels", json=body)
    assert answer.status_code == 422, answer.text
    message = answer.json()["error"]["message"]
    assert message.startswith(f"labels[1] (request {second!r}): houses/1") and problem in message
    state(client).labels.flush()
    assert state(client).labels.read().num_rows == 0 and len(pending(client)) == 20


def test_duplicates_are_recorded_once_and_conflicting_ones_refused(
    served: tuple[Workspace, TestClient, dict[str, str]],
) -> None:
    _, client, labels = served
    request_id = pending(client)[0]["request_id"]
    same = {"request_id": request_id, "label": labels[request_id]}
    answer = client.post("/v1/labels", json={"labels": [same, same, same]})
    assert answer.json() == {"recorded": 1, "duplicates": 2, "corrections": [], "answered": 1}
    other = pending(client)[0]["request_id"]
    conflicting = [{"request_id": other, "label": "yes"}, {"request_id": other, "label": "no"}]
    refused = client.post("/v1/labels", json={"labels": conflicting})
    assert refused.status_code == 400
    assert f"request {other!r} has two different labels" in refused.json()["error"]["message"]


def test_a_second_answer_is_a_correction_and_the_latest_counts(
    served: tuple[Workspace, TestClient, dict[str, str]],
) -> None:
    ws, client, labels = served
    request_id = pending(client)[0]["request_id"]
    wrong = "no" if labels[request_id] == "yes" else "yes"
    client.post("/v1/labels", json={"labels": [{"request_id": request_id, "label": wrong}]})
    answer = client.post("/v1/labels", json={"labels": [{"request_id": request_id, "label": labels[request_id]}]})
    assert answer.status_code == 200
    assert answer.json() == {"recorded": 1, "duplicates": 0, "corrections": [request_id], "answered": 1}
    assert ws.metadata.label_requests.find([request_id])[request_id].answers == 2
    state(client).labels.flush()
    labelled = read_labelled(PredictionLog(TableStore(ws.settings.tables_url)), "houses")
    assert labelled.labels.to_list() == [labels[request_id]]


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        ({"labels": []}, 400, "at least one"),
        ({"label": "yes"}, 400, "Labels are"),
        ({"labels": [{"request_id": "r1"}]}, 400, "labels[0] needs a 'request_id' and a 'label'"),
        ({"labels": [{"request_id": "r1", "label": None}]}, 400, "a label is a number, a string or a boolean"),
        ({"labels": [{"request_id": "r1", "label": [1]}]}, 400, "a label is a number, a string or a boolean"),
        ({"labels": [{"request_id": 7, "label": "yes"}]}, 400, "request_id must be a non-empty string"),
        ({"labels": [{"request_id": " ", "label": "yes"}]}, 400, "request_id must be a non-empty string"),
    ],
)
def test_malformed_answers_are_refused(
    served: tuple[Workspace, TestClient, dict[str, str]], body: dict[str, Any], status: int, message: str
) -> None:
    _, client, _ = served
    answer = client.post("/v1/labels", json=body)
    assert answer.status_code == status and message in answer.json()["error"]["message"], answer.text


def test_bad_queries_and_media_types_are_refused(served: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _, client, _ = served
    for query in ("?limit=0", "?limit=many", "?limit=1001", "?limit=%C2%B2"):
        answer = client.get(f"/v1/labels/pending{query}")
        assert answer.status_code == 400 and "'limit'" in answer.json()["error"]["message"], query
    assert client.get("/v1/labels/pending?model=a/b").status_code == 400
    text = client.post("/v1/labels", content="r1,yes", headers={"content-type": "text/csv"})
    assert text.status_code == 415


def test_a_regressor_takes_numbers_only(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    frame = houses(300)
    forest = Pipeline(
        [
            ("prepare", ColumnTransformer([("text", OneHotEncoder(), ["district"])], remainder="passthrough")),
            ("forest", RandomForestRegressor(n_estimators=10, random_state=0)),
        ]
    ).fit(frame[COLUMNS], frame["area"] * 3.0)
    ws.models.register("houses", forest, target="price", holdout=frame[COLUMNS].tail(50).assign(price=1.0))
    ws.models.promote("houses/1")
    app = create_app(ws, ServerSettings(models=["houses"], monitor_interval=0, upkeep_interval=0))
    with TestClient(app) as client:
        ids = send(client, houses(50, seed=3))
        assert len(request_labels(ws, "houses", strategy="ensemble_spread", budget_per_day=5).queued) == 5
        refused = client.post("/v1/labels", json={"labels": [{"request_id": ids[0], "label": "expensive"}]})
        assert refused.status_code == 422
        assert "houses/1 is a regressor, so its label is a number; got 'expensive'" in refused.text
        for label in (True, "210"):
            assert (
                client.post("/v1/labels", json={"labels": [{"request_id": ids[0], "label": label}]}).status_code == 422
            )
        answer = client.post("/v1/labels", json={"labels": [{"request_id": ids[0], "label": 210}]})
        assert answer.status_code == 200 and answer.json()["recorded"] == 1
        state(client).labels.flush()
        assert state(client).labels.read().column("label").to_pylist() == ["210.0"]


def test_without_a_prediction_log_there_is_no_queue(sqlite_workspace: Workspace) -> None:
    frame = houses(100)
    sqlite_workspace.models.register("houses", classifier(frame), target="expensive", holdout=frame.tail(20))
    sqlite_workspace.models.promote("houses/1")
    app: FastAPI = create_app(sqlite_workspace, ServerSettings(models=["houses"], log_predictions=False))
    with TestClient(app) as client:
        assert client.get("/v1/labels/pending").status_code == 404
        answer = client.post("/v1/labels", json={"labels": [{"request_id": "r1", "label": "yes"}]})
        assert answer.status_code == 404 and "no label queue" in answer.json()["error"]["message"]


def test_the_routes_are_documented(served: tuple[Workspace, TestClient, dict[str, str]]) -> None:
    _, client, _ = served
    paths = client.get("/openapi.json").json()["paths"]
    assert [p["name"] for p in paths["/v1/labels/pending"]["get"]["parameters"]] == ["model", "limit"]
    post = paths["/v1/labels"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/LabelsRequest"
    }
    assert set(post["responses"]) == {"200", "400", "404", "413", "415", "422"}
    assert set(paths["/v1/labels/pending"]["get"]["responses"]) == {"200", "400", "404"}
