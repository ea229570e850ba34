"""A handle on one dataset version: read it as Arrow, pandas or polars; its profile, report and lineage."""

from __future__ import annotations

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

__all__ = ["DatasetVersion"]


class DatasetVersion:
    """Version ``number`` of dataset ``name``. Reading it inside a run records the run's input.

    Reads go to exactly the Delta commit the version was recorded with, so a version reads back the
    same forever, whatever was ingested after it.
    """

    def __init__(
        self,
        info: DatasetVersionInfo,
        *,
        tables: TableStore,
        blobs: BlobStore,
        runs_using: Callable[[str, int], list[str]],
        current_run: Callable[[], Any],
    ) -> None:
        self.info = info
        self._tables = tables
        self._blobs = blobs
        self._runs_using = runs_using
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

    def to_arrow(self) -> pa.Table:
        self._record_read()
        return self._tables.read(self.name, self.info.delta_version)

    def to_pandas(self) -> pd.DataFrame:
        frame: pd.DataFrame = self.to_arrow().to_pandas()
        return frame

    def to_polars(self) -> pl.DataFrame:
        import polars as pl

        frame = pl.from_arrow(self.to_arrow())
        assert isinstance(frame, pl.DataFrame)
        return frame

    def batches(self, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        """Stream the version without holding it in memory."""
        self._record_read()
        yield from self._tables.batches(self.name, self.info.delta_version, batch_size=batch_size)

    # -- what was recorded with it -----------------------------------------------------------------

    def profile(self) -> Profile:
        """Per-column statistics and sketches of the rows this ingest added (the drift reference)."""
        from driftloop.data.profiles import Profile

        if self.info.profile_digest is None:
            return Profile.empty()
        return Profile.from_bytes(self._blobs.get(self.info.profile_digest))

    def report(self) -> dict[str, Any]:
        """The data-quality report of the ingest that made this version."""
        if self.info.report_digest is None:
            return {}
        return dict(json.loads(self._blobs.get(self.info.report_digest)))

    def transform(self) -> FittedTransform | None:
        """The fitted transform the ingest applied, ready to run again on new data or at serving time."""
        from driftloop.data.transforms import FittedTransform

        if self.info.transform_digest is None:
            return None
        return FittedTransform.from_json(self._blobs.get(self.info.transform_digest).decode())

    def runs(self) -> list[str]:
        """Ids of the runs that read this version (lineage)."""
        return self._runs_using(self.name, self.number)

    def _record_read(self) -> None:
        run = self._current_run()
        if run is not None and not run.ended:
            run.log_input(self.name, self.number)
