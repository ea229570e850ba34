"""``driftloop labels …``: the label queue of active learning: fill it, list it, answer it from a file."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Annotated, Any

import typer

from driftloop.cli._output import console, print_json, table, workspace
from driftloop.errors import InvalidInput

app = typer.Typer(
    help="The label queue: the predictions most worth labelling, and their answers.", no_args_is_help=True
)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command()
def pending(
    model: Annotated[str | None, typer.Option(help="Only this model's requests.", show_default=False)] = None,
    limit: Annotated[int, typer.Option(help="At most this many, the most informative first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The unanswered label requests, the most informative first."""

    found = workspace().label_queue.pending(model, limit=limit)
    if as_json:
        print_json(found)
        return
    table(
        None,
        ["request id", "model", "version", "score", "strategy", "prediction", "inputs"],
        [
            (r["request_id"], r["model"], r["version"], r["score"], r["strategy"], r["prediction"], _text(r["inputs"]))
            for r in found
        ],
        wrap=["inputs"],
    )


@app.command()
def request(
    model: Annotated[str, typer.Argument(help="The model whose champion's unlabelled predictions are scored.")],
    strategy: Annotated[
        str,
        typer.Option(
            help="margin, entropy or uncertainty (classifiers); ensemble_spread or quantile_spread (regressors); "
            "random."
        ),
    ] = "margin",
    budget: Annotated[int, typer.Option(help="The most label requests for the model in any 24 hours.")] = 200,
    window: Annotated[str, typer.Option(help="Only predictions of the last 1h, 1d, 7d...")] = "1d",
    companion: Annotated[
        list[str] | None,
        typer.Option(
            help="A model whose predictions join the spread (repeat it); quantile_spread takes the lower then the "
            "upper quantile model.",
            show_default=False,
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seeds the random strategy.")] = 0,
    as_json: JsonOption = False,
) -> None:
    """Queue the most informative unlabelled predictions of MODEL's champion, within the daily budget."""
    from driftloop.durations import parse_duration

    outcome = workspace().label_queue.request(
        model,
        strategy=strategy,
        budget_per_day=budget,
        window=parse_duration(window, "--window"),
        companions=companion or (),
        seed=seed,
    )
    if as_json:
        print_json(outcome.to_dict())
        return
    console.print(
        f"{outcome.model}/{outcome.version}: {len(outcome.queued)} queued by {outcome.strategy} among "
        f"{outcome.candidates} unlabelled predictions ({outcome.spent} of {outcome.budget_per_day} spent before)"
        + ("" if outcome.note is None else f"; {outcome.note}"),
        markup=False,
    )


@app.command()
def answer(
    file: Annotated[
        Path, typer.Argument(help="CSV with the columns request_id,label, or JSON: {'labels': [...]} or a list.")
    ],
    actor: Annotated[str | None, typer.Option(help="Who gave the labels.", show_default=False)] = None,
    as_json: JsonOption = False,
) -> None:
    """Record the labels of FILE (all or none) into the labels table; the next retrain reads them."""
    answered = workspace().label_queue.answer(_read_answers(file), actor=actor)
    if as_json:
        print_json(answered.to_dict())
        return
    corrections = len(answered.corrections)
    console.print(
        f"{answered.recorded} label(s) recorded, {answered.answered} from the queue; {answered.duplicates} "
        f"duplicate(s) dropped, {corrections} correction(s)",
        markup=False,
    )


def _read_answers(path: Path) -> list[tuple[Any, Any]]:
    """``(request_id, label)`` pairs from a CSV or JSON file; CSV labels that read as numbers become numbers."""
    from driftloop.serving._label_queue import label_items

    if not path.is_file():
        raise InvalidInput(f"No file {str(path)!r}.")
    suffix = path.suffix.lower()
    if suffix == ".json":
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise InvalidInput(f"{str(path)!r} is not valid JSON: {error}.") from error
        return label_items({"labels": document} if isinstance(document, list) else document)
    if suffix != ".csv":
        raise InvalidInput(f"Answers come in a .csv (request_id,label) or a .json file; got {str(path)!r}.")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        if reader.fieldnames is None or not {"request_id", "label"} <= set(reader.fieldnames):
            raise InvalidInput(f"{str(path)!r} needs the columns request_id and label; got {reader.fieldnames}.")
        return [(row["request_id"], _number_or_text(row["label"])) for row in reader]


def _number_or_text(text: str) -> Any:
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            continue
    return text


def _text(value: Any, limit: int = 120) -> str:
    text = json.dumps(value, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"
