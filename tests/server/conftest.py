"""Fixtures of the workspace server's tests: an app over a fresh workspace, users holding roles, and a check that no
token handed out in a test appears in any log line captured during it."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient

from driftloop import Workspace
from driftloop.entities import WORKSPACE_SCOPE, Role
from driftloop.server import WorkspaceServerSettings, create_server_app

ADMIN = "root"
"""The user every test's workspace starts with, so that authentication is on."""


@dataclass
class People:
    """Users of one workspace with roles, and their tokens; every token handed out is remembered."""

    workspace: Workspace
    secrets: list[str] = field(default_factory=list)

    def token(
        self, user: str, role: Role | None = None, scope: str = WORKSPACE_SCOPE, *, expires_in: float | None = None
    ) -> str:
        """A new token of ``user`` (created on first use, with ``role`` on ``scope`` when given)."""
        identities = self.workspace.metadata.identities
        if user not in {known.name for known in identities.list_users()}:
            identities.create_user(user, actor=ADMIN)
        if role is not None:
            identities.grant(user, role, scope, actor=ADMIN)
        _, secret = identities.create_token(user, expires_in, actor=ADMIN)
        self.secrets.append(secret)
        return secret

    def expired_token(self, user: str, role: Role) -> str:
        """A token of ``user`` that expired an hour ago."""
        identities = self.workspace.metadata.identities
        real_clock = identities.clock
        identities.clock = lambda: real_clock() - 3_600
        try:
            return self.token(user, role, expires_in=60)
        finally:
            identities.clock = real_clock

    def revoked_token(self, user: str, role: Role) -> str:
        secret = self.token(user, role)
        identities = self.workspace.metadata.identities
        identities.revoke_token(_token_id(secret), actor=ADMIN)
        return secret

    def headers(self, user: str, role: Role | None = None, scope: str = WORKSPACE_SCOPE) -> dict[str, str]:
        return bearer(self.token(user, role, scope))


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _token_id(secret: str) -> str:
    """The id inside a token (``dl_<id>_<secret>``)."""
    return secret.split("_")[1]


def assert_no_secret_logged(secrets: list[str], caplog: pytest.LogCaptureFixture) -> None:
    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    for secret in secrets:
        assert secret not in logged, "a token appeared in the logs"
        assert secret[-20:] not in logged, "a token's secret part appeared in the logs"


@pytest.fixture
def people(sqlite_workspace: Workspace, caplog: pytest.LogCaptureFixture) -> Iterator[People]:
    """Users of the test's workspace (with the admin ``root`` made first); after the test, no token of theirs may
    appear in a captured log line."""
    caplog.set_level(logging.DEBUG)
    found = People(sqlite_workspace)
    sqlite_workspace.metadata.identities.create_user(ADMIN, role=Role.ADMIN, actor="setup")
    yield found
    assert_no_secret_logged(found.secrets, caplog)


@pytest.fixture
def client(sqlite_workspace: Workspace, people: People) -> Iterator[TestClient]:
    """The workspace server over the test's workspace, with authentication on (it has users)."""
    settings = WorkspaceServerSettings(max_request_bytes=64 * 1024, max_upload_bytes=256 * 1024)
    with TestClient(create_server_app(sqlite_workspace, settings)) as test_client:
        yield test_client
