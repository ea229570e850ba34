"""The online action: a River champion learns the labels that arrived, in arrival order, test-then-train; each
checkpoint is a gated model version, and the next one starts with the rows the last one held out."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from tests.loop.conftest import market, nullable_area, policy, serve

from driftloop import Workspace
from driftloop.errors import InvalidInput
from driftloop.loop import policies_from_dict
from driftloop.loop._controller import LoopController
from driftloop.serving import ServerSettings, create_app

ONLINE = {
    "triggers": [{"new_labels": {"min": 300}}],
    "action": {"online": {}},
    "gates": ["mape beats champion by -0.05"],  # a checkpoint may be up to 5% worse than the one it follows
    "cooldown": 0,
}


@pytest.fixture
def river_ws(sqlite_workspace: Workspace) -> Workspace:
    sales = market(1_000, 0).drop(columns=["sale_id"])
    sqlite_workspace.datasets.ingest("sales", sales, schema=nullable_area(sales))
    sqlite_workspace.training.train(
        "sales", "price", algorithms="river_hoeffding_tree", folds=2, register="houses", promote=True
    )
    return sqlite_workspace


@pytest.fixture
def river_client(river_ws: Workspace) -> Iterator[TestClient]:
    app = create_app(river_ws, ServerSettings(models=["houses"], monitor_interval=0, upkeep_interval=0))
    with TestClient(app) as client:
        client.app_state = app.state  # type: ignore[attr-defined]
        yield client


def test_the_champion_learns_arrived_labels_and_each_checkpoint_is_a_gated_version(
    river_ws: Workspace, river_client: TestClient
) -> None:
    ws = river_ws
    controller = LoopController(ws, [policy(**ONLINE)], label_settle=0.0)
    serve(river_client, market(200, 1, scale=1.6), ws)
    (quiet,) = controller.tick()
    assert quiet.status == "quiet"  # 200 labels arrived: fewer than the trigger's 300

    serve(river_client, market(400, 2, scale=1.6), ws)  # prices up 60%: the served model is now far off
    (first,) = controller.tick()
    assert first.status == "promoted", first
    action = first.action
    assert action is not None and action.action == "online" and action.trigger == "new_labels"
    assert first.evidence["labels"] == 600
    online = action.evidence["online"]
    assert (online["learnt_rows"], online["holdout_rows"]) == (480, 120)
    # Learning as the labels arrive beats what the servers answered on the same rows.
    assert online["test_then_train"]["mape"] < online["served"]["mape"]
    checkpoint = ws.models.get("houses@champion")
    assert checkpoint.number == 2 and checkpoint.flavour == "river"
    assert (checkpoint.dataset, checkpoint.dataset_version) == ("houses-window", 1)
    assert "online: learnt 480" in checkpoint.description

    # The next checkpoint learns the 120 held-out rows first, then the new arrivals.
    serve(river_client, market(300, 3, scale=1.6), ws)
    (second,) = controller.tick()
    assert second.status in ("promoted", "rejected"), second
    assert second.action is not None and second.action.evidence["window"]["rows"] == 420
    window = ws.datasets.get("houses-window").to_pandas()
    assert set(window["request_id"]) >= {f"s2-{i}" for i in range(280, 400)}  # the held-out rows of the first
    assert not set(window["request_id"]) & {f"s2-{i}" for i in range(280)}  # rows learnt already: not again

    (nothing,) = controller.tick()
    assert nothing.status == "quiet"  # no label arrived since


def test_a_rejected_checkpoint_leaves_its_labels_to_the_next_attempt(
    river_ws: Workspace, river_client: TestClient
) -> None:
    ws = river_ws
    strict = policy(**{**ONLINE, "gates": ["mape <= 0.0001"]})  # no checkpoint can pass
    controller = LoopController(ws, [strict], label_settle=0.0)
    serve(river_client, market(400, 1, scale=1.6), ws)
    (first,) = controller.tick()
    assert first.status == "rejected" and ws.models.get("houses@champion").number == 1
    serve(river_client, market(300, 2, scale=1.6), ws)
    (second,) = controller.tick()
    assert second.status == "rejected" and second.evidence["labels"] == 700  # the first 400 again, and 300 new
    assert second.action is not None and second.action.evidence["window"]["rows"] == 700
    assert len(ws.models.versions("houses")) == 1  # nothing half-registered


def test_an_online_policy_needs_a_river_champion(ws: Workspace) -> None:
    spec = {"name": "online", "model": "houses", **ONLINE}
    with pytest.raises(InvalidInput, match="online learning needs a River model"):
        policies_from_dict({"policies": [spec]}, ws)  # the fixture's champion is a LightGBM model


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"triggers": [{"new_labels": {"min": 0}}]}, "min must be >= 1"),
        ({"action": {"online": {"min_rows": 0}}}, "min_rows must be >= 1"),
        ({"action": {"online": {"window": 500}}}, "unknown options"),
    ],
)
def test_bad_online_options_are_refused_at_load_time(change: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        policy(**{**ONLINE, **change})
