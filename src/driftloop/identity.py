"""Authorization: may this user act with this role on this scope?

The workspace server authenticates each request's token (:meth:`IdentityRepository.authenticate
<driftloop.store.metadata.IdentityRepository.authenticate>`, 401 when it fails) and, in the service layer behind
every route, calls :func:`require` with the role the action needs (403 when it is missing). The roles, their ladder
and the scopes are described in :mod:`driftloop.entities.identity`.

>>> from driftloop.store.metadata import MetadataStore
>>> store = MetadataStore("sqlite://")
>>> store.open()
>>> ana = store.identities.create_user("ana", role="viewer", actor="admin")
>>> _ = store.identities.grant("ana", "deployer", "model:houses", actor="admin")
>>> require(store.identities, "ana", "deployer", "model:houses")
<Role.DEPLOYER: 'deployer'>
>>> require(store.identities, "ana", "editor", "dataset:houses")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
driftloop.errors.PermissionDenied: The user 'ana' needs the role editor on dataset:houses; it holds viewer.
>>> store.close()
"""

from __future__ import annotations

from driftloop.entities import WORKSPACE_SCOPE, Role, parse_scope
from driftloop.errors import NotFound, PermissionDenied, Unauthenticated
from driftloop.store.metadata import IdentityRepository

__all__ = ["require"]


def require(identities: IdentityRepository, user: str, role: Role | str, scope: str = WORKSPACE_SCOPE) -> Role:
    """The role ``user`` holds on ``scope``, when it is ``role`` or higher.

    Raises:
        Unauthenticated: There is no such user.
        PermissionDenied: The user holds a lower role there, none, or is disabled; the message says which role
            was needed.
        InvalidInput: ``role`` or ``scope`` is not one there is (a bug of the caller, not the user's doing).
    """
    needed = Role.parse(role)
    scope = parse_scope(scope)
    try:
        held = identities.role_of(user, scope)
    except NotFound:
        raise Unauthenticated(f"No user named {user!r}.") from None
    if held is None or held < needed:
        holding = "no role (or is disabled)" if held is None else held.value
        raise PermissionDenied(f"The user {user!r} needs the role {needed.value} on {scope}; it holds {holding}.")
    return held
