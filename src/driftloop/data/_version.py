"""A handle on one dataset version: read it as Arrow, pandas or polars; its profile, report and lineage."""

from __future__ import annotations

import abc
import json
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pyarrow as pa

from driftloop.entities import DatasetVersionInfo

if TYPE_CHECKING:
    import pandas as pd
    import polars as pl

    from driftloop.data.profiles import Profile
    from driftloop.data.transforms import FittedTransform
    from driftloop.store.blobs import BlobStore
    from driftloop.store.tables import TableStore

__all__ = ["DatasetVersion", "StoredDatasetVersion"]


class DatasetVersion(abc.ABC):
    """Version ``number`` of dataset ``name``: read it as Arrow, pandas or polars, with what its ingest recorded.
    Reading it inside a run records the run's input.

    A version reads back the same forever, whatever was ingested after it. Where the rows come from is the
    subclass's: the workspace's own tables (:class:`StoredDatasetVersion`) or a workspace server
    (:class:`driftloop.remote.RemoteDatasetVersion`).
    """

    def __init__(self, info: DatasetVersionInfo, *, current_run: Callable[[], Any]) -> None:
        self.info = info
        self._current_run = current_run

    def __repr__(self) -> str:
        return f"DatasetVersion({self.name!r}, version={self.number}, rows={self.info.total_rows})"

    @property
    def name(self) -> str:
        return self.info.dataset

    @property
    def number(self) -> int:
        return self.info.number

    # -- data --------------------------------------------------------------------------------------

    @abc.abstractmethod
    def to_arrow(self) -> pa.Table:
        """Every row of the version, as one Arrow table."""

    def to_pandas(self) -> pd.DataFrame:
        frame: pd.DataFrame = self.to_arrow().to_pandas()
        return frame

    def to_polars(self) -> pl.DataFrame:
        import polars as pl

        frame = pl.from_arrow(self.to_arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame

    @abc.abstractmethod
    def batches(self, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        """Stream the version without holding it in memory: batches of at most ``batch_size`` rows."""

    # -- what was recorded with it -----------------------------------------------------------------

    @abc.abstractmethod
    def profile(self) -> Profile:
        """Per-column statistics and sketches of the rows this ingest added (the drift reference)."""

    @abc.abstractmethod
    def report(self) -> dict[str, Any]:
        """The data-quality report of the ingest that made this version."""

    @abc.abstractmethod
    def transform(self) -> FittedTransform | None:
        """The fitted transform the ingest applied, ready to run again on new data or at serving time."""

    @abc.abstractmethod
    def runs(self) -> list[str]:
        """Ids of the runs that read this version (lineage)."""

    def _record_read(self) -> None:
        run = self._current_run()
        if run is not None and not run.ended:
            run.log_input(self.name, self.number)


class StoredDatasetVersion(DatasetVersion):
    """A version of the workspace's own: its rows in the Delta table at exactly the commit the version was recorded
    with, what its ingest recorded in the blob store."""

    def __init__(
        self,
        info: DatasetVersionInfo,
        *,
        tables: TableStore,
        blobs: BlobStore,
        runs_using: Callable[[str, int], list[str]],
        current_run: Callable[[], Any],
    ) -> None:
        super().__init__(info, current_run=current_run)
        self._tables = tables
        self._blobs = blobs
        self._runs_using = runs_using

    def to_arrow(self) -> pa.Table:
        self._record_read()
        return self._tables.read(self.name, self.info.delta_version)

    def batches(self, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        self._record_read()
        yield from self._tables.batches(self.name, self.info.delta_version, batch_size=batch_size)

    def profile(self) -> Profile:
        from driftloop.data.profiles import Profile

        if self.info.profile_digest is None:
            return Profile.empty()
        return Profile.from_bytes(self._blobs.get(self.info.profile_digest))

    def report(self) -> dict[str, Any]:
        if self.info.report_digest is None:
            return {}
        return dict(json.loads(self._blobs.get(self.info.report_digest)))

    def transform(self) -> FittedTransform | None:
        from driftloop.data.transforms import FittedTransform

        if self.info.transform_digest is None:
            return None
        return FittedTransform.from_json(self._blobs.get(self.info.transform_digest).decode())

    def runs(self) -> list[str]:
        return self._runs_using(self.name, self.number)
