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
