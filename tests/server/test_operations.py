"""The audit log, alerts and loop actions through the server."""

from __future__ import annotations

from fastapi.testclient import TestClient
from tests.server.conftest import People

from driftloop import Workspace
from driftloop.entities import Role


def test_alerts_are_listed_acknowledged_and_resolved_by_a_deployer(
    client: TestClient, people: People, sqlite_workspace: Workspace
) -> None:
    opened = sqlite_workspace.metadata.alerts.observe("drift", "houses", value=0.4, breached=True, message="PSI 0.4")
    assert opened.alert is not None
    alert_id = opened.alert.id
    viewer, deployer = people.headers("vic", Role.VIEWER), people.headers("dev", Role.DEPLOYER)
    (listed,) = client.get("/api/v1/alerts", params={"status": "open"}, headers=viewer).json()
    assert (listed["id"], listed["rule"], listed["message"]) == (alert_id, "drift", "PSI 0.4")
    assert client.get("/api/v1/alerts", params={"status": "closed"}, headers=viewer).status_code == 422

    assert client.post(f"/api/v1/alerts/{alert_id}/ack", headers=people.headers("ed", Role.EDITOR)).status_code == 403
    acknowledged = client.post(f"/api/v1/alerts/{alert_id}/ack", headers=deployer).json()
    assert (acknowledged["status"], acknowledged["acked_by"]) == ("acknowledged", "dev")
    resolved = client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=deployer).json()
    assert (resolved["status"], resolved["resolved_by"]) == ("resolved", "dev")
    again = client.post(f"/api/v1/alerts/{alert_id}/resolve", headers=deployer)
    assert again.status_code == 409 and again.json()["error"]["code"] == "invalid_state"
    assert client.post("/api/v1/alerts/999/ack", headers=deployer).status_code == 404
    assert client.post("/api/v1/alerts/0/ack", headers=deployer).status_code == 422
    (event,) = sqlite_workspace.events.list(action="alert.ack")
    assert event.actor == "dev"


def test_the_audit_log_is_queried_by_actor_action_and_object(
    client: TestClient, people: People, sqlite_workspace: Workspace
) -> None:
    editor, viewer = people.headers("ana", Role.EDITOR), people.headers("vic", Role.VIEWER)
    client.post("/api/v1/experiments", json={"name": "rent"}, headers=editor)
    found = client.get("/api/v1/events", params={"actor": "ana", "object_type": "experiment"}, headers=viewer).json()
    assert [(event["action"], event["object_id"]) for event in found] == [("experiment.create", "1")]
    mine = client.get("/api/v1/events", params={"action": "token.create", "limit": 2}, headers=viewer).json()
    assert len(mine) == 2 and all(event["actor"] == "root" for event in mine)
    assert all("dl_" not in str(event["details"]) for event in mine)  # an event names a token's id, never the token
    assert client.get("/api/v1/events", params={"limit": 0}, headers=viewer).status_code == 422
    assert client.get("/api/v1/events", params={"since": "yesterday"}, headers=viewer).status_code == 422
    # There is no route that changes or deletes an entry.
    assert client.delete("/api/v1/events", headers=people.headers("boss", Role.ADMIN)).status_code == 405


def test_loop_actions_are_listed_newest_first(client: TestClient, people: People, sqlite_workspace: Workspace) -> None:
    loop = sqlite_workspace.metadata.loop
    loop.start("drift-retrain", "houses", trigger="drift", action="retrain", champion_version=1)
    loop.start("drift-retrain", "flats", trigger="drift", action="retrain", champion_version=None)
    viewer = people.headers("vic", Role.VIEWER)
    listed = client.get("/api/v1/loop/actions", headers=viewer).json()
    assert [(action["model"], action["state"]) for action in listed] == [("flats", "started"), ("houses", "started")]
    only = client.get("/api/v1/loop/actions", params={"model": "houses"}, headers=viewer).json()
    assert [action["champion_version"] for action in only] == [1]
