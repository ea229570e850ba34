"""The label queue contract, on SQLite and PostgreSQL: idempotent queueing, pending order, answers, the budget."""

from __future__ import annotations

import math

import pytest
from tests.store.conftest import Clock

from driftloop.errors import InvalidInput, InvalidName
from driftloop.store.metadata import LabelRequestRepository, MetadataStore, NewLabelRequest


@pytest.fixture
def queue(store: MetadataStore, clock: Clock) -> LabelRequestRepository:
    return LabelRequestRepository(store.database, clock=clock)


def item(request_id: str, score: float = 0.5, **overrides: object) -> NewLabelRequest:
    fields: dict[str, object] = {
        "request_id": request_id,
        "score": score,
        "strategy": "margin",
        "version": 3,
        "inputs": {"area": 75.0, "district": "north"},
        "prediction": "yes",
        **overrides,
    }
    return NewLabelRequest(**fields)  # type: ignore[arg-type]


def test_queued_requests_keep_what_the_labeller_sees(
    queue: LabelRequestRepository, store: MetadataStore, clock: Clock
) -> None:
    queued = queue.request("houses", [item("r1", 0.4), item("r2", 0.9, inputs={"area": math.nan}, prediction=1.5)])
    assert [(q.request_id, q.score, q.version, q.requested_at, q.answered) for q in queued] == [
        ("r1", 0.4, 3, clock.now, False),
        ("r2", 0.9, 3, clock.now, False),
    ]
    assert queued[0].inputs == {"area": 75.0, "district": "north"} and queued[0].prediction == "yes"
    assert queued[1].inputs == {"area": None} and queued[1].prediction == 1.5  # NaN is no JSON number
    (event,) = store.events.list(object_type="model", object_id="houses")
    assert event.action == "labels.requested" and event.details == {"count": 2, "strategies": ["margin"]}


def test_a_request_id_queued_twice_stays_one_row(queue: LabelRequestRepository, clock: Clock) -> None:
    assert len(queue.request("houses", [item("r1", 0.4), item("r1", 0.8)])) == 1  # twice in one call
    clock.advance(60)
    again = queue.request("houses", [item("r1", 0.9, strategy="entropy"), item("r2", 0.1)])
    assert [q.request_id for q in again] == ["r2"]
    (first,) = [q for q in queue.pending() if q.request_id == "r1"]
    assert (first.score, first.strategy, first.requested_at) == (0.4, "margin", clock.now - 60)
    assert queue.request("houses", []) == []


def test_pending_lists_the_most_informative_first_per_model(queue: LabelRequestRepository) -> None:
    queue.request("houses", [item("a", 0.2), item("b", 0.7), item("c", 0.7)])
    queue.request("flats", [item("d", 0.9)])
    assert [q.request_id for q in queue.pending()] == ["d", "b", "c", "a"]
    assert [q.request_id for q in queue.pending("houses", limit=2)] == ["b", "c"]
    assert queue.pending("castles") == []
    with pytest.raises(InvalidInput, match="limit"):
        queue.pending(limit=0)
    with pytest.raises(InvalidName):
        queue.pending("a/b")


def test_answers_leave_the_queue_and_a_second_answer_is_a_correction(
    queue: LabelRequestRepository, store: MetadataStore, clock: Clock
) -> None:
    queue.request("houses", [item("r1", 0.4), item("r2", 0.9)])
    clock.advance(10)
    (answered,) = queue.answered(["r2", "never-queued"], source="label_queue")
    assert (answered.request_id, answered.answered_at, answered.answer_source, answered.answers) == (
        "r2",
        clock.now,
        "label_queue",
        1,
    )
    assert [q.request_id for q in queue.pending()] == ["r1"]
    clock.advance(5)
    (corrected,) = queue.answered(["r2"], source="feedback", at=clock.now + 1)
    assert corrected.answers == 2 and corrected.answered_at == clock.now + 1 and corrected.answer_source == "feedback"
    assert set(queue.find(["r1", "r2", "r3"])) == {"r1", "r2"}
    actions = [event.action for event in store.events.list(object_type="model", object_id="houses")]
    assert actions == ["labels.answered", "labels.answered", "labels.requested"]
    assert queue.answered(["nobody"], source="label_queue") == []
    with pytest.raises(InvalidInput, match="source"):
        queue.answered(["r1"], source="")


def test_the_budget_counts_requests_queued_since_a_moment(queue: LabelRequestRepository, clock: Clock) -> None:
    queue.request("houses", [item("r1", 0.4), item("r2", 0.5)])
    clock.advance(3_600)
    queue.request("houses", [item("r3", 0.6)])
    queue.request("flats", [item("r4", 0.6)])
    (replayed,) = queue.request("houses", [item("r5", 0.6)], at=clock.now - 90_000)  # a replay's own clock
    assert replayed.requested_at == clock.now - 90_000
    assert queue.count_requested("houses", since=clock.now - 86_400) == 3
    assert queue.count_requested("houses", since=clock.now) == 1
    assert queue.count_requested("castles", since=0) == 0


def test_many_request_ids_are_queued_and_found_past_one_query(queue: LabelRequestRepository) -> None:
    items = [item(f"r{index}", index / 3_000) for index in range(2_500)]
    assert len(queue.request("houses", items)) == 2_500
    assert len(queue.find([f"r{index}" for index in range(2_600)])) == 2_500
    assert len(queue.answered([f"r{index}" for index in range(1_200)], source="label_queue")) == 1_200
    assert len(queue.pending(limit=5_000)) == 1_300


@pytest.mark.parametrize(
    ("bad", "message"),
    [
        ({"request_id": ""}, "request id"),
        ({"score": math.nan}, "score"),
        ({"score": True}, "score"),
        ({"strategy": ""}, "strategy"),
        ({"version": "3"}, "version"),
    ],
)
def test_a_bad_item_queues_nothing(queue: LabelRequestRepository, bad: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        queue.request("houses", [item("ok"), item(**{"request_id": "r2", **bad})])  # type: ignore[arg-type]
    assert queue.pending() == []
