"""Running work: background jobs that exactly one process runs at a time, across workers and machines."""

from driftloop.execution._leased import LeasedJob, process_holder_name

__all__ = ["LeasedJob", "process_holder_name"]
