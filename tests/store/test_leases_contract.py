"""The leases contract, on SQLite and PostgreSQL: one holder at a time, fencing tokens, atomic hand-over."""

from __future__ import annotations

import math
import threading
from collections.abc import Callable

import pytest
from tests.store.conftest import Clock

from driftloop.entities import Lease
from driftloop.errors import InvalidInput, InvalidName
from driftloop.store.metadata import LeaseRepository, MetadataStore

TTL = 30.0


@pytest.fixture
def leases(store: MetadataStore, clock: Clock) -> LeaseRepository:
    return LeaseRepository(store.database, clock=clock)


def test_the_first_acquirer_wins_and_others_get_none(leases: LeaseRepository, clock: Clock) -> None:
    lease = leases.acquire("loop", "worker-a", ttl=TTL)
    assert lease == Lease(
        "loop", "worker-a", token=1, acquired_at=clock.now, expires_at=clock.now + TTL, renewed_at=clock.now
    )
    clock.advance(TTL - 1)
    assert leases.acquire("loop", "worker-b", ttl=TTL) is None
    assert leases.get("loop") == lease
    assert leases.acquire("other-job", "worker-b", ttl=TTL) is not None


def test_the_holder_renews_with_the_same_token_and_a_later_expiry(leases: LeaseRepository, clock: Clock) -> None:
    first = leases.acquire("loop", "worker-a", ttl=TTL)
    assert first is not None
    clock.advance(10)
    again = leases.acquire("loop", "worker-a", ttl=TTL)
    assert again is not None
    assert (again.token, again.acquired_at) == (first.token, first.acquired_at)
    assert (again.expires_at, again.renewed_at) == (first.expires_at + 10, clock.now)
    clock.advance(10)
    renewed = leases.renew("loop", "worker-a", ttl=5)
    assert renewed is not None
    assert renewed.token == first.token and renewed.expires_at == clock.now + 5 and renewed.remaining(clock.now) == 5


def test_an_expired_lease_passes_to_another_holder_with_the_next_token(leases: LeaseRepository, clock: Clock) -> None:
    first = leases.acquire("loop", "worker-a", ttl=TTL)
    assert first is not None
    clock.advance(TTL)
    assert first.expired(clock.now) and first.remaining(clock.now) == 0
    taken = leases.acquire("loop", "worker-b", ttl=TTL)
    assert taken is not None
    assert (taken.holder, taken.token, taken.acquired_at) == ("worker-b", 2, clock.now)
    assert not taken.expired(clock.now)
    assert leases.acquire("loop", "worker-a", ttl=TTL) is None


def test_a_new_tenure_of_the_same_holder_also_takes_the_next_token(leases: LeaseRepository, clock: Clock) -> None:
    leases.acquire("loop", "worker-a", ttl=TTL)
    clock.advance(TTL + 1)
    again = leases.acquire("loop", "worker-a", ttl=TTL)
    assert again is not None and again.token == 2 and again.acquired_at == clock.now


def test_renewing_a_lost_lease_returns_none(leases: LeaseRepository, clock: Clock) -> None:
    assert leases.renew("loop", "worker-a", ttl=TTL) is None  # never held
    leases.acquire("loop", "worker-a", ttl=TTL)
    assert leases.renew("loop", "worker-b", ttl=TTL) is None  # held by someone else
    clock.advance(TTL)
    assert leases.renew("loop", "worker-a", ttl=TTL) is None  # expired, even though nobody took it yet
    leases.acquire("loop", "worker-b", ttl=TTL)
    clock.advance(1)
    assert leases.renew("loop", "worker-a", ttl=TTL) is None  # taken over
    current = leases.get("loop")
    assert current is not None and current.holder == "worker-b"


def test_release_frees_the_lease_at_once_but_only_for_its_holder(leases: LeaseRepository, clock: Clock) -> None:
    assert leases.release("loop", "worker-a") is False  # never held
    leases.acquire("loop", "worker-a", ttl=TTL)
    clock.advance(1)
    assert leases.release("loop", "worker-b") is False
    assert leases.acquire("loop", "worker-b", ttl=TTL) is None
    assert leases.release("loop", "worker-a") is True
    released = leases.get("loop")
    assert released is not None and released.expired(clock.now)
    assert leases.release("loop", "worker-a") is False  # nothing left to release
    assert leases.renew("loop", "worker-a", ttl=TTL) is None
    taken = leases.acquire("loop", "worker-b", ttl=TTL)
    assert taken is not None and (taken.holder, taken.token) == ("worker-b", 2)


def test_get_and_list_show_leases_live_or_not(leases: LeaseRepository, clock: Clock) -> None:
    assert leases.get("loop") is None
    assert leases.list() == []
    leases.acquire("loop", "worker-a", ttl=TTL)
    leases.acquire("learner", "worker-b", ttl=1)
    clock.advance(2)
    listed = leases.list()
    assert [(lease.name, lease.holder, lease.expired(clock.now)) for lease in listed] == [
        ("learner", "worker-b", True),
        ("loop", "worker-a", False),
    ]
    assert leases.get("learner") == listed[0]


def test_the_store_has_a_lease_repository_on_the_real_clock(store: MetadataStore) -> None:
    lease = store.leases.acquire("maintenance", "worker-a", ttl=60)
    assert lease is not None and 59 < lease.remaining() <= 60 and not lease.expired()


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda r: r.acquire("", "worker-a", ttl=TTL), "lease name must not be empty"),
        (lambda r: r.acquire("a/b", "worker-a", ttl=TTL), "lease name 'a/b' contains a path separator"),
        (lambda r: r.acquire("loop", " ", ttl=TTL), "lease holder name must not be empty"),
        (lambda r: r.acquire("loop", 7, ttl=TTL), "lease holder name must be a string; got int 7"),
        (lambda r: r.renew("loop", "", ttl=TTL), "lease holder name must not be empty"),
        (lambda r: r.release("", "worker-a"), "lease name must not be empty"),
        (lambda r: r.get(None), "lease name must be a string; got NoneType"),
    ],
)
def test_bad_names_and_holders_are_refused(
    leases: LeaseRepository, call: Callable[[LeaseRepository], object], message: str
) -> None:
    with pytest.raises(InvalidName, match=message):
        call(leases)
    assert leases.list() == []


@pytest.mark.parametrize("ttl", [0, -1.0, math.nan, math.inf, True, "30", None])
def test_a_ttl_must_be_a_positive_finite_number(leases: LeaseRepository, ttl: object) -> None:
    expected = rf"The ttl of lease 'loop' must be a positive, finite number of seconds; got {ttl!r}\."
    with pytest.raises(InvalidInput, match=expected):
        leases.acquire("loop", "worker-a", ttl=ttl)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=expected):
        leases.renew("loop", "worker-a", ttl=ttl)  # type: ignore[arg-type]
    assert leases.get("loop") is None


def race(store_url: str, contenders: int, attempt: Callable[[LeaseRepository, str], Lease | None]) -> list[Lease]:
    """Every contender, each on its own store (as separate processes would be), tries at the same moment."""
    stores = [MetadataStore(store_url) for _ in range(contenders)]
    for store in stores:
        store.open()
    barrier = threading.Barrier(contenders)
    won: list[Lease] = []
    errors: list[BaseException] = []

    def contend(store: MetadataStore, holder: str) -> None:
        try:
            barrier.wait()
            lease = attempt(store.leases, holder)
            if lease is not None:
                won.append(lease)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=contend, args=(store, f"worker-{i}")) for i, store in enumerate(stores)]
    try:
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        for store in stores:
            store.close()
    assert errors == []
    return won


@pytest.mark.parametrize("round_", range(3))
def test_racing_first_acquisitions_have_exactly_one_winner(store: MetadataStore, store_url: str, round_: int) -> None:
    won = race(store_url, 6, lambda leases, holder: leases.acquire(f"job-{round_}", holder, ttl=TTL))
    assert len(won) == 1
    assert store.leases.get(f"job-{round_}") == won[0] and won[0].token == 1


def test_racing_takeovers_of_an_expired_lease_have_exactly_one_winner(store: MetadataStore, store_url: str) -> None:
    first = store.leases.acquire("loop", "old-holder", ttl=0.001)
    assert first is not None
    while not first.expired():
        pass
    won = race(store_url, 6, lambda leases, holder: leases.acquire("loop", holder, ttl=TTL))
    assert len(won) == 1
    assert won[0].token == 2 and won[0].holder != "old-holder"
    assert store.leases.get("loop") == won[0]
