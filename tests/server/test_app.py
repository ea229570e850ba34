"""The server's app as a whole: an open server acts as the local admin, a closed one needs tokens; the access log
says who did what without a header or a query string; errors share one shape."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import People, bearer

from driftloop import Workspace
from driftloop.entities import Role
from driftloop.errors import InvalidSettings
from driftloop.server import WorkspaceServerSettings, create_server_app


def test_an_open_server_acts_as_the_local_admin_without_a_token(sqlite_workspace: Workspace) -> None:
    with TestClient(create_server_app(sqlite_workspace, WorkspaceServerSettings(open_access=True))) as client:
        made = client.post("/api/v1/experiments", json={"name": "local"})
        assert made.status_code == 201 and made.json()["created_by"] == "tester"
        assert client.post("/api/v1/users", json={"name": "ana", "role": "admin"}).status_code == 201
        # A token sent is checked even here: a wrong one is not the local admin.
        refused = client.get("/api/v1/experiments", headers=bearer("dl_0123456789abcdef_" + "x" * 43))
        assert refused.status_code == 401
    (event,) = sqlite_workspace.events.list(action="experiment.create")
    assert event.actor == "tester"


def test_a_closed_server_needs_a_token_even_before_any_user_exists(sqlite_workspace: Workspace) -> None:
    with TestClient(create_server_app(sqlite_workspace)) as client:
        answer = client.get("/api/v1/experiments")
    assert answer.status_code == 401
    assert answer.json()["error"]["message"] == (
        "This server needs an API token: send the header 'Authorization: Bearer <token>'."
    )


def test_building_the_app_opens_nothing(tmp_path: Path) -> None:
    workspace = Workspace(tmp_path / "ws")
    create_server_app(workspace)
    assert not (tmp_path / "ws").exists()  # the first request creates and migrates it


def test_settings_refuse_sizes_that_are_not_whole_positive_numbers() -> None:
    with pytest.raises(InvalidSettings, match="'max_upload_bytes' must be a whole number of bytes >= 1; got 0"):
        WorkspaceServerSettings(max_upload_bytes=0)
    with pytest.raises(InvalidSettings, match="'max_request_bytes'"):
        WorkspaceServerSettings(max_request_bytes=1.5)  # type: ignore[arg-type]


def test_the_access_log_names_the_caller_and_holds_no_header_or_query(
    client: TestClient, people: People, caplog: pytest.LogCaptureFixture
) -> None:
    token = people.token("vic", Role.VIEWER)
    caplog.clear()
    client.get("/api/v1/experiments", params={"include_deleted": "true"}, headers=bearer(token))
    client.get("/api/v1/experiments")
    access = [record for record in caplog.records if record.name == "driftloop.server.access"]
    assert all(record.levelno == logging.INFO and "include_deleted" not in record.getMessage() for record in access)
    lines = [json.loads(record.getMessage()) for record in access]
    assert [(line["user"], line["method"], line["path"], line["status"]) for line in lines] == [
        ("vic", "GET", "/api/v1/experiments", 200),
        (None, "GET", "/api/v1/experiments", 401),
    ]
    assert lines[0]["client"] == "testclient" and lines[0]["ms"] >= 0


def test_every_error_has_one_shape(client: TestClient, people: People) -> None:
    viewer = people.headers("vic", Role.VIEWER)
    for answer, status, code in (
        (client.get("/api/v1/no-such-route", headers=viewer), 404, "not_found"),
        (client.delete("/api/v1/experiments", headers=viewer), 405, "http_error"),
        (client.get("/api/v1/runs/nope", headers=viewer), 404, "not_found"),
        (client.get("/api/v1/events", params={"limit": "many"}, headers=viewer), 422, "invalid_data"),
    ):
        assert answer.status_code == status
        assert answer.json()["error"]["code"] == code and answer.json()["error"]["message"]
