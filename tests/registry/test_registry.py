"""The registry service: register, load by reference, aliases with history, gates on identical rows."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from driftloop import Workspace
from driftloop.entities import TrafficPolicy
from driftloop.errors import BlobIntegrityError, Conflict, GateFailed, InvalidInput, InvalidName, InvalidState, NotFound


@pytest.fixture
def workspace(service_workspace: Workspace) -> Workspace:
    """The registry's contract: on SQLite, PostgreSQL, and through a workspace server."""
    return service_workspace


def houses(rows: int = 400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    area = rng.uniform(30, 200, rows)
    rooms = rng.integers(1, 6, rows).astype(float)
    price = 3.0 * area + 10.0 * rooms + rng.normal(0, 5, rows)
    return pd.DataFrame({"area": area, "rooms": rooms, "price": price})


def fitted(frame: pd.DataFrame, estimator: object | None = None) -> object:
    model = estimator if estimator is not None else make_pipeline(StandardScaler(), Ridge(alpha=1.0))
    model.fit(frame[["area", "rooms"]], frame["price"])  # type: ignore[attr-defined]
    return model


def test_register_load_and_references(workspace: Workspace) -> None:
    train, holdout = houses(300), houses(100, seed=1)
    first = workspace.models.register("houses", fitted(train), target="price", holdout=holdout, training_data=train)
    assert first.reference == "houses/1" and first.flavour == "sklearn" and first.task == "regression"
    assert first.metrics["r2"] > 0.95 and {"rmse", "mae", "mape", "r2"} <= set(first.metrics)
    assert first.signature["inputs"]["columns"][0]["name"] == "area"
    assert first.profile_digest is not None
    second = workspace.models.register("houses", fitted(train, LinearRegression()), target="price", holdout=holdout)
    assert second.number == 2
    workspace.models.set_alias("houses", "champion", 1, reason="first")
    model = workspace.models.load("houses@champion")
    expected = fitted(train).predict(holdout[["area", "rooms"]])  # type: ignore[attr-defined]
    np.testing.assert_allclose(model.predict(holdout[["area", "rooms"]]), expected)
    assert workspace.models.get("houses").number == 2
    assert workspace.models.get("models:/houses/1").number == 1
    assert workspace.models.get("houses@latest").number == 2
    pd.testing.assert_frame_equal(workspace.models.holdout("houses/1"), holdout.reset_index(drop=True))
    with pytest.raises(NotFound, match="no version 9"):
        workspace.models.load("houses/9")
    with pytest.raises(NotFound, match="no alias 'staging'"):
        workspace.models.load("houses@staging")
    with pytest.raises(InvalidInput, match="not one of NAME"):
        workspace.models.get("houses@a@b")


def test_a_river_model_registers_loads_and_predicts_as_it_learned(workspace: Workspace) -> None:
    from river import compose, linear_model, preprocessing

    train, holdout = houses(300), houses(60, seed=1)
    model = compose.Pipeline(preprocessing.StandardScaler(), linear_model.LinearRegression())
    for row, price in zip(train[["area", "rooms"]].to_dict(orient="records"), train["price"], strict=True):
        model.learn_one(row, price)
    info = workspace.models.register("online", model, target="price", holdout=holdout)
    assert info.flavour == "river" and "rmse" in info.metrics
    loaded = workspace.models.load("online/1")
    rows = holdout[["area", "rooms"]].head(10)
    expected = [model.predict_one(row) for row in rows.to_dict(orient="records")]
    np.testing.assert_allclose(loaded.predict(rows), expected)


def test_a_river_manifest_packaged_elsewhere_is_adopted_only_when_its_sender_may_run_code(
    sqlite_workspace: Workspace,
) -> None:
    from river import linear_model

    from driftloop.errors import PermissionDenied
    from driftloop.registry import Manifest
    from driftloop.registry._flavours import package_model

    model = linear_model.LinearRegression()
    model.learn_one({"area": 1.0}, 3.0)
    manifest = package_model(model, put=sqlite_workspace.blobs.put, signing_key=b"another workspace key")
    unsigned = Manifest.from_json(json.dumps({**json.loads(manifest.to_json()), "signature": ""}))
    with pytest.raises(PermissionDenied, match="admin role"):
        sqlite_workspace.models.register("online", unsigned)
    assert sqlite_workspace.models.list() == []
    info = sqlite_workspace.models.register("online", unsigned, adopt_pickle=True)
    assert sqlite_workspace.models.load(info.reference).predict(pd.DataFrame({"area": [1.0]}))[0] == pytest.approx(
        model.predict_one({"area": 1.0})
    )


def test_registration_inside_a_run_records_the_run_and_dataset(sqlite_workspace: Workspace) -> None:
    import driftloop

    frame = houses()
    sqlite_workspace.datasets.ingest("houses", frame)
    with driftloop.start_run("price") as run:
        data = sqlite_workspace.datasets.get("houses").to_pandas()
        info = sqlite_workspace.models.register("houses", fitted(data), dataset="houses")
    assert info.run_id == run.id
    assert (info.dataset, info.dataset_version) == ("houses", 1)
    # The signature comes from the dataset's data schema: types and inferred ranges of the features.
    columns = {c["name"]: c for c in info.signature["inputs"]["columns"]}
    assert set(columns) == {"area", "rooms"}
    assert columns["area"]["minimum"] == pytest.approx(frame["area"].min())


def test_failed_registration_leaves_no_version(workspace: Workspace) -> None:
    train = houses()
    with pytest.raises(InvalidInput):
        workspace.models.register("houses", object())
    with pytest.raises(InvalidInput, match="target"):
        workspace.models.register("houses", fitted(train), holdout=train)
    with pytest.raises(GateFailed, match=r"r2 .* >= 0\.999"):
        workspace.models.register("houses", fitted(train), target="price", holdout=houses(50, 3), gates=["r2 >= 0.999"])
    with pytest.raises(NotFound):
        workspace.models.model("houses")
    assert workspace.events.list(object_type="model") == []


def test_promotion_gate_scores_the_champion_on_identical_rows(workspace: Workspace) -> None:
    train, holdout = houses(300), houses(120, seed=2)
    weak = make_pipeline(StandardScaler(), Ridge(alpha=1000.0))
    workspace.models.register("houses", fitted(train, weak), target="price", holdout=holdout, training_data=train)
    workspace.models.promote("houses/1", reason="first model")
    strong = workspace.models.register(
        "houses",
        fitted(train),
        target="price",
        holdout=holdout,
        training_data=train,
        gates=["rmse beats champion by 1"],
    )
    report = workspace.models.check_gates(strong.reference)
    assert report is not None and report.passed
    move = workspace.models.promote(strong.reference, reason="better")
    assert (move.from_version, move.to_version) == (1, 2)
    assert "gates" in move.evidence
    # The weak model cannot come back through the gate: it loses to the champion on the same rows.
    with pytest.raises(GateFailed, match="does not beat the champion"):
        workspace.models.promote("houses/1", gates=["rmse beats champion by 0"])
    assert workspace.models.model("houses").aliases == {"champion": 2}
    scored = workspace.models.compare("houses/2", "houses/1")
    assert scored["rows"] == len(holdout)
    assert scored["houses/2"]["rmse"] < scored["houses/1"]["rmse"]


def test_rollback_returns_to_the_previous_champion_with_history(workspace: Workspace) -> None:
    train = houses()
    for _ in range(3):
        workspace.models.register("houses", fitted(train))
    workspace.models.promote("houses/1")
    workspace.models.promote("houses/3", reason="new data")
    move = workspace.models.rollback("houses", reason="live error up")
    assert (move.from_version, move.to_version, move.reason) == (3, 1, "live error up")
    history = workspace.models.history("houses", "champion")
    assert [(m.from_version, m.to_version) for m in history] == [(None, 1), (1, 3), (3, 1)]
    assert history[-1].actor == "tester"
    with pytest.raises(InvalidState, match="no earlier version"):
        workspace.models.rollback("houses")
    actions = [e.action for e in workspace.events.list(object_type="model", object_id="houses", limit=20)]
    assert actions.count("model.alias") == 3 and actions.count("model.register") == 3


def test_a_deployer_sets_the_traffic_a_model_s_servers_follow(workspace: Workspace) -> None:
    workspace.models.register("houses", fitted(houses()))
    assert workspace.models.traffic("houses").policy == TrafficPolicy()
    changed = workspace.models.set_traffic("houses", canary=0.2, shadow=True, challenger="blue", reason="try blue")
    assert changed.policy == TrafficPolicy(canary=0.2, shadow=True, challenger="blue")
    assert (changed.updated_by, changed.reason) == ("tester", "try blue")
    assert workspace.models.traffic("houses") == changed
    with pytest.raises(Conflict, match="changed it meanwhile"):
        workspace.models.set_traffic("houses", canary=0.5, expected=TrafficPolicy())
    assert workspace.models.set_traffic("houses", expected=changed.policy).policy == TrafficPolicy()
    events = [e for e in workspace.events.list(object_type="model", object_id="houses") if e.action == "model.traffic"]
    assert [e.details["after"]["canary"] for e in events] == [0.0, 0.2] and {e.actor for e in events} == {"tester"}


@pytest.mark.parametrize(
    ("change", "error", "message"),
    [
        ({"canary": 1.5}, InvalidInput, r"canary share must be a number in \[0, 1\]"),
        ({"canary": -0.1}, InvalidInput, r"canary share must be a number in \[0, 1\]"),
        ({"canary": True}, InvalidInput, "canary share"),
        ({"shadow": "yes"}, InvalidInput, "shadow switch must be true or false"),
        ({"challenger": "../champion"}, InvalidName, "path separator"),
    ],
)
def test_a_bad_traffic_change_is_refused_and_changes_nothing(
    workspace: Workspace, change: dict[str, object], error: type[Exception], message: str
) -> None:
    workspace.models.register("houses", fitted(houses()))
    with pytest.raises(error, match=message):
        workspace.models.set_traffic("houses", **change)  # type: ignore[arg-type]
    assert workspace.models.traffic("houses").updated_at is None
    with pytest.raises(NotFound, match="nope"):
        workspace.models.set_traffic("nope", canary=0.1)


def test_an_altered_model_file_is_refused_on_load(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    info = sqlite_workspace.models.register("houses", fitted(houses()))
    manifest = sqlite_workspace.models.manifest(info)
    part = manifest.parts[0]
    blob = next((tmp_path / "ws").rglob(part.digest[2:]))
    blob.chmod(0o644)
    blob.write_bytes(blob.read_bytes()[:-1] + b"!")
    with pytest.raises(BlobIntegrityError):
        sqlite_workspace.models.load("houses/1")


def test_diff_lists_metric_changes(workspace: Workspace) -> None:
    train, holdout = houses(), houses(80, seed=5)
    workspace.models.register(
        "houses", fitted(train, make_pipeline(StandardScaler(), Ridge(alpha=500.0))), target="price", holdout=holdout
    )
    workspace.models.register("houses", fitted(train), target="price", holdout=holdout)
    diff = workspace.models.diff("houses/1", "houses/2")
    assert diff["metrics"]["rmse"]["change"] < 0
    assert diff["columns_added"] == [] and diff["columns_removed"] == []


def test_garbage_collection_keeps_every_file_of_a_version(sqlite_workspace: Workspace) -> None:
    train, holdout = houses(), houses(60, seed=4)
    sqlite_workspace.models.register("houses", fitted(train), target="price", holdout=holdout, training_data=train)
    report = sqlite_workspace.gc(grace_period=0)
    assert report.blobs_removed == 0, report.removed_digests
    model = sqlite_workspace.models.load("houses/1")
    assert len(model.predict(holdout[["area", "rooms"]])) == len(holdout)
    assert len(sqlite_workspace.models.holdout("houses/1")) == len(holdout)
