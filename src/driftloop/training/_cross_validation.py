"""Cross-validation: fit a fresh estimator on each of k training parts, score it on the part held out, summarise.

Each fold is scored by :func:`~driftloop.training._evaluation.evaluate` against the classes of the whole target,
so folds stay comparable when a training part lacks a class; the summary keeps the mean and spread of every
metric and ranks by the task's primary metric.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd

from driftloop.errors import InvalidData, InvalidInput
from driftloop.training._evaluation import Estimator, Evaluation, check_same_rows, evaluate, predict, sorted_labels
from driftloop.training._splits import time_order
from driftloop.training._tasks import CLASSIFICATION_TASKS, PRIMARY_METRIC, Task, check_target, validate_task

__all__ = ["CV_SPLITS", "CrossValidation", "CvSplit", "cross_validate"]

CvSplit = Literal["random", "stratified", "time"]
"""How :func:`cross_validate` assigns rows to folds."""

CV_SPLITS: Final[tuple[CvSplit, ...]] = get_args(CvSplit)


@dataclass(frozen=True, slots=True)
class CrossValidation:
    """The evaluations of k folds and their summary.

    Attributes:
        task: the task evaluated.
        split: how rows were assigned to folds.
        folds: one evaluation per fold, in fold order.
        mean: the mean of each metric over the folds that report it.
        std: the sample standard deviation (ddof=1) of each metric reported by two folds or more.
        primary_metric: the metric that ranks models of the task.
        score: the mean of the primary metric, or None when no fold could compute it.
        notes: what the summary had to leave out.
    """

    task: Task
    split: CvSplit
    folds: tuple[Evaluation, ...]
    mean: dict[str, float]
    std: dict[str, float]
    primary_metric: str
    score: float | None
    notes: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        return {
            "task": self.task,
            "split": self.split,
            "folds": [fold.to_dict() for fold in self.folds],
            "mean": dict(self.mean),
            "std": dict(self.std),
            "primary_metric": self.primary_metric,
            "score": self.score,
            "notes": list(self.notes),
        }


def cross_validate(
    make_estimator: Callable[[], Estimator],
    frame: pd.DataFrame,
    y: pd.Series,
    task: Task,
    *,
    folds: int = 5,
    split: CvSplit = "random",
    time_column: str | None = None,
    seed: int = 0,
    on_fold: Callable[[int, Evaluation], None] | None = None,
) -> CrossValidation:
    """Fit a fresh estimator on each of ``folds`` training parts and evaluate it on the part held out.

    Args:
        make_estimator: returns a new, unfitted estimator; called once per fold.
        frame: the features (and ``time_column`` for a time split; drop it in the estimator if it is not one).
        y: the target, one entry per row of ``frame``.
        task: the task.
        folds: the number of folds, 2 or more.
        split: ``random`` (shuffled with ``seed``), ``stratified`` (each fold keeps the class shares) or ``time``
            (expanding window: fold k trains on the earliest rows by ``time_column`` and tests on the rows
            just after; rows sharing a time may fall on both sides of a fold's boundary).
        time_column: the column that orders rows for a time split.
        seed: the shuffle seed of random and stratified splits.
        on_fold: called as ``on_fold(fold_index, evaluation)`` after each fold (index from 0).

    Classifiers are scored against the classes of the whole ``y``, so a fold whose training part lacks a class
    still gets comparable metrics (the model's probability for that class counts as 0).
    """
    task = validate_task(task)
    if isinstance(folds, bool) or not isinstance(folds, int) or folds < 2:
        raise InvalidInput(f"The 'folds' must be an integer >= 2; got {folds!r}.")
    if split not in CV_SPLITS:
        allowed = ", ".join(repr(name) for name in CV_SPLITS)
        raise InvalidInput(f"The cross-validation 'split' must be one of {allowed}; got {split!r}.")
    check_same_rows(frame, y)
    if len(frame) < 2 * folds:
        raise InvalidData(f"{folds} folds need at least {2 * folds} rows (2 per fold); the dataset has {len(frame)}.")
    check_target(y, task)
    classes = sorted_labels(y.to_numpy()) if task in CLASSIFICATION_TASKS else None
    evaluations: list[Evaluation] = []
    for index, (train, test) in enumerate(_fold_positions(frame, y, task, folds, split, time_column, seed)):
        estimator = make_estimator()
        estimator.fit(frame.iloc[train], y.iloc[train])
        predictions = predict(estimator, frame.iloc[test], task)
        probabilities = predictions.probabilities
        if probabilities is not None and classes is not None and predictions.classes is not None:
            probabilities = _align_probabilities(probabilities, predictions.classes, classes)
        evaluation = evaluate(task, y.iloc[test], predictions.values, probabilities=probabilities, classes=classes)
        evaluations.append(evaluation)
        if on_fold is not None:
            on_fold(index, evaluation)
    return _summarise(task, split, evaluations)


def _fold_positions(
    frame: pd.DataFrame, y: pd.Series, task: Task, folds: int, split: CvSplit, time_column: str | None, seed: int
) -> list[tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]]:
    from sklearn.model_selection import KFold, StratifiedKFold, TimeSeriesSplit

    placeholder = np.zeros(len(frame))
    if split == "time":
        if time_column is None:
            raise InvalidInput("A time split needs a 'time_column'; got None.")
        order = time_order(frame, time_column)
        return [(order[train], order[test]) for train, test in TimeSeriesSplit(n_splits=folds).split(placeholder)]
    if split == "stratified":
        if task not in CLASSIFICATION_TASKS:
            raise InvalidInput("A stratified split needs a classification task; use split='random' for regression.")
        counts = y.value_counts(sort=True, ascending=True)
        if counts.iloc[0] < folds:
            raise InvalidData(
                f"Stratified {folds}-fold cross-validation needs at least {folds} rows of each class; class "
                f"{_plain(counts.index[0])!r} has {int(counts.iloc[0])}.",
                column=None if y.name is None else str(y.name),
            )
        splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        return list(splitter.split(placeholder, y.to_numpy()))
    return list(KFold(n_splits=folds, shuffle=True, random_state=seed).split(placeholder))


def _summarise(task: Task, split: CvSplit, evaluations: list[Evaluation]) -> CrossValidation:
    names = list(dict.fromkeys(name for evaluation in evaluations for name in evaluation.metrics))
    mean: dict[str, float] = {}
    std: dict[str, float] = {}
    notes: list[str] = []
    for name in names:
        values = [evaluation.metrics[name] for evaluation in evaluations if name in evaluation.metrics]
        mean[name] = float(np.mean(values))
        if len(values) >= 2:
            std[name] = float(np.std(values, ddof=1))
        if len(values) < len(evaluations):
            notes.append(f"{name} is the mean of the {len(values)} of {len(evaluations)} folds that could compute it.")
    primary = PRIMARY_METRIC[task]
    if primary not in mean:
        notes.append(f"No fold could compute the primary metric {primary}; the score is None.")
    return CrossValidation(
        task=task,
        split=split,
        folds=tuple(evaluations),
        mean=mean,
        std=std,
        primary_metric=primary,
        score=mean.get(primary),
        notes=tuple(notes),
    )


def _align_probabilities(
    probabilities: npt.NDArray[np.float64], model_classes: list[Any], classes: list[Any]
) -> npt.NDArray[np.float64]:
    """Reorder the model's probability columns to ``classes``; a class the model never saw gets 0."""
    if model_classes == classes:
        return probabilities
    aligned = np.zeros((len(probabilities), len(classes)))
    for column, label in enumerate(model_classes):
        if label in classes:
            aligned[:, classes.index(label)] = probabilities[:, column]
    return aligned


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
