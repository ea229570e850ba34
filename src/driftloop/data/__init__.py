"""Data ingestion: collect, clean, validate, profile and version datasets.

The pieces: :mod:`~driftloop.data.sources` (files, web APIs, SQL, frames, streamed as Arrow batches),
:mod:`~driftloop.data.transforms` (declared cleaning steps, fitted once), :mod:`~driftloop.data.validation`
(rules and expectations; custom checks on pandera), :mod:`~driftloop.data.profiles` (mergeable sketches),
and the :class:`Datasets` service that runs them and stores each ingest as a Delta Lake version.
"""

from driftloop.data._diff import VersionDiff
from driftloop.data._service import Datasets, IngestResult
from driftloop.data._version import DatasetVersion

__all__ = ["DatasetVersion", "Datasets", "IngestResult", "VersionDiff"]
