"""``driftloop monitor …``: drift checks that exit non-zero on drift, for CI pipelines and schedulers, and reports."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any

import typer

from driftloop.cli._output import console, local_workspace, print_json, table, workspace
from driftloop.errors import InvalidInput

MONITOR_TIMEOUT = 3600.0
"""Seconds a client waits for a monitor pass on a workspace server (every champion's window, checked)."""
app = typer.Typer(
    help="Drift, quality and estimated performance of live traffic; drift of any two data files.",
    no_args_is_help=True,
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
MultivariateOption = Annotated[
    bool, typer.Option("--multivariate", help="Also test the joint distribution (a domain classifier).")
]


@app.command()
def check(
    model: Annotated[str, typer.Argument(help="NAME (its champion), NAME@ALIAS or NAME/VERSION.")],
    last: Annotated[int | None, typer.Option(help="The window: the latest N predictions.")] = 1_000,
    since: Annotated[
        str | None, typer.Option(help="The window: predictions of the last 30m, 6h, 2d (instead of --last).")
    ] = None,
    multivariate: MultivariateOption = False,
    against: Annotated[
        str,
        typer.Option(help="The features' reference: the version's training profile, or its holdout's rows (exact)."),
    ] = "profile",
    alerts: Annotated[
        Path | None,
        typer.Option(
            help="Alert rules (YAML) evaluated over this check's output, e.g. drift.share > 0.3; "
            "open alerts notify their channels.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Compare a served model's latest traffic with its version's training profile (the prediction with its
    holdout's); exit 1 on drift or a quality problem."""
    from driftloop.monitoring import AlertConfig, AlertEngine
    from driftloop.monitoring._live import check_live_drift

    config = None if alerts is None else AlertConfig.from_yaml(alerts)  # a bad file fails before the check
    if against not in ("profile", "holdout"):
        raise InvalidInput(f"--against takes profile or holdout; got {against!r}.")
    moment = None if since is None else datetime.now(UTC) - _duration(since)
    ws = workspace()
    outcomes = []
    if ws.is_remote:
        if config is not None:
            raise InvalidInput(
                "--alerts evaluates its rules where the workspace is (its channels are reached from there); through "
                "a workspace server, check without it, or let the server's monitor raise the alerts."
            )
        found = _remote_check(ws, model, last=last, since=moment, multivariate=multivariate, against=against)
    else:
        result = check_live_drift(
            ws,
            model,
            last=None if since is not None else last,
            since=moment,
            multivariate=multivariate,
            against=against,  # type: ignore[arg-type]
        )
        if config is not None:
            engine = AlertEngine.from_config(ws.metadata.alerts, config)
            outcomes = engine.evaluate({result.version.model: result.outputs()})
        found = result.to_dict()
    if as_json:
        print_json({**found, "alerts": [outcome.to_dict() for outcome in outcomes]})
    else:
        window = found["window"]
        source = "training profile" if found["reference"] == "profile" else "holdout"
        console.print(
            f"{found['model']}/{found['version']}: {window['rows']:,} predictions ({window['first_at']} to "
            f"{window['last_at']}) against {found['reference_rows']:,} rows of its {source}",
            markup=False,
        )
        _print_report(found["report"])
        problems = found["quality"]["problems"]
        console.print(
            "data quality: " + ("no problem" if not problems else f"{len(problems)} problem(s)"), markup=False
        )
        for problem in problems:
            console.print(f"  {problem}", markup=False)
        for outcome in outcomes:
            if outcome.observation is not None and outcome.observation.alert is not None and outcome.breached:
                alert = outcome.observation.alert
                console.print(f"alert {alert.id} ({alert.severity}, {alert.status}): {alert.message}", markup=False)
    if found["drifted"] or found["quality"]["ok"] is False:
        raise typer.Exit(1)


def _remote_check(
    ws: Any, model: str, *, last: int | None, since: datetime | None, multivariate: bool, against: str
) -> dict[str, Any]:
    """What ``check_live_drift`` finds, computed by the workspace server next to its prediction log."""
    from driftloop.registry import parse_reference
    from driftloop.remote._client import quoted

    reference = parse_reference(model)
    query: dict[str, Any] = {"multivariate": multivariate, "against": against}
    if reference.version is not None:
        query["version"] = reference.version
    elif reference.alias is not None:
        query["alias"] = reference.alias
    if since is not None:
        query["since"] = since.isoformat()
    elif last is not None:
        query["last"] = last
    found: dict[str, Any] = ws.server.get(quoted("models", reference.name, "drift"), params=query)
    return found


@app.command()
def run(
    models: Annotated[
        list[str] | None, typer.Argument(help="Models to check (NAME, NAME@ALIAS); every champion by default.")
    ] = None,
    last: Annotated[int, typer.Option(help="The window: at most the latest N predictions of each model.")] = 1_000,
    since: Annotated[str | None, typer.Option(help="The window: only predictions of the last 30m, 6h, 2d.")] = None,
    multivariate: MultivariateOption = False,
    alerts: Annotated[
        Path | None,
        typer.Option(
            help="Alert rules (YAML) over each model's findings and the server's health (server.error_rate).",
            show_default=False,
        ),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(
            help="Run a pass every 5m, 1h...: until stopped, and only while no other process (a server's "
            "workers included) runs the monitor.",
            show_default=False,
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Check each model's latest window (drift, quality, estimated performance), keep the findings, raise alerts.

    The findings are recorded in the workspace: servers export them as Prometheus gauges and reports draw them
    over time. One pass exits 1 when a model drifted, has a data-quality problem or could not be checked.
    """
    from driftloop.monitoring import AlertConfig
    from driftloop.monitoring._scheduled import run_monitors

    period = None if since is None else _duration(since).total_seconds()
    interval = None if every is None else _duration(every, option="--every").total_seconds()
    ws = workspace()
    if ws.is_remote:
        if alerts is not None:
            local_workspace("monitor run --alerts", instead="leave --alerts out: a pass on the server records its "
                            "findings there, and alert rules run where a server serves the model (driftloop serve "
                            "--alerts)")  # fmt: skip
        if interval is not None:
            local_workspace("monitor run --every", instead="run one pass at a time through it, or let the server "
                            "monitor what it serves (driftloop server --serve MODEL)")  # fmt: skip
        body = {"models": models or None, "last": last, "period": period, "multivariate": multivariate}
        found: dict[str, Any] = ws.server.send("POST", "/monitor/passes", body, timeout=MONITOR_TIMEOUT)
        print_json(found) if as_json else _print_pass(found)
        if found["failed"]:
            raise typer.Exit(1)
        return
    config = None if alerts is None else AlertConfig.from_yaml(alerts)  # a bad file fails before any work

    def one_pass(token: int = 0) -> bool:
        result = run_monitors(ws, models or None, last=last, period=period, multivariate=multivariate, alerts=config)
        print_json(result.to_dict()) if as_json else _print_pass(result.to_dict())
        return result.failed

    if interval is None:
        if one_pass():
            raise typer.Exit(1)
        return
    _run_every(ws, interval, one_pass)


def _run_every(ws: Any, interval: float, job: Any) -> None:
    """Run ``job`` every ``interval`` seconds under the monitor's lease, until interrupted."""
    from driftloop.execution import LeasedJob
    from driftloop.monitoring._scheduled import MONITOR_LEASE

    leased = LeasedJob(ws.metadata.leases, MONITOR_LEASE, job, interval=interval, first_run_after=0.0)
    console.print(f"monitoring every {interval:g} s (Ctrl-C stops)", markup=False)
    leased.run_in_foreground()


def _print_pass(result: dict[str, Any]) -> None:
    """Print a monitor pass in its JSON form (:meth:`MonitorPass.to_dict`, as a workspace server answers it)."""
    rows = []
    for model in result["models"]:
        if model.get("drift") is None:
            rows.append((model["model"], "-", 0, "-", "-", "-", model["status"], model.get("error")))
            continue
        estimate = model.get("estimate") or {}
        known = [(name, value) for name, value in (estimate.get("metrics") or {}).items() if value is not None]
        metrics = ", ".join(f"{name} {value:.3g}" for name, value in known[:2])  # the task's headline metrics
        share = model["drift"].get("share")
        rows.append(
            (
                model["model"],
                model["version"],
                model["rows"],
                "-" if share is None else f"{share:.0%}",
                {True: "ok", False: "problem", None: "?"}[model["quality"].get("ok")],
                metrics or "-",
                model["status"],
                "; ".join(model.get("notes") or []),
            )
        )
    table(
        None,
        ["model", "version", "rows", "drifted share", "quality", "estimated", "status", "note"],
        rows,
        wrap=["note"],
    )
    health = result.get("server")
    if health is not None:
        rate = "-" if health["error_rate"] is None else f"{health['error_rate']:.2%}"
        p99 = "-" if health["latency_p99_ms"] is None else f"{health['latency_p99_ms']} ms"
        console.print(
            f"server: {health['requests']:,} requests from {health['processes']} process(es), "
            f"5xx rate {rate}, p99 {p99}",
            markup=False,
        )
    for outcome in result["alerts"]:
        alert = outcome.get("alert")
        if alert is not None and outcome["breached"]:
            console.print(
                f"alert {alert['id']} ({alert['severity']}, {alert['status']}): {alert['message']}", markup=False
            )


@app.command()
def compare(
    reference: Annotated[Path, typer.Argument(help="The reference data: a Parquet or CSV file.")],
    current: Annotated[Path, typer.Argument(help="The current data: a Parquet or CSV file.")],
    prediction: Annotated[str | None, typer.Option(help="A column to test as prediction drift.")] = None,
    multivariate: MultivariateOption = False,
    as_json: JsonOption = False,
) -> None:
    """Compare two data files column by column; exit 1 when the dataset (or the prediction) drifted."""
    from driftloop.monitoring import compare as compare_frames

    report = compare_frames(_read(reference), _read(current), prediction=prediction, multivariate=multivariate)
    if as_json:
        print_json(report.to_dict())
    else:
        _print_report(report.to_dict())
    prediction_drift = report.prediction is not None and report.prediction.drifted is True
    joint = report.multivariate is not None and report.multivariate.drifted is True
    if report.dataset_drift is True or prediction_drift or joint:
        raise typer.Exit(1)


@app.command()
def versions(
    dataset: Annotated[str, typer.Argument(help="The dataset's name.")],
    old: Annotated[int, typer.Argument(help="The reference version's number.")],
    new: Annotated[int | None, typer.Argument(help="The version compared with it (default: the latest).")] = None,
    exact: Annotated[
        bool, typer.Option("--exact", help="Read both versions' rows instead of their stored profiles.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Compare two versions of a dataset column by column; exit 1 when the dataset drifted.

    By default from the versions' stored profiles: memory bounded by the sketches, statistics within the error
    bounds documented with compare_profiles. --exact reads the rows and tests them as `compare` does.
    """
    from driftloop.monitoring._dataset_drift import compare_versions

    ws = workspace()
    number = new if new is not None else ws.datasets.get(dataset).number
    report = compare_versions(ws, dataset, old, number, exact=exact)
    source = "rows" if exact else "stored profiles"
    if as_json:
        print_json({"dataset": dataset, "old": old, "new": number, "from": source, **report.to_dict()})
    else:
        console.print(
            f"{dataset} v{old} ({report.reference_rows:,} rows) against v{number} ({report.current_rows:,} rows), "
            f"from the {source}",
            markup=False,
        )
        _print_report(report.to_dict())
    if report.dataset_drift is True:
        raise typer.Exit(1)


@app.command()
def report(
    reference: Annotated[
        Path | None, typer.Argument(help="The reference data (Parquet or CSV), with CURRENT; or use --model.")
    ] = None,
    current: Annotated[Path | None, typer.Argument(help="The current data: a Parquet or CSV file.")] = None,
    output: Annotated[Path, typer.Option("--output", "-o", help="The HTML report to write.")] = Path("report.html"),
    json_output: Annotated[
        Path | None, typer.Option("--json", help="Also write the report as JSON to this file.", show_default=False)
    ] = None,
    model: Annotated[
        str | None,
        typer.Option(help="A served model (NAME, NAME@ALIAS, NAME/VERSION): its logged traffic against its holdout."),
    ] = None,
    last: Annotated[int | None, typer.Option(help="With --model, the window: the latest N predictions.")] = 1_000,
    since: Annotated[
        str | None, typer.Option(help="With --model, the window: predictions of the last 30m, 6h, 2d.")
    ] = None,
    slices: Annotated[
        int,
        typer.Option(
            help="With --model, drift scores over time: the monitor's recorded passes when there are two or more "
            "(driftloop monitor run, or a server's monitor), else the window cut into this many slices (1 for none)."
        ),
    ] = 4,
    prediction: Annotated[
        str | None, typer.Option(help="With two files, a column to test as prediction drift.")
    ] = None,
    multivariate: MultivariateOption = False,
) -> None:
    """Write a self-contained HTML drift report (and optionally JSON) for two files or a served model's window.

    The page opens offline. The exit code is 0 once the report is written, drift or not: `compare` and `check`
    are the commands that fail on drift.
    """
    from driftloop.monitoring._report import render_report, report_json, write_report

    if model is not None and (reference is not None or current is not None):
        raise InvalidInput("Give either two data files (REFERENCE CURRENT) or --model, not both.")
    if model is None and (reference is None or current is None):
        raise InvalidInput("Give two data files (REFERENCE CURRENT), or --model NAME for a served model's traffic.")
    if slices < 1:
        raise InvalidInput(f"--slices must be a whole number >= 1; got {slices}.")
    for path in (output, json_output):
        if path is not None and not path.parent.is_dir():  # fail before the work, not after it
            raise InvalidInput(f"Cannot write {str(path)!r}: the folder {str(path.parent)!r} is missing.")
    if model is not None:
        page, data = _live_report_of(model, last, since, multivariate, slices)
    else:
        from driftloop.monitoring import check_quality
        from driftloop.monitoring import compare as compare_frames

        assert reference is not None and current is not None
        frames = (_read(reference), _read(current))
        drift = compare_frames(*frames, prediction=prediction, multivariate=multivariate)
        quality = check_quality(frames[1], reference=frames[0])
        title = f"Drift: {current.name} against {reference.name}"
        page = render_report(drift, *frames, title=title, quality=quality)
        data = {"title": title, **report_json(drift, quality=quality)}
    written = write_report(output, page)
    console.print(f"wrote {written} ({len(page.encode()) / 1e6:.1f} MB)", markup=False)
    if json_output is not None:
        write_report(json_output, json.dumps(data, indent=2, allow_nan=False) + "\n")
        console.print(f"wrote {json_output}", markup=False)
    _print_report(data["drift"])


def _live_report_of(
    model: str, last: int | None, since: str | None, multivariate: bool, slices: int
) -> tuple[str, dict[str, Any]]:
    """A served model's drift report (the page and its data), made where the prediction log is: here, or on the
    workspace server this workspace is reached through."""
    from driftloop.monitoring._live_report import live_report

    ws = workspace()
    if ws.is_remote:
        from driftloop.registry import parse_reference
        from driftloop.remote._client import quoted

        parsed = parse_reference(model)
        query = {
            "alias": None if parsed.version is not None else parsed.alias or "champion",
            "version": parsed.version,
            "last": None if since is not None else last,
            "since": None if since is None else (datetime.now(UTC) - _duration(since)).isoformat(),
            "multivariate": multivariate,
            "slices": slices,
        }
        data = ws.server.get(quoted("models", parsed.name, "report"), params={**query, "format": "both"})
        page = data.pop("html")
        return page, data
    moment = None if since is None else datetime.now(UTC) - _duration(since)
    made = live_report(ws, model, last=last, since=moment, multivariate=multivariate, slices=slices)
    return made.html(), made.to_dict()


def _print_report(report: dict[str, Any]) -> None:
    """Print a drift report in its JSON form (:meth:`DriftReport.to_dict`, as a server answers it too)."""
    prediction = report["prediction"]
    features = [*report["features"], *([] if prediction is None else [{**prediction, "is_prediction": True}])]
    table(
        None,
        ["column", "kind", "test", "statistic", "p-value", "threshold", "drifted", "note"],
        [
            (
                f"{f['column']} (prediction)" if f.get("is_prediction") else f["column"],
                f["kind"],
                f["method"],
                f["statistic"],
                f["p_value_adjusted"] if f["p_value_adjusted"] is not None else f["p_value"],
                f["threshold"],
                {True: "yes", False: "no", None: "?"}[f["drifted"]],
                f["note"],
            )
            for f in features
        ],
        wrap=["note"],
    )
    share = "-" if report["share"] is None else f"{report['share']:.0%}"
    verdict = {True: "drift", False: "no drift", None: "undecided"}[report["dataset_drift"]]
    console.print(f"dataset: {verdict} ({share} of the features drifted)", markup=False)
    joint = report["multivariate"]
    if joint is not None:
        console.print(f"joint distribution: ROC AUC {joint['auc']} (drift above {joint['threshold']})", markup=False)


def _read(path: Path) -> object:
    import polars as pl

    if not path.exists():
        raise InvalidInput(f"No file {str(path)!r}.")
    if path.suffix.lower() == ".csv":
        return pl.read_csv(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pl.read_parquet(path)
    raise InvalidInput(f"Compare reads Parquet (.parquet) or CSV (.csv) files; got {str(path)!r}.")


def _duration(text: str, *, option: str = "--since") -> timedelta:
    from driftloop.durations import parse_duration

    seconds = parse_duration(text, option)
    if seconds <= 0:
        raise InvalidInput(f"{option} takes a duration such as 30m, 6h or 2d; got {text!r}.")
    return timedelta(seconds=seconds)
