"""The model registry through the server: models, versions, manifests, and aliases moved by a deployer whose name
the audit log keeps."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import LinearRegression
from tests.server.conftest import People

from driftloop import Workspace
from driftloop.entities import Role


@pytest.fixture
def registered(sqlite_workspace: Workspace) -> Workspace:
    """Two versions of the model ``houses``, the first one champion."""
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, 40), "rooms": rng.integers(1, 6, 40).astype(float)})
    frame["price"] = 3 * frame["area"] + 10 * frame["rooms"]
    for _ in range(2):
        model = LinearRegression().fit(frame[["area", "rooms"]], frame["price"])
        sqlite_workspace.models.register("houses", model, training_data=frame, target="price", onnx=False)
    sqlite_workspace.models.set_alias("houses", "champion", 1, reason="first")
    return sqlite_workspace


def test_a_deployer_moves_an_alias_and_the_audit_log_names_them(
    client: TestClient, people: People, registered: Workspace
) -> None:
    deployer = people.headers("dev", Role.DEPLOYER)
    moved = client.put(
        "/api/v1/models/houses/aliases/champion",
        json={"version": 2, "reason": "better holdout", "evidence": {"rmse": 1.5}},
        headers=deployer,
    )
    assert moved.status_code == 200, moved.text
    assert {key: moved.json()[key] for key in ("from_version", "to_version", "actor", "reason")} == {
        "from_version": 1,
        "to_version": 2,
        "actor": "dev",
        "reason": "better holdout",
    }
    assert registered.models.get("houses@champion").number == 2
    (event,) = registered.events.list(object_type="model", object_id="houses", action="model.alias", limit=1)
    assert (event.actor, event.details["to_version"], event.details["evidence"]) == ("dev", 2, {"rmse": 1.5})

    viewer = people.headers("vic", Role.VIEWER)
    history = client.get("/api/v1/models/houses/aliases", params={"alias": "champion"}, headers=viewer).json()
    assert [(move["to_version"], move["actor"]) for move in history] == [(1, "tester"), (2, "dev")]
    assert client.get("/api/v1/models/houses/aliases/champion", headers=viewer).json()["number"] == 2

    editor = people.headers("ed", Role.EDITOR)
    refused = client.put("/api/v1/models/houses/aliases/champion", json={"version": 1}, headers=editor)
    assert refused.status_code == 403
    assert registered.models.get("houses@champion").number == 2

    removed = client.delete("/api/v1/models/houses/aliases/champion", params={"reason": "retired"}, headers=deployer)
    assert removed.status_code == 200 and removed.json()["to_version"] is None
    assert client.get("/api/v1/models/houses/aliases/champion", headers=viewer).status_code == 404
    again = client.delete("/api/v1/models/houses/aliases/champion", headers=deployer)
    assert again.status_code == 404


def test_models_versions_and_the_manifest_read_back(client: TestClient, people: People, registered: Workspace) -> None:
    viewer = people.headers("vic", Role.VIEWER)
    (model,) = client.get("/api/v1/models", headers=viewer).json()
    assert (model["name"], model["latest_version"], model["aliases"]) == ("houses", 2, {"champion": 1})
    assert client.get("/api/v1/models/houses", headers=viewer).json()["aliases"] == {"champion": 1}
    versions = client.get("/api/v1/models/houses/versions", headers=viewer).json()
    assert [version["number"] for version in versions] == [1, 2]
    version = client.get("/api/v1/models/houses/versions/1", headers=viewer).json()
    assert (version["flavour"], version["aliases"]) == (registered.models.get("houses/1").flavour, ["champion"])

    manifest = client.get("/api/v1/models/houses/versions/1/manifest", headers=viewer)
    assert manifest.headers["content-type"] == "application/json"
    assert manifest.content == registered.models.manifest("houses/1").to_json()
    assert {part["name"] for part in json.loads(manifest.content)["parts"]} == {
        part.name for part in registered.models.manifest("houses/1").parts
    }


def test_unknown_models_versions_and_bad_bodies(client: TestClient, people: People, registered: Workspace) -> None:
    viewer, deployer = people.headers("vic", Role.VIEWER), people.headers("dev", Role.DEPLOYER)
    for target in (
        "/api/v1/models/ghost",
        "/api/v1/models/ghost/versions",
        "/api/v1/models/houses/versions/9",
        "/api/v1/models/houses/versions/9/manifest",
        "/api/v1/models/houses/aliases/blue",
    ):
        assert client.get(target, headers=viewer).status_code == 404, target
    assert client.get("/api/v1/models/houses/versions/0", headers=viewer).status_code == 422
    target = "/api/v1/models/houses/aliases/champion"
    assert client.put(target, json={"version": 9}, headers=deployer).status_code == 404
    assert client.put(target, json={"version": "two"}, headers=deployer).status_code == 422
    assert client.put(target, json={}, headers=deployer).status_code == 422
    assert client.put("/api/v1/models/houses/aliases/%2E%2E", json={"version": 1}, headers=deployer).status_code == 400


def test_a_grant_on_one_model_lets_its_deployer_move_that_model_only(
    client: TestClient, people: People, registered: Workspace
) -> None:
    rng = np.random.default_rng(1)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, 20)})
    registered.models.register("flats", LinearRegression().fit(frame, 2 * frame["area"]), onnx=False)
    owner = people.headers("olga", Role.DEPLOYER, "model:flats")
    assert client.put("/api/v1/models/flats/aliases/champion", json={"version": 1}, headers=owner).status_code == 200
    refused = client.put("/api/v1/models/houses/aliases/champion", json={"version": 2}, headers=owner)
    assert refused.status_code == 403
    assert client.get("/api/v1/models", headers=owner).status_code == 403


def test_evidence_with_an_integer_past_64_bits_is_answered_and_read_back(
    client: TestClient, people: People, registered: Workspace
) -> None:
    # The answer's JSON writer (orjson) stops at 64 bits; the move was kept, then answered with a 500.
    deployer = people.headers("dev", Role.DEPLOYER)
    evidence = {"rows": 2**64, "delta": -(2**70)}
    moved = client.put(
        "/api/v1/models/houses/aliases/champion", json={"version": 2, "evidence": evidence}, headers=deployer
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["evidence"] == evidence
    history = client.get("/api/v1/models/houses/aliases", params={"alias": "champion"}, headers=deployer).json()
    assert history[-1]["evidence"] == evidence
    (event,) = client.get(
        "/api/v1/events", params={"action": "model.alias", "limit": 1}, headers=people.headers("vic", Role.VIEWER)
    ).json()
    assert event["details"]["evidence"] == evidence


def test_a_live_drift_check_refuses_unclear_windows_and_versions_without_a_reference(
    client: TestClient, people: People, registered: Workspace
) -> None:
    viewer = people.headers("vic", Role.VIEWER)

    def drift(**params: object) -> tuple[int, str]:
        answer = client.get("/api/v1/models/houses/drift", params=params, headers=viewer)
        return answer.status_code, answer.json()["error"]["message"]

    assert drift(alias="champion", version=1) == (400, "Name the version by ?alias= or by ?version=, not both.")
    status, message = drift(since="2026-11-28T10:00:00")
    assert status == 400 and "time zone" in message
    status, message = drift(version=1)
    assert status == 404 and "holdout" in message  # registered without one: nothing to compare with
    assert drift(last=0)[0] == 422
    assert client.get("/api/v1/models/ghost/drift", headers=viewer).status_code == 404
