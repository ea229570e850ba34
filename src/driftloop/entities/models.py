"""Registered models, their versions and aliases."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType
from typing import Any

__all__ = ["AliasMove", "ModelVersionInfo", "RegisteredModel"]

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
