"""Training: tasks, algorithms behind one trainer interface, selection, tuning, evaluation and gates.

Reach the training path as ``ws.training.train(...)`` (or ``driftloop train --config train.yaml``): a dataset
version is split (random, stratified or by time), candidate algorithms are cross-validated as child runs,
the winner is optionally tuned with Optuna (each trial a child run), refitted, scored on the holdout and
registered, with its gates checked against the champion on identical rows.
"""

from driftloop.training._algorithms import ALGORITHMS, build_model, default_search_space
from driftloop.training._config import TrainConfig
from driftloop.training._cross_validation import CrossValidation, cross_validate
from driftloop.training._evaluation import Evaluation, evaluate, evaluate_model, metrics_by_slice
from driftloop.training._fitting import fit_model
from driftloop.training._gates import BeatsChampion, GateReport, GateResult, Threshold, check_gates, parse_gates
from driftloop.training._search_space import SearchSpace
from driftloop.training._splits import Split, split
from driftloop.training._study_storage import StudyStorageSpec
from driftloop.training._tasks import GREATER_IS_BETTER, PRIMARY_METRIC, TASK_METRICS, Task, infer_task
from driftloop.training._trainer import CandidateScore, Training, TrainingResult, Tuning
from driftloop.training._tuning import run_study

__all__ = [
    "ALGORITHMS",
    "GREATER_IS_BETTER",
    "PRIMARY_METRIC",
    "TASK_METRICS",
    "BeatsChampion",
    "CandidateScore",
    "CrossValidation",
    "Evaluation",
    "GateReport",
    "GateResult",
    "SearchSpace",
    "Split",
    "StudyStorageSpec",
    "Task",
    "Threshold",
    "TrainConfig",
    "Training",
    "TrainingResult",
    "Tuning",
    "build_model",
    "check_gates",
    "cross_validate",
    "default_search_space",
    "evaluate",
    "evaluate_model",
    "fit_model",
    "infer_task",
    "metrics_by_slice",
    "parse_gates",
    "run_study",
    "split",
]
