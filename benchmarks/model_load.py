"""Model loading: a registered version, ready to predict, from driftloop's registry and from MLflow's.

    .venv-bench/bin/python benchmarks/model_load.py [--repeat 5]

Trains three models once: a 100-tree LightGBM regressor on 20 numeric features, and two scikit-learn
pipelines on 16 numeric and 4 text columns (imputation, scaling and one-hot encoding in a ColumnTransformer),
one ending in a ridge regression, the other in a random forest of 100 trees of depth 10 (the heavy case:
skops rebuilds every tree node array). Registers each in a driftloop workspace and in an MLflow tracking store (SQLite
backend, local artifacts, the registry's ``models:/name/1`` URI). Then, in a fresh subprocess per model and
tool, with the libraries already imported (serving imports them once at start-up), times loading the
version and predicting one row, ``--repeat`` times: the first load in a process pays for skops' and the
libraries' lazily imported parts, the later ones do not. Goal: driftloop under 200 ms for the LightGBM model
and a scikit-learn pipeline. Without MLflow installed (``make bench`` installs it) only driftloop's half runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

CHILD = """
import json, sys, time, warnings
warnings.filterwarnings("ignore")
tool, reference, root, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
import pandas as pd
row = pd.read_parquet(root + "/row.parquet")
import sklearn.ensemble, lightgbm  # the libraries, imported once as a server would at start-up
if tool == "driftloop":
    import skops.io  # the file format's library, imported at start-up like the model libraries
    from driftloop import Workspace
    ws = Workspace(root + "/ws")
    ws.models.get(reference)  # open the workspace (database connection) before timing
    def load():
        return ws.models.load(reference)
else:
    import mlflow, mlflow.pyfunc, mlflow.sklearn, mlflow.lightgbm
    mlflow.set_tracking_uri("sqlite:///" + root + "/mlflow.db")
    def load():
        return mlflow.pyfunc.load_model(reference)
times = []
for _ in range(repeat):
    started = time.perf_counter()
    model = load()
    model.predict(row)
    times.append(time.perf_counter() - started)
print(json.dumps({"times": times}))
"""


def lightgbm_model(rng: np.random.Generator) -> tuple[object, pd.DataFrame, pd.Series]:
    import lightgbm

    frame = pd.DataFrame(rng.normal(size=(20_000, 20)), columns=[f"x{i}" for i in range(20)])
    target = frame.sum(axis=1) + rng.normal(0, 0.1, len(frame))
    model = lightgbm.LGBMRegressor(n_estimators=100, num_leaves=31, verbose=-1, n_jobs=1).fit(frame, target)
    return model, frame, target


def sklearn_pipeline(rng: np.random.Generator) -> tuple[object, pd.DataFrame, pd.Series]:
    from sklearn.linear_model import Ridge

    return _pipeline(rng, ("ridge", Ridge(alpha=1.0)))


def sklearn_forest_pipeline(rng: np.random.Generator) -> tuple[object, pd.DataFrame, pd.Series]:
    from sklearn.ensemble import RandomForestRegressor

    return _pipeline(rng, ("forest", RandomForestRegressor(n_estimators=100, max_depth=10, n_jobs=1, random_state=0)))


def _pipeline(rng: np.random.Generator, estimator: tuple[str, object]) -> tuple[object, pd.DataFrame, pd.Series]:
    from sklearn.compose import ColumnTransformer
    from sklearn.impute import SimpleImputer
    from sklearn.pipeline import Pipeline, make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rows = 5_000
    frame = pd.DataFrame(rng.normal(size=(rows, 16)), columns=[f"x{i}" for i in range(16)])
    for i in range(4):
        frame[f"c{i}"] = rng.choice(["a", "b", "c", "d", "e"], rows)
    target = frame[[f"x{i}" for i in range(16)]].sum(axis=1) + (frame["c0"] == "a") * 2.0
    numeric = [f"x{i}" for i in range(16)]
    text = [f"c{i}" for i in range(4)]
    model = Pipeline(
        [
            (
                "preprocess",
                ColumnTransformer(
                    [
                        ("numeric", make_pipeline(SimpleImputer(strategy="median"), StandardScaler()), numeric),
                        ("text", OneHotEncoder(handle_unknown="ignore"), text),
                    ]
                ),
            ),
            estimator,
        ]
    ).fit(frame, target)
    return model, frame, target


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    try:
        import mlflow

        has_mlflow = True
    except ImportError:
        has_mlflow = False
    from driftloop import Workspace

    rng = np.random.default_rng(0)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        os.chdir(root)  # MLflow writes its artifacts under ./mlruns
        ws = Workspace(root / "ws")
        results: dict[str, dict[str, list[float]]] = {}
        models = (
            ("lightgbm-100-trees", lightgbm_model),
            ("sklearn-pipeline", sklearn_pipeline),
            ("sklearn-forest-pipeline", sklearn_forest_pipeline),
        )
        for name, build in models:
            model, frame, target = build(rng)
            frame.head(1).to_parquet(root / "row.parquet")
            holdout = frame.head(500).assign(target=target.head(500))
            ws.models.register(name, model, target="target", holdout=holdout)
            results[name] = {"driftloop": _time(root, "driftloop", f"{name}/1", args.repeat)}
            if has_mlflow:
                mlflow.set_tracking_uri(f"sqlite:///{root / 'mlflow.db'}")
                with mlflow.start_run():
                    if name.startswith("lightgbm"):
                        mlflow.lightgbm.log_model(
                            model, name="model", registered_model_name=name, input_example=frame.head(2)
                        )
                    else:
                        # MLflow 3 saves scikit-learn models with skops too; these are the types driftloop
                        # trusts for its own signed files (a fitted SimpleImputer, forest trees).
                        mlflow.sklearn.log_model(
                            model,
                            name="model",
                            registered_model_name=name,
                            input_example=frame.head(2),
                            skops_trusted_types=["numpy.dtype", "sklearn.tree._tree.Tree"],
                        )
                results[name]["mlflow"] = _time(root, "mlflow", f"models:/{name}/1", args.repeat)
        ws.close()
    for name, by_tool in results.items():
        ours = by_tool["driftloop"]
        line = f"{name}: driftloop load+predict {_summary(ours)}"
        if "mlflow" in by_tool:
            theirs = by_tool["mlflow"]
            ratio = np.median(ours[1:] or ours) / np.median(theirs[1:] or theirs)
            line += f"; MLflow {_summary(theirs)}; ratio of the later loads {ratio:.2f}x"
        goal = "met" if max(ours[0], float(np.median(ours[1:] or ours))) < 0.2 else "NOT met"
        print(line + f"; goal < 200 ms: {goal}")


def _time(root: Path, tool: str, reference: str, repeat: int) -> list[float]:
    output = subprocess.run(
        [sys.executable, "-c", CHILD, tool, reference, str(root), str(repeat)],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    times: list[float] = json.loads(output.strip().splitlines()[-1])["times"]
    return times


def _summary(times: list[float]) -> str:
    later = times[1:] or times
    runs = ", ".join(f"{t * 1000:.0f}" for t in times)
    return f"first {times[0] * 1000:.0f} ms, then median {np.median(later) * 1000:.0f} ms (runs: {runs})"


if __name__ == "__main__":
    main()
