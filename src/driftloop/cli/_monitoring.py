"""``driftloop monitor …``: drift checks that exit non-zero on drift, for CI pipelines and schedulers."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from driftloop.cli._output import console, print_json, table, workspace
from driftloop.errors import InvalidInput

if TYPE_CHECKING:
    from driftloop.monitoring import DriftReport

app = typer.Typer(help="Drift of live traffic and of any two data files.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
MultivariateOption = Annotated[
    bool, typer.Option("--multivariate", help="Also test the joint distribution (a domain classifier).")
]
_DURATION = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


@app.command()
def check(
    model: Annotated[str, typer.Argument(help="NAME (its champion), NAME@ALIAS or NAME/VERSION.")],
    last: Annotated[int | None, typer.Option(help="The window: the latest N predictions.")] = 1_000,
    since: Annotated[
        str | None, typer.Option(help="The window: predictions of the last 30m, 6h, 2d (instead of --last).")
    ] = None,
    multivariate: MultivariateOption = False,
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
    """Compare a served model's latest traffic with its version's holdout; exit 1 on drift or a quality problem."""
    from driftloop.monitoring import AlertConfig, AlertEngine
    from driftloop.monitoring._live import check_live_drift

    config = None if alerts is None else AlertConfig.from_yaml(alerts)  # a bad file fails before the check
    moment = None if since is None else datetime.now(UTC) - _duration(since)
    ws = workspace()
    result = check_live_drift(
        ws, model, last=None if since is not None else last, since=moment, multivariate=multivariate
    )
    outcomes = []
    if config is not None:
        engine = AlertEngine.from_config(ws.metadata.alerts, config)
        outcomes = engine.evaluate({result.version.model: result.outputs()})
    if as_json:
        print_json({**result.to_dict(), "alerts": [outcome.to_dict() for outcome in outcomes]})
    else:
        window = result.window
        console.print(
            f"{result.version.reference}: {window.rows:,} predictions ({window.first_at} to {window.last_at}) "
            f"against {result.reference_rows:,} holdout rows",
            markup=False,
        )
        _print_report(result.report)
        problems = result.quality.problems
        console.print(
            "data quality: " + ("no problem" if not problems else f"{len(problems)} problem(s)"), markup=False
        )
        for problem in problems:
            console.print(f"  {problem}", markup=False)
        for outcome in outcomes:
            if outcome.observation is not None and outcome.observation.alert is not None and outcome.breached:
                alert = outcome.observation.alert
                console.print(f"alert {alert.id} ({alert.severity}, {alert.status}): {alert.message}", markup=False)
    if result.drifted or result.quality.ok is False:
        raise typer.Exit(1)


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
        _print_report(report)
    prediction_drift = report.prediction is not None and report.prediction.drifted is True
    joint = report.multivariate is not None and report.multivariate.drifted is True
    if report.dataset_drift is True or prediction_drift or joint:
        raise typer.Exit(1)


def _print_report(report: DriftReport) -> None:
    features = [*report.features, *([] if report.prediction is None else [report.prediction])]
    table(
        None,
        ["column", "kind", "test", "statistic", "p-value", "threshold", "drifted", "note"],
        [
            (
                f.column if f is not report.prediction else f"{f.column} (prediction)",
                f.kind,
                f.method,
                f.statistic,
                f.p_value_adjusted if f.p_value_adjusted is not None else f.p_value,
                f.threshold,
                {True: "yes", False: "no", None: "?"}[f.drifted],
                f.note,
            )
            for f in features
        ],
        wrap=["note"],
    )
    share = "-" if report.share is None else f"{report.share:.0%}"
    verdict = {True: "drift", False: "no drift", None: "undecided"}[report.dataset_drift]
    console.print(f"dataset: {verdict} ({share} of the features drifted)", markup=False)
    if report.multivariate is not None:
        joint = report.multivariate
        console.print(f"joint distribution: ROC AUC {joint.auc} (drift above {joint.threshold})", markup=False)


def _read(path: Path) -> object:
    import polars as pl

    if not path.exists():
        raise InvalidInput(f"No file {str(path)!r}.")
    if path.suffix.lower() == ".csv":
        return pl.read_csv(path)
    if path.suffix.lower() in (".parquet", ".pq"):
        return pl.read_parquet(path)
    raise InvalidInput(f"Compare reads Parquet (.parquet) or CSV (.csv) files; got {str(path)!r}.")


def _duration(text: str) -> timedelta:
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise InvalidInput(f"--since takes a duration such as 30m, 6h or 2d; got {text!r}.")
    return timedelta(**{_UNITS[match[2]]: float(match[1])})
