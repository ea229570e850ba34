"""A served model follows its alias: a new version is loaded off the request path and swapped in atomically.

Requests read :attr:`ServedModel.current`, an immutable :class:`ModelSlot`; a swap replaces that one reference
(atomic in CPython), so a request in flight finishes on the version it started with and the next one gets the
new version. Nothing is unloaded under a request. A version that fails to load (a file that fails its digest
check, an untrusted type) is never served: the previous version keeps serving and the failure is recorded.

:class:`AliasWatcher` polls every served model's alias (and its traffic policy, see
:class:`~driftloop.serving._traffic.TrafficSplit`), by default every second, so a promotion, a rollback or a traffic
change made by any process or machine sharing the store is served within about two seconds (one poll interval plus
the load).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from driftloop.errors import DriftloopError

if TYPE_CHECKING:
    from driftloop.entities import ModelVersionInfo
    from driftloop.registry import LoadedModel, ModelRegistry, Signature

__all__ = ["AliasWatcher", "ModelSlot", "ServedModel"]

log = logging.getLogger("driftloop.serving")


@dataclass(frozen=True)
class ModelSlot:
    """One loaded version, as requests see it: never changed, only replaced."""

    name: str
    version: int
    info: ModelVersionInfo
    model: LoadedModel
    signature: Signature | None
    checker: Any
    scorer: Any
    loaded_at: float
    load_seconds: float


@dataclass(frozen=True)
class LoadFailure:
    """Why a version could not be served (the previous one kept serving)."""

    version: int
    error: str
    at: float


class ServedModel:
    """Model ``name``, served by ``alias``; :meth:`refresh` follows the alias.

    Args:
        registry: The registry to load from.
        name: The registered model's name.
        alias: The alias to follow (``champion`` by default).
        make_checker: Builds the input checker of a version from its signature (None when it has none).
        make_scorer: Builds a version's fast path (None when it has none; the native model scores then).
        on_swap: Called with (old slot or None, new slot) after each swap.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        name: str,
        alias: str = "champion",
        *,
        make_checker: Callable[[Signature | None], Any] = lambda signature: None,
        make_scorer: Callable[[LoadedModel], Any] = lambda model: None,
        on_swap: Callable[[ModelSlot | None, ModelSlot], None] | None = None,
    ) -> None:
        self.registry = registry
        self.name = name
        self.alias = alias
        self._make_checker = make_checker
        self._make_scorer = make_scorer
        self._on_swap = on_swap
        self._slot: ModelSlot | None = None
        self._refreshing = threading.Lock()
        self.failures: list[LoadFailure] = []

    def __repr__(self) -> str:
        version = None if self._slot is None else self._slot.version
        return f"ServedModel({self.name!r}@{self.alias}, version={version})"

    @property
    def reference(self) -> str:
        return f"{self.name}@{self.alias}"

    @property
    def current(self) -> ModelSlot:
        """The version serving now. Raises :class:`RuntimeError` before the first successful load."""
        slot = self._slot
        if slot is None:
            raise RuntimeError(f"{self.reference} has not been loaded yet.")
        return slot

    @property
    def ready(self) -> bool:
        return self._slot is not None

    def refresh(self) -> bool:
        """Serve the version the alias points at now; True when a new version was swapped in.

        Raises the load error only when nothing serves yet (the first load); afterwards a failed load is
        recorded in :attr:`failures` and the previous version keeps serving.
        """
        with self._refreshing:  # one load at a time per model; requests never wait on this lock
            target = self.registry.get(self.reference)
            current = self._slot
            if current is not None and current.version == target.number:
                return False
            if any(failure.version == target.number for failure in self.failures[-3:]):
                return False  # the same broken version again: do not retry it every second
            try:
                slot = self._load(target)
            except DriftloopError as error:
                self.failures.append(LoadFailure(target.number, error.message, time.time()))
                if current is None:
                    raise
                log.error(
                    "not serving %s/%d: %s; version %d keeps serving",
                    self.name,
                    target.number,
                    error.message,
                    current.version,
                )
                return False
            self._slot = slot
        if self._on_swap is not None:
            self._on_swap(current, slot)
        log.info(
            "serving %s/%d as %s (loaded in %.0f ms)", self.name, slot.version, self.alias, slot.load_seconds * 1000
        )
        return True

    def _load(self, info: ModelVersionInfo) -> ModelSlot:
        started = time.perf_counter()
        reference = f"{info.model}/{info.number}"
        model = self.registry.load(reference)
        signature = self.registry.signature(reference)
        checker = self._make_checker(signature)
        scorer = self._make_scorer(model)
        return ModelSlot(
            name=self.name,
            version=info.number,
            info=info,
            model=model,
            signature=signature,
            checker=checker,
            scorer=scorer,
            loaded_at=time.time(),
            load_seconds=time.perf_counter() - started,
        )


class Followed(Protocol):
    """What an :class:`AliasWatcher` keeps up to date: a served model, or a model's traffic split."""

    @property
    def reference(self) -> str: ...

    def refresh(self) -> bool: ...


class AliasWatcher:
    """A daemon thread that refreshes served models (and traffic splits) every ``interval`` seconds until
    :meth:`stop`."""

    def __init__(self, models: Sequence[Followed], *, interval: float = 1.0) -> None:
        self.models = list(models)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="driftloop-alias-watcher", daemon=True)

    def start(self) -> AliasWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=10)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for served in self.models:
                try:
                    served.refresh()
                except Exception:  # a watcher that dies would freeze every alias: log and keep polling
                    log.exception("refreshing %s failed", served.reference)
