"""Canary and shadow traffic: the challenger answers a sticky share, or scores copies that are only logged."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import Ridge

from driftloop import Workspace
from driftloop.errors import InvalidInput
from driftloop.serving import ServerSettings, create_app
from driftloop.serving._traffic import TrafficPolicy, in_canary

FRAME = pd.DataFrame({"area": np.linspace(30, 200, 60), "rooms": np.tile([1.0, 2.0, 3.0], 20)})
ROW = {"area": 100.0, "rooms": 2.0}


@pytest.fixture
def registry(sqlite_workspace: Workspace) -> Workspace:
    for slope in (1.0, 2.0):
        model = Ridge().fit(FRAME, slope * FRAME["area"])
        sqlite_workspace.models.register("houses", model, signature=FRAME)
    sqlite_workspace.models.set_alias("houses", "champion", 1)
    sqlite_workspace.models.set_alias("houses", "challenger", 2)
    return sqlite_workspace


def client_for(ws: Workspace, **traffic: object) -> Iterator[TestClient]:
    app = create_app(ws, ServerSettings(models=["houses"], traffic={"houses": traffic}, poll_interval=0.1))
    with TestClient(app) as client:
        yield client


def test_canary_share_is_sticky_by_request_key(registry: Workspace) -> None:
    for client in client_for(registry, canary=0.5):
        versions = {}
        for customer in range(60):
            key = f"customer-{customer}"
            answers = {
                client.post(
                    "/v1/models/houses/predict", json={"records": [ROW]}, headers={"X-Request-Key": key}
                ).json()["version"]
                for _ in range(3)
            }
            assert len(answers) == 1  # the same key always lands on the same version
            versions[key] = answers.pop()
        shares = list(versions.values())
        assert 15 <= shares.count(2) <= 45
        assert all((versions[k] == 2) == in_canary(k, 0.5) for k in versions)


def test_shadow_scores_copies_that_are_logged_not_returned(registry: Workspace) -> None:
    for client in client_for(registry, shadow=True):
        for _ in range(5):
            answer = client.post("/v1/models/houses/predict", json={"records": [ROW]}).json()
            assert answer["version"] == 1 and answer["predictions"][0] == pytest.approx(100.0, rel=0.05)
        log = client.app.state.prediction_log  # type: ignore[attr-defined]
        log.flush()
        rows = log.read("houses").to_pylist()
        roles = sorted((row["served_by"], row["version"]) for row in rows)
        assert roles == [("champion", 1)] * 5 + [("shadow", 2)] * 5
        shadow_ids = {row["request_id"] for row in rows if row["served_by"] == "shadow"}
        assert shadow_ids == {row["request_id"] for row in rows if row["served_by"] == "champion"}


def test_without_a_challenger_the_champion_answers_everything(sqlite_workspace: Workspace) -> None:
    sqlite_workspace.models.register("houses", Ridge().fit(FRAME, FRAME["area"]), signature=FRAME)
    sqlite_workspace.models.set_alias("houses", "champion", 1)
    for client in client_for(sqlite_workspace, canary=1.0):
        answer = client.post("/v1/models/houses/predict", json={"records": [ROW]})
        assert answer.status_code == 200 and answer.json()["version"] == 1


def test_bad_policies_are_refused(registry: Workspace) -> None:
    with pytest.raises(InvalidInput, match=r"canary share must be a number in \[0, 1\]"):
        TrafficPolicy(canary=1.5)
    with pytest.raises(InvalidInput, match="takes canary, shadow and challenger"):
        create_app(registry, ServerSettings(models=["houses"], traffic={"houses": {"canary_share": 0.1}}))
    with pytest.raises(InvalidInput, match="not served"):
        create_app(registry, ServerSettings(models=["houses"], traffic={"flats": {"canary": 0.1}}))


def wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "the server did not follow in time"
        time.sleep(0.05)


def answered_by(client: TestClient, keys: range) -> list[int]:
    return [
        client.post("/v1/models/houses/predict", json={"records": [ROW]}, headers={"X-Request-Key": f"c{key}"}).json()[
            "version"
        ]
        for key in keys
    ]


def test_a_server_follows_the_traffic_a_deployer_stores(registry: Workspace) -> None:
    app = create_app(registry, ServerSettings(models=["houses"], poll_interval=0.05))
    with TestClient(app) as client:
        assert set(answered_by(client, range(20))) == {1}
        listed = client.get("/v1/models").json()["models"][0]["traffic"]
        assert listed == {"canary": 0.0, "shadow": False, "challenger": "challenger", "pinned": False,
                          "challenger_version": None}  # fmt: skip

        registry.models.set_traffic("houses", canary=1.0, reason="all to the challenger")
        wait_for(lambda: client.get("/v1/models").json()["models"][0]["traffic"]["challenger_version"] == 2)
        assert set(answered_by(client, range(20))) == {2}

        registry.models.set_traffic("houses", canary=0.5)
        wait_for(lambda: client.get("/v1/models").json()["models"][0]["traffic"]["canary"] == 0.5)
        versions = answered_by(client, range(60))
        assert all((version == 2) == in_canary(f"c{key}", 0.5) for key, version in enumerate(versions))

        registry.models.set_traffic("houses", shadow=True)  # the canary ends, the challenger shadows
        wait_for(lambda: client.get("/v1/models").json()["models"][0]["traffic"]["shadow"])
        assert set(answered_by(client, range(20))) == {1}
        log = app.state.prediction_log
        log.flush()
        assert {row["version"] for row in log.read("houses").to_pylist() if row["served_by"] == "shadow"} == {2}

        registry.models.set_traffic("houses")  # everything to the champion again: the challenger is let go
        wait_for(lambda: client.get("/v1/models").json()["models"][0]["traffic"]["challenger_version"] is None)
        assert set(answered_by(client, range(20))) == {1}


def test_a_changed_challenger_alias_is_loaded_before_it_takes_traffic(registry: Workspace) -> None:
    registry.models.register("houses", Ridge().fit(FRAME, 3.0 * FRAME["area"]), signature=FRAME)
    registry.models.set_alias("houses", "blue", 3)
    app = create_app(registry, ServerSettings(models=["houses"], poll_interval=0.05))
    with TestClient(app) as client:
        registry.models.set_traffic("houses", canary=1.0, challenger="absent")  # no such alias: the champion answers
        wait_for(lambda: client.get("/v1/models").json()["models"][0]["traffic"]["challenger"] == "absent")
        assert set(answered_by(client, range(10))) == {1}
        registry.models.set_traffic("houses", canary=1.0, challenger="blue")
        wait_for(lambda: client.get("/v1/models").json()["models"][0]["traffic"]["challenger_version"] == 3)
        assert set(answered_by(client, range(10))) == {3}


def test_a_server_started_with_its_own_policy_ignores_the_stored_one(registry: Workspace) -> None:
    registry.models.set_traffic("houses", canary=1.0)
    app = create_app(registry, ServerSettings(models=["houses"], traffic={"houses": {"shadow": True}}))
    with TestClient(app) as client:
        traffic = client.get("/v1/models").json()["models"][0]["traffic"]
        assert traffic["pinned"] and traffic["canary"] == 0.0 and traffic["shadow"]
        assert set(answered_by(client, range(20))) == {1}


def test_a_removed_challenger_alias_takes_its_version_out_of_the_traffic(registry: Workspace) -> None:
    app = create_app(
        registry, ServerSettings(models=["houses"], traffic={"houses": {"canary": 1.0}}, poll_interval=0.05)
    )
    with TestClient(app) as client:
        assert set(answered_by(client, range(10))) == {2}
        registry.models.delete_alias("houses", "challenger", reason="rolled back")
        wait_for(lambda: client.get("/v1/models").json()["models"][0]["traffic"]["challenger_version"] is None)
        assert set(answered_by(client, range(10))) == {1}
        registry.models.set_alias("houses", "challenger", 2)  # a new rollout: the canary takes traffic again
        wait_for(lambda: client.get("/v1/models").json()["models"][0]["traffic"]["challenger_version"] == 2)
        assert set(answered_by(client, range(10))) == {2}
