"""Datasets and their versions."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

__all__ = ["Dataset", "DatasetVersionInfo"]


@dataclass(frozen=True, slots=True)
class Dataset:
    """A named, versioned table."""

    id: int
    name: str
    created_at: datetime
    created_by: str
    description: str = ""
    versions: int = 0


@dataclass(frozen=True, slots=True)
class DatasetVersionInfo:
    """What was recorded when a version was ingested.

    ``number`` is driftloop's version number (1, 2, 3…); ``delta_version`` is the Delta Lake commit
    that holds it (maintenance such as compaction adds Delta commits of its own, so the two differ).
    ``rows`` counts the rows this ingest added; ``total_rows`` the rows the version holds.
    """

    dataset: str
    number: int
    delta_version: int
    mode: str
    fingerprint: str
    source: str
    rows: int
    total_rows: int
    quarantined_rows: int
    created_at: datetime
    created_by: str
    arrow_schema: str
    transform_hash: str | None = None
    schema_fingerprint: str | None = None
    profile_digest: str | None = None
    report_digest: str | None = None
    transform_digest: str | None = None
