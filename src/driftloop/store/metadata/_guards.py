"""Checks shared by the repositories that write to a run."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from driftloop.entities import Lifecycle, RunStatus
from driftloop.errors import InvalidState, NotFound
from driftloop.store.metadata._schema import experiments, runs

__all__ = ["require_run", "require_writable"]


def require_run(conn: Connection, run_id: str) -> Any:
    """The run's row; NotFound when there is none."""
    row = conn.execute(sa.select(runs).where(runs.c.id == run_id)).first()
    if row is None:
        raise NotFound(f"No run with id {run_id!r}.")
    return row


def require_writable(conn: Connection, run_id: str, *, after_end: bool) -> Any:
    """The run's row, if it may still be written to.

    A deleted run, or a run of a deleted experiment, takes nothing. An ended run takes annotations
    (tags, artifacts: ``after_end=True``) but no new params, inputs or metrics.
    """
    row = require_run(conn, run_id)
    if row.lifecycle == Lifecycle.DELETED:
        raise InvalidState(f"The run {run_id!r} is deleted; restore it before logging to it.")
    experiment = conn.execute(sa.select(experiments.c.lifecycle).where(experiments.c.id == row.experiment_id))
    if experiment.scalar() == Lifecycle.DELETED:
        raise InvalidState(f"The experiment of run {run_id!r} is deleted; restore it before logging to the run.")
    if not after_end and row.status != RunStatus.RUNNING:
        raise InvalidState(
            f"The run {run_id!r} has ended ({row.status}); params and inputs can only be logged while it runs. "
            "Tags and artifacts may still be added."
        )
    return row
