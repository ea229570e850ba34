"""Experiment tracking: experiments, runs, params, metrics, artifacts and the queries over them."""

from driftloop.tracking._active_run import ActiveRun
from driftloop.tracking._service import RunComparison, Tracking

__all__ = ["ActiveRun", "RunComparison", "Tracking"]
