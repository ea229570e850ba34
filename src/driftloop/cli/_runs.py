"""``driftloop runs …``"""

from __future__ import annotations

import math
from typing import Annotated, Any

import typer
from rich.table import Table
from rich.text import Text

from driftloop.cli._output import console, format_bytes, format_value, print_json, table, workspace
from driftloop.entities import Run

app = typer.Typer(help="List, show, compare and delete runs.", no_args_is_help=True)

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command("list")
def list_(
    experiment: Annotated[
        list[str] | None, typer.Option("--experiment", "-e", help="Experiment name or id (repeatable).")
    ] = None,
    filter_: Annotated[
        str | None,
        typer.Option("--filter", "-f", help="e.g. \"metrics.rmse < 3 and params.model = 'lgbm'\"."),
    ] = None,
    order_by: Annotated[
        list[str] | None, typer.Option("--order-by", "-o", help="e.g. 'metrics.rmse' or 'start_time DESC'.")
    ] = None,
    limit: Annotated[int, typer.Option(help="At most this many runs.", min=0)] = 50,
    deleted: Annotated[bool, typer.Option("--deleted", help="Include deleted runs.")] = False,
    as_json: JsonOption = False,
) -> None:
    """List runs, newest first, optionally filtered and ordered."""
    runs = workspace().tracking.search_runs(
        experiment, filter=filter_, order_by=order_by or (), limit=limit, include_deleted=deleted
    )
    if as_json:
        print_json([run_to_dict(run) for run in runs])
        return
    # As many metric columns as the terminal has room for (about 12 characters each), at most six.
    room = max(0, (console.width - 70) // 12)
    metric_keys = sorted({key for run in runs for key in run.metrics})[: min(6, room)]
    table(
        f"Runs ({len(runs)})",
        ["id", "experiment", "name", "status", "started", "duration", *metric_keys],
        [
            (
                run.id[:12],
                run.experiment_name,
                run.name,
                run.status.value,
                run.start_time,
                _seconds(run.duration),
                *(run.metrics[key].last_value if key in run.metrics else None for key in metric_keys),
            )
            for run in runs
        ],
        wrap=["name"],
    )


@app.command()
def show(
    run_id: Annotated[str, typer.Argument(help="The run's id (or a unique prefix).")],
    as_json: JsonOption = False,
) -> None:
    """Everything a run recorded: params, metrics, tags, inputs, environment, resources, artifacts."""
    ws = workspace()
    run = ws.tracking.get_run(resolve_run_id(run_id))
    artifacts = ws.tracking.list_artifacts(run.id)
    if as_json:
        print_json({**run_to_dict(run), "artifacts": [vars_(a) for a in artifacts]})
        return
    header = Table.grid(padding=(0, 2))
    header.add_column(style="bold")
    header.add_column()
    env, res = run.environment, run.resources
    for label, value in (
        ("run", run.id),
        ("name", run.name),
        ("experiment", f"{run.experiment_name} (id {run.experiment_id})"),
        ("status", run.status.value + (" (deleted)" if run.lifecycle.value == "deleted" else "")),
        ("started", format_value(run.start_time)),
        ("ended", format_value(run.end_time)),
        ("user", run.user),
        ("parent", run.parent_id or "-"),
        ("git", f"{env.git_commit or '-'}{' (dirty)' if env.git_dirty else ''}"),
        ("python", f"{env.python_version} on {env.platform}"),
        ("host", f"{env.hostname} pid {env.pid}"),
        ("command", env.command or "-"),
        ("wall time", _seconds(res.wall_time)),
        ("cpu time", _seconds(res.cpu_time)),
        ("peak memory", format_bytes(res.peak_memory)),
    ):
        header.add_row(label, Text(str(value)))
    console.print(header)
    if run.params:
        table("Params", ["key", "value"], sorted(run.params.items()), wrap=["value"])
    if run.metrics:
        table(
            "Metrics",
            ["key", "last", "step", "points", "min", "max"],
            [(m.key, m.last_value, m.last_step, m.count, m.min_value, m.max_value) for m in run.metrics.values()],
        )
    if run.tags:
        table("Tags", ["key", "value"], sorted(run.tags.items()), wrap=["value"])
    if run.inputs:
        table("Inputs", ["dataset", "version", "role"], [(i.dataset, i.version, i.role) for i in run.inputs])
    if env.packages:
        table("Packages", ["package", "version"], sorted(env.packages.items()))
    if artifacts:
        table(
            "Artifacts",
            ["path", "size", "sha256"],
            [(a.path, format_bytes(a.size), a.digest[:16]) for a in artifacts],
        )


@app.command()
def compare(
    run_ids: Annotated[list[str], typer.Argument(help="Two or more run ids (or unique prefixes).")],
    all_keys: Annotated[bool, typer.Option("--all", help="Show params that are equal everywhere too.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Params and latest metrics of several runs side by side."""
    if len(run_ids) < 2:
        raise typer.BadParameter("give at least two run ids to compare")
    comparison = workspace().tracking.compare_runs([resolve_run_id(r) for r in run_ids])
    params = comparison.params if all_keys else comparison.differing_params()
    if as_json:
        print_json(
            {
                "runs": [run.id for run in comparison.runs],
                "params": params,
                "metrics": {k: [_json_float(v) for v in vs] for k, vs in comparison.metrics.items()},
            }
        )
        return
    columns = ["", *(f"{run.name}\n{run.id[:8]}" for run in comparison.runs)]
    blank = [""] * len(comparison.runs)
    rows: list[list[Any]] = [[Text("params", style="bold"), *blank]]
    rows += [[f"params.{key}", *values] for key, values in params.items()]
    rows += [[Text("metrics", style="bold"), *blank]]
    rows += [[f"metrics.{key}", *values] for key, values in comparison.metrics.items()]
    table("Comparison", columns, rows, wrap=columns)


@app.command()
def history(
    run_id: Annotated[str, typer.Argument(help="The run's id (or a unique prefix).")],
    key: Annotated[str, typer.Argument(help="The metric key.")],
    as_json: JsonOption = False,
) -> None:
    """Every point of one metric."""
    points = workspace().tracking.metric_history(resolve_run_id(run_id), key)
    if as_json:
        print_json(
            {
                "steps": points.steps,
                "timestamps": points.timestamps,
                "values": [_json_float(v) for v in points.values],
            }
        )
        return
    shown = min(len(points), 200)
    table(
        f"{key} ({len(points)} points{', last 200 shown' if len(points) > shown else ''})",
        ["step", "value"],
        list(zip(points.steps[-shown:].tolist(), points.values[-shown:].tolist(), strict=True)),
    )


@app.command()
def delete(run_id: str) -> None:
    """Soft-delete a run (undo with restore; `driftloop gc` purges it)."""
    resolved = resolve_run_id(run_id)
    workspace().tracking.delete_run(resolved)
    console.print(f"Deleted run {resolved}.")


@app.command()
def restore(run_id: str) -> None:
    """Restore a soft-deleted run."""
    resolved = resolve_run_id(run_id, include_deleted=True)
    workspace().tracking.restore_run(resolved)
    console.print(f"Restored run {resolved}.")


def resolve_run_id(reference: str, *, include_deleted: bool = True) -> str:
    """A full run id from an id or a unique prefix of one (as ``git`` accepts short hashes)."""
    from driftloop.errors import InvalidInput, NotFound

    if len(reference) == 32:
        return reference
    if len(reference) < 4 or not all(c in "0123456789abcdef" for c in reference):
        raise InvalidInput(f"{reference!r} is not a run id; give the id or at least its first 4 hex digits.")
    matches = workspace().tracking.search_runs(
        filter=f"run_id like '{reference}%'", limit=2, include_deleted=include_deleted
    )
    if not matches:
        raise NotFound(f"No run id starts with {reference!r}.")
    if len(matches) > 1:
        raise InvalidInput(f"Several runs start with {reference!r}; give more digits.")
    return matches[0].id


def run_to_dict(run: Run) -> dict[str, Any]:
    return {
        "id": run.id,
        "experiment_id": run.experiment_id,
        "experiment": run.experiment_name,
        "name": run.name,
        "status": run.status.value,
        "lifecycle": run.lifecycle.value,
        "start_time": run.start_time,
        "end_time": run.end_time,
        "user": run.user,
        "parent_id": run.parent_id,
        "params": dict(run.params),
        "tags": dict(run.tags),
        "metrics": {key: _json_float(m.last_value) for key, m in run.metrics.items()},
        "inputs": [vars_(i) for i in run.inputs],
        "environment": {**vars_(run.environment), "packages": dict(run.environment.packages)},
        "resources": vars_(run.resources),
    }


def vars_(record: Any) -> dict[str, Any]:
    return {name: getattr(record, name) for name in record.__dataclass_fields__}


def _json_float(value: float | None) -> float | str | None:
    """JSON has no NaN or infinity: those travel as the strings "NaN", "Infinity", "-Infinity"."""
    if value is None or math.isfinite(value):
        return value
    return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f} s"
