"""The model registry's metadata contract, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading

import pytest

from driftloop.entities import TrafficPolicy
from driftloop.errors import Conflict, NotFound
from driftloop.store.metadata import MetadataStore, NewModelVersion

ACTOR = "contract"


def new_version(store: MetadataStore, name: str = "houses", **fields: object) -> int:
    values: dict[str, object] = {"manifest_digest": "a" * 64, "flavour": "sklearn", "task": "regression"}
    values.update(fields)
    return store.models.create_version(name, NewModelVersion(**values), actor=ACTOR).number  # type: ignore[arg-type]


def test_versions_are_numbered_from_one_and_read_back(store: MetadataStore) -> None:
    first = store.models.create_version(
        "houses",
        NewModelVersion(
            manifest_digest="b" * 64,
            flavour="lightgbm",
            task="regression",
            run_id="r" * 32,
            dataset="houses",
            dataset_version=3,
            signature={"columns": [{"name": "area", "type": "float64"}]},
            metrics={"rmse": 1.5},
            evaluation={"holdout_fingerprint": "f" * 64, "blobs": {"holdout": "c" * 64}},
            profile_digest="d" * 64,
        ),
        actor=ACTOR,
    )
    assert first.number == 1 and first.reference == "houses/1"
    assert new_version(store) == 2
    again = store.models.version("houses", 1)
    assert again == first
    assert again.metrics == {"rmse": 1.5} and again.dataset_version == 3
    assert store.models.version("houses").number == 2
    assert [v.number for v in store.models.versions("houses")] == [1, 2]
    assert store.models.get("houses").latest_version == 2
    assert store.models.referenced_digests() == {"a" * 64, "b" * 64, "c" * 64, "d" * 64}
    actions = [event.action for event in store.events.list(object_type="model", object_id="houses")]
    assert actions == ["model.register", "model.register", "model.create"]


def test_missing_models_and_versions_are_not_found(store: MetadataStore) -> None:
    with pytest.raises(NotFound, match="No registered model named 'nope'"):
        store.models.get("nope")
    new_version(store)
    with pytest.raises(NotFound, match="has no version 7"):
        store.models.version("houses", 7)
    with pytest.raises(NotFound, match="has no version 7"):
        store.models.set_alias("houses", "champion", 7, actor=ACTOR)
    with pytest.raises(NotFound, match="no alias 'champion'"):
        store.models.alias_target("houses", "champion")


def test_alias_moves_are_recorded_with_who_and_why(store: MetadataStore) -> None:
    for _ in range(3):
        new_version(store)
    store.models.set_alias("houses", "champion", 1, actor="alice", reason="first model")
    store.models.set_alias("houses", "champion", 3, actor="bob", reason="beats v1", evidence={"rmse": [2.0, 1.5]})
    store.models.set_alias("houses", "challenger", 2, actor="bob")
    assert store.models.alias_target("houses", "champion") == 3
    assert store.models.get("houses").aliases == {"challenger": 2, "champion": 3}
    assert store.models.version("houses", 3).aliases == ("champion",)
    history = store.models.alias_history("houses", "champion")
    assert [(m.from_version, m.to_version, m.actor, m.reason) for m in history] == [
        (None, 1, "alice", "first model"),
        (1, 3, "bob", "beats v1"),
    ]
    assert history[1].evidence == {"rmse": [2.0, 1.5]}
    removed = store.models.set_alias("houses", "challenger", None, actor="bob", reason="done")
    assert (removed.from_version, removed.to_version) == (2, None)
    assert store.models.get("houses").aliases == {"champion": 3}


def test_a_stale_expected_version_refuses_the_move(store: MetadataStore) -> None:
    new_version(store)
    new_version(store)
    store.models.set_alias("houses", "champion", 1, actor=ACTOR, expected=None)
    with pytest.raises(Conflict, match="points at version 1 now, not 2"):
        store.models.set_alias("houses", "champion", 1, actor=ACTOR, expected=2)
    store.models.set_alias("houses", "champion", 2, actor=ACTOR, expected=1)
    assert store.models.alias_target("houses", "champion") == 2


def test_a_model_s_traffic_is_stored_with_who_and_why_and_each_change_is_an_event(store: MetadataStore) -> None:
    new_version(store)
    unset = store.models.traffic("houses")
    assert unset.policy == TrafficPolicy() and unset.updated_at is None and unset.updated_by is None
    canary = TrafficPolicy(canary=0.25, challenger="blue")
    changed = store.models.set_traffic("houses", canary, actor="dora", reason="a quarter to blue")
    assert store.models.traffic("houses") == changed
    assert changed.policy == canary and changed.updated_by == "dora" and changed.reason == "a quarter to blue"
    store.models.set_traffic("houses", TrafficPolicy(shadow=True), actor="dora", expected=canary)
    assert store.models.traffic("houses").policy == TrafficPolicy(shadow=True)
    events = [e for e in store.events.list(object_type="model", object_id="houses") if e.action == "model.traffic"]
    assert [(e.actor, e.details["before"]["canary"], e.details["after"]["canary"]) for e in reversed(events)] == [
        ("dora", 0.0, 0.25),
        ("dora", 0.25, 0.0),
    ]
    assert events[-1].details["after"]["challenger"] == "blue" and events[-1].details["reason"] == "a quarter to blue"


def test_a_stale_expected_traffic_refuses_the_change(store: MetadataStore) -> None:
    new_version(store)
    store.models.set_traffic("houses", TrafficPolicy(canary=0.1), actor=ACTOR)
    with pytest.raises(Conflict, match="changed it meanwhile"):
        store.models.set_traffic("houses", TrafficPolicy(canary=0.5), actor=ACTOR, expected=TrafficPolicy())
    assert store.models.traffic("houses").policy == TrafficPolicy(canary=0.1)
    with pytest.raises(NotFound, match="nope"):
        store.models.set_traffic("nope", TrafficPolicy(canary=0.5), actor=ACTOR)
    with pytest.raises(NotFound, match="nope"):
        store.models.traffic("nope")


def test_concurrent_registrations_get_distinct_numbers(store: MetadataStore) -> None:
    numbers: list[int] = []
    errors: list[BaseException] = []

    def register() -> None:
        try:
            for _ in range(5):
                numbers.append(new_version(store, "shared"))
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(numbers) == list(range(1, 21))


def test_workspace_keys_are_generated_once_and_shared(store: MetadataStore, store_url: str) -> None:
    key = store.keys.get_or_create("model-signing")
    assert len(key) == 32
    other = MetadataStore(store_url)
    other.open()
    try:
        assert other.keys.get_or_create("model-signing") == key
    finally:
        other.close()
    assert store.keys.get_or_create("another") != key
