"""The tuning objective: one Optuna trial = one child run, in whichever process runs it.

The objective is a plain, picklable value: worker processes (spawned) receive the workspace's settings and
the dataset version, open the workspace themselves and cache the training rows once per process. An
iterative learner (LightGBM, XGBoost, MLP) is fitted once on an inner split of the training rows and reports
its validation loss after every round, so a poor trial is pruned early; any other learner is
cross-validated.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from driftloop.training._tasks import Task

if TYPE_CHECKING:
    import optuna

    from driftloop.workspace import Workspace

__all__ = ["TrainingData", "TrialObjective"]

_workspaces: dict[tuple[str, str, str, str], Workspace] = {}
_rows: dict[tuple[str, str, int, int], pd.DataFrame] = {}


@dataclass(frozen=True)
class TrainingData:
    """What the model learns from: the feature columns, the target and how folds are cut."""

    features: tuple[str, ...]
    target: str
    task: Task
    time_column: str | None = None
    cv_split: str = "random"


@dataclass(frozen=True)
class TrialObjective:
    """Score one set of hyperparameters on the training rows of a dataset version (never on the holdout)."""

    root: str
    store: str
    artifacts: str
    actor: str
    dataset: str
    version: int
    holdout_index: tuple[Any, ...]
    data: TrainingData
    algorithm: str
    space: dict[str, Any]
    metric: str
    direction: str
    folds: int
    seed: int
    threads: int
    experiment: str
    parent_run: str | None = None
    token: str | None = field(default=None, repr=False)
    """The workspace server's token, when the workspace is reached through one."""

    def __call__(self, trial: optuna.Trial) -> float:
        import optuna

        from driftloop.training._algorithms import ALGORITHMS, build_model
        from driftloop.training._cross_validation import cross_validate
        from driftloop.training._evaluation import evaluate_model
        from driftloop.training._fitting import fit_model
        from driftloop.training._search_space import SearchSpace
        from driftloop.training._splits import split
        from driftloop.training._trainer import _fitted_face, _scikit_learn_face

        ws = self._workspace()
        rows = self._training_rows(ws)
        features = list(self.data.features)
        params = SearchSpace.from_dict(self.space).suggest(trial)
        with ws.tracking.start_run(
            self.experiment,
            name=f"trial {trial.number}",
            parent=self.parent_run,
            params={"algorithm": self.algorithm, **{f"param/{k}": v for k, v in params.items()}},
            tags={"driftloop.kind": "trial", "optuna.trial": trial.number},
        ) as run:
            if ALGORITHMS[self.algorithm].iterative:
                method = "time" if self.data.cv_split == "time" else self.data.cv_split
                inner = split(
                    rows,
                    self.data.target,
                    method=method,  # type: ignore[arg-type]
                    holdout=0.2,
                    time_column=self.data.time_column,
                    seed=self.seed,
                )
                model = build_model(
                    self.algorithm, self.data.task, inner.train[features], params, seed=self.seed, threads=self.threads
                )
                sign = -1.0 if self.direction == "maximize" else 1.0

                def report(step: int, loss: float) -> None:
                    # The learner reports a loss (lower is better); the pruner reads values in the study's
                    # direction, so a maximised study gets the loss negated.
                    trial.report(sign * loss, step)
                    run.log_metric("validation_loss", loss, step=step)
                    if trial.should_prune():
                        run.set_tag("optuna.state", "pruned")
                        raise optuna.TrialPruned(f"pruned at step {step}")

                model = fit_model(
                    model,
                    inner.train[features],
                    inner.train[self.data.target],
                    validation=(inner.holdout[features], inner.holdout[self.data.target]),
                    on_step=report,
                )
                score = evaluate_model(
                    _fitted_face(model, inner.train[self.data.target]),
                    inner.holdout[features],
                    inner.holdout[self.data.target],
                    self.data.task,
                )
                value = score.metrics.get(self.metric)
            else:
                extra = (
                    [self.data.time_column] if self.data.time_column and self.data.time_column not in features else []
                )
                cv = cross_validate(
                    lambda: _scikit_learn_face(
                        build_model(
                            self.algorithm, self.data.task, rows[features], params, seed=self.seed, threads=self.threads
                        )
                    ),
                    rows[features + extra],
                    rows[self.data.target],
                    self.data.task,
                    folds=self.folds,
                    split=self.data.cv_split,  # type: ignore[arg-type]
                    time_column=self.data.time_column,
                    seed=self.seed,
                )
                value = cv.mean.get(self.metric)
            if value is None:
                raise ValueError(f"The trial could not compute {self.metric}.")
            run.log_metric(self.metric, value)
            return float(value)

    def _workspace(self) -> Workspace:
        from driftloop.workspace import Workspace

        key = (self.root, self.store, self.artifacts, self.actor)
        if key not in _workspaces:
            _workspaces[key] = Workspace(
                self.root, store=self.store, artifacts=self.artifacts, actor=self.actor, token=self.token
            )
        return _workspaces[key]

    def _training_rows(self, ws: Workspace) -> pd.DataFrame:
        key = (self.store, self.dataset, self.version, hash(self.holdout_index))
        if key not in _rows:
            frame = ws.datasets.get(self.dataset, self.version).to_pandas()
            _rows[key] = frame.drop(index=list(self.holdout_index))
        return _rows[key]
