"""``driftloop serve``: registered models over HTTP, following their aliases."""

from __future__ import annotations

from typing import Annotated

import typer


def serve(
    models: Annotated[
        list[str] | None, typer.Argument(help="Models to serve: NAME (its champion) or NAME@ALIAS.", show_default=False)
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    default: Annotated[str | None, typer.Option(help="The model /invocations scores (default: the first).")] = None,
) -> None:
    """Serve registered models over HTTP (ours, MLflow's /invocations, and the Open Inference Protocol V2)."""
    from driftloop.cli._output import use_workspace_settings
    from driftloop.errors import InvalidInput
    from driftloop.serving._server import serve as run

    if not models:
        raise InvalidInput("Name at least one model to serve, e.g. `driftloop serve houses`.")
    use_workspace_settings()
    run(models, host=host, port=port, workers=workers, default=default)


def predict(
    model: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS (e.g. houses@champion) or NAME/VERSION.")],
    output: Annotated[str, typer.Option("--output", "-o", help="The Parquet file to write.")],
    input_path: Annotated[str | None, typer.Option("--input", "-i", help="A Parquet or CSV file to score.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Score a dataset's version instead of a file.")] = None,
    version: Annotated[int | None, typer.Option(help="The dataset version (default: the latest).")] = None,
    probabilities: Annotated[bool, typer.Option("--probabilities", help="Add one column per class.")] = False,
    batch_rows: Annotated[int, typer.Option(help="Rows per batch.")] = 65_536,
) -> None:
    """Score a file or a dataset version in streamed batches into a Parquet file."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from driftloop.cli._output import console, workspace
    from driftloop.serving._batch import score_batches

    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} rows"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as progress:
        task = progress.add_task(f"scoring with {model}", total=None)
        result = score_batches(
            workspace(),
            model,
            output,
            input_path=input_path,
            dataset=dataset,
            dataset_version=version,
            batch_rows=batch_rows,
            probabilities=probabilities,
            progress=lambda rows: progress.advance(task, rows),
        )
    console.print(
        f"scored {result.rows:,} rows with {result.model}/{result.version} into {result.output}", markup=False
    )
