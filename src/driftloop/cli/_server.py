"""``driftloop server``: share the workspace over HTTP, behind users, tokens and roles."""

from __future__ import annotations

import math
from typing import Annotated

import typer

from driftloop.errors import InvalidInput


def server(
    host: Annotated[str, typer.Option(help="Address to bind; anything but loopback needs users (or --insecure).")] = (
        "127.0.0.1"
    ),
    port: Annotated[int, typer.Option(help="Port to listen on.", min=1, max=65_535)] = 8787,
    insecure: Annotated[
        bool,
        typer.Option(
            "--insecure",
            help="Serve a workspace without users on a non-loopback address, open to anyone who reaches it.",
        ),
    ] = False,
    serve: Annotated[
        list[str] | None,
        typer.Option(
            "--serve",
            help="A model to serve on the same port (houses, houses@challenger), behind the same tokens; repeatable.",
        ),
    ] = None,
    allow_private_sources: Annotated[
        bool,
        typer.Option(
            "--allow-private-sources",
            help="Let an ingest from a URL reach this machine and private addresses (internal services).",
        ),
    ] = False,
    source_bucket: Annotated[
        list[str] | None,
        typer.Option(
            "--source-bucket",
            metavar="URL",
            help="A bucket prefix (s3://bucket/prefix; gs, az too) an ingest from a URL may read, with the server's "
            "own credentials; none by default. Repeatable.",
            show_default=False,
        ),
    ] = None,
    max_upload_mb: Annotated[
        float, typer.Option(help="The largest upload (a dataset file, an artifact) in MiB; larger ones answer 413.")
    ] = 1024.0,
    out_of_range: Annotated[
        str,
        typer.Option(
            metavar="flag|missing",
            help="For --serve, as driftloop serve's: with 'missing', a nullable numeric input outside its range "
            "is scored as missing.",
        ),
    ] = "flag",
) -> None:
    """Share the workspace over HTTP: tracking, datasets, models, the audit log and alerts (OpenAPI at
    /api/v1/openapi.json). On loopback with no users, requests without a token act as you."""
    from driftloop.cli._output import workspace
    from driftloop.server import run_server
    from driftloop.serving._input_check import OUT_OF_RANGE

    if not math.isfinite(max_upload_mb) or max_upload_mb <= 0:
        raise InvalidInput(f"--max-upload-mb must be a number of MiB above 0; got {max_upload_mb:g}.")
    if out_of_range not in OUT_OF_RANGE:
        raise InvalidInput(f"--out-of-range must be one of {', '.join(OUT_OF_RANGE)}; got {out_of_range!r}.")
    run_server(
        workspace(),
        host=host,
        port=port,
        insecure=insecure,
        max_upload_bytes=max(1, int(max_upload_mb * 1024 * 1024)),
        private_sources=allow_private_sources,
        source_buckets=tuple(source_bucket or ()),
        serve=serve or (),
        serving={"out_of_range": out_of_range},
    )
