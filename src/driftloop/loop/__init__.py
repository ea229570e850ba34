"""The loop: policies that act on what the monitors find, and the controller that runs them.

- :class:`Policy` (from YAML with :func:`load_policies`): triggers → an action → gates → a rollout, per model;
- :class:`LoopController` evaluates every policy on each tick (``driftloop loop run``, or inside
  ``driftloop serve --policies``, one process among all), acts, gates, promotes, and records each step as a
  :class:`~driftloop.entities.LoopAction` with its evidence and cost.
"""

from driftloop.loop._policy import Action, Policy, Rollout, Trigger, load_policies, policies_from_dict

__all__ = ["Action", "Policy", "Rollout", "Trigger", "load_policies", "policies_from_dict"]
