"""In-memory frames: pandas and polars DataFrames, polars LazyFrames, Arrow tables and readers.

pandas and polars are imported only when the caller already has: a frame of a library that is not
loaded cannot exist, so checking ``sys.modules`` keeps ``import driftloop`` light.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, TypeAlias

import pyarrow as pa

from driftloop.data.sources._base import DEFAULT_BATCH_ROWS, check_batch_rows, limit_rows
from driftloop.data.sources._records import mixed_types
from driftloop.errors import InvalidData, InvalidInput, InvalidState

if TYPE_CHECKING:
    import pandas
    import polars

__all__ = ["Frame", "FrameSource", "frame_kind"]

Frame: TypeAlias = (
    "pandas.DataFrame | polars.DataFrame | polars.LazyFrame | pa.Table | pa.RecordBatch | pa.RecordBatchReader"
)
"""Every in-memory input :class:`FrameSource` takes."""

_NAMES = {
    "pandas": "pandas DataFrame",
    "polars": "polars DataFrame",
    "lazy": "polars LazyFrame",
    "table": "Arrow Table",
    "batch": "Arrow RecordBatch",
    "reader": "Arrow RecordBatchReader",
}


def frame_kind(frame: object) -> str | None:
    """Which kind of frame ``frame`` is (a key of ``_NAMES``), or None for anything else.

    >>> frame_kind(pa.table({"x": [1]}))
    'table'
    >>> frame_kind([1, 2]) is None
    True
    """
    if isinstance(frame, pa.Table):
        return "table"
    if isinstance(frame, pa.RecordBatch):
        return "batch"
    if isinstance(frame, pa.RecordBatchReader):
        return "reader"
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(frame, pandas.DataFrame):
        return "pandas"
    polars = sys.modules.get("polars")
    if polars is not None and isinstance(frame, polars.DataFrame):
        return "polars"
    if polars is not None and isinstance(frame, polars.LazyFrame):
        return "lazy"
    return None


class FrameSource:
    """An in-memory frame, handed out in record batches of at most ``batch_rows`` rows.

    pandas frames convert slice by slice to one schema inferred from the whole frame (an index
    other than the default ``RangeIndex`` becomes columns). polars frames slice without copying;
    a LazyFrame runs on polars' streaming engine and is never collected whole. An Arrow
    ``RecordBatchReader`` can be read only once. Empty frames yield no batch.

    Args:
        frame: The frame (see :data:`Frame`).
        batch_rows: The most rows in one batch.

    Raises:
        InvalidInput: ``frame`` is not a frame this source takes.

    >>> source = FrameSource(pa.table({"x": [1, 2, 3]}), batch_rows=2)
    >>> source.description, [batch.num_rows for batch in source.batches()]
    ('Arrow Table (3 rows)', [2, 1])
    """

    def __init__(self, frame: Frame, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> None:
        kind = frame_kind(frame)
        if kind is None:
            raise InvalidInput(
                "A frame source takes a pandas or polars DataFrame, a polars LazyFrame, or an Arrow Table, "
                f"RecordBatch or RecordBatchReader; got {type(frame).__module__}.{type(frame).__qualname__}."
            )
        self.frame = frame
        self.kind = kind
        self.batch_rows = check_batch_rows(batch_rows)
        self._read = False
        rows = _row_count(frame, kind)
        self.description = _NAMES[kind] if rows is None else f"{_NAMES[kind]} ({rows:,} rows)"

    def __repr__(self) -> str:
        return f"FrameSource({self.description!r})"

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Hand out the frame's rows.

        Raises:
            InvalidData: A pandas column mixes types Arrow cannot hold in one column, or shares its name.
            InvalidInput: A LazyFrame's query fails.
            InvalidState: A RecordBatchReader was read already.
        """
        frame: Any = self.frame
        if self.kind == "reader":
            if self._read:
                raise InvalidState(f"{self.description} was read already; a reader can be read only once.")
            self._read = True
            return limit_rows(frame, self.batch_rows)
        if self.kind == "table":
            return limit_rows(frame.to_batches(max_chunksize=self.batch_rows), self.batch_rows)
        if self.kind == "batch":
            return limit_rows([frame], self.batch_rows)
        if self.kind == "pandas":
            return self._pandas(frame)
        if self.kind == "polars":
            return self._polars(frame.iter_slices(n_rows=self.batch_rows))
        return self._lazy(frame)

    def _pandas(self, frame: pandas.DataFrame) -> Iterator[pa.RecordBatch]:
        import pandas

        if not isinstance(frame.index, pandas.RangeIndex) or frame.index.name is not None:
            frame = frame.reset_index()
        repeated = sorted({str(name) for name in frame.columns[frame.columns.duplicated()]})
        if repeated:
            raise InvalidData(
                f"{self.description} has columns that share a name ({', '.join(map(repr, repeated))}); each column "
                "needs a name of its own.",
                source=self.description,
                column=repeated[0],
            )
        try:
            schema = pa.Schema.from_pandas(frame, preserve_index=False).remove_metadata()
        except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
            raise self._pandas_error(frame, error) from error
        for start in range(0, len(frame), self.batch_rows):
            piece = frame.iloc[start : start + self.batch_rows]
            try:
                # A Table, not a RecordBatch: Arrow-backed columns of a concatenated frame arrive in chunks.
                table = pa.Table.from_pandas(piece, schema=schema, preserve_index=False)
            except (pa.ArrowInvalid, pa.ArrowTypeError) as error:
                raise self._pandas_error(piece, error, first_row=start + 1) from error
            yield from limit_rows(table.replace_schema_metadata(None).to_batches(), self.batch_rows)

    def _pandas_error(self, frame: pandas.DataFrame, error: Exception, first_row: int = 1) -> InvalidData:
        for name in frame.columns:
            values = [None if _missing(value) else value for value in frame[name].tolist()]
            try:
                pa.array(values, from_pandas=True)
            except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError):
                return mixed_types(self.description, str(name), values, first_row)
        return InvalidData(f"{self.description} does not convert to Arrow: {error}.", source=self.description)

    def _polars(self, frames: Iterator[polars.DataFrame]) -> Iterator[pa.RecordBatch]:
        import polars

        # The oldest Arrow compatibility level gives large_string rather than string_view, which
        # more readers (deltalake, older pyarrow) understand.
        compat_level = polars.CompatLevel.oldest()
        for frame in frames:
            yield from limit_rows(frame.to_arrow(compat_level=compat_level).to_batches(), self.batch_rows)

    def _lazy(self, frame: polars.LazyFrame) -> Iterator[pa.RecordBatch]:
        import polars

        try:
            yield from self._polars(iter(frame.collect_batches(chunk_size=self.batch_rows, lazy=True)))
        except polars.exceptions.PolarsError as error:
            detail = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise InvalidInput(f"The query of {self.description} failed: {detail}.") from error


def _row_count(frame: Any, kind: str) -> int | None:
    if kind in ("table", "batch"):
        return int(frame.num_rows)
    if kind == "pandas":
        return len(frame)
    if kind == "polars":
        return int(frame.height)
    return None


def _missing(value: object) -> bool:
    """pandas' missing markers: None, NaN, NaT, pd.NA."""
    if value is None or type(value).__name__ in ("NAType", "NaTType"):
        return True
    return isinstance(value, float) and value != value
