"""``driftloop db …``: schema migrations of the metadata store."""

from __future__ import annotations

import typer

from driftloop.cli._output import console, local_workspace, workspace
from driftloop.store.metadata import redact

app = typer.Typer(help="Manage the metadata database schema.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Apply pending migrations (needed once per release on a shared PostgreSQL store)."""
    ws = local_workspace("db upgrade", instead="ask its admin")
    before, after = ws.upgrade_schema()
    url = redact(ws.settings.store)
    if before == after:
        console.print(f"{url} is up to date (revision {after}).", markup=False)
    else:
        console.print(f"Upgraded {url} from revision {before or 'none'} to {after}.", markup=False)


@app.command()
def current() -> None:
    """Print the schema revision of the store and the newest this driftloop knows (through a server: the server's
    store, and whether the server's driftloop and this one know the same newest revision)."""
    ws = workspace()
    if ws.is_remote:
        from driftloop.store.metadata import Database

        found = ws.server.get("/schema")
        here = Database.newest_revision()
        state = (
            "up to date" if found["revision"] == found["newest"] else "its admin needs to run `driftloop db upgrade`"
        )
        skew = "" if here == found["newest"] else f"; this driftloop knows {here}: upgrade the older of the two"
        console.print(
            f"{redact(ws.settings.store)} (driftloop {found['version']}): revision {found['revision'] or 'none'}; "
            f"newest it knows {found['newest']} ({state}){skew}.",
            markup=False,
        )
        return
    revision, head = ws.schema_revision()
    state = "up to date" if revision == head else "needs `driftloop db upgrade`"
    console.print(
        f"{redact(ws.settings.store)}: revision {revision or 'none'}; newest known {head} ({state}).", markup=False
    )
