"""``driftloop users|tokens|grants …``: who may reach the workspace through its server, and with which role.

On the workspace's own store these commands work directly, as its owner: whoever can run them against the store's
URL needs no token. Through a workspace server (``DRIFTLOOP_STORE=http://...``) they need an admin's token. Every
change is recorded in the events with who made it.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

import typer

from driftloop.cli._output import console, errors, print_json, table, workspace
from driftloop.entities import WORKSPACE_SCOPE, Role

users = typer.Typer(help="Users and service accounts: create, list, disable, enable.", no_args_is_help=True)
tokens = typer.Typer(help="API tokens of users: create (shown once), list, revoke.", no_args_is_help=True)
grants = typer.Typer(
    help="Roles of users (viewer < editor < deployer < admin) on the workspace, a dataset or a model.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
RoleArgument = Annotated[Role, typer.Argument(help="viewer < editor < deployer < admin.", show_default=False)]
ScopeOption = Annotated[str, typer.Option(help="Where the role holds: workspace, dataset:<name> or model:<name>.")]
NOT_SHOWN_AGAIN = "This token will not be shown again: store it now (it is kept only as a hash)."


@users.command("create")
def create_user(
    name: Annotated[str, typer.Argument(help="The user's name.")],
    service: Annotated[bool, typer.Option("--service", help="A service account (a program), not a person.")] = False,
    role: Annotated[
        Role | None, typer.Option(help="A role on the whole workspace to start with.", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a user (or with --service a service account), with a workspace role when given."""
    ws = workspace()
    user = ws.identities.create_user(name, kind="service" if service else "user", role=role, actor=ws.actor)
    if as_json:
        print_json({**user.to_dict(), "role": None if role is None else role.value})
        return
    granted = "" if role is None else f" with the role {role.value} on the workspace"
    console.print(f"Created the {user.kind} {user.name!r}{granted}.", markup=False)


@users.command("list")
def list_users(as_json: JsonOption = False) -> None:
    """Every user and service account, disabled ones included."""
    found = workspace().identities.list_users()
    if as_json:
        print_json([user.to_dict() for user in found])
        return
    if not found:
        console.print("No users.", markup=False)
        return
    table(
        None,
        ["name", "kind", "created", "created by", "disabled"],
        [(u.name, u.kind, _time(u.created_at), u.created_by, _time(u.disabled_at)) for u in found],
    )


@users.command("disable")
def disable_user(name: Annotated[str, typer.Argument(help="The user's name.")], as_json: JsonOption = False) -> None:
    """Refuse the user's tokens from now on; its grants stay for when it is enabled again."""
    ws = workspace()
    user = ws.identities.disable_user(name, actor=ws.actor)
    if as_json:
        print_json(user.to_dict())
        return
    console.print(f"The {user.kind} {user.name!r} is disabled: its tokens are refused.", markup=False)


@users.command("enable")
def enable_user(name: Annotated[str, typer.Argument(help="The user's name.")], as_json: JsonOption = False) -> None:
    """Accept the user's tokens again (those neither revoked nor expired)."""
    ws = workspace()
    user = ws.identities.enable_user(name, actor=ws.actor)
    if as_json:
        print_json(user.to_dict())
        return
    console.print(f"The {user.kind} {user.name!r} is enabled.", markup=False)


@tokens.command("create")
def create_token(
    user: Annotated[str, typer.Argument(help="The user (or service account) the token acts as.")],
    expires: Annotated[
        str | None, typer.Option(help="Valid for 90d, 12h, 30m... (default: until revoked).", show_default=False)
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Create a token for USER and print it, this once: only its hash is kept."""
    from driftloop.durations import parse_duration

    ws = workspace()
    expires_in = None if expires is None else parse_duration(expires, "--expires")
    token, secret = ws.identities.create_token(user, expires_in, actor=ws.actor)
    if as_json:
        print_json({**token.to_dict(), "token": secret})
        errors.print(NOT_SHOWN_AGAIN, markup=False)
        return
    until = "until revoked" if token.expires_at is None else f"until {_time(token.expires_at):%Y-%m-%d %H:%M:%S} UTC"
    console.print(f"Token {token.id} of {token.user!r}, valid {until}:", markup=False)
    console.print(secret, markup=False, soft_wrap=True)
    console.print(NOT_SHOWN_AGAIN, markup=False)


@tokens.command("list")
def list_tokens(
    user: Annotated[str | None, typer.Argument(help="Only this user's tokens.", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Tokens (never their secrets), revoked and expired ones included, oldest first."""
    found = workspace().identities.list_tokens(user)
    if as_json:
        print_json([token.to_dict() for token in found])
        return
    if not found:
        console.print("No tokens.", markup=False)
        return
    table(
        None,
        ["id", "user", "begins with", "status", "created", "expires", "last used"],
        [
            (t.id, t.user, t.prefix, t.status(), _time(t.created_at), _time(t.expires_at), _time(t.last_used_at))
            for t in found
        ],
    )


@tokens.command("revoke")
def revoke_token(
    token_id: Annotated[str, typer.Argument(metavar="ID", help="The token's id (see `tokens list`).")],
    as_json: JsonOption = False,
) -> None:
    """Refuse the token from now on."""
    ws = workspace()
    token = ws.identities.revoke_token(token_id, actor=ws.actor)
    if as_json:
        print_json(token.to_dict())
        return
    console.print(f"Token {token.id} of {token.user!r} is revoked.", markup=False)


@grants.command("add")
def add_grant(
    user: Annotated[str, typer.Argument(help="The user's name.")],
    role: RoleArgument,
    scope: ScopeOption = WORKSPACE_SCOPE,
    as_json: JsonOption = False,
) -> None:
    """Give USER the ROLE on the workspace (or --scope), replacing the role it held there."""
    ws = workspace()
    grant = ws.identities.grant(user, role, scope, actor=ws.actor)
    if as_json:
        print_json(grant.to_dict())
        return
    console.print(f"{grant.user!r} holds the role {grant.role.value} on {grant.scope}.", markup=False)


@grants.command("list")
def list_grants(
    user: Annotated[str | None, typer.Option(help="Only this user's grants.", show_default=False)] = None,
    scope: Annotated[str | None, typer.Option(help="Only grants on this scope.", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Who holds which role where."""
    found = workspace().identities.list_grants(user, scope=scope)
    if as_json:
        print_json([grant.to_dict() for grant in found])
        return
    if not found:
        console.print("No grants.", markup=False)
        return
    table(
        None,
        ["user", "role", "scope", "granted", "granted by"],
        [(g.user, g.role.value, g.scope, _time(g.granted_at), g.granted_by) for g in found],
    )


@grants.command("remove")
def remove_grant(
    user: Annotated[str, typer.Argument(help="The user's name.")],
    scope: ScopeOption = WORKSPACE_SCOPE,
    as_json: JsonOption = False,
) -> None:
    """Take back USER's role on the workspace (or --scope)."""
    ws = workspace()
    grant = ws.identities.revoke_grant(user, scope, actor=ws.actor)
    if as_json:
        print_json(grant.to_dict())
        return
    console.print(f"{grant.user!r} no longer holds the role {grant.role.value} on {grant.scope}.", markup=False)


def _time(seconds: float | None) -> datetime | None:
    return None if seconds is None else datetime.fromtimestamp(seconds, UTC)
