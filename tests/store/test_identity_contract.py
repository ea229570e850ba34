"""The identity contract, on SQLite and PostgreSQL: users, tokens shown once and kept only as hashes, refusals that
say nothing, role grants per workspace, dataset and model, and an event for every change."""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import re
from typing import Any

import pytest
import sqlalchemy as sa
from tests.store.conftest import Clock

from driftloop.entities import Role
from driftloop.errors import AlreadyExists, Conflict, InvalidInput, InvalidName, InvalidState, NotFound, Unauthenticated
from driftloop.store.metadata import IdentityRepository, MetadataStore
from driftloop.store.metadata._schema import metadata as schema

ADMIN = "root"


@pytest.fixture
def identities(store: MetadataStore, clock: Clock) -> IdentityRepository:
    return IdentityRepository(store.database, clock=clock)


def every_stored_text(store: MetadataStore) -> str:
    """Every value of every row of every table, as one text to search."""
    with store.database.read() as conn:
        return "\n".join(repr(tuple(row)) for table in schema.sorted_tables for row in conn.execute(sa.select(table)))


def refusal(identities: IdentityRepository, token: Any) -> str:
    with pytest.raises(Unauthenticated) as caught:
        identities.authenticate(token)
    return caught.value.message


# -- users -----------------------------------------------------------------------------------------------------------


def test_users_are_created_listed_and_unique_by_name(identities: IdentityRepository, clock: Clock) -> None:
    ana = identities.create_user("ana", actor=ADMIN)
    ci = identities.create_user("ci", kind="service", role="editor", actor=ADMIN)
    assert (ana.name, ana.kind, ana.created_at, ana.created_by, ana.disabled) == (
        "ana",
        "user",
        clock.now,
        ADMIN,
        False,
    )
    assert ci.kind == "service" and identities.role_of("ci") is Role.EDITOR
    assert identities.list_users() == [ana, ci]
    assert identities.get_user("ana") == ana
    with pytest.raises(AlreadyExists, match="'ana' exists already") as taken:
        identities.create_user("ana", kind="service", actor=ADMIN)
    assert isinstance(taken.value, Conflict)
    with pytest.raises(NotFound, match="No user named 'bob'"):
        identities.get_user("bob")


@pytest.mark.parametrize(
    ("arguments", "error", "message"),
    [
        ({"name": "a/b"}, InvalidName, "path separator"),
        ({"name": ""}, InvalidName, "must not be empty"),
        ({"name": "ana", "kind": "robot"}, InvalidInput, "'user' or 'service'; got 'robot'"),
        ({"name": "ana", "role": "owner"}, InvalidInput, "Unknown role 'owner'; the roles are viewer, editor"),
        ({"name": "ana", "actor": ""}, InvalidName, "actor name must not be empty"),
    ],
)
def test_bad_users_are_refused_and_nothing_is_created(
    identities: IdentityRepository, store: MetadataStore, arguments: dict[str, Any], error: type, message: str
) -> None:
    with pytest.raises(error, match=re.escape(message)):
        identities.create_user(**{"actor": ADMIN, **arguments})
    assert identities.list_users() == [] and store.events.list() == []


def test_disabling_keeps_the_user_and_its_grants_and_enabling_restores_it(
    identities: IdentityRepository, clock: Clock
) -> None:
    identities.create_user("ana", role="viewer", actor=ADMIN)
    clock.advance(5)
    disabled = identities.disable_user("ana", actor=ADMIN)
    assert disabled.disabled and disabled.disabled_at == clock.now
    assert identities.disable_user("ana", actor=ADMIN) == disabled  # already disabled: nothing changes
    assert identities.role_of("ana") is None and [g.role for g in identities.list_grants("ana")] == [Role.VIEWER]
    assert not identities.enable_user("ana", actor=ADMIN).disabled
    assert identities.role_of("ana") is Role.VIEWER
    with pytest.raises(NotFound):
        identities.disable_user("bob", actor=ADMIN)


# -- tokens ----------------------------------------------------------------------------------------------------------


def test_a_token_is_shown_once_and_stored_only_as_its_hash(
    identities: IdentityRepository, store: MetadataStore, clock: Clock
) -> None:
    identities.create_user("ci", kind="service", actor=ADMIN)
    token, secret = identities.create_token("ci", actor=ADMIN)
    match = re.fullmatch(r"dl_([0-9a-f]{16})_([A-Za-z0-9_-]{43})", secret)
    assert match is not None and match[1] == token.id
    assert (token.user, token.prefix, token.created_at, token.expires_at) == ("ci", f"dl_{token.id}_", clock.now, None)
    assert token.status() == "active" and "secret" not in token.to_dict()

    stored = every_stored_text(store)
    assert secret not in stored and match[2] not in stored
    with store.database.read() as conn:
        (digest,) = conn.execute(sa.text("SELECT secret_hash FROM tokens")).scalars()
    assert digest == hashlib.sha256(secret.encode()).hexdigest()
    assert identities.authenticate(secret) == identities.get_user("ci")
    assert identities.list_tokens("ci") == [identities.get_token(token.id)]


def test_tokens_carry_256_random_bits(identities: IdentityRepository) -> None:
    identities.create_user("ci", actor=ADMIN)
    secrets = [identities.create_token("ci", actor=ADMIN)[1] for _ in range(20)]
    random_parts = [secret.split("_", 2)[2] for secret in secrets]
    assert all(len(base64.urlsafe_b64decode(part + "=")) == 32 for part in random_parts)  # 256 bits >= 128
    assert len(set(random_parts)) == len({secret.split("_")[1] for secret in secrets}) == 20


def test_tokens_are_compared_in_constant_time(identities: IdentityRepository, monkeypatch: pytest.MonkeyPatch) -> None:
    identities.create_user("ci", actor=ADMIN)
    _token, secret = identities.create_token("ci", actor=ADMIN)
    compared: list[tuple[str, str]] = []
    real = hmac.compare_digest

    def spy(stored: str, presented: str) -> bool:
        compared.append((stored, presented))
        return real(stored, presented)

    monkeypatch.setattr(hmac, "compare_digest", spy)
    forged = secret[:-4] + ("AAAA" if not secret.endswith("AAAA") else "BBBB")
    refusal(identities, forged)
    identities.authenticate(secret)
    digest = hashlib.sha256(secret.encode()).hexdigest()
    assert compared == [(digest, hashlib.sha256(forged.encode()).hexdigest()), (digest, digest)]


def test_revoked_expired_and_disabled_tokens_are_refused_alike(identities: IdentityRepository, clock: Clock) -> None:
    identities.create_user("ana", actor=ADMIN)
    identities.create_user("ci", kind="service", actor=ADMIN)
    revoked_token, revoked = identities.create_token("ana", actor=ADMIN)
    _, expiring = identities.create_token("ana", 3600, actor=ADMIN)
    _, disabled = identities.create_token("ci", actor=ADMIN)
    assert identities.authenticate(expiring).name == "ana"

    identities.revoke_token(revoked_token.id, actor=ADMIN)
    identities.disable_user("ci", actor=ADMIN)
    clock.advance(3600)
    unknown = "dl_0123456789abcdef_" + revoked.split("_", 2)[2]
    wrong_secret = revoked[:-1] + ("A" if revoked[-1] != "A" else "B")
    refused = [
        refusal(identities, token)
        for token in (revoked, expiring, disabled, unknown, wrong_secret, "", "dl_x_y", "Bearer " + revoked, None)
    ]
    assert len(set(refused)) == 1  # one message for every reason: it tells a guesser nothing
    assert revoked not in refused[0] and "disabled" in refused[0]

    identities.enable_user("ci", actor=ADMIN)
    assert identities.authenticate(disabled).name == "ci"


def test_token_statuses_revocation_and_last_use(identities: IdentityRepository, clock: Clock) -> None:
    identities.create_user("ana", actor=ADMIN)
    first, secret = identities.create_token("ana", actor=ADMIN)
    clock.advance(1)
    second, _ = identities.create_token("ana", 10, actor=ADMIN)
    assert second.expires_at == clock.now + 10

    identities.authenticate(secret)
    used_at = clock.now
    clock.advance(30)
    identities.authenticate(secret)  # within a minute: no write
    assert identities.get_token(first.id).last_used_at == used_at
    clock.advance(30)
    identities.authenticate(secret)
    assert identities.get_token(first.id).last_used_at == clock.now

    revoked = identities.revoke_token(first.id, actor="ana")
    assert (revoked.revoked_at, revoked.revoked_by, revoked.status()) == (clock.now, "ana", "revoked")
    clock.advance(1)
    assert identities.revoke_token(first.id, actor=ADMIN) == revoked  # again: nothing changes
    assert [t.status(now=clock.now) for t in identities.list_tokens()] == ["revoked", "expired"]
    with pytest.raises(NotFound, match="No token with id 'nope'"):
        identities.revoke_token("nope", actor=ADMIN)


@pytest.mark.parametrize("expires_in", [0, -5, math.nan, math.inf, True, "30d"])
def test_a_bad_expiry_is_refused(identities: IdentityRepository, expires_in: Any) -> None:
    identities.create_user("ana", actor=ADMIN)
    with pytest.raises(InvalidInput, match=re.escape(f"number of seconds > 0 (or none); got {expires_in!r}")):
        identities.create_token("ana", expires_in, actor=ADMIN)
    assert identities.list_tokens() == []


def test_tokens_only_for_known_enabled_users(identities: IdentityRepository) -> None:
    with pytest.raises(NotFound, match="No user named 'bob'"):
        identities.create_token("bob", actor=ADMIN)
    with pytest.raises(NotFound, match="No user named 'bob'"):
        identities.list_tokens("bob")
    identities.create_user("ana", actor=ADMIN)
    identities.disable_user("ana", actor=ADMIN)
    with pytest.raises(InvalidState, match="'ana' is disabled"):
        identities.create_token("ana", actor=ADMIN)


# -- grants ----------------------------------------------------------------------------------------------------------


def test_roles_are_ordered_and_grants_per_dataset_or_model_add_to_the_workspace_role(
    identities: IdentityRepository,
) -> None:
    assert sorted(Role) == [Role.VIEWER, Role.EDITOR, Role.DEPLOYER, Role.ADMIN]
    identities.create_user("ana", actor=ADMIN)
    assert identities.role_of("ana") is None and identities.role_of("ana", "model:houses") is None

    identities.grant("ana", "deployer", "model:houses", actor=ADMIN)
    assert identities.role_of("ana", "model:houses") is Role.DEPLOYER
    assert identities.role_of("ana", "model:flats") is None and identities.role_of("ana") is None

    identities.grant("ana", Role.EDITOR, actor=ADMIN)
    assert identities.role_of("ana", "model:houses") is Role.DEPLOYER  # the higher of the two
    assert identities.role_of("ana", "dataset:houses") is Role.EDITOR
    identities.grant("ana", "admin", actor=ADMIN)  # granting again replaces the role
    assert identities.role_of("ana", "model:houses") is Role.ADMIN
    assert [(g.role, g.scope) for g in identities.list_grants("ana")] == [
        (Role.DEPLOYER, "model:houses"),
        (Role.ADMIN, "workspace"),
    ]


def test_grants_are_listed_and_removed(identities: IdentityRepository, clock: Clock) -> None:
    for name in ("ana", "ben"):
        identities.create_user(name, actor=ADMIN)
    identities.grant("ana", "viewer", actor=ADMIN)
    identities.grant("ben", "editor", "dataset:houses", actor="ana")
    (ben,) = identities.list_grants(scope="dataset:houses")
    assert (ben.user, ben.role, ben.granted_at, ben.granted_by) == ("ben", Role.EDITOR, clock.now, "ana")
    assert ben.to_dict()["role"] == "editor"
    assert [g.user for g in identities.list_grants()] == ["ana", "ben"]

    assert identities.revoke_grant("ben", "dataset:houses", actor=ADMIN) == ben
    assert identities.list_grants("ben") == [] and identities.role_of("ben", "dataset:houses") is None
    with pytest.raises(NotFound, match="'ben' holds no role on dataset:houses"):
        identities.revoke_grant("ben", "dataset:houses", actor=ADMIN)


@pytest.mark.parametrize(
    ("scope", "error", "message"),
    [
        ("project:x", InvalidInput, "A scope is 'workspace', 'dataset:<name>' or 'model:<name>'; got 'project:x'"),
        ("houses", InvalidInput, "got 'houses'"),
        ("workspace:all", InvalidInput, "got 'workspace:all'"),
        ("", InvalidInput, "got ''"),
        ("dataset:", InvalidName, "dataset name must not be empty"),
        ("model:a/b", InvalidName, "path separator"),
    ],
)
def test_bad_scopes_are_refused(
    identities: IdentityRepository, store: MetadataStore, scope: str, error: type, message: str
) -> None:
    identities.create_user("ana", actor=ADMIN)
    with pytest.raises(error, match=re.escape(message)):
        identities.grant("ana", "viewer", scope, actor=ADMIN)
    with pytest.raises(error):
        identities.role_of("ana", scope)
    assert identities.list_grants() == [] and len(store.events.list()) == 1


def test_grants_need_a_known_user_and_role(identities: IdentityRepository) -> None:
    with pytest.raises(NotFound, match="No user named 'bob'"):
        identities.grant("bob", "viewer", actor=ADMIN)
    with pytest.raises(NotFound, match="No user named 'bob'"):
        identities.role_of("bob")
    identities.create_user("ana", actor=ADMIN)
    with pytest.raises(InvalidInput, match="Unknown role 'root'"):
        identities.grant("ana", "root", actor=ADMIN)
    with pytest.raises(NotFound, match="'ana' holds no role on workspace"):
        identities.revoke_grant("ana", actor=ADMIN)


# -- the audit trail -------------------------------------------------------------------------------------------------


def test_every_change_is_an_event_with_its_actor_and_no_secret(
    identities: IdentityRepository, store: MetadataStore
) -> None:
    identities.create_user("ci", kind="service", role="viewer", actor=ADMIN)
    token, secret = identities.create_token("ci", 60, actor=ADMIN)
    identities.authenticate(secret)  # a sign-in changes no identity: no event
    identities.grant("ci", "editor", actor="ana")
    identities.grant("ci", "editor", actor="ana")  # held already: nothing changes, no event
    identities.grant("ci", "deployer", "model:houses", actor="ana")
    identities.revoke_grant("ci", "model:houses", actor="ana")
    identities.revoke_token(token.id, actor="ci")
    identities.disable_user("ci", actor=ADMIN)
    identities.enable_user("ci", actor=ADMIN)

    events = list(reversed(store.events.list(object_type="user", object_id="ci")))
    assert [(e.action, e.actor, e.details) for e in events] == [
        ("user.create", ADMIN, {"kind": "service"}),
        ("grant.set", ADMIN, {"role": "viewer", "scope": "workspace", "previous": None}),
        ("token.create", ADMIN, {"token": token.id, "expires_at": token.expires_at}),
        ("grant.set", "ana", {"role": "editor", "scope": "workspace", "previous": "viewer"}),
        ("grant.set", "ana", {"role": "deployer", "scope": "model:houses", "previous": None}),
        ("grant.remove", "ana", {"role": "deployer", "scope": "model:houses"}),
        ("token.revoke", "ci", {"token": token.id}),
        ("user.disable", ADMIN, {}),
        ("user.enable", ADMIN, {}),
    ]
    with store.database.read() as conn:
        events_text = repr(conn.execute(sa.text("SELECT * FROM events")).all())
    assert secret.split("_", 2)[2] not in events_text
    assert hashlib.sha256(secret.encode()).hexdigest() not in events_text


def test_two_admins_demoting_each_other_at_once_leave_one(store: MetadataStore, identities: IdentityRepository) -> None:
    import threading
    import time

    from driftloop.entities import WORKSPACE_SCOPE
    from driftloop.store.metadata._identity import _set_grant

    identities.create_user("ada", role=Role.ADMIN, actor=ADMIN)
    identities.create_user("bob", role=Role.ADMIN, actor=ADMIN)
    outcome: list[BaseException | None] = []

    def demote_bob() -> None:
        try:
            identities.grant("bob", Role.EDITOR, actor="ada")
            outcome.append(None)
        except BaseException as error:  # handed to the test's thread
            outcome.append(error)

    # Ada's demotion is counted and written, not yet committed, when bob's starts: bob's must wait for it, then
    # count what it committed (without the wait, each counts the other as an admin and none is left).
    with store.database.write() as conn:
        _set_grant(conn, "ada", Role.EDITOR, WORKSPACE_SCOPE, actor="bob", now=time.time())
        other = threading.Thread(target=demote_bob)
        other.start()
        other.join(timeout=1.0)
        assert other.is_alive(), "the second demotion did not wait for the first"
    other.join(timeout=30)
    (error,) = outcome
    assert isinstance(error, InvalidState) and "'bob' would leave the workspace without an enabled admin" in str(error)
    assert identities.role_of("ada") is Role.EDITOR and identities.role_of("bob") is Role.ADMIN


def test_the_last_enabled_admin_cannot_be_disabled_demoted_or_stripped(identities: IdentityRepository) -> None:
    identities.create_user("ada", role=Role.ADMIN, actor=ADMIN)
    identities.create_user("vic", role=Role.VIEWER, actor=ADMIN)
    for change in (
        lambda: identities.disable_user("ada", actor="ada"),
        lambda: identities.grant("ada", Role.DEPLOYER, actor="ada"),
        lambda: identities.revoke_grant("ada", actor="ada"),
    ):
        with pytest.raises(InvalidState, match="'ada' would leave the workspace without an enabled admin"):
            change()
    assert identities.role_of("ada") is Role.ADMIN
    identities.disable_user("vic", actor="ada")  # others come and go as before
    identities.grant("vic", Role.ADMIN, actor="ada")
    with pytest.raises(InvalidState, match="without an enabled admin"):  # vic is an admin, but disabled
        identities.disable_user("ada", actor="ada")
    identities.enable_user("vic", actor="ada")
    identities.disable_user("ada", actor="vic")  # now another enabled admin remains
    assert identities.role_of("ada") is None and identities.role_of("vic") is Role.ADMIN
