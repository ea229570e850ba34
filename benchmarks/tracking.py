"""Metric logging and history reads: driftloop's fluent API against MLflow 3's SQLite store, in one run.

    make bench                       # builds .venv-bench (driftloop + MLflow 3 + pandas<3) and runs this
    .venv-bench/bin/python benchmarks/tracking.py [--points 1000000]

driftloop: ``points`` metric points (10 keys x points/10 steps) in one run through
``run.log_metric``, timed from the first call to the end of the ``with`` block (everything flushed and
committed); then the history of one key (points/10 points) is read back.
MLflow: ``mlflow.log_metric`` on a subset (it manages a few hundred points per second), and
``MlflowClient.log_batch`` with 1,000 metrics per call; then ``get_metric_history`` of a 50,000-point key.
Both use a SQLite file in a fresh temporary folder on the same disk.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import tempfile
import time
import warnings
from pathlib import Path


def bench_driftloop(folder: Path, points: int) -> dict[str, float]:
    from driftloop import Workspace

    keys = [f"metric_{k}" for k in range(10)]
    steps = points // len(keys)
    ws = Workspace(folder / "driftloop")
    ws.open()
    started = time.perf_counter()
    with ws.tracking.start_run("bench") as run:
        log = run.log_metric
        for step in range(steps):
            value = 1.0 / (step + 1)
            for key in keys:
                log(key, value, step)
    elapsed = time.perf_counter() - started
    read_started = time.perf_counter()
    history = ws.tracking.metric_history(run.id, keys[0])
    read = time.perf_counter() - read_started
    assert len(history) == steps, (len(history), steps)
    assert ws.tracking.get_run(run.id).metrics[keys[-1]].count == steps
    ws.close()
    return {
        "points": steps * len(keys),
        "seconds": elapsed,
        "rate": steps * len(keys) / elapsed,
        "history_points": steps,
        "history_seconds": read,
    }


def bench_mlflow(folder: Path, single_points: int, batch_points: int, history_points: int) -> dict[str, float]:
    import mlflow
    from mlflow.entities import Metric
    from mlflow.tracking import MlflowClient

    logging.getLogger("mlflow").setLevel(logging.ERROR)
    logging.getLogger("alembic").setLevel(logging.ERROR)
    mlflow.set_tracking_uri(f"sqlite:///{folder / 'mlflow.db'}")
    mlflow.set_experiment("bench")
    client = MlflowClient()
    result: dict[str, float] = {}

    with mlflow.start_run() as run:
        started = time.perf_counter()
        for step in range(single_points):
            mlflow.log_metric("loss", 1.0 / (step + 1), step=step)
        elapsed = time.perf_counter() - started
        result.update(single_points=single_points, single_seconds=elapsed, single_rate=single_points / elapsed)

    with mlflow.start_run() as run:
        started = time.perf_counter()
        now = int(time.time() * 1000)
        for start in range(0, batch_points, 1000):
            batch = [
                Metric(f"metric_{i % 10}", 1.0 / (i + 1), now, i // 10)
                for i in range(start, min(start + 1000, batch_points))
            ]
            client.log_batch(run.info.run_id, metrics=batch)
        elapsed = time.perf_counter() - started
        result.update(batch_points=batch_points, batch_seconds=elapsed, batch_rate=batch_points / elapsed)

    with mlflow.start_run() as run:
        now = int(time.time() * 1000)
        for start in range(0, history_points, 1000):
            batch = [Metric("history", float(i), now, i) for i in range(start, min(start + 1000, history_points))]
            client.log_batch(run.info.run_id, metrics=batch)
        started = time.perf_counter()
        history = client.get_metric_history(run.info.run_id, "history")
        result.update(history_points=len(history), history_seconds=time.perf_counter() - started)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=1_000_000)
    parser.add_argument("--mlflow-points", type=int, default=5_000, help="points for mlflow.log_metric")
    parser.add_argument("--mlflow-batch-points", type=int, default=100_000, help="points for log_batch")
    parser.add_argument("--mlflow-history-points", type=int, default=50_000)
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = parser.parse_args()
    warnings.simplefilter("ignore")
    os.environ.setdefault("MLFLOW_TRACKING_URI", "")

    with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as temporary:
        folder = Path(temporary)
        ours = bench_driftloop(folder, args.points)
        print(
            f"driftloop  log_metric   {ours['points']:>9,} points in {ours['seconds']:6.2f} s"
            f" = {ours['rate']:>10,.0f} points/s"
        )
        print(f"driftloop  history read {ours['history_points']:>9,} points in {ours['history_seconds']:6.3f} s")
        try:
            theirs = bench_mlflow(folder, args.mlflow_points, args.mlflow_batch_points, args.mlflow_history_points)
        except ImportError:
            print("MLflow is not installed here; run `make bench` for the side-by-side comparison.")
            theirs = {}
        if theirs:
            print(
                f"mlflow     log_metric   {theirs['single_points']:>9,} points in {theirs['single_seconds']:6.2f} s"
                f" = {theirs['single_rate']:>10,.0f} points/s"
            )
            print(
                f"mlflow     log_batch    {theirs['batch_points']:>9,} points in {theirs['batch_seconds']:6.2f} s"
                f" = {theirs['batch_rate']:>10,.0f} points/s"
            )
            print(
                f"mlflow     history read {theirs['history_points']:>9,} points in {theirs['history_seconds']:6.3f} s"
            )
            print(f"ratio      driftloop / mlflow log_metric: {ours['rate'] / theirs['single_rate']:,.0f}x")
            print(f"ratio      driftloop / mlflow log_batch:  {ours['rate'] / theirs['batch_rate']:,.1f}x")
            per_point_ours = ours["history_seconds"] / ours["history_points"]
            per_point_theirs = theirs["history_seconds"] / theirs["history_points"]
            print(
                f"ratio      history read time per point, mlflow / driftloop: {per_point_theirs / per_point_ours:,.1f}x"
            )
        goals = {
            "rate >= 200,000 points/s": ours["rate"] >= 200_000,
            "100,000-point history read <= 0.2 s": ours["history_points"] < 100_000 or ours["history_seconds"] <= 0.2,
        }
        for goal, met in goals.items():
            print(f"goal       {goal}: {'met' if met else 'NOT met'}")
        if args.json:
            print(json.dumps({"driftloop": ours, "mlflow": theirs}))


if __name__ == "__main__":
    main()
