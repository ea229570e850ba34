"""Search over 10,000 runs: the SQL the filter language compiles to agrees with a plain Python reading
of the same filter, on every backend; plus best run and comparisons through the service."""

from __future__ import annotations

import random
import time
import uuid
from typing import Any

import pytest
import sqlalchemy as sa
from tests.conftest import stores_of

from driftloop import Workspace
from driftloop.errors import InvalidFilter, NotFound
from driftloop.filtering import And, Comparison, Expression, Not, Or, parse_filter
from driftloop.store.metadata._schema import metrics, params, runs, tags

RUNS = 10_000
MODELS = ["lgbm", "xgb", "ridge", "mlp"]


def _generate(workspace: Workspace) -> list[dict[str, Any]]:
    """10,000 runs written in bulk (the fluent API would spend minutes on bookkeeping the search never reads)."""
    rng = random.Random(20261127)
    experiment_id = workspace.tracking.create_experiment("search").id
    rows, param_rows, tag_rows, metric_rows, truth = [], [], [], [], []
    for index in range(RUNS):
        run_id = uuid.uuid4().hex
        model = rng.choice(MODELS)
        lr = rng.choice(["0.001", "0.01", "0.1", "0.3"])
        rmse = round(rng.uniform(1, 5), 3) if rng.random() > 0.05 else None
        status = rng.choice(["finished", "failed", "running"])
        team = rng.choice(["core", "growth"])
        start = 1_700_000_000.0 + index
        rows.append(
            {
                "id": run_id,
                "experiment_id": experiment_id,
                "name": f"run-{index}",
                "status": status,
                "start_time": start,
                "user": "gen",
                "lifecycle": "active",
                "python_version": "",
                "platform": "",
                "hostname": "",
                "command": "",
                "packages": "{}",
            }
        )
        param_rows += [
            {"run_id": run_id, "key": "model", "value": model, "value_number": None},
            {"run_id": run_id, "key": "lr", "value": lr, "value_number": float(lr)},
        ]
        tag_rows.append({"run_id": run_id, "key": "team", "value": team, "value_number": None})
        if rmse is not None:
            metric_rows.append(
                {
                    "run_id": run_id,
                    "key": "rmse",
                    "last_value": rmse,
                    "last_step": 0,
                    "last_timestamp": start,
                    "count": 1,
                    "min_value": rmse,
                    "max_value": rmse,
                }
            )
        truth.append(
            {
                "id": run_id,
                "name": f"run-{index}",
                "status": status,
                "start_time": start,
                "params": {"model": model, "lr": lr},
                "tags": {"team": team},
                "metrics": {} if rmse is None else {"rmse": rmse},
            }
        )
    with stores_of(workspace).metadata.database.write() as conn:
        for table, data in ((runs, rows), (params, param_rows), (tags, tag_rows), (metrics, metric_rows)):
            conn.execute(table.insert(), data)
    return truth


def _matches(run: dict[str, Any], expression: Expression) -> bool:
    """The reference meaning of a filter, in plain Python."""
    if isinstance(expression, And):
        return all(_matches(run, item) for item in expression.items)
    if isinstance(expression, Or):
        return any(_matches(run, item) for item in expression.items)
    if isinstance(expression, Not):
        return not _matches(run, expression.item)
    assert isinstance(expression, Comparison)
    field, op, value = expression.field, expression.op, expression.value
    if field.kind == "attribute":
        actual: Any = run[field.key]
    else:
        group = {"metric": "metrics", "param": "params", "tag": "tags"}[field.kind]
        actual = run[group].get(field.key)
        if op == "is null":
            return actual is None
        if op == "is not null":
            return actual is not None
        if actual is None:
            return False
        if field.kind != "metric" and not isinstance(value, str | tuple):
            actual = float(actual)
    if op == "like":
        return _like(actual, value)
    if op == "in":
        return actual in value  # type: ignore[operator]
    return {
        "=": actual == value,
        "!=": actual != value,
        "<": actual < value,
        "<=": actual <= value,
        ">": actual > value,
        ">=": actual >= value,
    }[op]


def _like(actual: str, pattern: str) -> bool:
    import re

    return re.fullmatch(re.escape(pattern).replace("%", ".*").replace("_", "."), actual) is not None


FILTERS = [
    "metrics.rmse < 3",
    "metrics.rmse < 3 and params.model = 'lgbm'",
    "params.model = 'ridge' or params.model = 'mlp'",
    "params.lr <= 0.01 and not status = 'failed'",
    "(metrics.rmse >= 2.5 and metrics.rmse < 2.6) or tags.team = 'growth' and params.lr = 0.3",
    "metrics.rmse is null",
    "params.model in ('xgb', 'mlp') and status != 'running'",
    "name like 'run-99%'",
    "start_time >= 1700009000 and metrics.rmse > 4.9",
]


@pytest.mark.slow
def test_search_over_ten_thousand_runs_matches_the_reference(workspace: Workspace) -> None:
    truth = _generate(workspace)
    for text in FILTERS:
        expression = parse_filter(text)
        assert expression is not None
        expected = {run["id"] for run in truth if _matches(run, expression)}
        started = time.perf_counter()
        found = workspace.tracking.search_runs("search", filter=text, limit=None)
        elapsed = time.perf_counter() - started
        assert {run.id for run in found} == expected, text
        assert elapsed < 30, f"{text}: {elapsed:.1f} s"
    ordered = workspace.tracking.search_runs("search", filter="metrics.rmse < 1.2", order_by="metrics.rmse")
    values = [run.metric("rmse") for run in ordered]
    assert values == sorted(values) and values
    best = workspace.tracking.best_run("search", "rmse", filter="params.model = 'lgbm'")
    lowest = min(r["metrics"]["rmse"] for r in truth if r["params"]["model"] == "lgbm" and r["metrics"])
    assert best.metric("rmse") == lowest
    assert workspace.tracking.best_run("search", "rmse", mode="max").metric("rmse") == max(
        r["metrics"]["rmse"] for r in truth if r["metrics"]
    )
    page = workspace.tracking.search_runs("search", limit=100, offset=100)
    assert [r.name for r in page] == [f"run-{i}" for i in range(RUNS - 101, RUNS - 201, -1)]


def test_bad_filters_name_the_column(sqlite_workspace: Workspace) -> None:
    with pytest.raises(InvalidFilter, match="column 16") as caught:
        sqlite_workspace.tracking.search_runs(filter="metrics.rmse < and params.x = 1")
    assert "^" in str(caught.value)
    with pytest.raises(InvalidFilter):
        sqlite_workspace.tracking.search_runs(order_by="metrics.rmse sideways")


def test_best_run_and_compare(workspace: Workspace) -> None:
    ids = []
    for model, rmse in (("lgbm", 2.0), ("ridge", 3.0)):
        with workspace.start_run("cmp", params={"model": model, "seed": 1}) as run:
            run.log_metric("rmse", rmse)
        ids.append(run.id)
    assert workspace.tracking.best_run("cmp", "rmse").id == ids[0]
    assert workspace.tracking.best_run("cmp", "rmse", mode="max").id == ids[1]
    comparison = workspace.tracking.compare_runs(ids)
    assert comparison.params == {"model": ("lgbm", "ridge"), "seed": ("1", "1")}
    assert comparison.differing_params() == {"model": ("lgbm", "ridge")}
    assert comparison.metrics == {"rmse": (2.0, 3.0)}
    with pytest.raises(NotFound, match="has logged the metric 'auc'"):
        workspace.tracking.best_run("cmp", "auc")
    with pytest.raises(NotFound, match="No experiment"):
        workspace.tracking.search_runs("missing")


def test_the_search_sql_is_bounded(sqlite_workspace: Workspace) -> None:
    """A filter compiles to one query; the run loading adds a fixed number per 5,000 runs."""
    statements: list[str] = []
    engine = sqlite_workspace.metadata.database.engine
    sa.event.listen(engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with sqlite_workspace.start_run("q") as run:
        run.log_metric("rmse", 1.0)
    statements.clear()
    sqlite_workspace.tracking.search_runs("q", filter="metrics.rmse < 3 and params.x = 'y' or tags.a = 'b'")
    assert len([s for s in statements if s.lstrip().upper().startswith("SELECT")]) <= 8
