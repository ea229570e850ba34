"""The second half of the tour: the training path, from a dataset version to a champion that predicts.

The data is scikit-learn's bundled diabetes set, ingested as a versioned dataset; nothing is downloaded.
"""

from __future__ import annotations

import time

from rich.console import Console

from driftloop.workspace import Workspace

DATASET = "diabetes"


def run_training_tour(workspace: Workspace, *, console: Console | None = None) -> str:
    """Ingest, select an algorithm by cross-validation, register and promote it, load it back; returns its reference."""
    from sklearn.datasets import load_diabetes

    from driftloop.cli._output import table

    out = console or Console(highlight=False)
    started = time.perf_counter()
    out.rule("[bold]driftloop tour: from a dataset version to a champion")
    frame = load_diabetes(as_frame=True).frame.rename(columns={"target": "progression"})
    ingested = workspace.datasets.ingest(DATASET, frame)
    out.print(str(ingested), markup=False)
    result = workspace.training.train(
        DATASET,
        "progression",
        algorithms=["ridge", "random_forest", "lightgbm"],
        params={"lightgbm": {"n_estimators": 200, "learning_rate": 0.03, "num_leaves": 8}},
        folds=5,
        register=DATASET,
        gates=["r2 >= 0.2", "rmse beats champion by 0"],
        promote=True,
        experiment="diabetes-training",
    )
    table(
        f"Selection on {DATASET} v{ingested.version.number}: {result.metric}, 5-fold cross-validation, best first",
        ["algorithm", "rmse", "± spread", "r2", "child run"],
        [(c.algorithm, c.score, c.spread, c.metrics.get("r2"), c.run_id[:8]) for c in result.leaderboard],
    )
    holdout = result.holdout.metrics
    assert result.version is not None
    out.print(
        f"{result.algorithm} refitted on {len(frame) - result.holdout.rows} rows, scored on a holdout of "
        f"{result.holdout.rows}: rmse {holdout['rmse']:.1f}, mae {holdout['mae']:.1f}, r2 {holdout['r2']:.3f}",
        markup=False,
    )
    champion = workspace.models.load(f"{DATASET}@champion")
    manifest = workspace.models.manifest(result.version)
    files = ", ".join(f"{part.name} ({part.format}, {part.size:,} B)" for part in manifest.parts)
    predictions = champion.predict(frame.drop(columns=["progression"]).head(3))
    out.print(
        f"registered {result.version.reference} and promoted it to champion; its files: {files}. "
        f"Loaded back as {DATASET}@champion, it predicts "
        + ", ".join(f"{value:.0f}" for value in predictions)
        + " for the first three rows.",
        markup=False,
    )
    out.print(
        f"[dim]training tour finished in {time.perf_counter() - started:.1f} s. Try: driftloop models versions "
        f"{DATASET}; driftloop models show {DATASET}@champion; driftloop gate {DATASET} "
        f"{result.version.number}[/]"
    )
    return result.version.reference
