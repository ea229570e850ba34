"""A dataset's profile: one mergeable summary per column, built batch by batch."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any, Final

import pyarrow as pa

from driftloop.data.profiles._categorical import CategoricalProfile
from driftloop.data.profiles._codec import FORMAT_VERSION, checked_count, corrupt, pack, unpack
from driftloop.data.profiles._kinds import CATEGORICAL, NUMERIC, Kind, kind_of
from driftloop.data.profiles._numeric import NumericProfile
from driftloop.errors import DriftloopError, InvalidData, InvalidInput

__all__ = ["ColumnProfile", "Profile", "profile_table"]

ColumnProfile = NumericProfile | CategoricalProfile

SOURCE_ROW: Final = "_source_row"
"""The ingest pipeline's row-number column: carried through, never profiled."""

_KLL_K_RANGE: Final = (8, 65_535)
_TOP_K_RANGE: Final = (1, 100_000)


class Profile:
    """Per-column statistics and sketches of a dataset, built in one pass with memory bounded per column.

    Columns are kept in the order first seen; what kind each becomes is described in the package docstring. Every
    column answers for every row: rows of a batch that lacks the column (or holds it as Arrow's ``null`` type),
    and rows seen before the column first appeared, count as missing, so ``count + missing == rows`` always.

    Args:
        kll_k: the ``k`` of each numeric column's KLL sketch (8 to 65535; 200 gives about 1.33 % rank error).
        top_k: how many of the most frequent categories each categorical column tracks reliably (1 to 100000).
    """

    def __init__(self, *, kll_k: int = 200, top_k: int = 64) -> None:
        self.kll_k = _checked_setting("kll_k", kll_k, _KLL_K_RANGE)
        self.top_k = _checked_setting("top_k", top_k, _TOP_K_RANGE)
        self._columns: dict[str, ColumnProfile] = {}
        self._rows = 0

    @classmethod
    def empty(cls, *, kll_k: int = 200, top_k: int = 64) -> Profile:
        """Return a profile of no data, ready for :meth:`update`."""
        return cls(kll_k=kll_k, top_k=top_k)

    @property
    def columns(self) -> Mapping[str, ColumnProfile]:
        """The profile of each column, by name, in the order first seen (read-only)."""
        return MappingProxyType(self._columns)

    @property
    def rows(self) -> int:
        """The number of rows seen."""
        return self._rows

    def update(self, batch: pa.RecordBatch | pa.Table) -> Profile:
        """Add the rows of ``batch`` to this profile, in place, and return it.

        Raises:
            InvalidInput: ``batch`` is not an Arrow record batch or table.
            InvalidData: a column changes kind (numeric, then strings), or a batch has two columns of one name. The
                profile is left as it was before the batch.
        """
        if isinstance(batch, pa.Table):
            # An empty table has no batches, yet its columns belong in the profile.
            for record_batch in batch.to_batches() or [pa.RecordBatch.from_pylist([], schema=batch.schema)]:
                self._update_batch(record_batch)
        elif isinstance(batch, pa.RecordBatch):
            self._update_batch(batch)
        else:
            raise InvalidInput(f"A profile is updated with a pyarrow RecordBatch or Table; got {type(batch).__name__}.")
        return self

    def merge(self, other: Profile) -> Profile:
        """Return the profile of the union of both profiles' data; neither changes.

        The result uses the smaller ``kll_k`` and ``top_k`` of the two for columns it sees later.

        Raises:
            InvalidInput: ``other`` is not a profile, or a column is numeric in one and categorical in the other.
        """
        if not isinstance(other, Profile):
            raise InvalidInput(f"A profile merges with another Profile; got {type(other).__name__}.")
        for name, column in self._columns.items():
            theirs = other._columns.get(name)
            if theirs is not None and theirs.kind != column.kind:
                raise InvalidInput(
                    f"Cannot merge the profiles: column {name!r} is {column.kind} in one and {theirs.kind} in the "
                    "other."
                )
        merged = Profile(kll_k=min(self.kll_k, other.kll_k), top_k=min(self.top_k, other.top_k))
        merged._rows = self._rows + other._rows
        for name in {**self._columns, **other._columns}:
            mine, theirs = self._columns.get(name), other._columns.get(name)
            if mine is not None and theirs is not None:
                merged._columns[name] = _merge_columns(mine, theirs)
            elif mine is not None:
                merged._columns[name] = _with_more_missing(mine, other._rows)
            elif theirs is not None:
                merged._columns[name] = _with_more_missing(theirs, self._rows)
        return merged

    def to_bytes(self) -> bytes:
        """Return the profile in driftloop's versioned binary format, which :meth:`from_bytes` reads back."""
        columns, sketches = [], []
        for name, column in self._columns.items():
            header, column_sketches = column._state()
            columns.append({"name": name, "kind": column.kind, **header})
            sketches.extend(column_sketches)
        return pack({"rows": self._rows, "kll_k": self.kll_k, "top_k": self.top_k, "columns": columns}, sketches)

    @classmethod
    def from_bytes(cls, data: bytes) -> Profile:
        """Return the profile that :meth:`to_bytes` wrote.

        Raises:
            InvalidInput: the bytes are of a format version this driftloop does not know.
            InvalidData: the bytes are not a profile, or are corrupt or truncated.
        """
        header, sketches = unpack(data)
        try:
            profile = cls(kll_k=header["kll_k"], top_k=header["top_k"])
            profile._rows = checked_count(header["rows"])
            remaining = iter(sketches)
            for entry in header["columns"]:
                name = entry["name"]
                if not isinstance(name, str) or name in profile._columns:
                    raise ValueError(f"the column name {name!r} is not a string or comes twice")
                column: ColumnProfile
                if entry["kind"] == NUMERIC:
                    column = NumericProfile._from_state(entry, [next(remaining)])
                elif entry["kind"] == CATEGORICAL:
                    column = CategoricalProfile._from_state(entry, [next(remaining), next(remaining)])
                else:
                    raise ValueError(f"column {name!r} has the unknown kind {entry['kind']!r}")
                if column.count + column.missing != profile._rows:
                    raise ValueError(f"column {name!r} accounts for {column.count + column.missing} rows")
                profile._columns[name] = column
            if next(remaining, None) is not None:
                raise ValueError("there are more sketches than columns")
        except DriftloopError as error:
            raise corrupt(str(error)) from error
        except (KeyError, TypeError, ValueError, AttributeError, StopIteration, RuntimeError) as error:
            # RuntimeError and ValueError also come from DataSketches' own decoders.
            raise corrupt(f"{type(error).__name__}: {error}") from error
        return profile

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able summary for reports: the rows and each column's statistics (no sketch bytes)."""
        return {
            "format_version": FORMAT_VERSION,
            "rows": self._rows,
            "columns": {name: column.to_dict() for name, column in self._columns.items()},
        }

    def __repr__(self) -> str:
        return f"Profile(rows={self._rows}, columns={list(self._columns)!r})"

    def _update_batch(self, batch: pa.RecordBatch) -> None:
        names = batch.schema.names
        if len(set(names)) != len(names):
            twice = sorted({name for name in names if names.count(name) > 1})
            raise InvalidData(f"The batch has more than one column named {twice[0]!r}.", column=twice[0])
        # Check every column before touching any state, so a batch that fails leaves the profile as it was.
        profiled: list[tuple[str, Kind, pa.Array]] = []
        for name, array in zip(names, batch.columns, strict=True):
            if name == SOURCE_ROW or pa.types.is_null(array.type):
                continue
            kind = kind_of(array.type)
            known = self._columns.get(name)
            if known is not None and kind != known.kind:
                raise InvalidData(
                    f"Column {name!r} was profiled as {known.kind} but this batch holds {array.type} values, which "
                    f"are {kind or 'not profiled'}; a column keeps its kind within a profile.",
                    column=name,
                )
            if kind is not None:
                profiled.append((name, kind, array))
        for name, kind, array in profiled:
            column = self._columns.get(name)
            if column is None:
                column = self._columns[name] = self._new_column(kind)
                column.missing = self._rows
            column._update(array)
        updated = {name for name, _kind, _array in profiled}
        for name, column in self._columns.items():
            if name not in updated:
                column.missing += batch.num_rows
        self._rows += batch.num_rows

    def _new_column(self, kind: Kind) -> ColumnProfile:
        return NumericProfile(kll_k=self.kll_k) if kind == NUMERIC else CategoricalProfile(top_k=self.top_k)


def profile_table(batches: Iterable[pa.RecordBatch | pa.Table], *, kll_k: int = 200, top_k: int = 64) -> Profile:
    """Return the profile of a stream of Arrow batches or tables, read once.

    >>> import pyarrow as pa
    >>> profile_table([pa.record_batch({"x": [1, 2]}), pa.record_batch({"x": [3, None]})]).columns["x"].mean
    2.0
    """
    profile = Profile.empty(kll_k=kll_k, top_k=top_k)
    for batch in batches:
        profile.update(batch)
    return profile


def _merge_columns(mine: ColumnProfile, theirs: ColumnProfile) -> ColumnProfile:
    if isinstance(mine, NumericProfile) and isinstance(theirs, NumericProfile):
        return mine._merged(theirs)
    if isinstance(mine, CategoricalProfile) and isinstance(theirs, CategoricalProfile):
        return mine._merged(theirs)
    raise AssertionError("merge checks the kinds first")


def _with_more_missing(column: ColumnProfile, rows: int) -> ColumnProfile:
    copy = column._copy()
    copy.missing += rows
    return copy


def _checked_setting(name: str, value: object, bounds: tuple[int, int]) -> int:
    low, high = bounds
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidInput(f"The profile setting {name!r} must be an integer in [{low}, {high}]; got {value!r}.")
    return value
