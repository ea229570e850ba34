"""``driftloop users|tokens|grants``: create, list, disable, revoke; a token is printed once (asserted on --json
output: the Rich table is as wide as the terminal)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from tests.cli.test_monitor_cli import invoke

from driftloop import Workspace
from driftloop.errors import AlreadyExists, InvalidInput, NotFound, Unauthenticated
from driftloop.settings import local_user

ACTOR = local_user()  # the commands' workspace is opened by --root, so its actor is the local user


def output(result: Any) -> Any:
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_users_are_created_listed_disabled_and_enabled(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    created = output(invoke(ws, "users", "create", "ana", "--role", "editor", "--json"))
    assert (created["name"], created["kind"], created["role"], created["created_by"]) == (
        "ana",
        "user",
        "editor",
        ACTOR,
    )
    service = invoke(ws, "users", "create", "ci", "--service")
    assert service.exit_code == 0 and "Created the service 'ci'." in service.output  # type: ignore[attr-defined]
    assert [(u["name"], u["kind"], u["disabled"]) for u in output(invoke(ws, "users", "list", "--json"))] == [
        ("ana", "user", False),
        ("ci", "service", False),
    ]
    assert output(invoke(ws, "users", "disable", "ci", "--json"))["disabled"] is True
    assert output(invoke(ws, "users", "enable", "ci", "--json"))["disabled"] is False
    shown = invoke(ws, "users", "list")
    assert shown.exit_code == 0 and "created by" in shown.output  # type: ignore[attr-defined]

    duplicate = invoke(ws, "users", "create", "ana")
    assert isinstance(duplicate.exception, AlreadyExists)  # type: ignore[attr-defined]
    assert "A user named 'ana' exists already." in str(duplicate.exception)  # type: ignore[attr-defined]
    bad_role = invoke(ws, "users", "create", "ben", "--role", "owner")
    assert bad_role.exit_code == 2 and "'owner' is not one of" in bad_role.output  # type: ignore[attr-defined]
    assert isinstance(invoke(ws, "users", "disable", "ghost").exception, NotFound)  # type: ignore[attr-defined]


def test_a_token_is_printed_once_listed_without_its_secret_and_revoked(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    invoke(ws, "users", "create", "ci", "--service")
    result = invoke(ws, "tokens", "create", "ci", "--expires", "30d", "--json")
    created = output(result)
    secret = created["token"]
    assert secret.startswith(created["prefix"]) and created["status"] == "active"
    assert created["expires_at"] - created["created_at"] == 30 * 86_400
    assert "will not be shown again" in result.stderr  # type: ignore[attr-defined]
    assert ws.metadata.identities.authenticate(secret).name == "ci"

    shown = invoke(ws, "tokens", "create", "ci")
    lines = shown.output.splitlines()  # type: ignore[attr-defined]
    assert lines[0].endswith("valid until revoked:") and lines[1].startswith("dl_")
    assert "will not be shown again" in lines[2]

    listed = output(invoke(ws, "tokens", "list", "ci", "--json"))
    assert [t["id"] for t in listed] == [created["id"], lines[1].split("_")[1]]
    assert secret not in json.dumps(listed) and all("token" not in t for t in listed)
    table = invoke(ws, "tokens", "list")
    assert table.exit_code == 0 and secret not in table.output  # type: ignore[attr-defined]

    revoked = output(invoke(ws, "tokens", "revoke", created["id"], "--json"))
    assert (revoked["status"], revoked["revoked_by"]) == ("revoked", ACTOR)
    with pytest.raises(Unauthenticated):
        ws.metadata.identities.authenticate(secret)
    events = ws.metadata.events.list(object_type="user", object_id="ci")
    assert [e.action for e in events] == ["token.revoke", "token.create", "token.create", "user.create"]

    bad_expiry = invoke(ws, "tokens", "create", "ci", "--expires", "soon")
    assert isinstance(bad_expiry.exception, InvalidInput)  # type: ignore[attr-defined]
    assert "--expires must be seconds or a duration such as 30m; got 'soon'" in str(bad_expiry.exception)  # type: ignore[attr-defined]
    zero = invoke(ws, "tokens", "create", "ci", "--expires", "0")
    assert "must be a number of seconds > 0" in str(zero.exception)  # type: ignore[attr-defined]
    assert isinstance(invoke(ws, "tokens", "create", "ghost").exception, NotFound)  # type: ignore[attr-defined]
    assert isinstance(invoke(ws, "tokens", "revoke", "nope").exception, NotFound)  # type: ignore[attr-defined]


def test_grants_are_added_listed_and_removed(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    invoke(ws, "users", "create", "ana", "--role", "viewer")
    added = output(invoke(ws, "grants", "add", "ana", "deployer", "--scope", "model:houses", "--json"))
    assert (added["user"], added["role"], added["scope"], added["granted_by"]) == (
        "ana",
        "deployer",
        "model:houses",
        ACTOR,
    )
    listed = output(invoke(ws, "grants", "list", "--user", "ana", "--json"))
    assert [(g["role"], g["scope"]) for g in listed] == [("deployer", "model:houses"), ("viewer", "workspace")]
    assert output(invoke(ws, "grants", "list", "--scope", "model:houses", "--json")) == [added]
    shown = invoke(ws, "grants", "list")
    assert shown.exit_code == 0 and "model:houses" in shown.output  # type: ignore[attr-defined]

    removed = output(invoke(ws, "grants", "remove", "ana", "--scope", "model:houses", "--json"))
    assert removed == added
    assert [g["scope"] for g in output(invoke(ws, "grants", "list", "--json"))] == ["workspace"]
    said = invoke(ws, "grants", "remove", "ana")
    assert said.exit_code == 0 and "no longer holds the role viewer on workspace" in said.output  # type: ignore[attr-defined]

    bad_scope = invoke(ws, "grants", "add", "ana", "viewer", "--scope", "project:x")
    assert "A scope is 'workspace', 'dataset:<name>' or 'model:<name>'" in str(bad_scope.exception)  # type: ignore[attr-defined]
    bad_role = invoke(ws, "grants", "add", "ana", "root")
    assert bad_role.exit_code == 2 and "'root' is not one of" in bad_role.output  # type: ignore[attr-defined]
    assert isinstance(invoke(ws, "grants", "add", "ghost", "viewer").exception, NotFound)  # type: ignore[attr-defined]
