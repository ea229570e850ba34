"""The root command, its global options and the error boundary.

A user's mistake prints one line (``error: …``) and exits 1; Typer's own usage errors exit 2.
"""

from __future__ import annotations

import os
from typing import Annotated

import typer

from driftloop.cli import (
    _alerts,
    _data,
    _db,
    _experiments,
    _housekeeping,
    _models,
    _monitoring,
    _runs,
    _serving,
    _training,
)
from driftloop.cli._output import Context, fail, use, workspace
from driftloop.errors import DriftloopError

app = typer.Typer(
    name="driftloop",
    help="driftloop: ingest, train, track, register, serve, monitor, and close the loop on drift.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
app.add_typer(_experiments.app, name="experiments")
app.add_typer(_runs.app, name="runs")
app.add_typer(_data.app, name="data")
app.add_typer(_db.app, name="db")
app.add_typer(_models.app, name="models")
app.add_typer(_monitoring.app, name="monitor")
app.add_typer(_alerts.app, name="alerts")
app.command("train")(_training.train)
app.command("gate")(_training.gate)
app.command("serve")(_serving.serve)
app.command("predict")(_serving.predict)
app.command("events")(_housekeeping.events)
app.command("gc")(_housekeeping.gc)


@app.callback()
def _root(
    root: Annotated[
        str | None, typer.Option(help="Workspace folder (default: .driftloop/ here, or DRIFTLOOP_ROOT).")
    ] = None,
    store: Annotated[
        str | None,
        typer.Option(help="Metadata store URL (default: DRIFTLOOP_STORE, driftloop.toml or SQLite)."),
    ] = None,
    artifacts: Annotated[
        str | None, typer.Option(help="Artifact storage URL (default: DRIFTLOOP_ARTIFACTS or the workspace).")
    ] = None,
) -> None:
    use(Context(root=root, store=store, artifacts=artifacts))


@app.command()
def demo() -> None:
    """Run the demo: real training runs tracked end to end, then a dataset version trained into a champion."""
    from driftloop.demo import run_tour, run_training_tour

    run_tour(workspace())
    run_training_tour(workspace())


def main() -> None:
    """Entry point of the ``driftloop`` script.

    Errors of driftloop's own print their message. Anything else is a bug: it too prints one line
    (with the traceback only when ``DRIFTLOOP_DEBUG=1``), so a user never has to read a stack.
    """
    try:
        app()  # standalone: Typer prints its own usage errors and exits 2
    except DriftloopError as error:
        fail(error.message)
    except Exception as error:
        if os.environ.get("DRIFTLOOP_DEBUG"):
            raise
        fail(
            f"unexpected {type(error).__name__}: {error}. This is a driftloop bug; "
            "run again with DRIFTLOOP_DEBUG=1 for the traceback and report it."
        )
