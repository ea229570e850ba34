"""``POST /v1/feedback`` with a served classifier: request ids not logged, labels of the wrong type or class,
duplicates, conflicts and corrections, each answered clearly and all or none."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from tests.serving.test_app import classifier, houses
from tests.serving.test_label_queue import send, state, truth

from driftloop import Workspace
from driftloop.serving import ServerSettings, create_app
from driftloop.serving._label_queue import MAX_LISTED

Served = tuple[Workspace, TestClient, dict[str, str]]


@pytest.fixture
def served(sqlite_workspace: Workspace) -> Iterator[Served]:
    """A served classifier of the classes 'no' and 'yes', 20 committed predictions; their true labels by id."""
    ws = sqlite_workspace
    frame = houses(200)
    ws.models.register("houses", classifier(frame), target="expensive", holdout=frame.tail(40))
    ws.models.promote("houses/1")
    app = create_app(ws, ServerSettings(models=["houses"], monitor_interval=0, upkeep_interval=0))
    with TestClient(app) as client:
        traffic = houses(20, seed=5)
        yield ws, client, truth(traffic, send(client, traffic))


def post(client: TestClient, *labels: dict[str, Any]) -> Any:
    return client.post("/v1/feedback", json={"labels": list(labels)})


def recorded(client: TestClient) -> list[dict[str, Any]]:
    """The labels committed so far, after a flush."""
    store = state(client).labels
    store.flush()
    return list(store.read().select(["request_id", "label", "source"]).to_pylist())


def test_labels_of_logged_predictions_are_recorded_and_counted(served: Served) -> None:
    _, client, labels = served
    body = [{"request_id": request_id, "label": label} for request_id, label in labels.items()]
    answer = post(client, *body)
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "recorded": 20,
        "duplicates": 0,
        "corrections": [],
        "corrections_count": 0,
        "unmatched": [],
        "unmatched_count": 0,
    }
    rows = recorded(client)
    assert {row["request_id"]: row["label"] for row in rows} == {key: f'"{label}"' for key, label in labels.items()}
    assert {row["source"] for row in rows} == {"feedback"}


def test_unknown_request_ids_are_recorded_and_listed_as_unmatched(served: Served) -> None:
    _, client, labels = served
    logged = next(iter(labels))
    answer = post(
        client,
        {"request_id": logged, "label": labels[logged]},
        {"request_id": "typo-1", "label": "yes"},
        {"request_id": "typo-2", "label": "maybe"},  # no model to check it against: recorded as it came
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["recorded"] == 3
    assert (answer.json()["unmatched"], answer.json()["unmatched_count"]) == (["typo-1", "typo-2"], 2)
    alone = client.post("/v1/feedback", json={"request_id": "typo-3", "label": "no"})  # one label on its own
    assert (alone.json()["recorded"], alone.json()["unmatched"]) == (1, ["typo-3"]), alone.text
    ghosts = [{"request_id": f"ghost-{index}", "label": "no"} for index in range(MAX_LISTED + 50)]
    many = post(client, *ghosts).json()
    assert many["recorded"] == many["unmatched_count"] == MAX_LISTED + 50
    assert many["unmatched"] == [ghost["request_id"] for ghost in ghosts[:MAX_LISTED]]  # the list is capped
    rows = recorded(client)
    assert len(rows) == 3 + 1 + MAX_LISTED + 50
    assert {row["request_id"] for row in rows} >= {logged, "typo-1", "typo-2", "typo-3", "ghost-0"}


def test_labels_of_the_wrong_type_are_refused_naming_the_item(served: Served) -> None:
    _, client, labels = served
    first, second = list(labels)[:2]
    for label in (None, [1], {"class": "yes"}):
        answer = post(client, {"request_id": first, "label": labels[first]}, {"request_id": second, "label": label})
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"]["message"] == (
            f"labels[1] (request {second!r}): a label is a number, a string or a boolean; got {label!r}."
        )
    not_a_number = json.dumps({"labels": [{"request_id": first, "label": math.nan}]})  # NaN is no JSON
    answer = client.post("/v1/feedback", content=not_a_number, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400 and answer.json()["error"]["code"] == "invalid_input", answer.text
    assert recorded(client) == []


def test_duplicates_are_recorded_once_and_counted(served: Served) -> None:
    _, client, labels = served
    first, second = list(labels)[:2]
    same = {"request_id": first, "label": labels[first]}
    answer = post(client, same, {"request_id": second, "label": labels[second]}, same, same)
    assert answer.status_code == 200, answer.text
    assert (answer.json()["recorded"], answer.json()["duplicates"]) == (2, 2)
    assert sorted(row["request_id"] for row in recorded(client)) == sorted([first, second])


def test_one_request_id_with_two_different_labels_is_refused(served: Served) -> None:
    _, client, labels = served
    first = next(iter(labels))
    answer = post(client, {"request_id": first, "label": "yes"}, {"request_id": first, "label": "no"})
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["message"] == (
        f"labels[1]: request {first!r} has two different labels ('yes' at labels[0] and 'no'); send one."
    )
    assert recorded(client) == []


def test_a_label_the_classifier_does_not_know_is_refused_naming_the_item(served: Served) -> None:
    _, client, labels = served
    first, second = list(labels)[:2]
    unknown = {"maybe": "is a classifier of the classes 'no', 'yes'; 'maybe' is not one of them", 1: "1 is not one"}
    for label, problem in unknown.items():
        answer = post(client, {"request_id": first, "label": labels[first]}, {"request_id": second, "label": label})
        assert answer.status_code == 422, answer.text
        message = answer.json()["error"]["message"]
        assert message.startswith(f"labels[1] (request {second!r}): houses/1") and problem in message
    assert recorded(client) == []


def test_a_second_label_is_a_correction_and_the_latest_counts(served: Served) -> None:
    _, client, labels = served
    first, second = list(labels)[:2]
    wrong = "no" if labels[first] == "yes" else "yes"
    assert post(client, {"request_id": first, "label": wrong}).json()["corrections"] == []
    state(client).labels.flush()  # corrections are told from committed labels
    answer = post(client, {"request_id": first, "label": labels[first]}, {"request_id": second, "label": "no"})
    assert answer.status_code == 200, answer.text
    assert (answer.json()["corrections"], answer.json()["corrections_count"]) == ([first], 1)
    state(client).labels.flush()
    joined = state(client).prediction_log.joined("houses").to_pylist()
    assert {row["request_id"]: row["label"] for row in joined}[first] == f'"{labels[first]}"'


def test_checking_labels_loads_no_served_version_again(served: Served, monkeypatch: pytest.MonkeyPatch) -> None:
    ws, client, labels = served

    def refuse(reference: str, **_: Any) -> None:
        raise AssertionError(f"{reference} was loaded again")

    monkeypatch.setattr(ws.models, "load", refuse)
    body = [{"request_id": request_id, "label": label} for request_id, label in labels.items()]
    assert post(client, *body).status_code == 200


def test_the_answer_is_documented(sqlite_workspace: Workspace) -> None:
    document = create_app(sqlite_workspace, ServerSettings(models=["houses"])).openapi()
    post_feedback = document["paths"]["/v1/feedback"]["post"]
    assert set(post_feedback["responses"]) == {"200", "400", "404", "413", "415", "422"}
    answer = post_feedback["responses"]["200"]["content"]["application/json"]["schema"]
    assert answer == {"$ref": "#/components/schemas/FeedbackAnswer"}
    schema = document["components"]["schemas"]["FeedbackAnswer"]
    assert set(schema["required"]) == {
        "recorded",
        "duplicates",
        "corrections",
        "corrections_count",
        "unmatched",
        "unmatched_count",
    }
