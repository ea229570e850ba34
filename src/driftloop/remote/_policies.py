"""The workspace's stored policies through its server: ``Workspace(url).policies``; changes need ``admin``."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.entities import StoredPolicy
from driftloop.loop._policy import Policy, policies_from_dict, read_policy_file
from driftloop.names import validate_name
from driftloop.remote._client import ServerClient, decode, decode_list, quoted

if TYPE_CHECKING:
    from driftloop.loop._controller import PolicyOutcome

__all__ = ["RemotePolicies"]

TICK_TIMEOUT = 3600.0
"""Seconds a client waits for a loop tick on the server (a retrain, its gates and a promotion)."""


class RemotePolicies:
    """The methods of :class:`driftloop.loop.StoredPolicies`; the server checks each policy before storing it."""

    def __init__(self, client: ServerClient) -> None:
        self._client = client

    def set(self, document: Mapping[str, Any]) -> StoredPolicy:
        """Store one policy, replacing any of its name (checked here, then by the server against its registry)."""
        (policy,) = policies_from_dict({"policies": [dict(document)]})
        return decode(StoredPolicy, self._client.send("PUT", quoted("policies", policy.name), dict(document)))

    def set_file(self, path: str | Path) -> builtins.list[StoredPolicy]:
        """Store every policy of a policy file (YAML), once all of them parse."""
        spec = read_policy_file(path)
        policies_from_dict(spec)
        return [self.set(document) for document in spec["policies"]]

    def get(self, name: str) -> StoredPolicy:
        return decode(StoredPolicy, self._client.get(quoted("policies", validate_name("policy", name))))

    def list(self) -> list[StoredPolicy]:
        return decode_list(StoredPolicy, self._client.get("/policies"))

    def delete(self, name: str) -> StoredPolicy:
        return decode(StoredPolicy, self._client.send("DELETE", quoted("policies", validate_name("policy", name))))

    def load(self) -> builtins.list[Policy]:
        """The stored policies, parsed (the server checked their models when they were set)."""
        return policies_from_dict({"policies": [stored.document for stored in self.list()]})

    def tick(self, names: Sequence[str] | None = None) -> builtins.list[PolicyOutcome]:
        """Run the loop's controller once on the server, over its stored policies (or those ``names`` gives), acting
        as the token's user (the ``deployer`` role); see :meth:`driftloop.loop.StoredPolicies.tick`."""
        from driftloop.loop._controller import PolicyOutcome

        body = {"policies": None if names is None else [validate_name("policy", name) for name in names]}
        return decode_list(PolicyOutcome, self._client.send("POST", "/loop/ticks", body, timeout=TICK_TIMEOUT))
