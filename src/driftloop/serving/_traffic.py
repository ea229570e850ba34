"""Traffic policies per served model: canary (a share of requests to the challenger) and shadow.

- **canary**: a share of requests is answered by the challenger (the version the ``challenger`` alias points
  at), sticky by a request key: the same key always lands on the same side while the share stays the same.
- **shadow**: the challenger scores a copy of every request after the answer is sent, off the request path;
  its outputs go to the prediction log (``served_by = "shadow"``), never to the client.

A challenger that is not loaded (no alias yet, or its files failed their check) takes no traffic: the
champion answers everything. Rolling back is moving an alias: every server follows within two seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from driftloop.errors import InvalidInput
from driftloop.names import validate_name

__all__ = ["TrafficPolicy", "in_canary", "traffic_policies"]


@dataclass(frozen=True)
class TrafficPolicy:
    """How a served model shares its traffic with its challenger.

    Args:
        canary: The share of requests (0 to 1) the challenger answers.
        shadow: Whether the challenger also scores every request, logged only.
        challenger: The alias of the challenger.
    """

    canary: float = 0.0
    shadow: bool = False
    challenger: str = "challenger"

    def __post_init__(self) -> None:
        if isinstance(self.canary, bool) or not isinstance(self.canary, int | float) or not 0 <= self.canary <= 1:
            raise InvalidInput(f"The canary share must be a number in [0, 1]; got {self.canary!r}.")
        validate_name("alias", self.challenger)

    @property
    def needs_challenger(self) -> bool:
        return self.canary > 0 or self.shadow


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
