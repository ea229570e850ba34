"""``driftloop experiments …``"""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated

import typer

from driftloop.cli._output import console, print_json, table, workspace

app = typer.Typer(help="List, create, delete and restore experiments.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command("list")
def list_(
    all_: Annotated[bool, typer.Option("--all", help="Include deleted experiments.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List experiments with their run counts."""
    tracking = workspace().tracking
    experiments = tracking.list_experiments(include_deleted=all_)
    counts = {e.id: tracking.count_runs(e.id) for e in experiments}
    if as_json:
        print_json([{**asdict(e), "runs": counts[e.id]} for e in experiments])
        return
    table(
        "Experiments",
        ["id", "name", "runs", "created", "by", "state"],
        [(e.id, e.name, counts[e.id], e.created_at, e.created_by, e.lifecycle.value) for e in experiments],
    )


@app.command()
def create(name: str, description: Annotated[str, typer.Option(help="What it is for.")] = "") -> None:
    """Create an experiment."""
    experiment = workspace().tracking.create_experiment(name, description=description)
    console.print(f"Created experiment {experiment.name!r} (id {experiment.id}).")


@app.command()
def delete(name: str) -> None:
    """Soft-delete an experiment and hide its runs (undo with restore, remove for good with gc)."""
    experiment = workspace().tracking.delete_experiment(name)
    console.print(f"Deleted experiment {experiment.name!r}; `driftloop gc` purges it for good.")


@app.command()
def restore(name: str) -> None:
    """Restore a soft-deleted experiment."""
    experiment = workspace().tracking.restore_experiment(name)
    console.print(f"Restored experiment {experiment.name!r}.")
