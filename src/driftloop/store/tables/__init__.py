"""Versioned tables (dataset versions, later the prediction log) on Delta Lake."""

from driftloop.store.tables._delta import StagedWrite, TableStore

__all__ = ["StagedWrite", "TableStore"]
