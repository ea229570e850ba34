"""The metadata contract: every repository behaves the same on SQLite and PostgreSQL."""

from __future__ import annotations

import math
import time
import uuid

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from driftloop.entities import Artifact, DatasetInput, Lifecycle, Resources, RunEnvironment, RunStatus
from driftloop.errors import (
    AlreadyExists,
    InvalidState,
    NotFound,
    ParamConflict,
    SchemaMismatch,
    StoreUnavailable,
)
from driftloop.filtering import parse_filter, parse_order_by
from driftloop.store.metadata import Database, MetadataStore
from driftloop.store.metadata._schema import metadata as schema

ACTOR = "contract"


@pytest.fixture
def store(store_url: str) -> MetadataStore:
    store = MetadataStore(store_url)
    store.open()
    yield store
    store.close()


def new_run(store: MetadataStore, experiment: str = "exp", **kwargs: object) -> str:
    experiment_id = store.experiments.get_or_create(experiment, actor=ACTOR).id
    run_id = uuid.uuid4().hex
    store.runs.create(
        run_id=run_id,
        experiment_id=experiment_id,
        name=str(kwargs.pop("name", "run")),
        user=ACTOR,
        start_time=float(kwargs.pop("start_time", time.time())),  # type: ignore[arg-type]
        environment=RunEnvironment(git_commit="abc", git_dirty=False, python_version="3.11", packages={"numpy": "2"}),
        actor=ACTOR,
        **kwargs,  # type: ignore[arg-type]
    )
    return run_id


def test_migrations_create_exactly_the_declared_schema(store: MetadataStore) -> None:
    with store.database.read() as conn:
        differences = compare_metadata(MigrationContext.configure(conn), schema)
    assert differences == []


def test_experiments_are_unique_by_name_and_found_by_name_or_id(store: MetadataStore) -> None:
    created = store.experiments.create("price", actor=ACTOR, description="houses")
    assert store.experiments.get("price") == created
    assert store.experiments.get(created.id) == created
    assert store.experiments.get(str(created.id)) == created
    with pytest.raises(AlreadyExists, match="'price' exists already"):
        store.experiments.create("price", actor=ACTOR)
    with pytest.raises(NotFound, match="nope"):
        store.experiments.get("nope")
    assert store.experiments.get_or_create("price", actor=ACTOR) == created


def test_deleted_experiment_hides_and_blocks_its_name_until_restored(store: MetadataStore) -> None:
    store.experiments.create("old", actor=ACTOR)
    store.experiments.delete("old", actor=ACTOR)
    assert [e.name for e in store.experiments.list()] == []
    assert store.experiments.list(include_deleted=True)[0].lifecycle is Lifecycle.DELETED
    with pytest.raises(InvalidState, match="restore it"):
        store.experiments.get_or_create("old", actor=ACTOR)
    store.experiments.restore("old", actor=ACTOR)
    assert store.experiments.get_or_create("old", actor=ACTOR).lifecycle is Lifecycle.ACTIVE


def test_run_round_trip(store: MetadataStore) -> None:
    run_id = new_run(store, name="first", tags={"team": "pricing"})
    run = store.runs.get(run_id)
    assert (run.name, run.status, run.user, run.tags) == (
        "first",
        RunStatus.RUNNING,
        ACTOR,
        {"team": "pricing"},
    )
    assert run.environment.git_commit == "abc" and run.environment.packages == {"numpy": "2"}
    ended = store.runs.end(
        run_id,
        status=RunStatus.FINISHED,
        end_time=time.time(),
        resources=Resources(1.5, 1.0, 2**20),
        actor=ACTOR,
    )
    assert ended.status is RunStatus.FINISHED and ended.resources == Resources(1.5, 1.0, 2**20)
    with pytest.raises(InvalidState, match="already ended"):
        store.runs.end(run_id, status=RunStatus.FAILED, end_time=time.time(), resources=Resources(), actor=ACTOR)
    with pytest.raises(NotFound):
        store.runs.get("0" * 32)


def test_params_are_write_once(store: MetadataStore) -> None:
    run_id = new_run(store)
    store.runs.log_params(run_id, {"lr": "0.1", "model": "lgbm"}, actor=ACTOR)
    store.runs.log_params(run_id, {"lr": "0.1"}, actor=ACTOR)  # same value again: fine
    with pytest.raises(ParamConflict, match=r"'lr' of run .* is '0.1' already.*cannot become '0.2'"):
        store.runs.log_params(run_id, {"lr": "0.2", "new": "x"}, actor=ACTOR)
    assert store.runs.get(run_id).params == {"lr": "0.1", "model": "lgbm"}  # nothing half-written


def test_tags_can_be_overwritten(store: MetadataStore) -> None:
    run_id = new_run(store)
    store.runs.set_tags(run_id, {"stage": "dev"}, actor=ACTOR)
    store.runs.set_tags(run_id, {"stage": "prod", "owner": "ana"}, actor=ACTOR)
    assert store.runs.get(run_id).tags == {"owner": "ana", "stage": "prod"}


def test_metric_points_history_and_summary(store: MetadataStore) -> None:
    run_id = new_run(store)
    store.metrics.append(run_id, [("loss", 1.0, 0, 10.0), ("loss", 0.5, 1, 11.0), ("acc", 0.7, 0, 10.0)])
    store.metrics.append(run_id, [("loss", 0.25, 2, 12.0), ("loss", 9.0, 1, 13.0)])
    history = store.metrics.history(run_id, "loss")
    assert history.steps.tolist() == [0, 1, 1, 2]
    assert history.values.tolist() == [1.0, 0.5, 9.0, 0.25]
    summary = store.runs.get(run_id).metrics["loss"]
    assert (summary.last_value, summary.last_step, summary.count) == (0.25, 2, 4)
    assert (summary.min_value, summary.max_value) == (0.25, 9.0)
    with pytest.raises(NotFound, match="no metric 'nope'"):
        store.metrics.history(run_id, "nope")
    with pytest.raises(NotFound, match="No run"):
        store.metrics.history("f" * 32, "loss")


def test_non_finite_metric_values_survive(store: MetadataStore) -> None:
    run_id = new_run(store)
    store.metrics.append(run_id, [("x", math.nan, 0, 1.0), ("x", math.inf, 1, 1.0), ("x", -math.inf, 2, 1.0)])
    values = store.metrics.history(run_id, "x").values
    assert math.isnan(values[0]) and values[1] == math.inf and values[2] == -math.inf
    assert store.runs.get(run_id).metrics["x"].last_value == -math.inf
    store.metrics.append(run_id, [("only_nan", math.nan, 0, 1.0)])
    assert math.isnan(store.runs.get(run_id).metrics["only_nan"].last_value)


def test_artifacts_inputs_and_references(store: MetadataStore) -> None:
    run_id = new_run(store)
    store.artifacts.add(
        run_id, [Artifact("model/a.bin", "a" * 64, 3), Artifact("report.html", "b" * 64, 5)], actor=ACTOR
    )
    store.artifacts.add(run_id, [Artifact("report.html", "c" * 64, 6)], actor=ACTOR)
    assert [a.path for a in store.artifacts.list(run_id)] == ["model/a.bin", "report.html"]
    assert [a.path for a in store.artifacts.list(run_id, "model")] == ["model/a.bin"]
    assert store.artifacts.get(run_id, "report.html").digest == "c" * 64
    assert store.referenced_digests() == {"a" * 64, "c" * 64}
    store.runs.add_inputs(run_id, [DatasetInput("houses", 3), DatasetInput("houses", 3)], actor=ACTOR)
    assert store.runs.get(run_id).inputs == (DatasetInput("houses", 3, "training"),)


def test_soft_delete_restore_and_purge(store: MetadataStore) -> None:
    keep, doomed = new_run(store), new_run(store)
    store.metrics.append(doomed, [("loss", 1.0, 0, 1.0)])
    store.artifacts.add(doomed, [Artifact("a", "d" * 64, 1)], actor=ACTOR)
    store.runs.delete(doomed, actor=ACTOR)
    assert [r.id for r in store.runs.search()] == [keep]
    with pytest.raises(InvalidState, match="deleted"):
        store.runs.log_params(doomed, {"x": "1"}, actor=ACTOR)
    store.runs.restore(doomed, actor=ACTOR)
    assert {r.id for r in store.runs.search()} == {keep, doomed}
    store.runs.delete(doomed, actor=ACTOR)
    assert store.runs.purge([doomed, keep], actor=ACTOR) == 1  # only deleted runs go
    with pytest.raises(NotFound):
        store.runs.get(doomed)
    assert store.referenced_digests() == set()
    with store.database.read() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM metric_chunks")).scalar() == 0


def test_every_mutation_appends_an_event_and_events_are_append_only(store: MetadataStore) -> None:
    run_id = new_run(store)
    store.runs.log_params(run_id, {"a": "1"}, actor="ana")
    actions = [e.action for e in store.events.list(object_type="run", object_id=run_id)]
    assert actions == ["run.log_params", "run.start"]
    assert store.events.list(action="run.log_params")[0].actor == "ana"
    assert store.events.list(object_type="experiment")[0].action == "experiment.create"
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.database.write() as conn:
        conn.execute(sa.text("UPDATE events SET actor = 'mallory'"))
    with pytest.raises(sa.exc.DBAPIError, match="append-only"), store.database.write() as conn:
        conn.execute(sa.text("DELETE FROM events"))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ("metrics.rmse < 3", {"a", "b"}),
        ("metrics.rmse < 3 and params.model = 'lgbm'", {"a"}),
        ("metrics.rmse >= 3 or tags.team = 'x'", {"b", "c"}),
        ("params.lr < 0.05", {"a"}),  # numerically, although params are text
        ("params.lr = 0.1", {"b"}),
        ("params.model like 'lg%'", {"a", "c"}),
        ("params.model ilike 'LG%'", {"a", "c"}),
        ("params.model in ('ridge', 'svm')", {"b", "d"}),
        ("metrics.rmse is null", {"d"}),
        ("not metrics.rmse is null and status = 'finished'", {"a"}),
        ("name != 'c'", {"a", "b", "d"}),
    ],
)
def test_search_filters(store: MetadataStore, condition: str, expected: set[str]) -> None:
    ids = {}
    for name, model, lr, rmse, team in [
        ("a", "lgbm", "0.01", 2.0, "core"),
        ("b", "ridge", "0.1", 2.5, "x"),
        ("c", "lgbm", "0.5", 4.0, "core"),
        ("d", "svm", "abc", None, "core"),
    ]:
        run_id = ids[name] = new_run(store, name=name, tags={"team": team})
        store.runs.log_params(run_id, {"model": model, "lr": lr}, actor=ACTOR)
        if rmse is not None:
            store.metrics.append(run_id, [("rmse", rmse, 0, 1.0)])
    store.runs.end(ids["a"], status=RunStatus.FINISHED, end_time=time.time(), resources=Resources(), actor=ACTOR)
    found = store.runs.search(where=parse_filter(condition))
    assert {run.name for run in found} == expected


def test_search_orders_and_pages(store: MetadataStore) -> None:
    for index, rmse in enumerate([3.0, 1.0, 2.0]):
        run_id = new_run(store, name=f"r{index}", start_time=1000.0 + index)
        store.metrics.append(run_id, [("rmse", rmse, 0, 1.0)])
    new_run(store, name="no-metric", start_time=2000.0)
    by_rmse = store.runs.search(order_by=[parse_order_by("metrics.rmse")])
    assert [r.name for r in by_rmse] == ["r1", "r2", "r0", "no-metric"]  # missing values last
    descending = store.runs.search(order_by=[parse_order_by("metrics.rmse DESC")])
    assert [r.name for r in descending] == ["r0", "r2", "r1", "no-metric"]
    assert [r.name for r in store.runs.search()] == ["no-metric", "r2", "r1", "r0"]  # newest first
    assert [r.name for r in store.runs.search(limit=2, offset=1)] == ["r2", "r1"]


def test_a_schema_newer_than_the_code_is_refused(store_url: str) -> None:
    store = MetadataStore(store_url)
    store.open()
    with store.database.write() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999_future'"))
    store.close()
    with pytest.raises(SchemaMismatch, match=r"revision '9999_future', which is newer than this driftloop"):
        MetadataStore(store_url).open()


def test_unreachable_store_names_the_url() -> None:
    database = Database("postgresql+psycopg://nobody:secret@127.0.0.1:1/none?connect_timeout=2")
    with pytest.raises(StoreUnavailable, match=r"Cannot reach the metadata store at .*127\.0\.0\.1:1") as caught:
        database.open()
    assert "secret" not in str(caught.value)


def test_an_interruption_inside_a_write_goes_on_and_commits_nothing(
    store: MetadataStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """SIGTERM's SystemExit (or Ctrl-C) landing inside a statement leaves the connection mid-statement, where a
    rollback fails: the interruption must go on (not turn into a store error the caller swallows), the connection
    must never serve again, and nothing of the transaction may be committed."""
    from driftloop.store.metadata._schema import experiments

    def failing_rollback(self: object) -> None:
        raise sa.exc.InternalError("ROLLBACK", {}, Exception("connection in transaction status ACTIVE"))

    monkeypatch.setattr(sa.engine.RootTransaction, "rollback", failing_rollback)
    with pytest.raises(SystemExit), store.database.write() as conn:
        conn.execute(
            experiments.insert().values(
                name="interrupted", lifecycle="active", created_at=time.time(), created_by="contract"
            )
        )
        raise SystemExit(143)
    monkeypatch.undo()
    assert "interrupted" not in {e.name for e in store.experiments.list()}
    for _ in range(3):  # every pooled connection is fit to serve
        store.experiments.create(f"after-{uuid.uuid4().hex[:8]}", actor="contract")


def test_an_interrupted_write_keeps_an_in_memory_store() -> None:
    """A rollback that works keeps the connection: an in-memory SQLite store lives in it (a notebook's Ctrl-C)."""
    from driftloop.store.metadata._schema import experiments

    store = MetadataStore("sqlite:///:memory:", auto_migrate=True)
    store.open()
    try:
        store.experiments.create("kept", actor="contract")
        with pytest.raises(KeyboardInterrupt), store.database.write() as conn:
            conn.execute(experiments.insert().values(name="dropped", created_at=time.time(), created_by="contract"))
            raise KeyboardInterrupt
        assert {e.name for e in store.experiments.list()} == {"kept"}
    finally:
        store.close()


def test_concurrent_appends_to_one_series_lose_no_update(store_url: str) -> None:
    import threading

    store = MetadataStore(store_url)
    store.open()
    run_id = new_run(store)
    store.close()

    def append_many(worker: int) -> None:
        own = MetadataStore(store_url)
        for batch in range(25):
            own.metrics.append(run_id, [("loss", float(worker), worker * 100 + batch, 1.0)])
        own.close()

    threads = [threading.Thread(target=append_many, args=(worker,)) for worker in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    store = MetadataStore(store_url)
    summary = store.runs.get(run_id).metrics["loss"]
    assert summary.count == 100 == len(store.metrics.history(run_id, "loss"))
    assert (summary.min_value, summary.max_value, summary.last_step) == (0.0, 3.0, 324)
    store.close()


def test_params_and_inputs_only_while_running_tags_and_artifacts_after(store: MetadataStore) -> None:
    run_id = new_run(store)
    store.runs.end(run_id, status=RunStatus.FINISHED, end_time=time.time(), resources=Resources(), actor=ACTOR)
    with pytest.raises(InvalidState, match="has ended"):
        store.runs.log_params(run_id, {"late": "1"}, actor=ACTOR)
    with pytest.raises(InvalidState, match="has ended"):
        store.runs.add_inputs(run_id, [DatasetInput("houses", 1)], actor=ACTOR)
    store.runs.set_tags(run_id, {"reviewed": "yes"}, actor=ACTOR)
    store.artifacts.add(run_id, [Artifact("report.html", "e" * 64, 1)], actor=ACTOR)
    assert store.runs.get(run_id).tags == {"reviewed": "yes"}


def test_runs_of_a_deleted_experiment_take_nothing(store: MetadataStore) -> None:
    run_id = new_run(store, experiment="gone")
    store.experiments.delete("gone", actor=ACTOR)
    with pytest.raises(InvalidState, match="experiment of run"):
        store.runs.set_tags(run_id, {"a": "b"}, actor=ACTOR)
