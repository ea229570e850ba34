"""Registered models, their versions, aliases and traffic."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

from driftloop.errors import InvalidInput
from driftloop.names import validate_name

__all__ = ["AliasMove", "ModelTraffic", "ModelVersionInfo", "RegisteredModel", "TrafficPolicy"]

_EMPTY: Mapping[str, Any] = MappingProxyType({})


@dataclass(frozen=True, slots=True)
class RegisteredModel:
    """A name under which model versions are registered; ``aliases`` maps each alias to its version."""

    id: int
    name: str
    created_at: datetime
    created_by: str
    description: str = ""
    latest_version: int | None = None
    aliases: Mapping[str, int] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class ModelVersionInfo:
    """What was recorded when a model version was registered; it never changes afterwards.

    ``manifest_digest`` names the blob listing the version's files and their digests. ``signature`` is
    the input the model takes (columns, types, categories, ranges); ``metrics`` its scores on the
    holdout; ``evaluation`` how they were measured (the holdout's fingerprint and stored rows), which
    is what lets a gate score another version on identical rows. ``profile_digest`` is the training
    data's profile, the reference for drift monitoring.
    """

    model: str
    number: int
    manifest_digest: str
    flavour: str
    created_at: datetime
    created_by: str
    task: str | None = None
    run_id: str | None = None
    dataset: str | None = None
    dataset_version: int | None = None
    signature: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    metrics: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    evaluation: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)
    profile_digest: str | None = None
    description: str = ""
    aliases: tuple[str, ...] = ()

    @property
    def reference(self) -> str:
        """The string that loads this version: ``"houses/3"``."""
        return f"{self.model}/{self.number}"


@dataclass(frozen=True, slots=True)
class AliasMove:
    """One move of an alias: from which version to which (None: set for the first time, or removed)."""

    model: str
    alias: str
    from_version: int | None
    to_version: int | None
    at: datetime
    actor: str
    reason: str = ""
    evidence: Mapping[str, Any] = field(default_factory=lambda: _EMPTY)


@dataclass(frozen=True, slots=True)
class TrafficPolicy:
    """How a served model shares its requests with its challenger (the version the ``challenger`` alias names).

    Args:
        canary: The share of requests (0 to 1) the challenger answers, sticky by request key.
        shadow: Whether the challenger also scores a copy of every request, logged only, never returned.
        challenger: The alias of the challenger.

    >>> TrafficPolicy(canary=0.1).needs_challenger, TrafficPolicy().needs_challenger
    (True, False)
    """

    canary: float = 0.0
    shadow: bool = False
    challenger: str = "challenger"

    def __post_init__(self) -> None:
        if isinstance(self.canary, bool) or not isinstance(self.canary, int | float) or not 0 <= self.canary <= 1:
            raise InvalidInput(f"The canary share must be a number in [0, 1]; got {self.canary!r}.")
        if not isinstance(self.shadow, bool):
            raise InvalidInput(f"The shadow switch must be true or false; got {self.shadow!r}.")
        object.__setattr__(self, "canary", float(self.canary))
        validate_name("alias", self.challenger)

    @property
    def needs_challenger(self) -> bool:
        return self.canary > 0 or self.shadow

    def describe(self) -> str:
        """What the policy does, in words.

        >>> TrafficPolicy(canary=0.1, shadow=True).describe()
        '10% canary to @challenger, shadowed by @challenger'
        """
        parts = []
        if self.canary > 0:
            parts.append(f"{self.canary * 100:.4g}% canary to @{self.challenger}")
        if self.shadow:
            parts.append(f"shadowed by @{self.challenger}")
        return ", ".join(parts) or "all to the champion"


@dataclass(frozen=True, slots=True)
class ModelTraffic:
    """A model's stored traffic policy, which a deployer sets and every server of the model follows (unless started
    with a policy of its own); ``updated_at`` and ``updated_by`` are None while it was never set."""

    model: str
    policy: TrafficPolicy = field(default_factory=TrafficPolicy)
    updated_at: datetime | None = None
    updated_by: str | None = None
    reason: str = ""
