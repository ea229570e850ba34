"""The alerts contract, on SQLite and PostgreSQL: windows in a row, one active alert, cooldown, ack, resolve."""

from __future__ import annotations

import threading

import pytest
from tests.store.conftest import Clock

from driftloop.errors import InvalidInput, InvalidName, InvalidState, NotFound
from driftloop.store.metadata import AlertRepository, MetadataStore


@pytest.fixture
def alerts(store: MetadataStore, clock: Clock) -> AlertRepository:
    return AlertRepository(store.database, clock=clock)


def test_a_breach_opens_one_alert_and_further_breaches_update_it(alerts: AlertRepository) -> None:
    first = alerts.observe("drift", "houses", value=0.5, breached=True, at=100.0, message="m1", evidence={"v": 0.5})
    assert (first.change, first.notify) == ("opened", "opened")
    assert first.alert is not None
    assert (first.alert.status, first.alert.count, first.alert.last_value) == ("open", 1, 0.5)
    assert first.alert.evidence == {"v": 0.5} and first.alert.opened_at == 100.0
    second = alerts.observe("drift", "houses", value=0.7, breached=True, at=160.0, message="m2", cooldown=600)
    assert second.change == "updated" and second.notify is None  # within the cooldown
    assert second.alert is not None and second.alert.id == first.alert.id
    assert (second.alert.count, second.alert.last_value, second.alert.last_seen_at) == (2, 0.7, 160.0)
    assert second.alert.message == "m2" and second.alert.opened_at == 100.0
    assert len(alerts.list()) == 1
    assert alerts.active("drift", "houses") == second.alert
    assert alerts.active("drift", "other") is None


def test_for_windows_needs_that_many_breaches_in_a_row(alerts: AlertRepository) -> None:
    options = {"for_windows": 3, "resolve_windows": 1}
    assert alerts.observe("r", "s", value=1.0, breached=True, at=1.0, **options).change == "pending"
    assert alerts.observe("r", "s", value=1.0, breached=True, at=2.0, **options).change == "pending"
    assert alerts.observe("r", "s", value=0.0, breached=False, at=3.0, **options).change == "ok"
    assert alerts.observe("r", "s", value=1.0, breached=True, at=4.0, **options).change == "pending"
    assert alerts.observe("r", "s", value=1.0, breached=True, at=5.0, **options).change == "pending"
    fired = alerts.observe("r", "s", value=1.0, breached=True, at=6.0, **options)
    assert fired.change == "opened" and fired.alert is not None and fired.alert.count == 3
    state = alerts.state("r", "s")
    assert state is not None and (state.breaches, state.recoveries, state.updated_at) == (3, 0, 6.0)


def test_the_cooldown_spaces_out_repeats_and_recovery_resolves(alerts: AlertRepository) -> None:
    options = {"cooldown": 100.0, "resolve_windows": 2}
    alerts.observe("r", "s", value=1.0, breached=True, at=0.0, **options)
    assert alerts.observe("r", "s", value=1.0, breached=True, at=50.0, **options).notify is None
    repeated = alerts.observe("r", "s", value=1.0, breached=True, at=100.0, **options)
    assert repeated.notify == "repeated" and repeated.alert is not None and repeated.alert.notified_at == 100.0
    assert alerts.observe("r", "s", value=1.0, breached=True, at=150.0, **options).notify is None
    assert alerts.observe("r", "s", value=0.0, breached=False, at=200.0, **options).change == "ok"
    resolved = alerts.observe("r", "s", value=0.0, breached=False, at=300.0, **options)
    assert (resolved.change, resolved.notify) == ("resolved", "resolved")
    assert resolved.alert is not None and resolved.alert.status == "resolved" and resolved.alert.resolved_at == 300.0
    again = alerts.observe("r", "s", value=2.0, breached=True, at=400.0, **options)
    assert again.change == "opened" and again.alert is not None and again.alert.id != resolved.alert.id


def test_an_acknowledged_alert_is_updated_but_not_notified(alerts: AlertRepository, clock: Clock) -> None:
    opened = alerts.observe("r", "s", value=1.0, breached=True, at=0.0, cooldown=0.0).alert
    assert opened is not None
    acked = alerts.acknowledge(opened.id, by="ana")
    assert (acked.status, acked.acked_by, acked.acked_at) == ("acknowledged", "ana", clock.now)
    later = alerts.observe("r", "s", value=3.0, breached=True, at=10.0, cooldown=0.0)
    assert later.change == "updated" and later.notify is None
    assert later.alert is not None and later.alert.status == "acknowledged" and later.alert.count == 2
    resolved = alerts.observe("r", "s", value=0.0, breached=False, at=20.0)
    assert resolved.change == "resolved" and resolved.alert is not None and resolved.alert.status == "resolved"
    with pytest.raises(InvalidState, match="resolved"):
        alerts.acknowledge(opened.id, by="ana")


def test_resolving_by_hand_restarts_the_window_count(alerts: AlertRepository) -> None:
    opened = alerts.observe("r", "s", value=1.0, breached=True, at=0.0, for_windows=2).alert
    assert opened is None
    opened = alerts.observe("r", "s", value=1.0, breached=True, at=1.0, for_windows=2).alert
    assert opened is not None
    resolved = alerts.resolve(opened.id, by="bo")
    assert (resolved.status, resolved.resolved_by) == ("resolved", "bo")
    assert alerts.observe("r", "s", value=1.0, breached=True, at=2.0, for_windows=2).change == "pending"
    assert alerts.observe("r", "s", value=1.0, breached=True, at=3.0, for_windows=2).change == "opened"
    with pytest.raises(InvalidState, match="resolved already"):
        alerts.resolve(opened.id, by="bo")
    assert [a.status for a in alerts.list()] == ["open", "resolved"]
    assert [a.id for a in alerts.list(status="resolved")] == [opened.id]
    assert alerts.list(rule="other") == [] and len(alerts.list(subject="s")) == 2


def test_deliveries_are_recorded_per_attempt(alerts: AlertRepository) -> None:
    alert = alerts.observe("r", "s", value=1.0, breached=True).alert
    assert alert is not None
    alerts.record_delivery(alert.id, "ops", kind="opened", attempt=1, ok=False, error="HTTP 500")
    alerts.record_delivery(alert.id, "ops", kind="opened", attempt=2, ok=True)
    found = alerts.deliveries(alert.id)
    assert [(d.channel, d.attempt, d.ok, d.error) for d in found] == [
        ("ops", 1, False, "HTTP 500"),
        ("ops", 2, True, None),
    ]


def test_events_record_open_ack_and_resolve(store: MetadataStore, alerts: AlertRepository) -> None:
    alert = alerts.observe("r", "s", value=1.0, breached=True).alert
    assert alert is not None
    alerts.acknowledge(alert.id, by="ana")
    alerts.resolve(alert.id, by="bo")
    events = store.events.list(object_type="alert", object_id=alert.id)
    assert [(e.action, e.actor) for e in reversed(events)] == [
        ("alert.open", "driftloop"),
        ("alert.ack", "ana"),
        ("alert.resolve", "bo"),
    ]


def test_unknown_ids_and_bad_input_are_clear(alerts: AlertRepository) -> None:
    with pytest.raises(NotFound, match="No alert with id 42"):
        alerts.get(42)
    with pytest.raises(NotFound):
        alerts.acknowledge(42, by="ana")
    with pytest.raises(NotFound):
        alerts.deliveries(42)
    with pytest.raises(InvalidInput, match="positive integer"):
        alerts.get(0)
    with pytest.raises(InvalidInput, match="status"):
        alerts.list(status="closed")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="for_windows"):
        alerts.observe("r", "s", value=1.0, breached=True, for_windows=0)
    with pytest.raises(InvalidInput, match="severity"):
        alerts.observe("r", "s", value=1.0, breached=True, severity="fatal")  # type: ignore[arg-type]
    with pytest.raises(InvalidName):
        alerts.observe("", "s", value=1.0, breached=True)


def test_concurrent_evaluators_open_exactly_one_alert(store_url: str) -> None:
    stores = [MetadataStore(store_url) for _ in range(4)]
    for store in stores:
        store.open()
    barrier = threading.Barrier(len(stores))
    changes: list[str] = []

    def observe(store: MetadataStore) -> None:
        barrier.wait()
        changes.append(store.alerts.observe("r", "s", value=1.0, breached=True, cooldown=3600).change)

    threads = [threading.Thread(target=observe, args=(store,)) for store in stores]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert sorted(changes) == ["opened", "updated", "updated", "updated"]
        only = stores[0].alerts.list()
        assert len(only) == 1 and only[0].count == 4
    finally:
        for store in stores:
            store.close()
