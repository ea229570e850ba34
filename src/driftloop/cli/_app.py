"""The root command, its global options and the error boundary.

A user's mistake prints one line (``error: …``) and exits 1; Typer's own usage errors exit 2.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from driftloop.cli import (
    _alerts,
    _data,
    _db,
    _experiments,
    _housekeeping,
    _identity,
    _labels,
    _loop,
    _models,
    _monitoring,
    _runs,
    _server,
    _serving,
    _training,
)
from driftloop.cli._output import Context, fail, use, workspace
from driftloop.errors import DriftloopError, InvalidInput

if TYPE_CHECKING:
    from driftloop.workspace import Workspace

DEMO_WORKSPACE = ".driftloop-demo"

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
app.add_typer(_loop.app, name="loop")
app.add_typer(_loop.policies_app, name="policies")
app.add_typer(_labels.app, name="labels")
app.add_typer(_identity.users, name="users")
app.add_typer(_identity.tokens, name="tokens")
app.add_typer(_identity.grants, name="grants")
app.command("train")(_training.train)
app.command("gate")(_training.gate)
app.command("serve")(_serving.serve)
app.command("server")(_server.server)
app.command("predict")(_serving.predict)
app.command("events")(_housekeeping.events)
app.command("audit")(_housekeeping.events)  # the same trail, by the name the workspace server's users know
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
def demo(
    scenario: Annotated[
        str,
        typer.Option(
            help="market: the closed loop on a housing market; stream: online and active learning on a drifting "
            "classification stream; tour: tracking and training only."
        ),
    ] = "market",
    report: Annotated[Path, typer.Option(help="Where the market scenario writes its HTML report.")] = Path(
        "driftloop-loop-report.html"
    ),
    seed: Annotated[int, typer.Option(help="Seeds the generated market and the training runs.")] = 0,
) -> None:
    """Run the demo: the closed loop on a generated housing market (serve, monitor, quarantine, retrain, gate,
    promote), or the tour of tracking and training."""
    if scenario == "tour":
        from driftloop.demo import run_tour, run_training_tour

        run_tour(workspace())
        run_training_tour(workspace())
        return
    if scenario == "stream":
        from driftloop.demo._stream_demo import run_stream_demo

        with _fresh_demo_workspace() as ws:
            run_stream_demo(ws, seed=seed)
        return
    if scenario != "market":
        raise InvalidInput(f"Unknown demo scenario {scenario!r}; known: market, stream, tour.")
    if not report.parent.is_dir():
        raise InvalidInput(f"Cannot write {str(report)!r}: the folder {str(report.parent)!r} is missing.")
    from driftloop.demo._loop_demo import run_loop_demo

    with _fresh_demo_workspace() as ws:
        run_loop_demo(ws, seed=seed, report=report)


def _fresh_demo_workspace() -> Workspace:
    """The market demo's own workspace, ``.driftloop-demo`` in the current folder, emptied first: the story
    starts from nothing every time, and the user's workspace is left alone."""
    import shutil

    from driftloop.workspace import Workspace

    root = Path(DEMO_WORKSPACE)
    if root.exists():
        shutil.rmtree(root)
    return Workspace(root, actor="demo")


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
