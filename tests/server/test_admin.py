"""Users, tokens and grants through the server, by an admin: a token is answered once and works at once; revoking
it, or disabling its user, closes the door; every change is an event naming the admin."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.server.conftest import People, bearer

from driftloop import Workspace
from driftloop.entities import Role


def test_an_admin_creates_a_user_and_a_token_that_works_until_it_is_revoked(
    client: TestClient, people: People, sqlite_workspace: Workspace
) -> None:
    admin = people.headers("boss", Role.ADMIN)
    created = client.post("/api/v1/users", json={"name": "ci", "kind": "service", "role": "editor"}, headers=admin)
    assert created.status_code == 201
    assert {key: created.json()[key] for key in ("name", "kind", "created_by", "disabled")} == {
        "name": "ci",
        "kind": "service",
        "created_by": "boss",
        "disabled": False,
    }
    issued = client.post("/api/v1/users/ci/tokens", json={"expires_in": 3600}, headers=admin)
    assert issued.status_code == 201 and issued.headers["cache-control"] == "no-store"
    secret = issued.json()["token"]
    people.secrets.append(secret)
    assert secret.startswith(issued.json()["prefix"]) and issued.json()["status"] == "active"

    ci = bearer(secret)
    made = client.post("/api/v1/experiments", json={"name": "nightly"}, headers=ci)
    assert made.status_code == 201 and made.json()["created_by"] == "ci"
    listed = client.get("/api/v1/tokens", params={"user": "ci"}, headers=admin)
    assert [token["id"] for token in listed.json()] == [issued.json()["id"]]
    assert secret not in listed.text and secret[-20:] not in listed.text

    revoked = client.delete(f"/api/v1/tokens/{issued.json()['id']}", headers=admin)
    assert revoked.status_code == 200 and (revoked.json()["status"], revoked.json()["revoked_by"]) == (
        "revoked",
        "boss",
    )
    assert client.get("/api/v1/experiments", headers=ci).status_code == 401
    actions = [(event.action, event.actor) for event in sqlite_workspace.events.list(object_id="ci", limit=10)]
    assert actions[:4] == [
        ("token.revoke", "boss"),
        ("token.create", "boss"),
        ("grant.set", "boss"),
        ("user.create", "boss"),
    ]


def test_grants_open_and_close_one_model(client: TestClient, people: People) -> None:
    admin = people.headers("boss", Role.ADMIN)
    reader = people.headers("vic")  # no role at all yet
    assert client.get("/api/v1/models/houses/versions", headers=reader).status_code == 403
    granted = client.put("/api/v1/users/vic/grants/model:houses", json={"role": "viewer"}, headers=admin)
    assert granted.status_code == 200 and granted.json()["scope"] == "model:houses"
    assert client.get("/api/v1/models/houses/versions", headers=reader).status_code == 404  # allowed; no such model
    assert client.get("/api/v1/models/flats/versions", headers=reader).status_code == 403
    grants = client.get("/api/v1/grants", params={"user": "vic"}, headers=admin).json()
    assert [(grant["role"], grant["scope"], grant["granted_by"]) for grant in grants] == [
        ("viewer", "model:houses", "boss")
    ]
    removed = client.delete("/api/v1/users/vic/grants/model:houses", headers=admin)
    assert removed.status_code == 200 and removed.json()["role"] == "viewer"
    assert client.get("/api/v1/models/houses/versions", headers=reader).status_code == 403
    assert client.delete("/api/v1/users/vic/grants/model:houses", headers=admin).status_code == 404
    bad_scope = client.put("/api/v1/users/vic/grants/project:x", json={"role": "viewer"}, headers=admin)
    assert bad_scope.status_code == 400 and "A scope is 'workspace'" in bad_scope.json()["error"]["message"]


def test_a_disabled_user_is_refused_and_bad_requests_are_answered(client: TestClient, people: People) -> None:
    admin = people.headers("boss", Role.ADMIN)
    worker = people.headers("ana", Role.EDITOR)
    assert client.post("/api/v1/users/ana/disable", headers=admin).json()["disabled"] is True
    assert client.get("/api/v1/experiments", headers=worker).status_code == 401
    assert client.post("/api/v1/users/ana/enable", headers=admin).json()["disabled"] is False
    assert client.get("/api/v1/experiments", headers=worker).status_code == 200

    assert client.post("/api/v1/users", json={"name": "ana"}, headers=admin).status_code == 409
    assert client.post("/api/v1/users", json={"name": "ben", "role": "owner"}, headers=admin).status_code == 422
    assert client.post("/api/v1/users", json={"name": "a/b"}, headers=admin).status_code == 400
    assert client.post("/api/v1/users/ghost/tokens", json={}, headers=admin).status_code == 404
    assert client.post("/api/v1/users/ana/tokens", json={"expires_in": -5}, headers=admin).status_code == 422
    assert client.delete("/api/v1/tokens/0123456789abcdef", headers=admin).status_code == 404
    assert [user["name"] for user in client.get("/api/v1/users", headers=admin).json()] == ["ana", "boss", "root"]
