"""The loop's actions and quarantines.

An action is one row moved through its steps by compare-and-set (:meth:`LoopRepository.advance` names the state
it expects), so a controller that lost its lease and wakes up late cannot move an action another controller has
moved on. A finished action never changes again. Every step appends an event (``loop.started``, ``loop.trained``,
``loop.promoted``..., object ``loop_action``) in the same transaction, with the evidence and cost it added.
"""

from __future__ import annotations

import builtins
import json
import math
import time
from collections.abc import Callable, Mapping
from numbers import Real
from typing import Any

import sqlalchemy as sa

from driftloop.entities import ACTION_STATES, FINISHED_STATES, ActionState, LoopAction, Quarantine
from driftloop.errors import Conflict, InvalidInput, NotFound
from driftloop.names import validate_name
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._events import append_event
from driftloop.store.metadata._json import json_text
from driftloop.store.metadata._schema import loop_actions, quarantines

__all__ = ["LoopRepository"]


class LoopRepository:
    """Records loop actions and quarantines; ``clock`` (seconds since the epoch) is for tests and replays."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self.clock = clock

    # -- actions -------------------------------------------------------------------------------------

    def start(
        self,
        policy: str,
        model: str,
        *,
        trigger: str,
        action: str,
        champion_version: int | None,
        evidence: Mapping[str, Any] | None = None,
        actor: str = "loop",
    ) -> LoopAction:
        """Record a new action in state ``started``."""
        now = self.clock()
        values = {
            "policy": validate_name("policy", policy),
            "model": validate_name("model", model),
            "trigger": _short("trigger", trigger),
            "action": _short("action", action),
            "state": "started",
            "champion_version": champion_version,
            "challenger_version": None,
            "started_at": now,
            "updated_at": now,
            "finished_at": None,
            "evidence": json_text(evidence or {}),
            "cost": "{}",
            "error": None,
        }
        with self._db.write() as conn:
            action_id = conn.execute(loop_actions.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
            details = {"policy": policy, "model": model, "trigger": trigger, "action": action, "evidence": evidence}
            append_event(
                conn,
                actor=actor,
                action="loop.started",
                object_type="loop_action",
                object_id=action_id,
                details=details,
                at=now,
            )
        return self.get(int(action_id))

    def advance(
        self,
        action_id: int,
        *,
        expected: ActionState,
        state: ActionState,
        challenger_version: int | None = None,
        evidence: Mapping[str, Any] | None = None,
        cost: Mapping[str, Any] | None = None,
        error: str | None = None,
        actor: str = "loop",
    ) -> LoopAction:
        """Move action ``action_id`` from ``expected`` to ``state``, merging ``evidence`` and ``cost`` into its own.

        Raises:
            Conflict: The action is no longer in ``expected`` (another controller moved it, or it finished).
            NotFound: There is no such action.
        """
        for name, value in (("expected", expected), ("state", state)):
            if value not in ACTION_STATES:
                raise InvalidInput(f"The {name} state must be one of {', '.join(ACTION_STATES)}; got {value!r}.")
        with self._db.write() as conn:
            row = conn.execute(
                sa.select(loop_actions).where(loop_actions.c.id == action_id).with_for_update()
            ).one_or_none()
            if row is None:
                raise NotFound(f"There is no loop action {action_id}.")
            if row.state != expected:
                raise Conflict(f"Loop action {action_id} is {row.state}, not {expected}: another controller moved it.")
            now = self.clock()
            values: dict[str, Any] = {
                "state": state,
                "updated_at": now,
                "evidence": json_text({**json.loads(row.evidence), **(evidence or {})}),
                "cost": json_text({**json.loads(row.cost), **(cost or {})}),
            }
            if challenger_version is not None:
                values["challenger_version"] = challenger_version
            if error is not None:
                values["error"] = error
            if state in FINISHED_STATES:
                values["finished_at"] = now
            conn.execute(loop_actions.update().where(loop_actions.c.id == action_id).values(**values))
            details = {
                "policy": row.policy,
                "model": row.model,
                "from": expected,
                "challenger_version": challenger_version,
                "evidence": evidence,
                "cost": cost,
                "error": error,
            }
            append_event(
                conn,
                actor=actor,
                action=f"loop.{state}",
                object_type="loop_action",
                object_id=action_id,
                details={key: value for key, value in details.items() if value is not None},
                at=now,
            )
        return self.get(action_id)

    def get(self, action_id: int) -> LoopAction:
        with self._db.read() as conn:
            row = conn.execute(sa.select(loop_actions).where(loop_actions.c.id == action_id)).one_or_none()
        if row is None:
            raise NotFound(f"There is no loop action {action_id}.")
        return _action(dict(row._mapping))

    def unfinished(self, policy: str | None = None) -> builtins.list[LoopAction]:
        """Actions not finished yet (a controller stopped mid-way), oldest first."""
        query = sa.select(loop_actions).where(loop_actions.c.state.not_in(sorted(FINISHED_STATES)))
        if policy is not None:
            query = query.where(loop_actions.c.policy == policy)
        with self._db.read() as conn:
            return [_action(dict(row._mapping)) for row in conn.execute(query.order_by(loop_actions.c.id))]

    def list(
        self, *, policy: str | None = None, model: str | None = None, limit: int = 100
    ) -> builtins.list[LoopAction]:
        """Actions matching the filters, newest first."""
        if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
            raise InvalidInput(f"The limit must be an integer >= 1; got {limit!r}.")
        query = sa.select(loop_actions)
        if policy is not None:
            query = query.where(loop_actions.c.policy == policy)
        if model is not None:
            query = query.where(loop_actions.c.model == model)
        with self._db.read() as conn:
            rows = conn.execute(query.order_by(loop_actions.c.id.desc()).limit(limit))
            return [_action(dict(row._mapping)) for row in rows]

    # -- quarantines ---------------------------------------------------------------------------------

    def quarantine(
        self,
        model: str,
        window_start: float,
        window_end: float,
        *,
        reason: str,
        action_id: int | None = None,
        actor: str = "loop",
    ) -> Quarantine:
        """Leave ``model``'s traffic between ``window_start`` and ``window_end`` out of retrain windows."""
        start, end = _seconds("window_start", window_start), _seconds("window_end", window_end)
        if end < start:
            raise InvalidInput(f"A quarantine must end after it starts; got {start} to {end}.")
        values: dict[str, Any] = {
            "model": validate_name("model", model),
            "window_start": start,
            "window_end": end,
            "reason": str(reason),
            "action_id": action_id,
            "created_at": self.clock(),
        }
        with self._db.write() as conn:
            row_id = conn.execute(quarantines.insert().values(**values)).inserted_primary_key[0]  # type: ignore[index]
            append_event(
                conn,
                actor=actor,
                action="loop.quarantined",
                object_type="model",
                object_id=values["model"],
                details={"window_start": start, "window_end": end, "reason": values["reason"], "action_id": action_id},
                at=values["created_at"],
            )
        return Quarantine(id=int(row_id), **values)

    def quarantines(self, model: str) -> builtins.list[Quarantine]:
        """The quarantined windows of ``model``, by start."""
        query = (
            sa.select(quarantines)
            .where(quarantines.c.model == validate_name("model", model))
            .order_by(quarantines.c.window_start, quarantines.c.id)
        )
        with self._db.read() as conn:
            return [Quarantine(**dict(row._mapping)) for row in conn.execute(query)]


def _short(what: str, value: str) -> str:
    if not isinstance(value, str) or not value or len(value) > 64:
        raise InvalidInput(f"The {what} must be a non-empty string of at most 64 characters; got {value!r}.")
    return value


def _seconds(what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(float(value)):
        raise InvalidInput(f"The {what} must be a finite number of seconds since the epoch; got {value!r}.")
    return float(value)


def _action(row: dict[str, Any]) -> LoopAction:
    row["evidence"] = json.loads(row["evidence"])
    row["cost"] = json.loads(row["cost"])
    return LoopAction(**row)
