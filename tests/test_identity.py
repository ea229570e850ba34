"""Authorization: ``require`` answers with the role held, 403 (PermissionDenied) below the role needed and 401
(Unauthenticated) for no such user; the role ladder orders by rank, never alphabetically."""

from __future__ import annotations

import pytest

from driftloop import Workspace
from driftloop.entities import Role, parse_scope
from driftloop.errors import HTTP_STATUS, InvalidInput, PermissionDenied, Unauthenticated
from driftloop.identity import require


def test_the_role_ladder_orders_by_rank_and_parses_names() -> None:
    assert Role.VIEWER < Role.EDITOR < Role.DEPLOYER < Role.ADMIN  # alphabetically, admin would come first
    assert Role.ADMIN >= Role.ADMIN > Role.DEPLOYER and Role.VIEWER <= Role.VIEWER
    assert max([Role.EDITOR, Role.ADMIN, Role.VIEWER]) is Role.ADMIN
    assert Role.VIEWER < "admin" and [role.rank for role in Role] == [0, 1, 2, 3]
    assert Role.parse("deployer") is Role.DEPLOYER and Role.parse(Role.EDITOR) is Role.EDITOR
    with pytest.raises(InvalidInput, match=r"Unknown role 'Admin'; the roles are viewer, editor, deployer, admin"):
        Role.parse("Admin")
    with pytest.raises(TypeError, match="compares with a role or a role name"):
        _ = Role.VIEWER < 3
    assert parse_scope("workspace") == "workspace" and parse_scope("dataset:houses 2") == "dataset:houses 2"


def test_require_answers_with_the_role_held_or_refuses(sqlite_workspace: Workspace) -> None:
    identities = sqlite_workspace.metadata.identities
    identities.create_user("ana", role="viewer", actor="admin")
    identities.grant("ana", "deployer", "model:houses", actor="admin")

    assert require(identities, "ana", "viewer") is Role.VIEWER
    assert require(identities, "ana", Role.EDITOR, "model:houses") is Role.DEPLOYER
    with pytest.raises(PermissionDenied, match="'ana' needs the role editor on dataset:houses; it holds viewer"):
        require(identities, "ana", "editor", "dataset:houses")
    with pytest.raises(PermissionDenied, match="needs the role admin on model:houses; it holds deployer"):
        require(identities, "ana", "admin", "model:houses")

    identities.disable_user("ana", actor="admin")
    with pytest.raises(PermissionDenied, match="it holds no role"):
        require(identities, "ana", "viewer")
    with pytest.raises(Unauthenticated, match="No user named 'ghost'") as unknown:
        require(identities, "ghost", "viewer")
    assert (HTTP_STATUS[unknown.value.code], HTTP_STATUS[PermissionDenied.code]) == (401, 403)
    with pytest.raises(InvalidInput, match="Unknown role 'owner'"):
        require(identities, "ana", "owner")
    with pytest.raises(InvalidInput, match="A scope is"):
        require(identities, "ana", "viewer", "run:abc")
