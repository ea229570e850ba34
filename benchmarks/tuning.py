"""Tuning throughput: the same 40 LightGBM trials run by one worker, then by two worker processes.

    .venv/bin/python benchmarks/tuning.py [--trials 40] [--rows 100000]

The data are 100,000 rows of 20 numeric features with a non-linear target (numpy, seeded), cut once into
80% training and 20% validation rows and written as ``.npy`` files into a temporary folder; each process loads
them once and keeps them in a module global, so spawned workers get them without pickling arrays. The parameter
sets (num_leaves, learning_rate, n_estimators around 100, min_child_samples, feature_fraction) are drawn once
with a seeded generator and enqueued, so both runs train exactly the same 40 models; a trial trains
``lightgbm.train`` with one thread and returns the validation RMSE. Each run gets a fresh journal. The two-worker
time includes starting the spawned processes. The goal is a ratio two/one of at most 0.65 on two free cores.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import optuna

from driftloop.training._search_space import SearchSpace
from driftloop.training._tuning import StudyStorageSpec, run_study

SPACE = SearchSpace.from_dict(
    {
        "num_leaves": {"type": "int", "low": 15, "high": 127},
        "learning_rate": {"type": "float", "low": 0.03, "high": 0.2, "log": True},
        "n_estimators": {"type": "int", "low": 80, "high": 120},
        "min_child_samples": {"type": "int", "low": 10, "high": 100},
        "feature_fraction": {"type": "float", "low": 0.6, "high": 1.0},
    }
)

_data: dict[str, tuple[Any, Any]] = {}


def write_dataset(folder: Path, rows: int) -> None:
    generator = np.random.default_rng(0)
    features = generator.normal(size=(rows, 20)).astype(np.float32)
    weights = generator.normal(size=20)
    target = (
        features @ weights
        + 2.0 * np.sin(features[:, 0] * features[:, 1])
        + np.where(features[:, 2] > 0.5, 3.0, 0.0)
        + generator.normal(scale=0.5, size=rows)
    )
    cut = int(rows * 0.8)
    np.save(folder / "train_x.npy", features[:cut])
    np.save(folder / "train_y.npy", target[:cut])
    np.save(folder / "valid_x.npy", features[cut:])
    np.save(folder / "valid_y.npy", target[cut:])


def draw_parameter_sets(count: int) -> list[dict[str, Any]]:
    """Fixed parameter sets drawn once: the same seeded random sampler, asked ``count`` times."""
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=7))
    sets = []
    for _ in range(count):
        trial = study.ask()
        sets.append(SPACE.suggest(trial))
        study.tell(trial, 0.0)
    return sets


def validation_rmse(folder: str, trial: optuna.Trial) -> float:
    import lightgbm

    if folder not in _data:  # once per process
        path = Path(folder)
        _data[folder] = (
            (np.load(path / "train_x.npy"), np.load(path / "train_y.npy")),
            (np.load(path / "valid_x.npy"), np.load(path / "valid_y.npy")),
        )
    (train_x, train_y), (valid_x, valid_y) = _data[folder]
    params = SPACE.suggest(trial)
    rounds = params.pop("n_estimators")
    cpu_started = time.process_time()
    booster = lightgbm.train(
        {**params, "objective": "regression", "num_threads": 1, "verbose": -1, "seed": 0},
        lightgbm.Dataset(train_x, train_y),
        num_boost_round=rounds,
    )
    predictions = booster.predict(valid_x, num_threads=1)
    # On a shared machine the wall time says little alone: the CPU time shows what the trial itself cost.
    trial.set_user_attr("cpu_seconds", time.process_time() - cpu_started)
    return float(np.sqrt(np.mean((predictions - valid_y) ** 2)))


def timed_study(name: str, folder: Path, parameter_sets: list[dict[str, Any]], workers: int) -> dict[str, Any]:
    storage = StudyStorageSpec.resolve(folder / f"workspace-{workers}")
    objective = functools.partial(validation_rmse, str(folder))
    load_before = os.getloadavg()[0]
    started = time.perf_counter()
    study = run_study(name, storage, objective, n_trials=len(parameter_sets), workers=workers, enqueue=parameter_sets)
    seconds = time.perf_counter() - started
    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    per_process: dict[int, int] = {}
    for trial in complete:
        pid = trial.system_attrs["driftloop:worker"]["pid"]
        per_process[pid] = per_process.get(pid, 0) + 1
    trial_seconds = [trial.duration.total_seconds() for trial in complete if trial.duration is not None]
    return {
        "workers": workers,
        "seconds": round(seconds, 2),
        "complete_trials": len(complete),
        "trials_per_process": sorted(per_process.values(), reverse=True),
        "mean_trial_seconds": round(float(np.mean(trial_seconds)), 2),
        # Wall time not spent inside trials: process start-up, the runner's locking and bookkeeping, idle tails.
        "seconds_outside_trials": round(seconds - sum(trial_seconds) / workers, 2),
        "mean_trial_cpu_seconds": round(float(np.mean([trial.user_attrs["cpu_seconds"] for trial in complete])), 2),
        "best_rmse": round(study.best_value, 4),
        "load_before": round(load_before, 2),
        "load_after": round(os.getloadavg()[0], 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=40)
    parser.add_argument("--rows", type=int, default=100_000)
    arguments = parser.parse_args()
    warnings.simplefilter("default")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-tuning-") as temporary:
        folder = Path(temporary)
        write_dataset(folder, arguments.rows)
        parameter_sets = draw_parameter_sets(arguments.trials)
        one = timed_study("bench-one-worker", folder, parameter_sets, workers=1)
        two = timed_study("bench-two-workers", folder, parameter_sets, workers=2)
    result = {
        "rows": arguments.rows,
        "trials": arguments.trials,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "one_worker": one,
        "two_workers": two,
        "ratio_two_over_one": round(two["seconds"] / one["seconds"], 3),
        "goal": "<= 0.65",
    }
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
