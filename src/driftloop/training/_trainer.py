"""The training path: a dataset version → a split → selection and/or tuning → a refit → validation → the registry.

Every step is tracked: the training run records the dataset version it read, the split, the task and the
winner; each candidate of the selection is a child run with its cross-validation scores, and each tuning
trial is a child run with its params and score. The holdout is cut before anything else and used exactly
once, to score the refitted winner (and, through the registry, the champion it must beat).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from driftloop.errors import InvalidData, InvalidInput, InvalidState
from driftloop.training._algorithms import ALGORITHMS, build_model, default_search_space
from driftloop.training._cross_validation import CrossValidation, cross_validate
from driftloop.training._evaluation import Evaluation, evaluate_model, metrics_by_slice
from driftloop.training._fitting import fit_model
from driftloop.training._search_space import SearchSpace
from driftloop.training._splits import split as split_rows
from driftloop.training._tasks import GREATER_IS_BETTER, PRIMARY_METRIC, TASK_METRICS, Task, check_target, infer_task
from driftloop.training._tuning_objective import TrainingData, TrialObjective

if TYPE_CHECKING:
    from driftloop.entities import AliasMove, ModelVersionInfo
    from driftloop.tracking import ActiveRun
    from driftloop.workspace import Workspace

__all__ = ["CandidateScore", "Training", "TrainingResult", "Tuning"]

DEFAULT_CANDIDATES: dict[Task, tuple[str, ...]] = {
    "binary": ("logistic_regression", "random_forest", "lightgbm"),
    "multiclass": ("logistic_regression", "random_forest", "lightgbm"),
    "regression": ("ridge", "random_forest", "lightgbm"),
}
INTERNAL_COLUMNS = ("_source_row",)


@dataclass(frozen=True)
class Tuning:
    """How to tune: which algorithm (by default the selection's winner), how many trials, in how many processes.

    Args:
        algorithm: The algorithm to tune; None tunes the winner of the selection.
        trials: The total number of trials (a resumed study runs only the ones missing).
        workers: Worker processes running trials in parallel (spawned; each pinned to ``threads`` threads).
        space: The search space (see :class:`~driftloop.training._search_space.SearchSpace`); None uses the
            algorithm's default space.
        study: The study's name in Optuna's storage; the same name resumes the same study.
        timeout: Stop starting new trials after this many seconds.
    """

    algorithm: str | None = None
    trials: int = 20
    workers: int = 1
    space: Mapping[str, Any] | None = None
    study: str | None = None
    timeout: float | None = None

    def __post_init__(self) -> None:
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials < 1:
            raise InvalidInput(f"The number of tuning 'trials' must be an integer >= 1; got {self.trials!r}.")
        if isinstance(self.workers, bool) or not isinstance(self.workers, int) or self.workers < 1:
            raise InvalidInput(f"The number of tuning 'workers' must be an integer >= 1; got {self.workers!r}.")

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tuning:
        known = {"algorithm", "trials", "workers", "space", "study", "timeout"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidInput(f"Tuning takes the keys {', '.join(sorted(known))}; got unknown {', '.join(unknown)}.")
        return cls(**dict(data))


@dataclass(frozen=True)
class CandidateScore:
    """One candidate of a selection: its child run and its cross-validated scores."""

    algorithm: str
    run_id: str
    score: float | None
    spread: float | None
    metrics: Mapping[str, float]
    params: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingResult:
    """What a training produced.

    Attributes:
        run_id: The training run.
        task: The task trained for.
        target: The target column.
        features: The feature columns, in the order the model takes them.
        algorithm: The chosen algorithm.
        params: Its hyperparameters (tuned, or given).
        metric: The metric candidates and trials were ranked on.
        leaderboard: The selection's candidates, best first (empty when only one algorithm was given).
        cross_validation: The chosen configuration's cross-validation on the training rows.
        holdout: The refitted model's scores on the holdout.
        slices: Holdout scores per value of ``slice_by``.
        model: The fitted model (preprocessing inside: it takes raw rows).
        version: The registered version, when the model was registered.
        promotion: The alias move, when the version was promoted.
        study: The tuning study's name, when tuned.
    """

    run_id: str
    task: Task
    target: str
    features: tuple[str, ...]
    algorithm: str
    params: Mapping[str, Any]
    metric: str
    leaderboard: tuple[CandidateScore, ...]
    cross_validation: CrossValidation | None
    holdout: Evaluation
    slices: Mapping[str, Evaluation]
    model: Any
    version: ModelVersionInfo | None = None
    promotion: AliasMove | None = None
    study: str | None = None


class Training:
    """Trains models on dataset versions, tracks every step and registers the result (``ws.training``)."""

    def __init__(self, workspace: Workspace) -> None:
        self._ws = workspace

    def train(
        self,
        dataset: str,
        target: str,
        *,
        version: int | None = None,
        features: Sequence[str] | None = None,
        task: Task | None = None,
        algorithms: Sequence[str | Any] | str | Any | None = None,
        params: Mapping[str, Mapping[str, Any]] | None = None,
        split: str = "random",
        holdout: float = 0.2,
        time_column: str | None = None,
        folds: int = 5,
        metric: str | None = None,
        tune: Tuning | Mapping[str, Any] | None = None,
        register: str | None = None,
        gates: Sequence[Any] | None = None,
        alias: str | None = None,
        promote: bool = False,
        slice_by: str | None = None,
        experiment: str = "training",
        seed: int = 0,
        threads: int = 1,
        progress: Callable[[str], None] | None = None,
    ) -> TrainingResult:
        """Train on version ``version`` (latest by default) of ``dataset`` to predict ``target``.

        Args:
            dataset: The dataset's name.
            target: The column to predict.
            version: The dataset version; the latest when None.
            features: The feature columns; every other column by default (the time column of a time split
                is not a feature unless listed).
            task: ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred from the target when None.
            algorithms: One algorithm (a name or a scikit-learn estimator) or several to select from by
                cross-validation; by default a linear model, a random forest and LightGBM.
            params: Hyperparameters per algorithm name (``{"lightgbm": {"num_leaves": 63}}``).
            split: How the holdout is cut: ``"random"``, ``"stratified"`` or ``"time"`` (the latest rows by
                ``time_column``). Cross-validation folds follow the same method.
            holdout: The share of rows held out, never seen in selection, tuning or fitting.
            time_column: The column ordering rows for a time split.
            folds: Cross-validation folds for the selection.
            metric: The metric to rank on; by default the task's primary metric.
            tune: Tune an algorithm with Optuna (see :class:`Tuning`).
            register: Register the model under this name.
            gates: Gates the new version must pass to be registered (and promoted).
            alias: An alias to point at the new version (e.g. ``"challenger"``).
            promote: Promote the new version to ``champion`` (after its gates pass).
            slice_by: A categorical column to report holdout metrics per value of.
            experiment: The experiment the runs go to.
            seed: Seeds the split, the folds, the models and the sampler.
            threads: Threads each model may use.
            progress: Called with a short message as each step starts.

        Raises:
            InvalidInput: A column, algorithm, parameter or option is wrong.
            InvalidData: The data cannot train a model (a constant target, too few rows for the folds...).
            GateFailed: The model failed a gate; nothing was registered or promoted.
        """
        say = progress or (lambda message: None)
        ws = self._ws
        handle = ws.datasets.get(dataset, version)
        frame = handle.to_pandas().drop(columns=[c for c in INTERNAL_COLUMNS if c], errors="ignore")
        features_list = self._features(frame, target, features, time_column)
        if task is None:
            task = infer_task(frame[target])
        check_target(frame[target], task)
        metric = metric or PRIMARY_METRIC[task]
        if metric not in TASK_METRICS[task]:
            raise InvalidInput(
                f"The metric {metric!r} does not apply to a {task} task; use one of {', '.join(TASK_METRICS[task])}."
            )
        candidates = _candidates(algorithms, task)
        tuning = Tuning.from_dict(tune) if isinstance(tune, Mapping) else tune
        if tuning is not None and tuning.space is not None:
            SearchSpace.from_dict(tuning.space)  # an empty or contradictory space fails before any run starts
        params = dict(params or {})

        columns = [*features_list, target] + ([time_column] if time_column and time_column not in features_list else [])
        cut = split_rows(frame[columns], target, method=split, holdout=holdout, time_column=time_column, seed=seed)  # type: ignore[arg-type]
        train_rows, holdout_rows = cut.train, cut.holdout
        cv_split = "stratified" if split == "stratified" else ("time" if split == "time" else "random")
        data = TrainingData(
            features=tuple(features_list), target=target, task=task, time_column=time_column, cv_split=cv_split
        )

        from threadpoolctl import threadpool_limits

        # Every fit here (cross-validation folds included) keeps to ``threads`` OpenMP/BLAS threads: an
        # unpinned histogram booster grabs every core and runs many times slower on a busy machine.
        with ws.tracking.start_run(experiment, name=f"train {dataset}") as run, threadpool_limits(limits=threads):
            run.log_input(handle.name, handle.number, role="training")
            run.log_params(
                {
                    "dataset": handle.name,
                    "dataset_version": handle.number,
                    "target": target,
                    "task": task,
                    "split": split,
                    "holdout": holdout,
                    "folds": folds,
                    "metric": metric,
                    "seed": seed,
                    "features": ",".join(features_list),
                }
            )
            run.set_tags({"driftloop.kind": "training", "holdout_fingerprint": cut.fingerprint()})

            leaderboard: list[CandidateScore] = []
            chosen_algorithm, chosen_params, chosen_cv = (
                _name_of(candidates[0]),
                params.get(_name_of(candidates[0]), {}),
                None,
            )
            if len(candidates) > 1:
                say(f"Selecting among {len(candidates)} algorithms with {folds}-fold cross-validation")
                leaderboard = self._select(run, candidates, params, train_rows, data, metric, folds, seed, threads, say)
                best = leaderboard[0]
                chosen_algorithm, chosen_params = best.algorithm, dict(best.params)
            estimator_given = not isinstance(candidates[0], str) and len(candidates) == 1
            study_name = None
            if tuning is not None:
                if estimator_given:
                    raise InvalidInput("Tuning needs an algorithm by name; a given estimator has no search space.")
                chosen_algorithm = tuning.algorithm or chosen_algorithm
                say(f"Tuning {chosen_algorithm}: {tuning.trials} trials in {tuning.workers} process(es)")
                study_name, chosen_params, tuned_score = self._tune(
                    run, tuning, chosen_algorithm, handle.name, handle.number, data, cut, metric, folds, seed, threads
                )
                run.log_metric(f"tuning/best_{metric}", tuned_score)

            algorithm_spec: Any = candidates[0] if estimator_given else chosen_algorithm
            sample = train_rows[features_list]
            if chosen_cv is None:
                say(f"Cross-validating {chosen_algorithm}")
                chosen_cv = _cross_validate(
                    algorithm_spec, chosen_params, train_rows, data, folds=folds, seed=seed, threads=threads
                )
            say(f"Fitting {chosen_algorithm} on {len(train_rows):,} rows")
            model = build_model(algorithm_spec, task, sample, chosen_params, seed=seed, threads=threads)
            model = fit_model(
                model,
                train_rows[features_list],
                train_rows[target],
                threads=threads,
                may_be_missing=_nullable(ws, handle.name, features_list),
                seed=seed,
            )
            face = _fitted_face(model, train_rows[target])
            scored = evaluate_model(face, holdout_rows[features_list], holdout_rows[target], task)
            slices = (
                metrics_by_slice(face, holdout_rows[features_list], holdout_rows[target], task, slice_by)
                if slice_by is not None
                else {}
            )
            run.log_params({"algorithm": chosen_algorithm, **{f"param/{k}": v for k, v in chosen_params.items()}})
            _log_cross_validation(run, chosen_cv)
            for key, value in scored.metrics.items():
                run.log_metric(f"holdout/{key}", value)
            for slice_name, evaluation in slices.items():
                for key, value in evaluation.metrics.items():
                    run.log_metric(f"slice/{slice_by}={slice_name}/{key}", value)
            run.log_dict({"holdout": scored.to_dict(), "cross_validation": chosen_cv.to_dict()}, "evaluation.json")

            registered = None
            promotion = None
            if register is not None:
                say(f"Registering {register}")
                registered = ws.models.register(
                    register,
                    model,
                    dataset=(handle.name, handle.number),
                    run=run.id,
                    task=task,
                    target=target,
                    holdout=holdout_rows[[*features_list, target]],
                    training_data=train_rows[[*features_list, target]],
                    gates=gates,
                    alias=alias,
                    evaluation={
                        "split": {"method": split, "holdout": holdout, "time_column": time_column, "seed": seed},
                        "cross_validation": {"mean": chosen_cv.mean, "std": chosen_cv.std, "folds": folds},
                        "algorithm": chosen_algorithm,
                        "params": dict(chosen_params),
                    },
                    reason=f"trained by run {run.id}",
                )
                run.set_tag("registered", registered.reference)
                if promote:
                    say(f"Promoting {registered.reference} to champion")
                    promotion = ws.models.promote(registered.reference, reason=f"trained by run {run.id}")

        return TrainingResult(
            run_id=run.id,
            task=task,
            target=target,
            features=tuple(features_list),
            algorithm=chosen_algorithm,
            params=dict(chosen_params),
            metric=metric,
            leaderboard=tuple(leaderboard),
            cross_validation=chosen_cv,
            holdout=scored,
            slices=slices,
            model=model,
            version=registered,
            promotion=promotion,
            study=study_name,
        )

    # -- steps -------------------------------------------------------------------------------------

    @staticmethod
    def _features(
        frame: pd.DataFrame, target: str, features: Sequence[str] | None, time_column: str | None
    ) -> list[str]:
        available = list(frame.columns)
        if target not in available:
            shown = ", ".join(available[:20]) + (", ..." if len(available) > 20 else "")
            raise InvalidInput(f"The target column {target!r} is not in the dataset; its columns are {shown}.")
        if time_column is not None and time_column not in available:
            raise InvalidInput(f"The time column {time_column!r} is not in the dataset.")
        if features is None:
            chosen = [name for name in available if name not in (target, time_column)]
        else:
            chosen = list(features)
            missing = [name for name in chosen if name not in available]
            if missing:
                raise InvalidInput(f"The feature columns {', '.join(map(repr, missing))} are not in the dataset.")
            if target in chosen:
                raise InvalidInput(f"The target column {target!r} cannot also be a feature.")
        if not chosen:
            raise InvalidData("There are no feature columns left besides the target.")
        return chosen

    def _select(
        self,
        run: ActiveRun,
        candidates: Sequence[Any],
        params: Mapping[str, Mapping[str, Any]],
        train_rows: pd.DataFrame,
        data: TrainingData,
        metric: str,
        folds: int,
        seed: int,
        threads: int,
        say: Callable[[str], None],
    ) -> list[CandidateScore]:
        scores: list[CandidateScore] = []
        for candidate in candidates:
            name = _name_of(candidate)
            candidate_params = dict(params.get(name, {}))
            say(f"  {name}")
            with run.child(name=f"candidate {name}") as child:
                child.log_params({"algorithm": name, **{f"param/{k}": v for k, v in candidate_params.items()}})
                child.set_tag("driftloop.kind", "candidate")
                cv = _cross_validate(
                    candidate, candidate_params, train_rows, data, folds=folds, seed=seed, threads=threads, run=child
                )
                _log_cross_validation(child, cv)
            scores.append(
                CandidateScore(
                    algorithm=name,
                    run_id=child.id,
                    score=cv.mean.get(metric),
                    spread=cv.std.get(metric),
                    metrics=dict(cv.mean),
                    params=candidate_params,
                )
            )
        return _ranked(scores, metric)

    def _tune(
        self,
        run: ActiveRun,
        tuning: Tuning,
        algorithm: str,
        dataset: str,
        version: int,
        data: TrainingData,
        cut: Any,
        metric: str,
        folds: int,
        seed: int,
        threads: int,
    ) -> tuple[str, dict[str, Any], float]:
        from driftloop.training._study_storage import StudyStorageSpec
        from driftloop.training._tuning import run_study

        space = dict(tuning.space) if tuning.space is not None else default_search_space(algorithm, data.task)
        settings = self._ws.settings
        study_name = tuning.study or f"{dataset}-{data.target}-{algorithm}"
        direction = "maximize" if GREATER_IS_BETTER[metric] else "minimize"
        objective = TrialObjective(
            root=settings.root,
            store=settings.store,
            artifacts=settings.artifacts,
            actor=settings.actor,
            dataset=dataset,
            version=version,
            holdout_index=tuple(cut.holdout_index),
            data=data,
            algorithm=algorithm,
            space=space,
            metric=metric,
            direction=direction,
            folds=folds,
            seed=seed,
            threads=threads,
            experiment=self._experiment_name(run),
            parent_run=run.id,
            token=settings.token,
        )
        study = run_study(
            study_name,
            # Through a workspace server, the study is this machine's own: a journal in the local workspace folder.
            StudyStorageSpec.resolve(
                settings.root,
                database_url=None if settings.is_remote else settings.store,
                schema=_study_schema(settings.store),
            ),
            objective,
            direction=direction,  # type: ignore[arg-type]
            n_trials=tuning.trials,
            workers=tuning.workers,
            seed=seed,
            timeout=tuning.timeout,
            threads_per_worker=threads,
        )
        run.set_tag("tuning/study", study_name)
        best = study.best_trial
        return study_name, dict(best.params), float(best.value if best.value is not None else math.nan)

    def _experiment_name(self, run: ActiveRun) -> str:
        experiment_id = self._ws.tracking.get_run(run.id).experiment_id
        return self._ws.tracking.get_experiment(experiment_id).name


def _cross_validate(
    algorithm: Any,
    params: Mapping[str, Any],
    train_rows: pd.DataFrame,
    data: TrainingData,
    *,
    folds: int,
    seed: int,
    threads: int,
    run: ActiveRun | None = None,
) -> CrossValidation:
    """Cross-validate ``algorithm`` with ``params`` on the training rows; each fold's scores go to ``run``."""
    features = list(data.features)
    extra = [data.time_column] if data.time_column and data.time_column not in features else []

    def log_fold(index: int, evaluation: Evaluation) -> None:
        if run is not None:
            run.log_metrics({f"fold/{key}": value for key, value in evaluation.metrics.items()}, step=index)

    return cross_validate(
        lambda: _scikit_learn_face(
            build_model(algorithm, data.task, train_rows[features], params, seed=seed, threads=threads)
        ),
        train_rows[features + extra],
        train_rows[data.target],
        data.task,
        folds=folds,
        split=data.cv_split,  # type: ignore[arg-type]
        time_column=data.time_column,
        seed=seed,
        on_fold=log_fold,
    )


def _nullable(ws: Workspace, dataset: str, features: list[str]) -> list[str]:
    """The features the dataset's schema lets be missing: the served model must answer for them missing too."""
    try:
        schema = ws.datasets.schema(dataset)
    except InvalidState:
        return []
    return [spec.name for spec in schema.columns if spec.nullable and spec.name in features]


def _log_cross_validation(run: ActiveRun, cv: CrossValidation) -> None:
    for key, value in cv.mean.items():
        run.log_metric(f"cv/{key}", value)
    for key, value in cv.std.items():
        run.log_metric(f"cv/{key}_std", value)


def _study_schema(store: str) -> str:
    """The PostgreSQL schema of a workspace's Optuna studies: ``optuna``, or ``<schema>_optuna`` when the
    workspace's own tables live in a schema of their own (so two workspaces in one database never share studies).
    """
    import re
    from urllib.parse import unquote

    match = (
        re.search(r"search_path(?:%3D|=)([A-Za-z_][A-Za-z0-9_]*)", unquote(store))
        if "search_path" in unquote(store)
        else None
    )
    return f"{match.group(1)}_optuna" if match else "optuna"


def _scikit_learn_face(model: Any) -> Any:
    """``model`` as cross-validation and evaluation expect it: River models get a scikit-learn face."""
    from driftloop.training._algorithms import is_river_model
    from driftloop.training._river import RiverEstimator

    return RiverEstimator(model) if is_river_model(model) else model


def _fitted_face(model: Any, labels: pd.Series) -> Any:
    from driftloop.training._algorithms import is_river_model
    from driftloop.training._river import RiverEstimator

    if not is_river_model(model):
        return model
    face = RiverEstimator(model)
    if not model._supervised or not hasattr(model, "predict_proba_one"):
        return face
    face.classes_ = pd.Series(labels.dropna().unique()).sort_values(key=lambda s: s.astype(str)).to_numpy(dtype=object)
    return face


def _candidates(algorithms: Sequence[str | Any] | str | Any | None, task: Task) -> list[Any]:
    if algorithms is None:
        return list(DEFAULT_CANDIDATES[task])
    if isinstance(algorithms, str) or not isinstance(algorithms, Sequence):
        return [algorithms]
    if len(algorithms) == 0:
        raise InvalidInput("Give at least one algorithm to train; got an empty list.")
    names = [_name_of(candidate) for candidate in algorithms]
    for name in names:
        if names.count(name) > 1:
            raise InvalidInput(f"The algorithm {name!r} is listed twice.")
    for candidate in algorithms:
        if isinstance(candidate, str) and candidate not in ALGORITHMS:
            raise InvalidInput(f"Unknown algorithm {candidate!r}; known: {', '.join(sorted(ALGORITHMS))}.")
    return list(algorithms)


def _name_of(candidate: Any) -> str:
    return candidate if isinstance(candidate, str) else type(candidate).__name__


def _ranked(scores: list[CandidateScore], metric: str) -> list[CandidateScore]:
    greater = GREATER_IS_BETTER[metric]

    def key(score: CandidateScore) -> float:
        if score.score is None or math.isnan(score.score):
            return math.inf
        return -score.score if greater else score.score

    return sorted(scores, key=key)
