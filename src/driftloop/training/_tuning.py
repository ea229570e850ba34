"""Hyperparameter tuning with Optuna: a runner that spreads a study's trials over processes, and pruning helpers.

Where a study is kept is described by :class:`~driftloop.training._study_storage.StudyStorageSpec`. Several
processes, and on PostgreSQL several machines, can work on one study; each claims its next trial under a lock (a
lock file beside the journal, an advisory lock on PostgreSQL), so a study stops at exactly ``n_trials`` trials
however many workers run it.

Running again with the same name resumes the study. A trial left running by a dead process is failed and queued
again with the same parameters: at once when its process is gone from this machine, otherwise once its heartbeat
is older than the grace period (Optuna's heartbeat on PostgreSQL; on the journal, which has none in Optuna 5, a
timestamp the runner writes into the trial).
"""

from __future__ import annotations

import copy
import hashlib
import importlib
import logging
import math
import multiprocessing
import os
import pickle
import socket
import threading
import time
import uuid
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import FIRST_EXCEPTION, Future, ProcessPoolExecutor, wait
from contextlib import contextmanager
from dataclasses import dataclass, replace
from multiprocessing.synchronize import Event as EventType
from numbers import Real
from typing import Any, Literal, TypeAlias

import numpy as np
import optuna
import sqlalchemy as sa
from optuna.exceptions import ExperimentalWarning, UpdateFinishedTrialError
from optuna.storages import BaseStorage, RDBStorage
from optuna.storages.journal import JournalFileOpenLock
from optuna.trial import FrozenTrial, TrialState

from driftloop.errors import InvalidInput, InvalidState
from driftloop.training._study_storage import StudyStorageSpec, stale_trial_retry_callback, study_storage

__all__ = [
    "LightGBMPruningCallback",
    "Objective",
    # Re-exported from _study_storage: callers (benchmarks/tuning.py) import them from here.
    "StudyStorageSpec",
    "TrialCallback",
    "prune_if_unpromising",
    "run_study",
    "study_storage",
]

Objective: TypeAlias = Callable[[optuna.Trial], float]
"""A top-level function (picklable, for worker processes) from a trial to its score; may raise ``TrialPruned``."""

TrialCallback: TypeAlias = Callable[[optuna.Study, FrozenTrial], None]

_logger = logging.getLogger(__name__)

_WORKER_KEY = "driftloop:worker"
_HEARTBEAT_KEY = "driftloop:heartbeat"
_POLL_SECONDS = 0.5
_FINISHED = (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)
_THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")
_HOST = socket.gethostname()


def run_study(
    name: str,
    storage: StudyStorageSpec | str,
    objective: Objective | str,
    *,
    n_trials: int,
    direction: Literal["minimize", "maximize"] = "minimize",
    workers: int = 1,
    enqueue: Iterable[Mapping[str, Any]] = (),
    seed: int = 0,
    pruner: optuna.pruners.BasePruner | None = None,
    timeout: float | None = None,
    catch: tuple[type[Exception], ...] = (),
    threads_per_worker: int | None = None,
    on_trial_finished: TrialCallback | None = None,
) -> optuna.Study:
    """Run a study until it holds ``n_trials`` finished trials, creating it or resuming it.

    Trials count when complete, pruned, or failed for good; a trial whose process died is failed and queued
    again with the same parameters (up to three times), and only the retry counts. So a study interrupted in any
    way finishes with exactly ``n_trials`` trials on the next call, which runs only the missing ones.

    Args:
        name: the study's name in the storage.
        storage: where the study lives (a spec, or its string form).
        objective: a trial to a score, e.g. through :meth:`SearchSpace.suggest`; report intermediate scores with
            :func:`prune_if_unpromising`. With ``workers > 1`` it must be picklable (a top-level function, or a
            ``functools.partial`` of one), or given as ``"package.module:function"``.
        n_trials: how many trials the study holds when done, counting those of earlier calls.
        direction: ``"minimize"`` or ``"maximize"`` the score.
        workers: how many processes (started with ``spawn``) run trials; ``1`` runs them in this process.
        enqueue: parameter sets to try first, each exactly as given; a set already in the study is not added again.
        seed: seeds the TPE sampler; each worker and each call derives its own seed from it.
        pruner: stops unpromising trials that report intermediate scores; Optuna's ``MedianPruner`` by default.
        timeout: seconds after which no new trial starts (running ones finish).
        catch: exceptions of the objective that fail the trial and go on, instead of stopping the study.
        threads_per_worker: the OpenMP/BLAS threads each worker process may use (``workers > 1``); by default the
            CPUs divided by ``workers``, so that LightGBM's OpenMP pools do not fight over the cores.
        on_trial_finished: called in this process with each trial this call finished (complete, pruned or failed),
            e.g. to record it as a child run.

    Returns:
        The study, loaded from the storage.

    Raises:
        InvalidInput: an argument is out of range, or the objective cannot be found or sent to a worker.
        InvalidState: the study exists with the other direction.
    """
    order = _check_arguments(name, objective, n_trials, direction, workers, seed, timeout, threads_per_worker)
    spec = storage if isinstance(storage, StudyStorageSpec) else StudyStorageSpec.parse(storage)
    parameter_sets = _check_parameter_sets(enqueue)
    pruner = pruner if pruner is not None else optuna.pruners.MedianPruner()
    if workers > 1:
        _check_picklable(objective, "objective")
        _check_picklable(pruner, "pruner")
    optuna.logging.set_verbosity(optuna.logging.WARNING)

    # The study handed back holds no connection open; the workers' pooled storages are closed when they are done.
    handed_back = _OpenedStorage(spec, spec.open(pooled=False))
    study = _create_or_load(name, handed_back.storage, direction, pruner)
    with handed_back.claim(name):
        for parameters in parameter_sets:
            study.enqueue_trial(parameters, skip_if_exists=True)
    order = replace(
        order,
        storage=spec,
        pruner=pruner,
        catch=catch,
        trials_before=len(study.get_trials(deepcopy=False)),
        deadline=None if timeout is None else time.time() + timeout,
    )
    reporter = _FinishedTrialReporter(study, order.session, on_trial_finished)
    if workers == 1:
        with _OpenedStorage.of(spec) as opened:
            _run_worker(order, opened, should_stop=lambda: False, after_trial=reporter.report_new)
    else:
        threads = threads_per_worker or max(1, _available_cpus() // workers)
        _run_in_processes([replace(order, worker=index) for index in range(workers)], threads, reporter)
    reporter.report_new()
    return study


def prune_if_unpromising(trial: optuna.Trial, value: float, step: int) -> None:
    """Report an intermediate score of an iterative learner, and stop the trial if the pruner says it lags.

    Call it once per epoch or boosting round from the objective; it raises ``optuna.TrialPruned``, which the
    runner records as a pruned trial.
    """
    trial.report(value, step)
    if trial.should_prune():
        raise optuna.TrialPruned(f"Trial {trial.number} was pruned at step {step} with the score {value}.")


class LightGBMPruningCallback:
    """A ``lightgbm.train`` callback that reports a validation metric each round and prunes lagging trials.

    The metric must improve in the study's direction (``rmse`` for a minimised study, ``auc`` for a maximised one).

    ``lightgbm.train(params, train, valid_sets=[valid], valid_names=["valid"],
    callbacks=[LightGBMPruningCallback(trial, "rmse")])``

    Args:
        trial: the trial being run.
        metric: the LightGBM metric name as it reports it (``"rmse"``, ``"l2"``, ``"binary_logloss"``…).
        valid_name: the name of the validation set among ``valid_names``.
    """

    def __init__(self, trial: optuna.Trial, metric: str, valid_name: str = "valid") -> None:
        self.trial = trial
        self.metric = metric
        self.valid_name = valid_name

    def __call__(self, env: Any) -> None:
        for entry in env.evaluation_result_list:
            if entry[0] == self.valid_name and entry[1] == self.metric:
                prune_if_unpromising(self.trial, float(entry[2]), int(env.iteration))
                return
        reported = [f"{entry[0]}/{entry[1]}" for entry in env.evaluation_result_list]
        raise InvalidInput(
            f"LightGBM reported no metric {self.metric!r} on the validation set {self.valid_name!r} to prune on; "
            f"it reported {reported}."
        )


@dataclass(frozen=True, slots=True)
class _WorkOrder:
    """What one worker needs, picklable for ``spawn``."""

    study_name: str
    objective: Objective | str
    n_trials: int
    seed: int
    session: str
    storage: StudyStorageSpec | None = None
    pruner: optuna.pruners.BasePruner | None = None
    catch: tuple[type[Exception], ...] = ()
    deadline: float | None = None
    trials_before: int = 0
    worker: int = 0

    @property
    def sampler_seed(self) -> int:
        # Workers and successive calls must not replay the same random start-up points.
        sequence = np.random.SeedSequence([self.seed, self.worker, self.trials_before])
        return int(sequence.generate_state(1)[0])


class _OpenedStorage:
    """A storage opened in one process, with the locking, heartbeats and clean-up the runner needs."""

    def __init__(self, spec: StudyStorageSpec, storage: BaseStorage) -> None:
        self.spec = spec
        self.storage = storage

    @classmethod
    @contextmanager
    def of(cls, spec: StudyStorageSpec) -> Iterator[_OpenedStorage]:
        """A pooled storage for a worker, its connections closed afterwards."""
        opened = cls(spec, spec.open())
        try:
            yield opened
        finally:
            if isinstance(opened.storage, RDBStorage):
                opened.storage.remove_session()
                opened.storage.engine.dispose()

    @contextmanager
    def claim(self, study_name: str) -> Iterator[None]:
        """Hold the study's claim lock: one process at a time counts the trials and starts the next one."""
        if isinstance(self.storage, RDBStorage):
            key = int.from_bytes(hashlib.sha256(f"{self.spec.schema}:{study_name}".encode()).digest()[:8], signed=True)
            with self.storage.engine.connect() as connection, connection.begin():
                connection.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": key})
                yield
            return
        lock = JournalFileOpenLock(f"{self.spec.location}.claim")
        lock.acquire()
        try:
            yield
        finally:
            lock.release()

    def mark_started(self, trial: optuna.Trial, session: str) -> None:
        """Record who runs the trial, and its first heartbeat, before the claim lock is released."""
        # Trials have no public setter for system attributes; they keep this bookkeeping out of user_attrs.
        trial.storage.set_trial_system_attr(
            trial._trial_id, _WORKER_KEY, {"host": _HOST, "pid": os.getpid(), "session": session}
        )
        self.beat(trial)

    def beat(self, trial: optuna.Trial) -> None:
        if isinstance(self.storage, RDBStorage):
            self.storage.record_heartbeat(trial._trial_id)
        else:
            trial.storage.set_trial_system_attr(trial._trial_id, _HEARTBEAT_KEY, time.time())

    def fail_stale_trials(self, study: optuna.Study) -> None:
        """Fail the running trials whose process is gone, and queue each again with the same parameters."""
        if isinstance(self.storage, RDBStorage):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)
                optuna.storages.fail_stale_trials(study)
        now = time.time()
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            if self._is_stale(trial, now):
                _fail_and_retry(study, trial._trial_id)

    def _is_stale(self, trial: FrozenTrial, now: float) -> bool:
        worker = trial.system_attrs.get(_WORKER_KEY)
        if not isinstance(worker, dict):
            return False  # not started by this runner: its owner's business
        if worker.get("host") == _HOST and not _process_alive(int(worker.get("pid", 0))):
            return True
        if isinstance(self.storage, RDBStorage):
            return False  # Optuna's own heartbeat covers the other machines
        last_beat = float(trial.system_attrs.get(_HEARTBEAT_KEY, 0.0))
        return now - last_beat > self.spec.stale_after


class _FinishedTrialReporter:
    """Hands each trial finished by this call to the caller's callback, once, in this process."""

    def __init__(self, study: optuna.Study, session: str, callback: TrialCallback | None) -> None:
        self.study = study
        self.session = session
        self.callback = callback
        self.reported: set[int] = set()

    def report_new(self) -> None:
        if self.callback is None:
            return
        for trial in self.study.get_trials(deepcopy=False, states=_FINISHED):
            worker = trial.system_attrs.get(_WORKER_KEY)
            ours = isinstance(worker, dict) and worker.get("session") == self.session
            if ours and trial.number not in self.reported:
                self.reported.add(trial.number)
                self.callback(self.study, copy.deepcopy(trial))


class _Heartbeat:
    """Beats for a running trial from a thread, so that a dead worker's trial can be told from a slow one."""

    def __init__(self, opened: _OpenedStorage, trial: optuna.Trial) -> None:
        self._opened = opened
        self._trial = trial
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="driftloop-trial-heartbeat", daemon=True)

    def __enter__(self) -> None:
        self._thread.start()

    def __exit__(self, *exc_info: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self._opened.spec.heartbeat_interval):
            try:
                self._opened.beat(self._trial)
            except UpdateFinishedTrialError:
                return  # another worker judged the trial stale and failed it
            except Exception as error:  # a transient storage error must not kill the trial
                _logger.warning("Could not record the heartbeat of trial %d: %s", self._trial.number, error)


def _run_worker(
    order: _WorkOrder,
    opened: _OpenedStorage,
    *,
    should_stop: Callable[[], bool],
    after_trial: Callable[[], None],
) -> int:
    """Claim and run trials until the study holds ``n_trials``; returns how many this worker ran."""
    study = optuna.load_study(
        study_name=order.study_name,
        storage=opened.storage,
        sampler=optuna.samplers.TPESampler(seed=order.sampler_seed),
        pruner=order.pruner,
    )
    objective = _resolve_objective(order.objective)
    ran = 0
    while not should_stop() and (order.deadline is None or time.time() < order.deadline):
        with opened.claim(order.study_name):
            opened.fail_stale_trials(study)
            counted, ours_running = _count_trials(study.get_trials(deepcopy=False))
            trial = None
            if counted < order.n_trials:
                trial = _ask(study)
                opened.mark_started(trial, order.session)
        if trial is None:
            if not ours_running:
                break
            time.sleep(_POLL_SECONDS)  # the last trials run elsewhere: wait in case their worker dies
            continue
        _run_trial(study, opened, trial, objective, order.catch)
        ran += 1
        after_trial()
    return ran


def _run_trial(
    study: optuna.Study,
    opened: _OpenedStorage,
    trial: optuna.Trial,
    objective: Objective,
    catch: tuple[type[Exception], ...],
) -> None:
    with _Heartbeat(opened, trial):
        try:
            score = objective(trial)
        except optuna.TrialPruned:
            study.tell(trial, state=TrialState.PRUNED, skip_if_finished=True)
            return
        except KeyboardInterrupt:
            # An interruption is not the trial's fault: queue it again so the resumed study runs it.
            _fail_and_retry(study, trial._trial_id)
            raise
        except catch as error:
            _logger.warning("Trial %d of %r failed: %r", trial.number, study.study_name, error)
            study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            return
        except BaseException:
            study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
            raise
    if isinstance(score, bool) or not isinstance(score, Real) or not math.isfinite(float(score)):
        _logger.warning(
            "Trial %d of %r returned %r, not a finite number; it failed.", trial.number, study.study_name, score
        )
        study.tell(trial, state=TrialState.FAIL, skip_if_finished=True)
        return
    study.tell(trial, float(score), skip_if_finished=True)


def _run_in_processes(orders: list[_WorkOrder], threads: int, reporter: _FinishedTrialReporter) -> None:
    context = multiprocessing.get_context("spawn")  # LightGBM's OpenMP and deltalake are not fork-safe
    stop = context.Event()
    pool = ProcessPoolExecutor(len(orders), mp_context=context, initializer=_remember_stop_event, initargs=(stop,))
    try:
        with _thread_limits(threads):  # spawn children are started inside submit and inherit the environment
            futures: set[Future[int]] = {pool.submit(_work_in_subprocess, order) for order in orders}
        first_error: BaseException | None = None
        while futures:
            done, futures = wait(futures, timeout=_POLL_SECONDS, return_when=FIRST_EXCEPTION)
            reporter.report_new()
            for future in done:
                if future.exception() is not None and first_error is None:
                    first_error = future.exception()
                    stop.set()  # let the others finish their trial and stop
        if first_error is not None:
            raise first_error
    except BaseException:
        stop.set()
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


_stop_event: EventType | None = None


def _remember_stop_event(event: EventType) -> None:
    global _stop_event
    _stop_event = event


def _work_in_subprocess(order: _WorkOrder) -> int:
    assert order.storage is not None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    with _OpenedStorage.of(order.storage) as opened:
        return _run_worker(
            order, opened, should_stop=lambda: bool(_stop_event and _stop_event.is_set()), after_trial=lambda: None
        )


@contextmanager
def _thread_limits(threads: int) -> Iterator[None]:
    saved = {variable: os.environ.get(variable) for variable in _THREAD_VARIABLES}
    os.environ.update({variable: str(threads) for variable in _THREAD_VARIABLES})
    try:
        yield
    finally:
        for variable, value in saved.items():
            if value is None:
                os.environ.pop(variable, None)
            else:
                os.environ[variable] = value


def _count_trials(trials: list[FrozenTrial]) -> tuple[int, bool]:
    """How many trials count towards ``n_trials``, and whether one started by this runner is still running."""
    retried = {number for trial in trials for number in trial.system_attrs.get("retry_history", [])}
    counted = 0
    ours_running = False
    for trial in trials:
        failed_for_good = trial.state == TrialState.FAIL and trial.number not in retried
        if failed_for_good or trial.state in (TrialState.COMPLETE, TrialState.PRUNED, TrialState.RUNNING):
            counted += 1
        ours_running = ours_running or (trial.state == TrialState.RUNNING and _WORKER_KEY in trial.system_attrs)
    return counted, ours_running


def _ask(study: optuna.Study) -> optuna.Trial:
    with warnings.catch_warnings():
        # Optuna warns that a heartbeat storage should go with Study.optimize; this runner beats for its trials.
        warnings.filterwarnings("ignore", "Heartbeat of storage is supposed to be used", UserWarning)
        return study.ask()


def _fail_and_retry(study: optuna.Study, trial_id: int) -> None:
    storage = study._storage  # Optuna offers no public way to fail another process's trial
    try:
        storage.set_trial_state_values(trial_id, TrialState.FAIL)
    except UpdateFinishedTrialError:
        return  # another worker got there first
    stale_trial_retry_callback()(study, storage.get_trial(trial_id))


def _create_or_load(
    name: str, storage: BaseStorage, direction: Literal["minimize", "maximize"], pruner: optuna.pruners.BasePruner
) -> optuna.Study:
    study = optuna.create_study(
        study_name=name, storage=storage, direction=direction, pruner=pruner, load_if_exists=True
    )
    existing = study.direction.name.lower()
    if existing != direction:
        raise InvalidState(f"The study {name!r} exists and is to {existing} its score; got direction {direction!r}.")
    return study


def _check_arguments(
    name: str,
    objective: Objective | str,
    n_trials: int,
    direction: str,
    workers: int,
    seed: int,
    timeout: float | None,
    threads_per_worker: int | None,
) -> _WorkOrder:
    if not isinstance(name, str) or not name.strip():
        raise InvalidInput(f"The study name must be a non-empty string; got {name!r}.")
    counts = [("n_trials", n_trials, 1), ("workers", workers, 1), ("seed", seed, 0)]
    if threads_per_worker is not None:
        counts.append(("threads_per_worker", threads_per_worker, 1))
    for label, value, minimum in counts:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            raise InvalidInput(f"The {label!r} must be an integer >= {minimum}; got {value!r}.")
    if direction not in ("minimize", "maximize"):
        raise InvalidInput(f"The 'direction' must be 'minimize' or 'maximize'; got {direction!r}.")
    if timeout is not None and (isinstance(timeout, bool) or not isinstance(timeout, Real) or not timeout > 0):
        raise InvalidInput(f"The 'timeout' must be a positive number of seconds; got {timeout!r}.")
    if not callable(objective):
        _resolve_objective(objective)  # fail here, not in a worker
    return _WorkOrder(study_name=name, objective=objective, n_trials=n_trials, seed=seed, session=uuid.uuid4().hex)


def _check_parameter_sets(enqueue: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    parameter_sets = []
    for parameters in enqueue:
        if not isinstance(parameters, Mapping) or not all(isinstance(key, str) for key in parameters):
            raise InvalidInput(f"Each enqueued parameter set must be a dict of names to values; got {parameters!r}.")
        # numpy scalars (from a grid or a previous study) are not JSON: the journal could not store them.
        parameter_sets.append({key: _plain(value) for key, value in parameters.items()})
    return parameter_sets


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


def _check_picklable(value: object, label: str) -> None:
    try:
        pickle.dumps(value)
    except (pickle.PicklingError, AttributeError, TypeError) as error:
        raise InvalidInput(
            f"The {label} must be picklable to reach worker processes (a top-level function, a functools.partial "
            f"of one, or 'package.module:function'); got {value!r} ({error})."
        ) from error


def _resolve_objective(objective: Objective | str) -> Objective:
    if callable(objective):
        return objective
    if not isinstance(objective, str) or objective.count(":") != 1:
        raise InvalidInput(f"The objective must be a callable or 'package.module:function'; got {objective!r}.")
    module_name, attribute = objective.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise InvalidInput(f"Cannot import the objective's module {module_name!r}: {error}.") from error
    found = getattr(module, attribute, None)
    if not callable(found):
        raise InvalidInput(f"The module {module_name!r} has no function {attribute!r} to use as the objective.")
    return found  # type: ignore[no-any-return]


def _process_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # alive, owned by someone else
    return True


def _available_cpus() -> int:
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1
