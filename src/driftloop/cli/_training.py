"""``driftloop train`` (the whole training path from a train.yaml) and ``driftloop gate`` (for any CI system)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

from driftloop.cli._output import console, print_json, table, workspace
from driftloop.errors import InvalidInput

JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


def train(
    config: Annotated[Path | None, typer.Option("--config", "-c", help="A train.yaml (see examples/).")] = None,
    dataset: Annotated[str | None, typer.Option(help="Dataset name (overrides the config).")] = None,
    target: Annotated[str | None, typer.Option(help="Target column (overrides the config).")] = None,
    algorithm: Annotated[
        list[str] | None, typer.Option("--algorithm", "-a", help="An algorithm; repeat to select among several.")
    ] = None,
    register: Annotated[str | None, typer.Option(help="Register the model under this name.")] = None,
    promote: Annotated[bool, typer.Option("--promote", help="Promote the new version to champion.")] = False,
    trials: Annotated[int | None, typer.Option(help="Tune with this many Optuna trials.")] = None,
    workers: Annotated[int | None, typer.Option(help="Tuning worker processes.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Train: dataset version → selection and/or tuning → validation → registration (→ promotion)."""
    from driftloop.training import TrainConfig

    values: dict[str, Any] = {}
    if config is not None:
        try:
            text = config.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise InvalidInput(f"No training config at {str(config)!r}.") from None
        values = TrainConfig.from_yaml(text, source=str(config)).arguments()
    overrides = {"dataset": dataset, "target": target, "register": register}
    values.update({key: value for key, value in overrides.items() if value is not None})
    if algorithm:
        values["algorithms"] = algorithm
    if promote:
        values["promote"] = True
    if trials is not None or workers is not None:
        tune = dict(values.get("tune") or {})
        if trials is not None:
            tune["trials"] = trials
        if workers is not None:
            tune["workers"] = workers
        values["tune"] = tune
    if "dataset" not in values or "target" not in values:
        raise InvalidInput("Give the dataset and the target: --config train.yaml, or --dataset and --target.")
    dataset_name, target_name = values.pop("dataset"), values.pop("target")
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
        disable=as_json,
    ) as progress:
        task = progress.add_task("training", total=None)
        result = workspace().training.train(
            dataset_name, target_name, progress=lambda message: progress.update(task, description=message), **values
        )
    summary = {
        "run_id": result.run_id,
        "task": result.task,
        "algorithm": result.algorithm,
        "params": dict(result.params),
        "metric": result.metric,
        "holdout": dict(result.holdout.metrics),
        "cross_validation": None if result.cross_validation is None else dict(result.cross_validation.mean),
        "leaderboard": [
            {"algorithm": c.algorithm, "score": c.score, "spread": c.spread, "run_id": c.run_id}
            for c in result.leaderboard
        ],
        "version": None if result.version is None else result.version.reference,
        "promoted": result.promotion is not None,
        "study": result.study,
    }
    if as_json:
        print_json(summary)
        return
    if result.leaderboard:
        table(
            f"Selection ({result.metric}, cross-validated)",
            ["algorithm", "score", "± spread", "run"],
            [(c.algorithm, c.score, c.spread, c.run_id[:12]) for c in result.leaderboard],
        )
    table(f"{result.algorithm} on the holdout", ["metric", "value"], sorted(result.holdout.metrics.items()))
    console.print(f"run {result.run_id}", markup=False)
    if result.version is not None:
        state = " and promoted to champion" if result.promotion is not None else ""
        console.print(f"registered {result.version.reference}{state}", markup=False)


def gate(
    model: str,
    version: Annotated[int, typer.Argument(help="The version to check.")],
    gate_spec: Annotated[
        list[str] | None,
        typer.Option("--gate", help="A gate such as 'r2 >= 0.8' or 'rmse beats champion by 100' (default: recorded)."),
    ] = None,
    against: Annotated[str, typer.Option(help="The alias a 'beats champion' gate compares with.")] = "champion",
    as_json: JsonOption = False,
) -> None:
    """Exit 0 when VERSION of MODEL passes its gates, 1 when it fails one (for CI pipelines)."""
    report = workspace().models.check_gates(f"{model}/{version}", gates=gate_spec or None, against=against)
    if report is None:
        raise InvalidInput(f"{model}/{version} has no recorded gates; give some with --gate.")
    if as_json:
        print_json({"passed": report.passed, **report.to_dict()})
    else:
        console.print(report.explain(), markup=False)
        console.print(f"{model}/{version}: {'passed' if report.passed else 'FAILED'}", markup=False)
    if not report.passed:
        raise typer.Exit(1)
