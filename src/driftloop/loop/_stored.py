"""The policies a workspace keeps (``ws.policies``): set from a mapping or a policy file, listed, deleted, loaded.

A policy is checked before it is stored, as a policy file is checked when the loop loads it (its triggers, action,
gates and rollout parse, its model is registered), so the stored set always loads. ``driftloop loop run`` without a
file runs the stored set; every change is an event of the audit log (``policy.set``, ``policy.delete``) with the
document, and through a workspace server only an ``admin`` may make one.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.entities import StoredPolicy
from driftloop.loop._policy import Policy, policies_from_dict, read_policy_file

if TYPE_CHECKING:
    from driftloop.workspace import Workspace

__all__ = ["StoredPolicies"]


class StoredPolicies:
    """The policies of one workspace, changed as ``actor`` (the workspace's by default). Reach it as
    ``Workspace().policies``."""

    def __init__(self, workspace: Workspace, *, actor: str | None = None) -> None:
        self._workspace = workspace
        self._actor = actor

    def set(self, document: Mapping[str, Any]) -> StoredPolicy:
        """Store one policy (its mapping, as an entry of a policy file's ``policies`` list), replacing any of its name.

        Raises:
            InvalidInput: The policy does not parse.
            NotFound: It watches a model that is not registered.
        """
        (policy,) = policies_from_dict({"policies": [dict(document)]}, self._workspace)
        return self._workspace.metadata.policies.set(policy.name, document, actor=self._actor or self._workspace.actor)

    def set_file(self, path: str | Path) -> builtins.list[StoredPolicy]:
        """Store every policy of a policy file (YAML), once all of them are checked."""
        spec = read_policy_file(path)
        policies_from_dict(spec, self._workspace)
        return [self.set(document) for document in spec["policies"]]

    def get(self, name: str) -> StoredPolicy:
        return self._workspace.metadata.policies.get(name)

    def list(self) -> list[StoredPolicy]:
        return self._workspace.metadata.policies.list()

    def delete(self, name: str) -> StoredPolicy:
        """Remove a policy; the loop stops acting on it at its next tick."""
        return self._workspace.metadata.policies.delete(name, actor=self._actor or self._workspace.actor)

    def load(self) -> builtins.list[Policy]:
        """The stored policies, parsed and checked, ready for the loop's controller."""
        return policies_from_dict({"policies": [stored.document for stored in self.list()]}, self._workspace)
