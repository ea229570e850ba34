"""A short tour of tracking: train real models on scikit-learn's bundled diabetes data, log
everything, then read it back the way a user would.

Nothing is downloaded: the data set ships inside scikit-learn.
"""

from __future__ import annotations

import json
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from driftloop.store.metadata import redact
from driftloop.workspace import Workspace

EXPERIMENT = "diabetes-tour"


def run_tour(workspace: Workspace, *, console: Console | None = None) -> str:
    """Train a small model search as nested runs, print what was tracked; returns the parent run id."""
    from sklearn.datasets import load_diabetes
    from sklearn.ensemble import GradientBoostingRegressor
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import train_test_split

    out = console or Console(highlight=False)
    started = time.perf_counter()
    data = load_diabetes()
    x_train, x_test, y_train, y_test = train_test_split(data.data, data.target, test_size=0.25, random_state=7)
    out.rule("[bold]driftloop tour: tracking a real training run")
    out.print(f"workspace: {workspace.settings.root}  (store {redact(workspace.settings.store)})", markup=False)

    tracking = workspace.tracking
    with tracking.start_run(EXPERIMENT, name="model-search", tags={"purpose": "tour"}) as parent:
        parent.log_params({"dataset": "sklearn.load_diabetes", "test_size": 0.25, "rows": len(data.target)})
        for alpha in (0.01, 0.1, 1.0):
            with parent.child(name=f"ridge-alpha-{alpha}") as run:
                run.log_params({"model": "ridge", "alpha": alpha})
                model = Ridge(alpha=alpha).fit(x_train, y_train)
                run.log_metrics({"rmse": _rmse(y_test, model.predict(x_test)), "r2": model.score(x_test, y_test)})
        with parent.child(name="gradient-boosting") as run:
            params = {"model": "gbr", "n_estimators": 300, "learning_rate": 0.05, "max_depth": 2}
            run.log_params(params)
            model = GradientBoostingRegressor(
                n_estimators=300, learning_rate=0.05, max_depth=2, subsample=0.8, random_state=7
            ).fit(x_train, y_train)
            # One point per boosting stage: the learning curve, as steps of two metrics.
            for stage, (train_pred, test_pred) in enumerate(
                zip(model.staged_predict(x_train), model.staged_predict(x_test), strict=True)
            ):
                run.log_metric("train_rmse", _rmse(y_train, train_pred), step=stage)
                run.log_metric("val_rmse", _rmse(y_test, test_pred), step=stage)
            run.log_metrics({"rmse": _rmse(y_test, model.predict(x_test)), "r2": model.score(x_test, y_test)})
            importances = dict(zip(data.feature_names, model.feature_importances_.round(4).tolist(), strict=True))
            run.log_dict({"feature_importances": importances}, "model/importances.json")
            run.log_text(json.dumps(params), "model/params.json")
        best = tracking.best_run(EXPERIMENT, "rmse", filter=f"parent_run_id = '{parent.id}'")
        parent.log_metric("best_rmse", best.metric("rmse"))
        parent.set_tag("best_run", best.id)

    children = tracking.search_runs(EXPERIMENT, filter=f"parent_run_id = '{parent.id}'", order_by="metrics.rmse")
    grid = Table(
        title="Child runs, best first (search: parent_run_id = …, order by metrics.rmse)",
        title_justify="left",
    )
    for column in ("run", "name", "model", "alpha", "rmse", "r2", "wall s"):
        grid.add_column(column)
    for child in children:
        grid.add_row(
            child.id[:8],
            child.name,
            child.params.get("model", "-"),
            child.params.get("alpha", "-"),
            f"{child.metric('rmse'):.2f}",
            f"{child.metric('r2'):.3f}",
            f"{child.resources.wall_time or 0:.2f}",
        )
    out.print(grid)

    gbr = next(child for child in children if child.params.get("model") == "gbr")
    history = tracking.metric_history(gbr.id, "val_rmse")
    lowest = int(np.nanargmin(history.values))
    out.print(
        f"learning curve of {gbr.name}: {len(history)} points of val_rmse, "
        f"{history.values[0]:.1f} at step 0 -> {history.values[-1]:.1f} at step {int(history.steps[-1])}, "
        f"lowest {history.values[lowest]:.1f} at step {int(history.steps[lowest])}"
    )
    finished = tracking.get_run(parent.id)
    env, res = finished.environment, finished.resources
    out.print(
        f"parent run {finished.id} ({finished.status.value}): best child {best.name} with rmse "
        f"{best.metric('rmse'):.2f}; git {env.git_commit or 'n/a'}{' (dirty)' if env.git_dirty else ''}, "
        f"python {env.python_version}, scikit-learn {env.packages.get('scikit-learn', '?')}; "
        f"wall {res.wall_time:.2f} s, cpu {res.cpu_time:.2f} s, peak memory {res.peak_memory_mb:.0f} MiB"
    )
    artifacts = tracking.list_artifacts(gbr.id)
    out.print("artifacts of " + gbr.name + ": " + ", ".join(f"{a.path} ({a.size} B)" for a in artifacts))
    out.print(
        f"[dim]tour finished in {time.perf_counter() - started:.1f} s. Try: driftloop runs list; "
        f"driftloop runs show {gbr.id[:8]}; driftloop runs compare {children[0].id[:8]} {children[-1].id[:8]}[/]"
    )
    return finished.id


def _rmse(truth: np.ndarray, predicted: np.ndarray) -> float:
    return float(np.sqrt(np.mean((truth - predicted) ** 2)))
