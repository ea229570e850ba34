"""Traffic policies per served model: canary (a share of requests to the challenger) and shadow.

- **canary**: a share of requests is answered by the challenger (the version the ``challenger`` alias points
  at), sticky by a request key: the same key always lands on the same side while the share stays the same.
- **shadow**: the challenger scores a copy of every request after the answer is sent, off the request path;
  its outputs go to the prediction log (``served_by = "shadow"``), never to the client.

Where the policy comes from: a deployer stores it in the workspace (``ws.models.set_traffic``, ``driftloop
models traffic``, ``PUT /api/v1/models/{name}/traffic``) and every server of the model follows it, as it follows
aliases, within a poll interval (:class:`TrafficSplit`). A server started with a policy of its own for a model
(``driftloop serve --canary houses=0.1``, ``ServerSettings(traffic=...)``) keeps that one and ignores the stored one.

A challenger that is not loaded (no alias yet, or its files failed their check) takes no traffic: the
champion answers everything. Rolling back is moving an alias: every server follows within two seconds.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import uuid
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

from driftloop.entities import TrafficPolicy
from driftloop.errors import DriftloopError, InvalidInput, NotFound

if TYPE_CHECKING:
    from driftloop.registry import ModelRegistry
    from driftloop.serving._served_model import ModelSlot, ServedModel

__all__ = ["TrafficPolicy", "TrafficSplit", "in_canary", "traffic_policies"]

log = logging.getLogger("driftloop.serving")


def in_canary(key: str, share: float) -> bool:
    """Whether the request with ``key`` goes to the canary: a stable hash of the key against the share.

    >>> in_canary("customer-42", 0.0), in_canary("customer-42", 1.0)
    (False, True)
    """
    if share <= 0:
        return False
    if share >= 1:
        return True
    point = int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big") / 2**64
    return point < share


def traffic_policies(given: Mapping[str, TrafficPolicy | Mapping[str, Any]]) -> dict[str, TrafficPolicy]:
    """Policies by model name, from policies or plain mappings (``{"canary": 0.1}``)."""
    policies = {}
    for name, policy in given.items():
        if isinstance(policy, TrafficPolicy):
            policies[name] = policy
        elif isinstance(policy, Mapping):
            unknown = sorted(set(policy) - {"canary", "shadow", "challenger"})
            if unknown:
                raise InvalidInput(
                    f"The traffic policy of {name!r} takes canary, shadow and challenger; got {', '.join(unknown)}."
                )
            policies[name] = TrafficPolicy(**dict(policy))
        else:
            raise InvalidInput(f"The traffic policy of {name!r} must be a mapping; got {type(policy).__name__}.")
    return policies


class TrafficSplit:
    """How one served model's requests are shared with its challenger now: the policy and the loaded challenger.

    :meth:`refresh` (called by the :class:`~driftloop.serving._served_model.AliasWatcher` every poll) reads the
    model's stored policy, unless ``pinned`` gives one, and loads the challenger its alias names, off the request
    path. Requests read one immutable pair, so a change applies whole to the next request.

    Args:
        registry: The registry holding the stored policy.
        name: The served model.
        pinned: A policy the server was started with: the stored one is then ignored.
        make_challenger: Builds the served model following an alias of ``name``.
    """

    def __init__(
        self,
        registry: ModelRegistry,
        name: str,
        *,
        pinned: TrafficPolicy | None,
        make_challenger: Callable[[str], ServedModel],
    ) -> None:
        self.registry = registry
        self.name = name
        self.pinned = pinned
        self._make_challenger = make_challenger
        self._now: tuple[TrafficPolicy, ServedModel | None] = (pinned or TrafficPolicy(), None)
        self._refreshing = threading.Lock()
        self._not_loaded: str | None = None

    def __repr__(self) -> str:
        return f"TrafficSplit({self.name!r}: {self.policy.describe()})"

    @property
    def reference(self) -> str:
        return f"the traffic of {self.name}"

    @property
    def policy(self) -> TrafficPolicy:
        return self._now[0]

    @property
    def challenger(self) -> ServedModel | None:
        """The challenger the policy names, when it needs one (loaded or not)."""
        return self._now[1]

    def canary(self, key: str | None) -> ModelSlot | None:
        """The challenger's slot when the request with ``key`` goes to the canary; None: the champion answers."""
        policy, challenger = self._now
        if policy.canary <= 0 or challenger is None or not challenger.ready:
            return None
        # Without a key, each request draws its side afresh: the share holds over requests, not per client.
        return challenger.current if in_canary(key or uuid.uuid4().hex, policy.canary) else None

    def shadow(self) -> ModelSlot | None:
        """The challenger's slot when it scores copies of the champion's requests; None otherwise."""
        policy, challenger = self._now
        if not policy.shadow or challenger is None or not challenger.ready:
            return None
        return challenger.current

    def refresh(self) -> bool:
        """Follow the stored policy (unless pinned) and the challenger's alias; True when either changed."""
        with self._refreshing:
            policy = self.pinned or self.registry.traffic(self.name).policy
            old_policy, old_challenger = self._now
            challenger = None
            if policy.needs_challenger:
                challenger = old_challenger
                if challenger is None or challenger.alias != policy.challenger:
                    challenger = self._make_challenger(policy.challenger)
                challenger = self._load(challenger)
            changed = policy != old_policy or challenger is not old_challenger
            self._now = (policy, challenger)
        if policy != old_policy:
            log.info("traffic of %s: %s (was: %s)", self.name, policy.describe(), old_policy.describe())
        return changed

    def _load(self, challenger: ServedModel) -> ServedModel:
        """The challenger serving the version its alias names now. Until one loads, the champion takes all traffic;
        once the alias is removed (a rollout rolled back), the version it named takes none."""
        try:
            challenger.refresh()
        except DriftloopError as error:  # no alias (yet, or any more), or a version that cannot load
            if isinstance(error, NotFound) and challenger.ready:  # the alias was removed: let its version go
                challenger = self._make_challenger(challenger.alias)
            if error.message != self._not_loaded:  # logged once, not every poll
                log.warning("no challenger for %s: %s; the champion answers everything", self.name, error.message)
            self._not_loaded = error.message
        else:
            self._not_loaded = None
        return challenger
