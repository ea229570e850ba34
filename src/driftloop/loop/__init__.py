"""The loop: policies that act on what the monitors find, and the controller that runs them.

- :class:`Policy` (from YAML with :func:`load_policies`, or kept in the workspace: :class:`StoredPolicies`, as
  ``ws.policies``): triggers → an action → gates → a rollout, per model;
- :class:`LoopController` evaluates every policy on each tick (``driftloop loop run``, or inside
  ``driftloop serve --policies``, one process among all), acts, gates, promotes, and records each step as a
  :class:`~driftloop.entities.LoopAction` with its evidence and cost;
- :func:`request_labels` queues the most informative unlabelled predictions for labelling (active learning,
  ``GET /v1/labels/pending``), :func:`answer_labels` records the answers (``POST /v1/labels``) into the labels
  table the retrains read.
"""

from driftloop.loop._active import STRATEGIES, LabelRequestOutcome, request_labels
from driftloop.loop._policy import Action, Policy, Rollout, Trigger, load_policies, policies_from_dict
from driftloop.loop._stored import StoredPolicies
from driftloop.serving._label_queue import LabelAnswer, answer_labels

__all__ = [
    "STRATEGIES",
    "Action",
    "LabelAnswer",
    "LabelRequestOutcome",
    "Policy",
    "Rollout",
    "StoredPolicies",
    "Trigger",
    "answer_labels",
    "load_policies",
    "policies_from_dict",
    "request_labels",
]
