"""Experiment tracking: experiments, runs, params, metrics, artifacts and the queries over them."""

from driftloop.tracking._active_run import ActiveRun
from driftloop.tracking._fluent import active_run, get_workspace, set_workspace, start_run
from driftloop.tracking._service import RunComparison, Tracking

__all__ = [
    "ActiveRun",
    "RunComparison",
    "Tracking",
    "active_run",
    "get_workspace",
    "set_workspace",
    "start_run",
]
