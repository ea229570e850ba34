"""Every route of the workspace server obeys its access rule: a table-driven test over the app's own route list.

For each route: no token, a malformed header, a revoked token, an expired token and a disabled user's token answer
401 (with ``WWW-Authenticate: Bearer``); a user one role below the rule's answers 403; a user holding exactly the
rule's role gets past the gate (whatever the route then answers). A route scoped to a dataset or a model also lets a
user whose grant is on that object alone through, and refuses it on another object. The routes come from
``app.routes``, so a new route is tested as soon as it exists, and one without a rule fails
:func:`test_every_route_declares_its_rule`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import bearer

from driftloop import Workspace
from driftloop.entities import WORKSPACE_SCOPE, Role
from driftloop.errors import InvalidInput
from driftloop.server import GuardedRoute, create_server_app, unguarded_routes

SAMPLES = {
    "name": "houses",
    "run_id": "0" * 32,
    "version": "1",
    "alias": "champion",
    "path": "notes/a.txt",
    "key": "loss",
    "token_id": "0123456789abcdef",
    "scope": "model:houses",
    "alert_id": "1",
    "digest": "0" * 64,
    "part": "estimator",
    "other": "2",
    "experiment": "price",
}
"""A value for each path parameter of the routes; a route with a parameter missing here fails the test."""
PARAMETER = re.compile(r"\{(\w+)(?::\w+)?\}")

# Building the app does no I/O, so the route list is read at collection time from a workspace never opened.
ROUTES: list[GuardedRoute] = [
    route for route in create_server_app(Workspace("never-opened")).routes if isinstance(route, GuardedRoute)
]


@dataclass
class Guarded:
    """A server with authentication on, and tokens of every kind a test sends."""

    client: TestClient
    by_role: dict[Role | None, str]
    scoped: dict[Role, str]
    refused: dict[str, str]
    secrets: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Guarded]:
    """One workspace for the whole table (building a workspace per route would take longer than the checks)."""
    root = tmp_path_factory.mktemp("access") / "ws"
    ws = Workspace(root, store=f"sqlite:///{root / 'driftloop.db'}", artifacts=str(root), actor="tester").open()
    identities = ws.metadata.identities

    def token(user: str, grants: dict[str, Role], *, expires_in: float | None = None) -> str:
        if user not in {known.name for known in identities.list_users()}:
            identities.create_user(user, actor="setup")
        for scope, role in grants.items():
            identities.grant(user, role, scope, actor="setup")
        _, secret = identities.create_token(user, expires_in, actor="setup")
        return secret

    by_role: dict[Role | None, str] = {role: token(f"{role}-user", {WORKSPACE_SCOPE: role}) for role in Role}
    by_role[None] = token("no-role", {})
    scoped = {role: token(f"scoped-{role}", {"dataset:houses": role, "model:houses": role}) for role in Role}
    revoked = token("revoked", {WORKSPACE_SCOPE: Role.ADMIN})
    identities.revoke_token(revoked.split("_")[1], actor="setup")
    clock = identities.clock
    identities.clock = lambda: clock() - 3_600
    expired = token("expired", {WORKSPACE_SCOPE: Role.ADMIN}, expires_in=60)
    identities.clock = clock
    disabled = token("disabled", {WORKSPACE_SCOPE: Role.ADMIN})
    identities.disable_user("disabled", actor="setup")
    refused = {"revoked": revoked, "expired": expired, "disabled user's": disabled, "unknown": "dl_" + "0" * 16 + "_x"}
    secrets = [*by_role.values(), *scoped.values(), revoked, expired, disabled]
    with TestClient(create_server_app(ws)) as client:
        yield Guarded(client, by_role, scoped, refused, secrets)
    ws.close()


def url(route: GuardedRoute, **values: str) -> str:
    def fill(match: re.Match[str]) -> str:
        parameter = match[1]
        assert parameter in SAMPLES, f"Give the path parameter {parameter!r} of {route.path} a value in SAMPLES."
        return values.get(parameter, SAMPLES[parameter])

    return PARAMETER.sub(fill, route.path)


def method(route: GuardedRoute) -> str:
    (only,) = route.methods
    return only


def one_below(role: Role) -> Role | None:
    return None if role is Role.VIEWER else list(Role)[role.rank - 1]


def test_every_route_declares_its_rule() -> None:
    app = create_server_app(Workspace("never-opened"))
    assert unguarded_routes(app) == []
    assert len(ROUTES) == len(app.routes) > 40
    assert {route.access.role for route in ROUTES} == set(Role)


def test_a_route_without_a_rule_is_caught() -> None:
    app = create_server_app(Workspace("never-opened"))
    app.add_api_route("/api/v1/backdoor", lambda: "open", methods=["GET"])
    assert unguarded_routes(app) == ["GET /api/v1/backdoor"]
    with pytest.raises(TypeError, match="declares no access rule"):
        GuardedRoute("/api/v1/backdoor", lambda: "open", methods=["GET"])


def test_a_rule_names_a_role_and_a_scope_there_are() -> None:
    with pytest.raises(InvalidInput, match="Unknown role 'owner'"):
        rule = {"role": "owner", "scope": "workspace", "upload": False}
        GuardedRoute("/x", lambda: 1, openapi_extra={"x-driftloop-access": rule})


@pytest.mark.parametrize("route", ROUTES, ids=lambda route: f"{method(route)} {route.path}")
def test_the_route_answers_401_403_and_lets_its_role_through(
    route: GuardedRoute, guarded: Guarded, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    client, target, verb, rule = guarded.client, url(route), method(route), route.access

    for headers in ({}, {"Authorization": "Basic cm9vdDpyb290"}, {"Authorization": "Bearer"}):
        answer = client.request(verb, target, headers=headers)
        assert answer.status_code == 401, (headers, answer.text)
        assert answer.headers["www-authenticate"].startswith("Bearer")
        assert answer.json()["error"]["code"] == "unauthenticated"
    for kind, token in guarded.refused.items():
        answer = client.request(verb, target, headers=bearer(token))
        assert answer.status_code == 401, f"a {kind} token got {answer.status_code}: {answer.text}"
        assert answer.headers["www-authenticate"].startswith("Bearer")

    below = one_below(rule.role)
    answer = client.request(verb, target, headers=bearer(guarded.by_role[below]))
    assert answer.status_code == 403, f"{below} got {answer.status_code}: {answer.text}"
    assert answer.json()["error"]["code"] == "permission_denied"
    assert f"needs the role {rule.role.value}" in answer.json()["error"]["message"]

    answer = client.request(verb, target, headers=bearer(guarded.by_role[rule.role]))
    assert answer.status_code not in (401, 403), answer.text

    if rule.scope != WORKSPACE_SCOPE:
        holder = bearer(guarded.scoped[rule.role])
        assert client.request(verb, target, headers=holder).status_code not in (401, 403)
        elsewhere = client.request(verb, url(route, name="other"), headers=holder)
        assert elsewhere.status_code == 403, elsewhere.text
        if below is not None:
            assert client.request(verb, target, headers=bearer(guarded.scoped[below])).status_code == 403

    logged = caplog.text + "".join(str(record.__dict__) for record in caplog.records)
    assert not [secret for secret in guarded.secrets if secret in logged]


def test_the_rules_table_is_written_into_the_openapi_document(guarded: Guarded) -> None:
    document = guarded.client.get("/api/v1/openapi.json", headers=bearer(guarded.by_role[Role.VIEWER])).json()
    assert document["components"]["securitySchemes"]["bearer"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API token, as `driftloop tokens create USER` prints it once.",
    }
    operations = {
        (verb.upper(), path): operation for path, item in document["paths"].items() for verb, operation in item.items()
    }
    assert len(operations) == len(ROUTES) - 1  # the document leaves itself out
    for route in ROUTES:
        if route.path == "/api/v1/openapi.json":
            continue
        operation = operations[(method(route), PARAMETER.sub(r"{\1}", route.path))]
        assert operation["x-driftloop-access"] == route.access.to_openapi()
        assert operation["security"] == [{"bearer": []}]
        assert {"401", "403"} <= set(operation["responses"])


def test_a_name_that_would_leave_the_workspace_is_refused_before_anything_runs(guarded: Guarded) -> None:
    admin = bearer(guarded.by_role[Role.ADMIN])
    for target in ("/api/v1/datasets/%2E%2E/versions", "/api/v1/models/..%5Cx/versions"):
        answer = guarded.client.get(target, headers=admin)
        assert answer.status_code == 400, (target, answer.text)
        assert answer.json()["error"]["code"] == "invalid_name"
    # A decoded slash splits the path: it matches no route at all.
    assert guarded.client.get("/api/v1/datasets/a%2Fb/versions", headers=admin).status_code == 404


def test_every_route_is_under_the_api_prefix() -> None:
    assert all(route.path.startswith("/api/v1/") for route in ROUTES)
