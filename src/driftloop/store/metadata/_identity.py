"""Users, their API tokens and their role grants: who may reach a shared workspace, and with which role.

A token is shown once, when it is created, as ``dl_<id>_<secret>``. ``id`` (16 hex digits, no secret) finds the
row by its primary key; ``secret`` is ``secrets.token_urlsafe(32)``: 256 bits from the operating system's
generator. The table keeps only the SHA-256 digest of the whole token. A fast digest is enough here, unlike for
passwords: a 256-bit random secret has no dictionary to try, and 2**128 guesses (let alone 2**256) are out of
reach however fast each one is, so a slow key-derivation function would only slow every request. Digests are
compared with :func:`hmac.compare_digest`, whose time does not depend on where they differ.

:meth:`IdentityRepository.authenticate` refuses a malformed, unknown, revoked or expired token, or a token of a
disabled user, with one :class:`~driftloop.errors.Unauthenticated` message that does not say which.

Every change appends an event in the same transaction, about the user whose access changed (object ``user``):
``user.create``, ``user.disable``, ``user.enable``, ``token.create``, ``token.revoke`` (details: the token's id),
``grant.set`` and ``grant.remove`` (details: role and scope). No event, message or listing holds a token or its
digest. A call that changes nothing (disabling a disabled user, granting a role held already) records nothing.
"""

from __future__ import annotations

import builtins
import hashlib
import hmac
import math
import re
import secrets
import time
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection
from sqlalchemy.exc import IntegrityError as SqlIntegrityError

from driftloop.entities import WORKSPACE_SCOPE, Grant, Role, Token, User, UserKind, parse_scope
from driftloop.errors import AlreadyExists, Conflict, InvalidInput, InvalidState, NotFound, Unauthenticated
from driftloop.names import validate_actor, validate_name
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._events import append_event
from driftloop.store.metadata._schema import grants, tokens, users

__all__ = ["IdentityRepository"]

SECRET_BYTES = 32
"""Random bytes in a token's secret: 256 bits, twice the 128 that make guessing hopeless."""

LAST_USED_PRECISION = 60.0
"""Seconds: ``last_used_at`` is refreshed at most this often, so authenticating is a read nearly every time."""

REFUSED = "The token is not valid: it is unknown, malformed, expired or revoked, or its user is disabled."
"""The one answer to every refused token: a caller trying guessed or stolen tokens learns nothing of why one fails."""

# "dl_", the id, "_", then the secret: 32 bytes in unpadded URL-safe base64 are always 43 characters.
_TOKEN = re.compile(r"dl_([0-9a-f]{16})_[A-Za-z0-9_-]{43}")
USER_KINDS: tuple[UserKind, ...] = ("user", "service")


class IdentityRepository:
    """Users, tokens and grants over one database; ``clock`` (seconds since the epoch) is for tests."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self.clock = clock

    # -- users -------------------------------------------------------------------------------------

    def create_user(self, name: str, *, actor: str, kind: UserKind = "user", role: Role | str | None = None) -> User:
        """Create a user (``kind="service"``: a service account), with ``role`` on the workspace when given.

        Raises:
            AlreadyExists: The name is taken (by a disabled user too: names are never reused).
            InvalidInput: The name, kind or role is not acceptable.
        """
        name = validate_name("user", name)
        actor = validate_actor(actor)
        if kind not in USER_KINDS:
            raise InvalidInput(f"A user's kind is 'user' or 'service'; got {kind!r}.")
        granted = None if role is None else Role.parse(role)
        now = self.clock()
        try:
            with self._db.write() as conn:
                if _user_row(conn, name) is not None:
                    raise AlreadyExists(f"A user named {name!r} exists already.")
                conn.execute(users.insert().values(name=name, kind=kind, created_at=now, created_by=actor))
                _event(conn, actor, "user.create", name, now, kind=kind)
                if granted is not None:
                    _set_grant(conn, name, granted, WORKSPACE_SCOPE, actor=actor, now=now)
                return _user(_user_row(conn, name))
        except SqlIntegrityError as error:  # a concurrent writer took the name first (PostgreSQL)
            raise AlreadyExists(f"A user named {name!r} exists already.") from error

    def get_user(self, name: str) -> User:
        """The user called ``name``; :class:`NotFound` when there is none."""
        with self._db.read() as conn:
            return _user(_require_user(conn, name))

    def list_users(self) -> builtins.list[User]:
        """Every user, disabled ones included, by name."""
        with self._db.read() as conn:
            return [_user(row) for row in conn.execute(sa.select(users).order_by(users.c.name))]

    def disable_user(self, name: str, *, actor: str) -> User:
        """Refuse the user's tokens from now on (its grants stay, for when it is enabled again)."""
        return self._set_disabled(name, disabled=True, actor=actor)

    def enable_user(self, name: str, *, actor: str) -> User:
        """Accept the user's tokens again (those not revoked nor expired meanwhile)."""
        return self._set_disabled(name, disabled=False, actor=actor)

    def _set_disabled(self, name: str, *, disabled: bool, actor: str) -> User:
        actor = validate_actor(actor)
        now = self.clock()
        with self._db.write() as conn:
            row = _require_user(conn, name)
            if (row.disabled_at is not None) == disabled:
                return _user(row)
            if disabled:
                _keep_an_admin(conn, row.name, "disabling")
            conn.execute(users.update().where(users.c.name == row.name).values(disabled_at=now if disabled else None))
            _event(conn, actor, "user.disable" if disabled else "user.enable", row.name, now)
            return _user(_user_row(conn, row.name))

    # -- tokens ------------------------------------------------------------------------------------

    def create_token(self, user: str, expires_in: float | None = None, *, actor: str) -> tuple[Token, str]:
        """A new token of ``user``, valid for ``expires_in`` seconds (None: until revoked).

        Returns the token's record and the token itself, which is shown this once: only its digest is kept.

        Raises:
            NotFound: No such user.
            InvalidState: The user is disabled.
            InvalidInput: ``expires_in`` is not a number of seconds > 0.
        """
        actor = validate_actor(actor)
        if expires_in is not None and (
            isinstance(expires_in, bool)
            or not isinstance(expires_in, int | float)
            or not math.isfinite(expires_in)
            or expires_in <= 0
        ):
            raise InvalidInput(f"A token's expiry must be a number of seconds > 0 (or none); got {expires_in!r}.")
        token_id = secrets.token_hex(8)
        secret = f"dl_{token_id}_{secrets.token_urlsafe(SECRET_BYTES)}"
        now = self.clock()
        expires_at = None if expires_in is None else now + float(expires_in)
        with self._db.write() as conn:
            row = _require_user(conn, user)
            if row.disabled_at is not None:
                raise InvalidState(f"The user {row.name!r} is disabled; enable it before giving it tokens.")
            conn.execute(
                tokens.insert().values(
                    id=token_id,
                    user=row.name,
                    secret_hash=_digest(secret),
                    prefix=f"dl_{token_id}_",
                    created_at=now,
                    created_by=actor,
                    expires_at=expires_at,
                )
            )
            _event(conn, actor, "token.create", row.name, now, token=token_id, expires_at=expires_at)
            return _token(_token_row(conn, token_id)), secret

    def get_token(self, token_id: str) -> Token:
        """The token with this id; :class:`NotFound` when there is none."""
        with self._db.read() as conn:
            return _token(_require_token(conn, token_id))

    def list_tokens(self, user: str | None = None) -> builtins.list[Token]:
        """Every token (of ``user`` when given), revoked and expired ones included, oldest first."""
        query = sa.select(tokens).order_by(tokens.c.created_at, tokens.c.id)
        with self._db.read() as conn:
            if user is not None:
                query = query.where(tokens.c.user == _require_user(conn, user).name)
            return [_token(row) for row in conn.execute(query)]

    def revoke_token(self, token_id: str, *, actor: str) -> Token:
        """Refuse the token from now on; revoking it again changes nothing."""
        actor = validate_actor(actor)
        now = self.clock()
        with self._db.write() as conn:
            row = _require_token(conn, token_id)
            if row.revoked_at is not None:
                return _token(row)
            conn.execute(tokens.update().where(tokens.c.id == row.id).values(revoked_at=now, revoked_by=actor))
            _event(conn, actor, "token.revoke", row.user, now, token=row.id)
            return _token(_token_row(conn, row.id))

    def authenticate(self, token: str) -> User:
        """The user holding ``token``.

        Raises:
            Unauthenticated: The token is malformed, unknown, revoked or expired, or its user is disabled; the
                message is the same for all of them.
        """
        match = _TOKEN.fullmatch(token) if isinstance(token, str) else None
        if match is None:
            raise Unauthenticated(REFUSED)
        now = self.clock()
        query = (
            sa.select(tokens.c.secret_hash, tokens.c.expires_at, tokens.c.revoked_at, tokens.c.last_used_at, users)
            .join(users, users.c.name == tokens.c.user)
            .where(tokens.c.id == match[1])
        )
        with self._db.read() as conn:
            row = conn.execute(query).first()
        # Token ids are no secret, so an unknown id may be refused sooner than a wrong secret.
        if (
            row is None
            or not hmac.compare_digest(row.secret_hash, _digest(token))
            or row.revoked_at is not None
            or (row.expires_at is not None and now >= row.expires_at)
            or row.disabled_at is not None
        ):
            raise Unauthenticated(REFUSED)
        if row.last_used_at is None or now - row.last_used_at >= LAST_USED_PRECISION:
            with self._db.write() as conn:
                conn.execute(tokens.update().where(tokens.c.id == match[1]).values(last_used_at=now))
        return _user(row)

    # -- grants ------------------------------------------------------------------------------------

    def grant(self, user: str, role: Role | str, scope: str = WORKSPACE_SCOPE, *, actor: str) -> Grant:
        """Give ``user`` the ``role`` on ``scope``, replacing the role it held there.

        A grant on a dataset or a model may come before the object exists (a team sets access up first).

        Raises:
            NotFound: No such user.
            InvalidInput: The role or the scope is not one there is.
        """
        actor = validate_actor(actor)
        role = Role.parse(role)
        scope = parse_scope(scope)
        now = self.clock()
        try:
            with self._db.write() as conn:
                name = _require_user(conn, user).name
                _set_grant(conn, name, role, scope, actor=actor, now=now)
                return _grant(_grant_row(conn, name, scope))
        except SqlIntegrityError as error:  # a concurrent writer granted the same scope first (PostgreSQL)
            raise Conflict(f"The grant of {user!r} on {scope} changed meanwhile; try again.") from error

    def revoke_grant(self, user: str, scope: str = WORKSPACE_SCOPE, *, actor: str) -> Grant:
        """Take back ``user``'s role on ``scope``; returns the grant as it was.

        Raises:
            NotFound: No such user, or it holds no role on ``scope``.
        """
        actor = validate_actor(actor)
        scope = parse_scope(scope)
        now = self.clock()
        with self._db.write() as conn:
            name = _require_user(conn, user).name
            row = _grant_row(conn, name, scope)
            if row is None:
                raise NotFound(f"The user {name!r} holds no role on {scope}.")
            if scope == WORKSPACE_SCOPE:
                _keep_an_admin(conn, name, "revoking the workspace role of")
            conn.execute(grants.delete().where(grants.c.user == name, grants.c.scope == scope))
            _event(conn, actor, "grant.remove", name, now, role=row.role, scope=scope)
            return _grant(row)

    def list_grants(self, user: str | None = None, *, scope: str | None = None) -> builtins.list[Grant]:
        """The grants (of ``user``, on ``scope``, when given), by user then scope."""
        query = sa.select(grants).order_by(grants.c.user, grants.c.scope)
        if scope is not None:
            query = query.where(grants.c.scope == parse_scope(scope))
        with self._db.read() as conn:
            if user is not None:
                query = query.where(grants.c.user == _require_user(conn, user).name)
            return [_grant(row) for row in conn.execute(query)]

    def role_of(self, user: str, scope: str = WORKSPACE_SCOPE) -> Role | None:
        """The highest of ``user``'s role on the workspace and its role on ``scope``; None when it holds neither
        or is disabled.

        Raises:
            NotFound: No such user.
            InvalidInput: The scope is not one there is.
        """
        scope = parse_scope(scope)
        with self._db.read() as conn:
            row = _require_user(conn, user)
            if row.disabled_at is not None:
                return None
            query = sa.select(grants.c.role).where(
                grants.c.user == row.name, grants.c.scope.in_({WORKSPACE_SCOPE, scope})
            )
            held = [Role(role) for role in conn.execute(query).scalars()]
        return max(held, default=None)


def _set_grant(conn: Connection, user: str, role: Role, scope: str, *, actor: str, now: float) -> None:
    """Insert or replace ``user``'s grant on ``scope``, with its event; nothing when it holds ``role`` already."""
    existing = _grant_row(conn, user, scope)
    if existing is not None and existing.role == role:
        return
    if scope == WORKSPACE_SCOPE and role is not Role.ADMIN:
        _keep_an_admin(conn, user, f"making {role.value} of")
    values = {"role": role.value, "granted_at": now, "granted_by": actor}
    if existing is None:
        conn.execute(grants.insert().values(user=user, scope=scope, **values))
    else:
        conn.execute(grants.update().where(grants.c.user == user, grants.c.scope == scope).values(**values))
    previous = None if existing is None else existing.role
    _event(conn, actor, "grant.set", user, now, role=role.value, scope=scope, previous=previous)


ADMINS_LOCK = 0x64726966_74616D6E
"""The PostgreSQL advisory lock every change that may remove an admin takes before counting the admins left."""


def _keep_an_admin(conn: Connection, user: str, change: str) -> None:
    """Refuse a change that would leave the workspace without an enabled admin, once it has one: nobody could then
    manage users, tokens or roles through the workspace server.

    Two such changes at once must not both count the other's admin (each demoting a different one of the last
    two). SQLite writes one transaction at a time; on PostgreSQL the count waits for :data:`ADMINS_LOCK`, held to
    the end of any other transaction that counted, and then reads what that one committed.

    Raises:
        InvalidState: ``user`` is the last enabled admin of the workspace.
    """
    if conn.dialect.name == "postgresql":
        conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": ADMINS_LOCK})
    enabled_admins = (
        sa.select(grants.c.user)
        .join(users, users.c.name == grants.c.user)
        .where(grants.c.scope == WORKSPACE_SCOPE, grants.c.role == Role.ADMIN.value, users.c.disabled_at.is_(None))
    )
    admins = set(conn.execute(enabled_admins).scalars())
    if admins == {user}:
        raise InvalidState(
            f"{change.capitalize()} {user!r} would leave the workspace without an enabled admin; make another user "
            "admin first."
        )


def _event(conn: Connection, actor: str, action: str, user: str, at: float, **details: Any) -> None:
    append_event(conn, actor=actor, action=action, object_type="user", object_id=user, details=details, at=at)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def _user_row(conn: Connection, name: str) -> Any:
    return conn.execute(sa.select(users).where(users.c.name == name)).first()


def _require_user(conn: Connection, name: str) -> Any:
    row = _user_row(conn, validate_name("user", name))
    if row is None:
        raise NotFound(f"No user named {name!r}.")
    return row


def _token_row(conn: Connection, token_id: str) -> Any:
    return conn.execute(sa.select(tokens).where(tokens.c.id == token_id)).first()


def _require_token(conn: Connection, token_id: str) -> Any:
    row = _token_row(conn, token_id) if isinstance(token_id, str) else None
    if row is None:
        raise NotFound(f"No token with id {token_id!r}.")
    return row


def _grant_row(conn: Connection, user: str, scope: str) -> Any:
    return conn.execute(sa.select(grants).where(grants.c.user == user, grants.c.scope == scope)).first()


def _user(row: Any) -> User:
    return User(
        name=row.name, kind=row.kind, created_at=row.created_at, created_by=row.created_by, disabled_at=row.disabled_at
    )


def _token(row: Any) -> Token:
    return Token(
        id=row.id,
        user=row.user,
        prefix=row.prefix,
        created_at=row.created_at,
        created_by=row.created_by,
        expires_at=row.expires_at,
        revoked_at=row.revoked_at,
        revoked_by=row.revoked_by,
        last_used_at=row.last_used_at,
    )


def _grant(row: Any) -> Grant:
    return Grant(
        user=row.user, role=Role(row.role), scope=row.scope, granted_at=row.granted_at, granted_by=row.granted_by
    )
