"""``driftloop data …``: ingest, list, versions, show, diff, validate."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from driftloop.cli._output import console, print_json, table, workspace
from driftloop.errors import InvalidInput

app = typer.Typer(help="Ingest, version and inspect datasets.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command()
def ingest(
    name: str,
    source: Annotated[str | None, typer.Option("--source", "-s", help="Path or URL of the data.")] = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="An ingest.yaml (source, mode, transform…).")
    ] = None,
    format_: Annotated[
        str | None, typer.Option("--format", help="csv, parquet, json, jsonl (default: by extension).")
    ] = None,
    mode: Annotated[str | None, typer.Option(help="append (default) or overwrite.")] = None,
    quarantine: Annotated[
        bool, typer.Option("--quarantine", help="Quarantine rows that break a rule instead of rejecting the batch.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Ingest data as a new version. Idempotent: identical data creates no version, so it can run on a schedule."""
    from driftloop.data.transforms import Transform

    settings = _read_config(config) if config else {}
    chosen_source: Any = source or settings.get("source")
    if chosen_source is None:
        raise InvalidInput("Give the data with --source, or a `source:` in the --config file.")
    transform = Transform.from_dict(settings["transform"]) if settings.get("transform") else None
    on_failure = "quarantine" if quarantine else settings.get("on_rule_failure", "reject")
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task(f"ingesting {name}", total=None)
        result = workspace().datasets.ingest(
            name,
            _source(chosen_source),
            mode=_choice("mode", mode or settings.get("mode", "append"), ("append", "overwrite")),
            format=format_ or settings.get("format"),
            transform=transform,
            on_rule_failure=_choice("on_rule_failure", on_failure, ("reject", "quarantine")),
            progress=lambda rows: progress.advance(task, rows),
        )
    if as_json:
        print_json(
            {
                "dataset": name,
                "version": result.version.number,
                "created": result.created,
                "rows": result.rows,
                "quarantined_rows": result.quarantined_rows,
            }
        )
        return
    console.print(str(result), markup=False)


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List datasets."""
    found = workspace().datasets.list()
    if as_json:
        print_json(
            [
                {"name": d.name, "versions": d.versions, "created_at": d.created_at, "created_by": d.created_by}
                for d in found
            ]
        )
        return
    table(
        "Datasets",
        ["name", "versions", "created", "by"],
        [(d.name, d.versions, d.created_at, d.created_by) for d in found],
    )


@app.command()
def versions(name: str, as_json: JsonOption = False) -> None:
    """List a dataset's versions."""
    found = workspace().datasets.versions(name)
    if as_json:
        print_json([{k: getattr(v, k) for k in v.__dataclass_fields__} for v in found])
        return
    table(
        f"Versions of {name}",
        ["version", "mode", "rows added", "rows", "quarantined", "created", "by", "source"],
        [
            (v.number, v.mode, v.rows, v.total_rows, v.quarantined_rows, v.created_at, v.created_by, v.source)
            for v in found
        ],
        wrap=["source"],
    )


@app.command()
def show(
    name: str,
    version: Annotated[int | None, typer.Option(help="Default: the latest.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A version's facts, quality report, profile summary and the runs that read it."""
    handle = workspace().datasets.get(name, version)
    info = handle.info
    data = {
        "dataset": name,
        "version": info.number,
        "delta_version": info.delta_version,
        "rows": info.total_rows,
        "rows_added": info.rows,
        "quarantined_rows": info.quarantined_rows,
        "source": info.source,
        "fingerprint": info.fingerprint,
        "transform_hash": info.transform_hash,
        "created_at": info.created_at,
        "created_by": info.created_by,
        "schema": info.arrow_schema,
        "report": handle.report(),
        "profile": handle.profile().to_dict(),
        "runs": handle.runs(),
    }
    if as_json:
        print_json(data)
        return
    for key in (
        "dataset",
        "version",
        "rows",
        "rows_added",
        "quarantined_rows",
        "source",
        "created_at",
        "created_by",
        "fingerprint",
        "transform_hash",
    ):
        console.print(f"[bold]{key}[/]: ", end="")
        console.print(str(data[key]), markup=False)
    console.print("[bold]schema[/]:")
    console.print(info.arrow_schema, markup=False)
    console.print(f"[bold]runs that read it[/]: {len(handle.runs())}")


@app.command()
def diff(
    name: str,
    old: int,
    new: Annotated[int | None, typer.Argument(help="Default: the latest.")] = None,
    as_json: JsonOption = False,
) -> None:
    """What changed between two versions."""
    result = workspace().datasets.diff(name, old, new)
    if as_json:
        print_json(result.to_dict())
        return
    console.print(
        f"{name}: v{result.old} -> v{result.new}: +{result.rows_added:,} rows, -{result.rows_removed:,} rows",
        markup=False,
    )
    for label, changes in (("added", result.columns_added), ("removed", result.columns_removed)):
        for column, kind in changes.items():
            console.print(f"column {label}: {column} ({kind})", markup=False)
    for column, (before, after) in result.type_changes.items():
        console.print(f"type changed: {column}: {before} -> {after}", markup=False)
    rows = [
        (column, statistic, before, after)
        for column, statistics in result.statistics.items()
        for statistic, (before, after) in statistics.items()
        if before != after
    ]
    table("Statistics that moved", ["column", "statistic", f"v{result.old}", f"v{result.new}"], rows)


@app.command()
def validate(
    name: str,
    source: Annotated[str, typer.Option("--source", "-s", help="Path or URL of the data to check.")],
    format_: Annotated[str | None, typer.Option("--format", help="csv, parquet, json, jsonl.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Check data against the dataset's schema without storing it; exits 1 when a rule is broken."""
    report = workspace().datasets.validate(name, source, format=format_)
    broken = int(report.get("rows_quarantined", 0))
    if as_json:
        print_json(report)
    else:
        console.print(
            f"{report.get('rows', 0):,} rows checked; {broken:,} break a rule; "
            f"{report.get('rows_flagged', 0):,} flagged by expectations.",
            markup=False,
        )
    if broken:
        raise typer.Exit(1)


@app.command()
def schema(
    name: str,
    replace: Annotated[Path | None, typer.Option("--set", help="A schema YAML to make the dataset's schema.")] = None,
) -> None:
    """Print the dataset's schema as YAML (edit it, promote an expectation to a rule, then --set it)."""
    from driftloop.data.validation import DataSchema

    datasets = workspace().datasets
    if replace is not None:
        try:
            text = replace.read_text(encoding="utf-8")
        except FileNotFoundError as error:
            raise InvalidInput(f"No schema file at {str(replace)!r}.") from error
        datasets.set_schema(name, DataSchema.from_yaml(text))
        console.print(f"The schema of {name} is now the one in {replace}.", markup=False)
        return
    console.print(datasets.schema(name).to_yaml(), markup=False, end="")


def _read_config(path: Path) -> dict[str, Any]:
    import yaml

    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as error:
        raise InvalidInput(f"No ingest config at {str(path)!r}.") from error
    except yaml.YAMLError as error:
        raise InvalidInput(f"{path} is not valid YAML: {error}") from error
    if not isinstance(data, dict):
        raise InvalidInput(f"{path} must hold a mapping (source:, mode:, transform:…); got {type(data).__name__}.")
    unknown = sorted(set(data) - {"source", "format", "mode", "on_rule_failure", "transform"})
    if unknown:
        raise InvalidInput(
            f"{path} has unknown key(s) {', '.join(unknown)}; known: source, format, mode, on_rule_failure, transform."
        )
    return data


def _choice(option: str, value: Any, allowed: tuple[str, ...]) -> Any:
    if value not in allowed:
        raise InvalidInput(f"The {option} must be one of {', '.join(allowed)}; got {value!r}.")
    return value


def _source(value: Any) -> Any:
    if isinstance(value, dict):
        from driftloop.data.sources import SourceSpec

        return SourceSpec.from_dict(value)
    return value
