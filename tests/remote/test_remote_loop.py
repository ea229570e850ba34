"""The loop through a workspace server: ``ws.policies.tick()`` and ``driftloop loop run`` run one tick on the server,
over its stored policies, as the token's user; never beside another controller."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from tests.conftest import remote_workspace, stores_of
from tests.loop.conftest import market, policy_spec, serve, with_champion
from tests.remote.test_remote_cli import cli

from driftloop import Workspace
from driftloop.entities import Role
from driftloop.errors import Conflict, NotFound, PermissionDenied
from driftloop.loop._controller import CONTROLLER_LEASE
from driftloop.serving import ServerSettings, create_app


def with_drifted_traffic(behind: Workspace) -> None:
    """The server's workspace: a champion trained on last year's prices, then served this year's (60% dearer)."""
    with_champion(behind)
    app = create_app(behind, ServerSettings(models=["houses"], monitor_interval=0, upkeep_interval=0))
    with TestClient(app) as client:
        client.app_state = app.state  # type: ignore[attr-defined]
        serve(client, market(1_500, 2, scale=1.6), behind)


def test_a_tick_runs_on_the_server_as_the_token_user(tmp_path: Path) -> None:
    with remote_workspace(tmp_path, actor="root") as admin:
        behind = stores_of(admin)
        with_drifted_traffic(behind)
        admin.policies.set(policy_spec())
        identities = behind.metadata.identities
        tokens = {}
        for user, role in (("eve", Role.EDITOR), ("dan", Role.DEPLOYER)):
            identities.create_user(user, role=role, actor="setup")
            tokens[user] = identities.create_token(user, None, actor="setup")[1]
        editor, deployer = (
            Workspace(admin.server.url, token=tokens["eve"]),
            Workspace(admin.server.url, token=tokens["dan"]),
        )
        try:
            with pytest.raises(PermissionDenied, match="deployer"):
                editor.policies.tick()
            with pytest.raises(NotFound, match="'flats-loop'"):
                deployer.policies.tick(["flats-loop"])
            assert behind.metadata.loop.list() == []

            behind.metadata.leases.acquire(CONTROLLER_LEASE, "a-server:41", ttl=60)  # a controller runs elsewhere
            with pytest.raises(Conflict, match=r"runs in another process now \(a-server:41\)"):
                deployer.policies.tick()
            assert behind.metadata.loop.list() == []
            behind.metadata.leases.release(CONTROLLER_LEASE, "a-server:41")

            (outcome,) = deployer.policies.tick()
            assert outcome.policy == "houses-loop" and outcome.status == "promoted"
            assert outcome.action is not None and outcome.action.challenger_version == 2
        finally:
            editor.close()
            deployer.close()
        # The champion moved on the server, recorded as the caller, from the caller's address.
        (move,) = [m for m in behind.models.history("houses", "champion") if m.to_version == 2]
        assert move.actor == "dan" and "houses-loop" in move.reason
        (event,) = [e for e in behind.events.list(object_id="houses") if e.action == "model.alias" and e.actor == "dan"]
        assert event.details["from"] == "127.0.0.1"
        lease = behind.metadata.leases.get(CONTROLLER_LEASE)
        assert lease is not None and lease.expired()  # released after the tick
        # The command line does the same through the server: the next tick waits for the policy's cooldown.
        again = cli(admin, "loop", "run", "--json")
        assert again.returncode == 0, again.stderr
        (outcome_again,) = json.loads(again.stdout)
        assert outcome_again["status"] == "cooldown"
