"""The policies a workspace keeps (``ws.policies``): set from a mapping or a policy file, listed, deleted, loaded, run.

A policy is checked before it is stored, as a policy file is checked when the loop loads it (its triggers, action,
gates and rollout parse, its model is registered), so the stored set always loads. ``driftloop loop run`` without a
file runs the stored set (:meth:`StoredPolicies.tick`, through a workspace server too); every change is an event of
the audit log (``policy.set``, ``policy.delete``) with the document, and through a workspace server only an
``admin`` may make one.
"""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from driftloop.entities import StoredPolicy
from driftloop.errors import Conflict, NotFound, StoreUnavailable
from driftloop.loop._policy import Policy, policies_from_dict, read_policy_file

if TYPE_CHECKING:
    from driftloop.loop._controller import PolicyOutcome
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

    def tick(self, names: Sequence[str] | None = None) -> builtins.list[PolicyOutcome]:
        """Run the loop's controller once over the stored policies (or those ``names`` gives), as ``driftloop loop
        run`` does, acting as this service's actor: what each policy saw, and the action it started or moved on.

        The tick holds the controller's lease while it runs, so it never runs beside another controller (a
        ``driftloop serve --policies`` process, another tick).

        Raises:
            NotFound: A name is not a stored policy.
            Conflict: Another process runs the controller now.
        """
        from driftloop.execution import LeasedJob
        from driftloop.loop._controller import CONTROLLER_LEASE, LoopController

        workspace = self._workspace if self._actor is None else self._workspace.acting_as(self._actor)
        stored = {policy.name: policy for policy in self.list()}
        if names is not None:
            unknown = [name for name in names if name not in stored]
            if unknown:
                raise NotFound(f"No stored policy named {', '.join(map(repr, unknown))}; stored: {sorted(stored)}.")
            stored = {name: policy for name, policy in stored.items() if name in set(names)}
        policies = policies_from_dict({"policies": [policy.document for policy in stored.values()]}, self._workspace)
        # Built for this one tick: schedules count from when each policy was stored, until its first scheduled action.
        controller = LoopController(
            workspace, policies, schedule_from={name: policy.updated_at for name, policy in stored.items()}
        )
        outcomes: builtins.list[PolicyOutcome] = []
        failure: builtins.list[BaseException] = []

        def tick(token: int) -> None:
            try:
                outcomes.extend(controller.tick())
            except BaseException as error:  # raised below, once the lease is released
                failure.append(error)

        leases = workspace.metadata.leases
        job = LeasedJob(leases, CONTROLLER_LEASE, tick, interval=60.0)
        try:
            if not job.run_once():
                if job.last_error is not None:  # the lease could not be read: the store's trouble, not a holder
                    raise StoreUnavailable(f"The loop's tick did not run: {job.last_error}.")
                holder = leases.get(CONTROLLER_LEASE)
                raise Conflict(
                    "The loop's controller runs in another process now"
                    + ("" if holder is None else f" ({holder.holder})")
                    + ": this tick did not run. It acts on every stored policy there."
                )
        finally:
            job.stop()
        if failure:
            raise failure[0]
        return outcomes
