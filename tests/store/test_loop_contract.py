"""The loop contract, on SQLite and PostgreSQL: actions move step by step by compare-and-set; quarantines."""

from __future__ import annotations

import math

import pytest
from tests.store.conftest import Clock

from driftloop.errors import Conflict, InvalidInput, NotFound
from driftloop.store.metadata import LoopRepository, MetadataStore


@pytest.fixture
def loop(store: MetadataStore, clock: Clock) -> LoopRepository:
    return LoopRepository(store.database, clock=clock)


def test_an_action_moves_through_its_steps_and_keeps_its_evidence_and_cost(
    loop: LoopRepository, store: MetadataStore, clock: Clock
) -> None:
    action = loop.start(
        "houses-loop", "houses", trigger="data_drift", action="retrain", champion_version=1, evidence={"share": 0.6}
    )
    assert (action.state, action.started_at, action.finished, action.challenger_version) == (
        "started",
        clock.now,
        False,
        None,
    )
    clock.advance(5)
    trained = loop.advance(
        action.id, expected="started", state="trained", challenger_version=2, cost={"train": {"wall_seconds": 4.2}}
    )
    assert trained.challenger_version == 2 and trained.updated_at == clock.now and trained.finished_at is None
    clock.advance(1)
    done = loop.advance(trained.id, expected="trained", state="promoted", evidence={"gates": "passed", "nan": math.nan})
    assert done.finished and done.finished_at == clock.now
    assert done.evidence == {"share": 0.6, "gates": "passed", "nan": None}
    assert done.cost == {"train": {"wall_seconds": 4.2}}
    assert loop.unfinished() == [] and loop.list(model="houses") == [done]
    events = store.events.list(object_type="loop_action", object_id=action.id)
    assert [event.action for event in events] == ["loop.promoted", "loop.trained", "loop.started"]
    assert events[1].details["cost"] == {"train": {"wall_seconds": 4.2}} and events[1].details["from"] == "started"
    assert events[2].details["evidence"] == {"share": 0.6} and events[0].actor == "loop"


def test_a_step_expecting_another_state_is_a_conflict(loop: LoopRepository) -> None:
    action = loop.start("p", "houses", trigger="schedule", action="retrain", champion_version=None)
    loop.advance(action.id, expected="started", state="failed", error="no labels yet")
    with pytest.raises(Conflict, match="failed, not started"):
        loop.advance(action.id, expected="started", state="trained")
    assert loop.get(action.id).error == "no labels yet"
    with pytest.raises(NotFound):
        loop.advance(999, expected="started", state="trained")
    with pytest.raises(InvalidInput):
        loop.advance(action.id, expected="started", state="exploded")  # type: ignore[arg-type]


def test_unfinished_actions_are_listed_oldest_first_per_policy(loop: LoopRepository) -> None:
    first = loop.start("a", "houses", trigger="data_drift", action="retrain", champion_version=1)
    second = loop.start("b", "flats", trigger="schedule", action="retrain", champion_version=1)
    loop.start("a", "houses", trigger="data_drift", action="retrain", champion_version=1)
    loop.advance(first.id, expected="started", state="trained", challenger_version=2)
    assert [action.id for action in loop.unfinished()] == [first.id, second.id, second.id + 1]
    assert [action.policy for action in loop.unfinished("b")] == ["b"]
    assert [action.id for action in loop.list(policy="a", limit=1)] == [second.id + 1]


def test_quarantines_are_kept_by_model_and_checked(loop: LoopRepository, store: MetadataStore, clock: Clock) -> None:
    later = loop.quarantine("houses", 200.0, 300.0, reason="area missing in 33% of rows")
    earlier = loop.quarantine("houses", 100.0, 150.0, reason="area in square feet", action_id=7)
    loop.quarantine("flats", 0.0, 1.0, reason="x")
    assert loop.quarantines("houses") == [earlier, later]
    (event, *_) = store.events.list(object_type="model", object_id="houses", action="loop.quarantined")
    assert event.details["reason"] == "area in square feet" and event.details["action_id"] == 7
    assert earlier.action_id == 7 and earlier.created_at == clock.now
    with pytest.raises(InvalidInput, match="end after"):
        loop.quarantine("houses", 10.0, 5.0, reason="backwards")
    with pytest.raises(InvalidInput, match="window_start"):
        loop.quarantine("houses", math.inf, 5.0, reason="endless")
