"""Fixtures of the metadata contract tests: an open store on each backend, and a clock moved by hand."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from driftloop.store.metadata import MetadataStore


class Clock:
    """A clock the test moves by hand, so expiry and cooldowns need no sleeping."""

    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def store(store_url: str) -> Iterator[MetadataStore]:
    store = MetadataStore(store_url)
    store.open()
    yield store
    store.close()


@pytest.fixture
def clock() -> Clock:
    return Clock()
