"""Tuning: search spaces, where studies live, and the runner across processes, resumes and crashes.

Spawned workers must import the objective by name, and with --import-mode=importlib they cannot import this test
module; so each test writes its objectives into a small module of its own under tmp_path and puts that folder on
sys.path, which spawn hands to the children.
"""

from __future__ import annotations

import importlib
import os
import signal
import subprocess
import sys
import textwrap
import time
import types
import uuid
from pathlib import Path
from typing import Any

import numpy as np
import optuna
import pytest
import sqlalchemy as sa
from optuna.trial import FrozenTrial, TrialState

from driftloop.errors import InvalidInput, InvalidState
from driftloop.training._search_space import FixedParameter, SearchSpace
from driftloop.training._tuning import (
    LightGBMPruningCallback,
    StudyStorageSpec,
    run_study,
    study_storage,
)

OBJECTIVES = '''
import os
import pathlib
import time

from driftloop.training._tuning import prune_if_unpromising

FOLDER = pathlib.Path({folder!r})


def quadratic(trial):
    x = trial.suggest_float("x", -10.0, 10.0)
    y = trial.suggest_int("y", -5, 5)
    return (x - 2.0) ** 2 + (y + 1) ** 2


def pausing_quadratic(trial):
    """From trial 1 on, hangs while the file 'pause' exists, after saying so."""
    value = quadratic(trial)
    if trial.number >= 1 and (FOLDER / "pause").exists():
        (FOLDER / f"started-{{trial.number}}").touch()
        time.sleep(120)
    return value


def rendezvous(trial):
    """Waits until two processes run trials at the same time, so the test knows both workers worked."""
    trial.set_user_attr("omp_threads", os.environ.get("OMP_NUM_THREADS"))
    (FOLDER / f"pid-{{os.getpid()}}").touch()
    deadline = time.monotonic() + 60
    while len(list(FOLDER.glob("pid-*"))) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return quadratic(trial)


def sleepy(trial):
    time.sleep(0.3)
    return quadratic(trial)


def stepping(trial):
    x = trial.suggest_float("x", 0.0, 1.0)
    for step in range(5):
        prune_if_unpromising(trial, x * (step + 1), step)
    return x


def failing(trial):
    trial.suggest_float("x", 0.0, 1.0)
    raise ValueError("no model today")


def not_a_number(trial):
    trial.suggest_float("x", 0.0, 1.0)
    return float("nan")
'''


@pytest.fixture
def objectives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """A module of objectives importable here and in spawned workers, with a folder of its own for signals."""
    folder = tmp_path / "objectives"
    folder.mkdir()
    name = f"tuning_objectives_{uuid.uuid4().hex[:8]}"
    (folder / f"{name}.py").write_text(OBJECTIVES.format(folder=str(folder)))
    monkeypatch.syspath_prepend(str(folder))
    return importlib.import_module(name)


@pytest.fixture
def journal(tmp_path: Path) -> StudyStorageSpec:
    return StudyStorageSpec.resolve(tmp_path / "ws", heartbeat_interval=1, grace_period=2)


def _load(spec: StudyStorageSpec, name: str) -> optuna.Study:
    return optuna.load_study(study_name=name, storage=spec.open())


def _states(study: optuna.Study) -> list[TrialState]:
    return [trial.state for trial in study.get_trials(deepcopy=False)]


# --- search spaces ---------------------------------------------------------------------------------------------


def test_a_search_space_suggests_values_inside_its_declaration() -> None:
    space = SearchSpace.from_dict(
        {
            "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
            "num_leaves": {"type": "int", "low": 8, "high": 128, "step": 8},
            "subsample": {"type": "float", "low": 0.5, "high": 1.0, "step": 0.1},
            "activation": {"type": "categorical", "choices": ["relu", "tanh"]},
            "max_depth": {"type": "fixed", "value": 3},
            "objective": "regression",
        }
    )
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=1))
    for _ in range(30):
        trial = study.ask()
        values = space.suggest(trial)
        assert 0.01 <= values["learning_rate"] <= 0.3
        assert values["num_leaves"] in range(8, 129, 8)
        assert round(values["subsample"] * 10) / 10 == pytest.approx(values["subsample"])
        assert values["activation"] in ("relu", "tanh")
        assert (values["max_depth"], values["objective"]) == (3, "regression")
        assert trial.params == values  # fixed values are recorded with the trial too
        study.tell(trial, 0.0)
    assert SearchSpace.from_dict(space.to_dict()) == space
    assert space.parameters["objective"] == FixedParameter("regression")


@pytest.mark.parametrize(
    ("declared", "message"),
    [
        ({}, "The search space is empty"),
        (
            {"learning_rate": {"type": "float", "low": 0.3, "high": 0.01}},
            "The search space for 'learning_rate' is contradictory: low 0.3 > high 0.01.",
        ),
        ({"lr": {"type": "normal", "low": 0, "high": 1}}, "'lr' has an unknown type 'normal'"),
        ({"lr": {"low": 0, "high": 1}}, "'lr' has an unknown type None"),
        ({"lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}, "log scale needs low > 0; got low 0.0"),
        ({"n": {"type": "int", "low": 0, "high": 10, "log": True}}, "needs low >= 1; got low 0"),
        ({"act": {"type": "categorical", "choices": []}}, "The 'choices' of 'act' must be a non-empty list; got []"),
        ({"act": {"type": "categorical", "choices": ["a", "a"]}}, "repeat 'a'"),
        ({"act": {"type": "categorical", "choices": [[1]]}}, "Each choice of 'act' must be"),
        ({"n": {"type": "int", "low": 8, "high": 128, "step": 7}}, "step 7 does not divide the range [8, 128]"),
        ({"x": {"type": "float", "low": 0, "high": 1, "step": 0.3}}, "step 0.3 does not divide the range [0, 1]"),
        ({"x": {"type": "float", "low": 1e-3, "high": 1, "step": 0.1, "log": True}}, "cannot have a step"),
        ({"n": {"type": "int", "low": 1, "high": 10, "step": 0}}, "The 'step' of 'n' must be an integer >= 1; got 0"),
        ({"n": {"type": "int", "low": 1.5, "high": 10}}, "The 'low' of 'n' must be an integer; got 1.5"),
        ({"n": {"type": "int", "high": 10}}, "The search space for 'n' needs 'low'"),
        ({"x": {"type": "float", "lo": 0, "high": 1}}, "unknown fields ['lo'] for type 'float'"),
        ({"x": [1, 2]}, "must be a dict with a 'type' or a fixed scalar value; got [1, 2]"),
        ({"x": {"type": "fixed"}}, "The fixed parameter 'x' needs a 'value'"),
    ],
)
def test_a_contradictory_search_space_is_refused_naming_the_parameter(declared: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as raised:
        SearchSpace.from_dict(declared)
    assert message in str(raised.value)


# --- where studies live ----------------------------------------------------------------------------------------


def test_the_embedded_storage_is_a_journal_in_the_workspace(tmp_path: Path) -> None:
    root = tmp_path / "ws" / ".driftloop"
    spec = StudyStorageSpec.resolve(root)
    assert spec == StudyStorageSpec("journal", str(root / "optuna" / "journal.log"))
    assert StudyStorageSpec.parse(str(spec)) == spec
    beside = StudyStorageSpec.resolve(database_url=f"sqlite:///{tmp_path / 'meta' / 'driftloop.db'}")
    assert beside.location == str(tmp_path / "meta" / "optuna" / "journal.log")

    storage = study_storage(root)
    assert isinstance(storage, optuna.storages.JournalStorage)
    optuna.create_study(study_name="s", storage=storage)
    assert (root / "optuna" / "journal.log").stat().st_size > 0
    assert optuna.get_all_study_names(study_storage(root)) == ["s"]


def test_a_postgresql_storage_gets_its_own_schema_whatever_the_metadata_url_says() -> None:
    spec = StudyStorageSpec.resolve(
        database_url="postgresql://me:secret@db:5432/ml?options=-csearch_path%3Dteam&connect_timeout=5"
    )
    assert spec.kind == "postgresql"
    assert spec.schema == "optuna"
    url = sa.make_url(spec.location)
    assert url.drivername == "postgresql+psycopg"
    assert url.query["options"] == "-csearch_path=optuna"
    assert url.query["connect_timeout"] == "5"
    assert "secret" not in repr(spec)
    assert StudyStorageSpec.parse(str(spec)) == spec
    assert StudyStorageSpec.resolve(database_url="postgresql+psycopg://db/ml", schema="tuning").schema == "tuning"


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"database_url": "postgresql+psycopg://db/ml", "schema": "drop table"}, "must be a lower-case SQL name"),
        ({"database_url": "mysql://db/ml"}, "PostgreSQL or in a journal file; got the database 'mysql'"),
        ({"workspace_root": "/tmp/ws", "heartbeat_interval": 0}, "'heartbeat_interval' of a study storage"),
    ],
)
def test_a_wrong_storage_is_refused(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        StudyStorageSpec.resolve(**arguments)


def test_an_unknown_storage_string_is_refused() -> None:
    with pytest.raises(InvalidInput, match="must be 'journal:<path>' or a 'postgresql"):
        StudyStorageSpec.parse("/tmp/journal.log")


# --- running in this process -----------------------------------------------------------------------------------


def test_enqueued_sets_run_first_and_a_second_call_resumes_to_the_total(
    objectives: types.ModuleType, journal: StudyStorageSpec
) -> None:
    first_sets = [{"x": 2.0, "y": -1}, {"x": -3.5, "y": 4}]
    finished: list[FrozenTrial] = []

    def remember(study: optuna.Study, trial: FrozenTrial) -> None:
        finished.append(trial)

    study = run_study("q", journal, objectives.quadratic, n_trials=5, enqueue=first_sets, on_trial_finished=remember)
    trials = study.get_trials(deepcopy=False)
    assert [trial.params for trial in trials[:2]] == first_sets
    assert trials[0].value == 0.0
    assert _states(study) == [TrialState.COMPLETE] * 5
    assert [trial.number for trial in finished] == [0, 1, 2, 3, 4]
    assert isinstance(study.pruner, optuna.pruners.MedianPruner)

    finished.clear()
    again = run_study(
        "q",
        str(journal),
        f"{objectives.__name__}:quadratic",
        n_trials=8,
        enqueue=first_sets,
        on_trial_finished=remember,
    )
    trials = again.get_trials(deepcopy=False)
    assert len(trials) == 8  # the enqueued sets were not added a second time
    assert [trial.params for trial in trials].count(first_sets[0]) == 1
    assert [trial.number for trial in finished] == [5, 6, 7]
    assert len({(trial.params["x"], trial.params["y"]) for trial in trials}) == 8  # no replayed random points

    assert run_study("q", journal, objectives.quadratic, n_trials=8).trials == again.trials  # nothing left to run


def test_pruned_trials_count_and_stop_at_the_step_the_pruner_says(
    objectives: types.ModuleType, journal: StudyStorageSpec
) -> None:
    study = run_study(
        "p",
        journal,
        objectives.stepping,
        n_trials=6,
        enqueue=[{"x": 0.05}, {"x": 0.9}, {"x": 0.2}],
        pruner=optuna.pruners.ThresholdPruner(upper=0.5),
    )
    trials = study.get_trials(deepcopy=False)
    assert len(trials) == 6
    assert (trials[0].state, trials[0].value) == (TrialState.COMPLETE, 0.05)
    assert (trials[1].state, trials[1].intermediate_values) == (TrialState.PRUNED, {0: 0.9})
    assert (trials[2].state, max(trials[2].intermediate_values)) == (TrialState.PRUNED, 2)
    for trial in trials:
        assert (trial.state == TrialState.PRUNED) == (trial.params["x"] > 0.1)


def test_the_lightgbm_callback_prunes_on_the_named_validation_metric() -> None:
    lightgbm = pytest.importorskip("lightgbm")
    generator = np.random.default_rng(0)
    features = generator.normal(size=(300, 3))
    target = features @ np.array([1.0, -2.0, 0.5]) + generator.normal(scale=0.1, size=300)
    train = lightgbm.Dataset(features[:200], target[:200])
    valid = lightgbm.Dataset(features[200:], target[200:], reference=train)
    parameters = {"objective": "regression", "metric": "rmse", "num_threads": 1, "verbose": -1}
    study = optuna.create_study(pruner=optuna.pruners.ThresholdPruner(upper=1.5))
    trial = study.ask()
    with pytest.raises(optuna.TrialPruned, match="pruned at step 0"):
        lightgbm.train(
            parameters, train, 20, valid_sets=[valid], valid_names=["valid"],
            callbacks=[LightGBMPruningCallback(trial, "rmse")],
        )  # fmt: skip
    assert list(study.trials[0].intermediate_values) == [0]
    with pytest.raises(InvalidInput, match=r"no metric 'auc' on the validation set 'valid'.*\['valid/rmse'\]"):
        lightgbm.train(
            parameters, train, 2, valid_sets=[valid], valid_names=["valid"],
            callbacks=[LightGBMPruningCallback(study.ask(), "auc")],
        )  # fmt: skip


def test_no_trial_starts_after_the_timeout(objectives: types.ModuleType, journal: StudyStorageSpec) -> None:
    started = time.monotonic()
    study = run_study("t", journal, objectives.sleepy, n_trials=50, timeout=0.5)
    assert 1 <= len(study.trials) <= 3
    assert time.monotonic() - started < 5
    assert _states(study) == [TrialState.COMPLETE] * len(study.trials)


def test_numpy_values_can_be_enqueued(objectives: types.ModuleType, journal: StudyStorageSpec) -> None:
    study = run_study(
        "np", journal, objectives.quadratic, n_trials=1, enqueue=[{"x": np.float64(1.5), "y": np.int64(2)}]
    )
    assert study.trials[0].params == {"x": 1.5, "y": 2}


def test_an_objective_error_stops_the_study_unless_caught(
    objectives: types.ModuleType, journal: StudyStorageSpec
) -> None:
    with pytest.raises(ValueError, match="no model today"):
        run_study("f", journal, objectives.failing, n_trials=3)
    assert _states(_load(journal, "f")) == [TrialState.FAIL]

    study = run_study("f", journal, objectives.failing, n_trials=3, catch=(ValueError,))
    assert _states(study) == [TrialState.FAIL] * 3  # failures count: the study does not loop forever
    assert _states(run_study("nan", journal, objectives.not_a_number, n_trials=2)) == [TrialState.FAIL] * 2


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"n_trials": 0}, "The 'n_trials' must be an integer >= 1; got 0."),
        ({"workers": 0}, "The 'workers' must be an integer >= 1; got 0."),
        ({"direction": "up"}, "The 'direction' must be 'minimize' or 'maximize'; got 'up'."),
        ({"timeout": -1}, "The 'timeout' must be a positive number of seconds; got -1."),
        ({"objective": "no_such_module_here:f"}, "Cannot import the objective's module 'no_such_module_here'"),
        ({"objective": "os.path:no_function"}, "The module 'os.path' has no function 'no_function'"),
        ({"objective": lambda trial: 0.0, "workers": 2}, "must be picklable to reach worker processes"),
        ({"enqueue": [[("x", 1)]]}, "Each enqueued parameter set must be a dict"),
    ],
)
def test_wrong_arguments_are_refused(journal: StudyStorageSpec, arguments: dict[str, Any], message: str) -> None:
    given: dict[str, Any] = {"objective": "os.path:exists", "n_trials": 1, **arguments}
    with pytest.raises(InvalidInput) as raised:
        run_study("wrong", journal, given.pop("objective"), **given)
    assert message in str(raised.value)


def test_a_study_keeps_its_direction(objectives: types.ModuleType, journal: StudyStorageSpec) -> None:
    run_study("d", journal, objectives.quadratic, n_trials=1)
    with pytest.raises(InvalidState, match="The study 'd' exists and is to minimize its score; got direction"):
        run_study("d", journal, objectives.quadratic, n_trials=2, direction="maximize")


# --- processes, crashes and heartbeats -------------------------------------------------------------------------


def test_two_worker_processes_run_exactly_n_trials(objectives: types.ModuleType, journal: StudyStorageSpec) -> None:
    finished: list[int] = []
    threads_before = os.environ.get("OMP_NUM_THREADS")
    study = run_study(
        "par",
        journal,
        objectives.rendezvous,
        n_trials=9,
        workers=2,
        threads_per_worker=1,
        enqueue=[{"x": 2.0, "y": -1}],
        on_trial_finished=lambda study, trial: finished.append(trial.number),
    )
    trials = study.get_trials(deepcopy=False)
    assert _states(study) == [TrialState.COMPLETE] * 9
    assert trials[0].params == {"x": 2.0, "y": -1}
    workers = {trial.system_attrs["driftloop:worker"]["pid"] for trial in trials}
    assert len(workers) == 2 and os.getpid() not in workers
    assert {trial.user_attrs["omp_threads"] for trial in trials} == {"1"}  # OpenMP pinned in the workers
    assert os.environ.get("OMP_NUM_THREADS") == threads_before  # and only there
    assert sorted(finished) == list(range(9))
    assert len({(trial.params["x"], trial.params["y"]) for trial in trials}) == 9  # workers sample apart


def test_a_study_whose_process_was_killed_mid_trial_resumes_and_retries_that_trial(
    objectives: types.ModuleType, journal: StudyStorageSpec
) -> None:
    folder = Path(objectives.__file__).parent
    (folder / "pause").touch()
    script = textwrap.dedent(
        f"""
        import sys
        sys.path.insert(0, {str(folder)!r})
        from driftloop.training._tuning import run_study
        run_study("crash", {str(journal)!r}, "{objectives.__name__}:pausing_quadratic", n_trials=4)
        """
    )
    process = subprocess.Popen([sys.executable, "-c", script])
    try:
        deadline = time.monotonic() + 60
        while not (folder / "started-1").exists():
            assert process.poll() is None, "the study process ended before its second trial"
            assert time.monotonic() < deadline, "the second trial never started"
            time.sleep(0.05)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait()
    assert _states(_load(journal, "crash")) == [TrialState.COMPLETE, TrialState.RUNNING]

    (folder / "pause").unlink()
    study = run_study("crash", journal, objectives.pausing_quadratic, n_trials=4)
    trials = study.get_trials(deepcopy=False)
    assert _states(study) == [TrialState.COMPLETE, TrialState.FAIL] + [TrialState.COMPLETE] * 3
    retry = trials[2]
    assert retry.system_attrs["failed_trial"] == 1
    assert retry.params == trials[1].params


def test_a_trial_whose_heartbeat_stops_is_failed_after_the_grace_period_and_retried(
    objectives: types.ModuleType, journal: StudyStorageSpec
) -> None:
    storage = journal.open()
    study = optuna.create_study(study_name="hb", storage=storage)
    elsewhere = study.ask()
    elsewhere.suggest_float("x", -10.0, 10.0)
    elsewhere.suggest_int("y", -5, 5)
    # Run by a process on another machine, which beat once and then went silent.
    storage.set_trial_system_attr(elsewhere._trial_id, "driftloop:worker", {"host": "elsewhere", "pid": 1})
    storage.set_trial_system_attr(elsewhere._trial_id, "driftloop:heartbeat", time.time())

    started = time.monotonic()
    study = run_study("hb", journal, objectives.quadratic, n_trials=3)
    assert time.monotonic() - started >= 1.5  # it waited for the silent trial rather than leaving it behind
    trials = study.get_trials(deepcopy=False)
    assert _states(study) == [TrialState.FAIL, TrialState.COMPLETE, TrialState.COMPLETE, TrialState.COMPLETE]
    retried = [trial for trial in trials if trial.system_attrs.get("failed_trial") == 0]
    assert len(retried) == 1 and retried[0].params == trials[0].params


# --- PostgreSQL ------------------------------------------------------------------------------------------------


def _tables(engine: sa.Engine, schema: str) -> set[str]:
    return set(sa.inspect(engine).get_table_names(schema=schema))


@pytest.mark.postgres
def test_postgresql_keeps_optuna_tables_in_their_own_schema(
    objectives: types.ModuleType, empty_postgres_url: str
) -> None:
    schema = f"optuna_test_{uuid.uuid4().hex[:10]}"
    metadata_schema = sa.make_url(empty_postgres_url).query["options"].split("=")[1]
    admin = sa.create_engine(empty_postgres_url)
    public_before = _tables(admin, "public")
    try:
        spec = StudyStorageSpec.resolve(
            database_url=empty_postgres_url, schema=schema, heartbeat_interval=1, grace_period=2
        )
        study = run_study("pg", spec, objectives.quadratic, n_trials=3, enqueue=[{"x": 2.0, "y": -1}])
        assert study.trials[0].value == 0.0
        study = run_study("pg", spec, objectives.rendezvous, n_trials=8, workers=2)
        assert _states(study) == [TrialState.COMPLETE] * 8

        assert {"alembic_version", "studies", "trials", "trial_heartbeats"} <= _tables(admin, schema)
        assert _tables(admin, metadata_schema) == set()
        assert _tables(admin, "public") == public_before
    finally:
        with admin.begin() as connection:
            connection.execute(sa.text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()
