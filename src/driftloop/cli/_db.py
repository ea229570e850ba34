"""``driftloop db …``: schema migrations of the metadata store."""

from __future__ import annotations

import typer

from driftloop.cli._output import console, workspace
from driftloop.store.metadata import Database, redact

app = typer.Typer(help="Manage the metadata database schema.", no_args_is_help=True)


@app.command()
def upgrade() -> None:
    """Apply pending migrations (needed once per release on a shared PostgreSQL store)."""
    url = workspace().settings.store
    database = Database(url)
    try:
        before, head = database.revisions()
        if before == head:
            console.print(f"{redact(url)} is up to date (revision {head}).")
            return
        after = database.upgrade()
        console.print(f"Upgraded {redact(url)} from revision {before or 'none'} to {after}.")
    finally:
        database.dispose()


@app.command()
def current() -> None:
    """Print the schema revision of the store and the newest this driftloop knows."""
    url = workspace().settings.store
    database = Database(url)
    try:
        revision, head = database.revisions()
    finally:
        database.dispose()
    state = "up to date" if revision == head else "needs `driftloop db upgrade`"
    console.print(f"{redact(url)}: revision {revision or 'none'}; newest known {head} ({state}).")
