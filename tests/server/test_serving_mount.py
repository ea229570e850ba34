"""Model serving inside the workspace server (``driftloop server --serve``): the API and the models on one port,
every serving route behind its rule (a table over ``SERVING_RULES``: no token, a revoked, expired, disabled user's
or unknown one, a role too low), probes open, the rest refused."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from sklearn.linear_model import Ridge
from tests.server.conftest import People, bearer

from driftloop import Workspace
from driftloop.entities import Role
from driftloop.server import WorkspaceServerSettings, create_server_app
from driftloop.server._serving import SERVING_RULES, serving_rule, with_models

ROWS = {"records": [{"area": 72.0, "rooms": 3.0}]}
SAMPLES: list[tuple[str, str, dict[str, object] | None]] = [
    ("GET", "/openapi.json", None),
    ("GET", "/v1/models", None),
    ("POST", "/v1/models/houses/predict", ROWS),
    ("POST", "/invocations", {"dataframe_records": ROWS["records"]}),
    ("GET", "/v2/models/houses", None),
    ("GET", "/v2/models/houses/ready", None),
    (
        "POST",
        "/v2/models/houses/infer",
        {
            "inputs": [
                {"name": "area", "shape": [1], "datatype": "FP64", "data": [72.0]},
                {"name": "rooms", "shape": [1], "datatype": "FP64", "data": [3.0]},
            ]
        },
    ),
    ("GET", "/v1/labels/pending", None),
    ("POST", "/v1/feedback", {"labels": [{"request_id": "r-1", "label": 300.0}]}),
    ("POST", "/v1/labels", {"labels": [{"request_id": "r-1", "label": 300.0}]}),
]
"""A request of every serving route that needs a role."""
BELOW = {Role.VIEWER: None, Role.EDITOR: Role.VIEWER, Role.DEPLOYER: Role.EDITOR}


@pytest.fixture
def served(sqlite_workspace: Workspace, people: People) -> Iterator[TestClient]:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, 200), "rooms": rng.integers(1, 6, 200).astype(float)})
    model = Ridge().fit(frame, 3 * frame["area"] + 10 * frame["rooms"])
    sqlite_workspace.models.register("houses", model, signature=frame)
    sqlite_workspace.models.promote("houses/1")
    api = create_server_app(sqlite_workspace, WorkspaceServerSettings())
    app = with_models(api, sqlite_workspace, ["houses"], monitor_interval=0, upkeep_interval=0, poll_interval=0.2)
    with TestClient(app) as client:
        yield client


def test_the_samples_cover_every_guarded_serving_route() -> None:
    guarded = {rule for rule in SERVING_RULES if rule.role is not None}
    sampled = set()
    for method, path, _ in SAMPLES:
        found = serving_rule(method, path)
        assert found is not None, path
        sampled.add(found[0])
    assert sampled == guarded


@pytest.mark.parametrize(("method", "path", "body"), SAMPLES, ids=[f"{m} {p}" for m, p, _ in SAMPLES])
def test_each_serving_route_answers_401_403_and_lets_its_role_through(
    served: TestClient, people: People, method: str, path: str, body: dict[str, object] | None
) -> None:
    found = serving_rule(method, path)
    assert found is not None and found[1] is not None
    role = found[1].role
    assert served.request(method, path, json=body).status_code == 401
    refused = {
        "revoked": people.revoked_token(f"revoked-{role}", Role.ADMIN),
        "expired": people.expired_token(f"expired-{role}", Role.ADMIN),
        "disabled user's": people.token(f"disabled-{role}", Role.ADMIN),
        "unknown": "dl_" + "0" * 16 + "_x",
    }
    people.workspace.metadata.identities.disable_user(f"disabled-{role}", actor="setup")
    for kind, token in refused.items():
        answer = served.request(method, path, json=body, headers=bearer(token))
        assert answer.status_code == 401, f"a {kind} token got {answer.status_code}: {answer.text}"
        assert answer.headers["www-authenticate"].startswith("Bearer")
    below = BELOW[role]
    refused = served.request(method, path, json=body, headers=people.headers(f"below-{role}", below))
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "permission_denied"
    allowed = served.request(method, path, json=body, headers=people.headers(f"holder-{role}", role))
    # The holder reaches the route: it scores, lists or records (an answer to a label request never queued: 404).
    assert allowed.status_code == (404 if path == "/v1/labels" else 200), allowed.text


def test_a_model_grant_is_enough_to_score_that_model_and_no_other(served: TestClient, people: People) -> None:
    scoped = people.headers("scorer", Role.VIEWER, "model:houses")
    answer = served.post("/v1/models/houses/predict", json=ROWS, headers=scoped)
    assert answer.status_code == 200 and len(answer.json()["predictions"]) == 1
    assert served.post("/v1/models/flats/predict", json=ROWS, headers=scoped).status_code == 403


def test_probes_are_open_the_api_keeps_its_rules_and_other_paths_are_not_found(
    served: TestClient, people: People
) -> None:
    for probe in ("/healthz", "/readyz", "/metrics", "/v2/health/live"):
        assert served.get(probe).status_code == 200, probe
    assert served.get("/api/v1/models").status_code == 401
    listed = served.get("/api/v1/models", headers=people.headers("vic", Role.VIEWER))
    assert [model["name"] for model in listed.json()] == ["houses"]
    missing = served.get("/admin", headers=bearer(people.token("ada", Role.ADMIN)))
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
