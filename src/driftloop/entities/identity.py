"""Who may reach a shared workspace: users and service accounts, their API tokens, and the roles granted to them.

Roles form a ladder, lowest first; each may do everything the roles below it may:

- ``viewer``: read runs, datasets, models, events and alerts;
- ``editor``: ingest data, train, log runs, register models;
- ``deployer``: move aliases, change traffic, answer label requests;
- ``admin``: manage users, tokens and grants; change policies.

A grant gives a user one role on one scope: the whole ``workspace``, one dataset (``dataset:<name>``) or one
model (``model:<name>``). On a dataset or a model a user holds the higher of its workspace role and its role on
that object, so a team can open one model to a deployer who only views the rest.

>>> Role.VIEWER < Role.EDITOR < Role.DEPLOYER < Role.ADMIN
True
>>> max([Role.DEPLOYER, Role.VIEWER]), parse_scope("model:houses")
(<Role.DEPLOYER: 'deployer'>, 'model:houses')
"""

from __future__ import annotations

import enum
import time
from dataclasses import dataclass
from typing import Any, Literal

from driftloop.errors import InvalidInput
from driftloop.names import validate_name

__all__ = ["WORKSPACE_SCOPE", "Grant", "Role", "Token", "TokenStatus", "User", "UserKind", "parse_scope"]

UserKind = Literal["user", "service"]
"""``user``: a person. ``service``: a program (CI, the loop controller on another machine) holding its own token."""

TokenStatus = Literal["active", "expired", "revoked"]

WORKSPACE_SCOPE = "workspace"
"""The scope of a grant on the whole workspace; the others are ``dataset:<name>`` and ``model:<name>``."""

_OBJECT_SCOPES = ("dataset", "model")


class Role(enum.StrEnum):
    """A rung of the role ladder. Roles compare by rank (``viewer`` lowest), not alphabetically.

    A role name compares as its role (``Role.VIEWER < "admin"``); an unknown name raises :class:`ValueError`.
    """

    VIEWER = "viewer"
    EDITOR = "editor"
    DEPLOYER = "deployer"
    ADMIN = "admin"

    @property
    def rank(self) -> int:
        """0 for ``viewer`` up to 3 for ``admin``."""
        return list(Role).index(self)

    @classmethod
    def parse(cls, value: object) -> Role:
        """The role named ``value``; :class:`~driftloop.errors.InvalidInput` naming the roles when there is none."""
        for role in cls:
            if value == role.value:
                return role
        names = ", ".join(role.value for role in cls)
        raise InvalidInput(f"Unknown role {value!r}; the roles are {names} (lowest first).")

    # str would order roles alphabetically ("admin" < "viewer"); these order them by rank.
    def __lt__(self, other: object) -> bool:
        return self.rank < _rank(other)

    def __le__(self, other: object) -> bool:
        return self.rank <= _rank(other)

    def __gt__(self, other: object) -> bool:
        return self.rank > _rank(other)

    def __ge__(self, other: object) -> bool:
        return self.rank >= _rank(other)


def _rank(other: object) -> int:
    if not isinstance(other, str):
        raise TypeError(f"A role compares with a role or a role name; got {type(other).__name__} {other!r}.")
    return Role(other).rank


def parse_scope(scope: object) -> str:
    """``scope`` when it names a scope a grant can have (``workspace``, ``dataset:<name>``, ``model:<name>``).

    Raises:
        InvalidInput: Any other text; :class:`~driftloop.errors.InvalidName` when the object's name is invalid.
    """
    if scope == WORKSPACE_SCOPE:
        return WORKSPACE_SCOPE
    if isinstance(scope, str):
        kind, separator, name = scope.partition(":")
        if separator and kind in _OBJECT_SCOPES:
            return f"{kind}:{validate_name(kind, name)}"
    raise InvalidInput(f"A scope is 'workspace', 'dataset:<name>' or 'model:<name>'; got {scope!r}.")


@dataclass(frozen=True, slots=True)
class User:
    """A person or a service account. Users are never deleted (the audit log names them); they are disabled.

    Times are seconds since the epoch; ``disabled_at`` is None while the user may sign in.
    """

    name: str
    kind: UserKind
    created_at: float
    created_by: str
    disabled_at: float | None = None

    @property
    def disabled(self) -> bool:
        return self.disabled_at is not None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {
            "name": self.name,
            "kind": self.kind,
            "created_at": self.created_at,
            "created_by": self.created_by,
            "disabled": self.disabled,
            "disabled_at": self.disabled_at,
        }


@dataclass(frozen=True, slots=True)
class Token:
    """An API token of ``user``, as the store keeps it: never the secret, which only its creator saw once.

    ``prefix`` is how the token string begins (``dl_<id>_``), which is no secret: it tells a holder which token
    they have. ``last_used_at`` is refreshed at most once a minute. Times are seconds since the epoch.

    >>> token = Token("3f2a9c0d1e4b5a69", "ci", "dl_3f2a9c0d1e4b5a69_", 100.0, "ana", expires_at=200.0)
    >>> token.status(now=150.0), token.status(now=200.0)
    ('active', 'expired')
    """

    id: str
    user: str
    prefix: str
    created_at: float
    created_by: str
    expires_at: float | None = None
    revoked_at: float | None = None
    revoked_by: str | None = None
    last_used_at: float | None = None

    def status(self, now: float | None = None) -> TokenStatus:
        """``revoked``, ``expired`` (from ``expires_at`` on) or ``active``; ``now`` defaults to ``time.time()``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and (time.time() if now is None else now) >= self.expires_at:
            return "expired"
        return "active"

    def to_dict(self, now: float | None = None) -> dict[str, Any]:
        """Plain JSON values, with the status at ``now``."""
        return {
            "id": self.id,
            "user": self.user,
            "prefix": self.prefix,
            "status": self.status(now),
            "created_at": self.created_at,
            "created_by": self.created_by,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "revoked_by": self.revoked_by,
            "last_used_at": self.last_used_at,
        }


@dataclass(frozen=True, slots=True)
class Grant:
    """``user`` holds ``role`` on ``scope`` (``workspace``, ``dataset:<name>`` or ``model:<name>``).

    A user has at most one grant per scope; granting again replaces the role.
    """

    user: str
    role: Role
    scope: str
    granted_at: float
    granted_by: str

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values."""
        return {
            "user": self.user,
            "role": self.role.value,
            "scope": self.scope,
            "granted_at": self.granted_at,
            "granted_by": self.granted_by,
        }
