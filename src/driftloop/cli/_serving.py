"""``driftloop serve``: registered models over HTTP, following their aliases; ``driftloop predict``: batches."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from driftloop.errors import InvalidInput


def serve(
    models: Annotated[
        list[str] | None, typer.Argument(help="Models to serve: NAME (its champion) or NAME@ALIAS.", show_default=False)
    ] = None,
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(help="Worker processes.")] = 1,
    default: Annotated[str | None, typer.Option(help="The model /invocations scores (default: the first).")] = None,
    canary: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=SHARE",
            help="Send a share (0 to 1) of NAME's requests to its challenger, e.g. houses=0.1; this server then keeps "
            "its own policy for NAME instead of following 'driftloop models traffic'. Repeatable.",
            show_default=False,
        ),
    ] = None,
    shadow: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME",
            help="Have NAME's challenger score a copy of each request its champion answers, logged only. Repeatable.",
            show_default=False,
        ),
    ] = None,
    challenger: Annotated[
        list[str] | None,
        typer.Option(
            metavar="NAME=ALIAS",
            help="The alias of NAME's challenger (default: challenger). Repeatable.",
            show_default=False,
        ),
    ] = None,
    log: Annotated[
        bool, typer.Option("--log/--no-log", help="Keep the prediction log (and take feedback at /v1/feedback).")
    ] = True,
    max_body_mb: Annotated[
        float | None,
        typer.Option(help="The largest request body in MiB (default 16); larger ones answer 413.", show_default=False),
    ] = None,
    upkeep_minutes: Annotated[
        float,
        typer.Option(help="Minutes between two compactions of the prediction log (one process does it); 0 for none."),
    ] = 5.0,
    monitor_minutes: Annotated[
        float,
        typer.Option(
            help="Minutes between two monitor passes over each served model's latest traffic (drift, quality, "
            "estimated performance; one process does it, every worker exports the findings at /metrics); 0 for none."
        ),
    ] = 5.0,
    monitor_last: Annotated[
        int, typer.Option(help="The window each monitor pass checks: the latest N predictions of a model.")
    ] = 1_000,
    alerts: Annotated[
        Path | None,
        typer.Option(
            help="Alert rules (YAML) evaluated at each monitor pass, over the findings and the server's health.",
            show_default=False,
        ),
    ] = None,
    policies: Annotated[
        Path | None,
        typer.Option(
            help="The loop's policies (YAML): one server process runs its controller, acting on drift.",
            show_default=False,
        ),
    ] = None,
    loop_minutes: Annotated[float, typer.Option(help="Minutes between two ticks of the loop's controller.")] = 1.0,
    out_of_range: Annotated[
        str,
        typer.Option(
            metavar="flag|missing",
            help="An input outside its signature range is flagged in the prediction log; with 'missing', a "
            "nullable numeric input's is also scored as missing (a broken feed costs what a gap costs).",
        ),
    ] = "flag",
) -> None:
    """Serve registered models over HTTP (ours, MLflow's /invocations, and the Open Inference Protocol V2)."""
    from driftloop.cli._output import local_workspace, use_workspace_settings
    from driftloop.serving._server import serve as run

    if not models:
        raise InvalidInput("Name at least one model to serve, e.g. `driftloop serve houses`.")
    # Every flag is checked before the workspace opens or a process starts.
    traffic = traffic_from_flags(models, canary=canary or [], shadow=shadow or [], challenger=challenger or [])
    max_body_bytes = None if max_body_mb is None else body_limit_from_flag(max_body_mb)
    local_workspace("serve", instead="let the server score them: driftloop server --serve MODEL")
    use_workspace_settings()
    run(
        models,
        host=host,
        port=port,
        workers=workers,
        default=default,
        traffic=traffic,
        log_predictions=log,
        max_body_bytes=max_body_bytes,
        upkeep_interval=upkeep_minutes * 60,
        monitor_interval=monitor_minutes * 60,
        monitor_last=monitor_last,
        alerts=None if alerts is None else str(alerts.resolve()),
        policies=None if policies is None else str(policies.resolve()),
        loop_interval=loop_minutes * 60,
        out_of_range=out_of_range,
    )


def traffic_from_flags(
    models: Sequence[str], *, canary: Sequence[str], shadow: Sequence[str], challenger: Sequence[str]
) -> dict[str, dict[str, Any]]:
    """The traffic policies ``--canary``, ``--shadow`` and ``--challenger`` ask for, by served model name.

    >>> traffic_from_flags(["houses"], canary=["houses=0.1"], shadow=[], challenger=["houses=blue"])
    {'houses': {'canary': 0.1, 'challenger': 'blue'}}

    Raises:
        InvalidInput: A value is malformed, names a model not served, or names a model twice; the message
            names the flag and the value.
    """
    from driftloop.names import validate_name
    from driftloop.registry import parse_reference

    served = [parse_reference(text).name for text in models]
    policies: dict[str, dict[str, Any]] = {}

    def policy_of(flag: str, text: str, name: str, key: str) -> dict[str, Any]:
        name = name.strip()
        if name not in served:
            raise InvalidInput(f"{flag} {text} names {name!r}, which is not served; served: {', '.join(served)}.")
        policy = policies.setdefault(name, {})
        if key in policy:
            raise InvalidInput(f"{flag} names {name!r} more than once.")
        return policy

    for text in canary:
        name, share_text = _pair("--canary", text, "NAME=SHARE", "houses=0.1")
        try:
            share = float(share_text)
        except ValueError:
            share = math.nan
        if not 0 <= share <= 1:  # NaN fails this too
            raise InvalidInput(f"The share of --canary {text} must be a number in [0, 1]; got {share_text!r}.")
        policy_of("--canary", text, name, "canary")["canary"] = share
    for text in shadow:
        policy_of("--shadow", text, text, "shadow")["shadow"] = True
    for text in challenger:
        name, alias = _pair("--challenger", text, "NAME=ALIAS", "houses=challenger")
        try:
            validate_name("alias", alias.strip())
        except InvalidInput as error:
            raise InvalidInput(f"--challenger {text}: {error.message}") from error
        policy_of("--challenger", text, name, "challenger")["challenger"] = alias.strip()
    for name, policy in policies.items():
        if "challenger" in policy and not policy.get("canary") and not policy.get("shadow"):
            raise InvalidInput(
                f"--challenger {name}={policy['challenger']} does nothing without --canary {name}=SHARE (above 0) "
                f"or --shadow {name}."
            )
    return policies


def body_limit_from_flag(megabytes: float) -> int:
    """The body limit in bytes that ``--max-body-mb`` asks for (MiB, as the default of 16 is)."""
    if not math.isfinite(megabytes) or megabytes <= 0:
        raise InvalidInput(f"--max-body-mb must be a number of MiB above 0; got {megabytes:g}.")
    return max(1, int(megabytes * 1024 * 1024))


def _pair(flag: str, text: str, form: str, example: str) -> tuple[str, str]:
    name, equals, value = text.partition("=")
    if not equals or not name.strip() or not value.strip():
        raise InvalidInput(f"{flag} takes {form}, e.g. {flag} {example}; got {text!r}.")
    return name.strip(), value.strip()


def predict(
    model: Annotated[str, typer.Argument(help="NAME, NAME@ALIAS (e.g. houses@champion) or NAME/VERSION.")],
    output: Annotated[str, typer.Option("--output", "-o", help="The Parquet file to write.")],
    input_path: Annotated[str | None, typer.Option("--input", "-i", help="A Parquet or CSV file to score.")] = None,
    dataset: Annotated[str | None, typer.Option(help="Score a dataset's version instead of a file.")] = None,
    version: Annotated[int | None, typer.Option(help="The dataset version (default: the latest).")] = None,
    probabilities: Annotated[bool, typer.Option("--probabilities", help="Add one column per class.")] = False,
    batch_rows: Annotated[int, typer.Option(help="Rows per batch.")] = 65_536,
    log: Annotated[
        bool,
        typer.Option(
            "--log", help="Append every scored row to the prediction log, once the output is written (protocol batch)."
        ),
    ] = False,
    id_column: Annotated[
        str | None,
        typer.Option(
            help="With --log, the input column holding each row's request id (labels join by it); "
            "without it, ids are generated into a request_id column of the output.",
            show_default=False,
        ),
    ] = None,
) -> None:
    """Score a file or a dataset version in streamed batches into a Parquet file."""
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from driftloop.cli._output import console, workspace
    from driftloop.serving._batch import score_batches

    if id_column is not None and not log:
        raise InvalidInput(f"--id-column {id_column} names the request ids of the prediction log; add --log.")
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
            log=log,
            id_column=id_column,
        )
    logged = f"; logged {result.logged:,} predictions" if log else ""
    console.print(
        f"scored {result.rows:,} rows with {result.model}/{result.version} into {result.output}{logged}", markup=False
    )
