"""The quarantine table of a dataset: rows that broke a rule, kept apart, committed with their version.

Its rows are written in the same two phases as the version's own table, so a crash leaves either the
version and its quarantined rows, or neither:

1. While the ingest runs, quarantined rows go to a temporary Arrow file (:class:`QuarantineSpill`), so memory
   stays bounded however many rows break a rule; once the main table is staged, they are staged as
   Parquet too, tagged with the version number they expect (the next one).
2. In the metadata transaction that records the version (under the dataset's lock), after the main table's
   Delta commit, :meth:`QuarantineTable.commit` first rolls back the quarantine commits of versions that
   were never recorded (a crash's leftovers: the next ingest reconciles, as it does for the main table),
   then commits the staged rows, the commit's ``driftloop.version`` naming their version. Only then is the
   version row inserted. Should another ingest have taken the expected number meanwhile, the rows are
   staged again with the right one.
3. Reads (:meth:`QuarantineTable.read`) go to the newest Delta commit of a recorded version, so a crash
   between the Delta commit and the version row shows nothing until it is rolled back.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from typing import IO

import numpy as np
import pyarrow as pa

from driftloop.store.tables import StagedWrite, TableStore

__all__ = ["VERSION_COLUMN", "QuarantineSpill", "QuarantineTable", "StagedQuarantine"]

VERSION_COLUMN = "_version"
"""The column that names the version a quarantined row was ingested with."""
VERSION_PROPERTY = "driftloop.version"
"""The Delta commit property naming the version whose rows the commit adds."""


class QuarantineSpill:
    """The quarantined rows of one ingest, in a temporary Arrow IPC file until they are staged.

    >>> spill = QuarantineSpill()
    >>> spill.add(pa.table({"a": ["x"], "_source_row": [3], "_reasons": ["bad"]}))
    >>> [batch.to_pydict() for batch in spill.batches(version=2)]
    [{'a': ['x'], '_source_row': [3], '_reasons': ['bad'], '_version': [2]}]
    >>> spill.close()
    """

    def __init__(self) -> None:
        self.rows = 0
        self.schema: pa.Schema | None = None
        self._file: IO[bytes] | None = None
        self._writer: pa.ipc.RecordBatchFileWriter | None = None

    def add(self, table: pa.Table) -> None:
        """Append quarantined rows (every call with the same schema, as one validator gives them)."""
        if table.num_rows == 0:
            return
        if self._writer is None:
            self._file = tempfile.TemporaryFile(prefix="driftloop-quarantine-")  # noqa: SIM115 - closed by close()
            self.schema = table.schema
            self._writer = pa.ipc.new_file(self._file, table.schema)
        self._writer.write_table(table)
        self.rows += table.num_rows

    def batches(self, *, version: int) -> Iterator[pa.RecordBatch]:
        """The rows added so far, with the ``_version`` column set to ``version``."""
        if self._file is None or self._writer is None:
            return
        self._writer.close()  # idempotent; the file is complete once its footer is written
        self._file.seek(0)
        reader = pa.ipc.open_file(self._file)
        for index in range(reader.num_record_batches):
            batch = reader.get_batch(index)
            yield batch.append_column(VERSION_COLUMN, pa.array(np.full(batch.num_rows, version, dtype=np.int32)))

    def close(self) -> None:
        """Delete the temporary file."""
        if self._writer is not None:
            self._writer.close()
        if self._file is not None:
            self._file.close()
        self._file = self._writer = None


@dataclass(frozen=True)
class StagedQuarantine:
    """Quarantined rows staged as the rows of ``version``."""

    staged: StagedWrite
    version: int


class QuarantineTable:
    """The quarantine table of dataset ``dataset``: ``{dataset}.quarantine`` in the table store."""

    def __init__(self, tables: TableStore, dataset: str) -> None:
        self._tables = tables
        self.table = f"{dataset}.quarantine"

    def stage(self, spill: QuarantineSpill, *, version: int) -> StagedQuarantine | None:
        """Stage the spilled rows as the rows of ``version``; None when there are none."""
        if spill.rows == 0 or spill.schema is None:
            return None
        schema = spill.schema.append(pa.field(VERSION_COLUMN, pa.int32()))
        staged = self._tables.stage(self.table, spill.batches(version=version), fallback_schema=schema)
        return StagedQuarantine(staged, version)

    def commit(self, staged: StagedQuarantine | None, *, version: int, spill: QuarantineSpill) -> None:
        """Roll back the commits of versions from ``version`` on (never recorded), then commit ``staged`` as the
        rows of ``version`` (staged again from ``spill`` when ``staged`` expected another version). Call it under
        the dataset's lock, after the main table's Delta commit and before the version row is inserted.
        """
        self._roll_back(after=version - 1)
        if staged is None:
            return
        if staged.version != version:
            # Another ingest took the number this one expected while it was staging: tag the rows again.
            self._tables.discard(staged.staged)
            staged = self.stage(spill, version=version)
            if staged is None:
                return
        if self._tables.latest_version(self.table) is None:
            # An empty first commit gives a roll-back a state to return to, should the rows' version never land.
            empty = self._tables.stage(self.table, [], fallback_schema=staged.staged.schema)
            self._tables.commit(empty, mode="append", properties={VERSION_PROPERTY: "0"})
        self._tables.commit(staged.staged, mode="append", properties={VERSION_PROPERTY: str(version)})

    def discard(self, staged: StagedQuarantine | None) -> None:
        """Delete staged rows that will not be committed."""
        if staged is not None:
            self._tables.discard(staged.staged)

    def read(self, *, recorded: int) -> pa.Table:
        """The quarantined rows of the versions up to ``recorded`` (the dataset's latest recorded version)."""
        delta_version = self._newest_commit(up_to=recorded)
        return pa.table({}) if delta_version is None else self._tables.read(self.table, delta_version)

    def _roll_back(self, *, after: int) -> None:
        latest = self._tables.latest_version(self.table)
        if latest is None:
            return
        kept = self._newest_commit(up_to=after)
        if kept is not None and kept != latest:
            self._tables.restore(self.table, kept)

    def _newest_commit(self, *, up_to: int) -> int | None:
        """The newest Delta version adding no rows of a version above ``up_to``; None when there is none.

        Commits without the property (a roll-back's restore, maintenance) add no rows of an unrecorded version;
        the table's first commit is empty (version 0), or holds rows committed after their version row (tables
        written before the rows were committed first), so there is always one.
        """
        if self._tables.latest_version(self.table) is None:
            return None
        for commit in sorted(self._tables.history(self.table), key=lambda entry: -int(entry["version"])):
            tagged = commit.get(VERSION_PROPERTY)
            if tagged is None or int(tagged) <= up_to:
                return int(commit["version"])
        return None
