"""Frame sources: pandas, polars (eager and lazy) and Arrow, sliced into batches."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop import Workspace
from driftloop.data.sources import FrameSource, open_source
from driftloop.errors import InvalidData, InvalidInput, InvalidState

COLUMNS = {"rooms": [2, 3, 4, 1, 5], "district": ["Ba Dinh", "Tay Ho", None, "Dong Da", "Cau Giay"]}
ROWS = [dict(zip(COLUMNS, values, strict=True)) for values in zip(*COLUMNS.values(), strict=True)]


def frames() -> dict[str, Any]:
    table = pa.table(COLUMNS)
    return {
        "pandas": pd.DataFrame(COLUMNS),
        "polars": pl.DataFrame(COLUMNS),
        "lazy": pl.LazyFrame(COLUMNS),
        "table": table,
        "batch": table.to_batches()[0],
        "reader": pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
    }


@pytest.mark.parametrize("kind", list(frames()))
def test_every_kind_of_frame(kind: str) -> None:
    source = open_source(frames()[kind], batch_rows=2)
    assert isinstance(source, FrameSource)
    batches = list(source.batches())
    assert [batch.num_rows for batch in batches] == [2, 2, 1]
    assert pa.Table.from_batches(batches).to_pylist() == ROWS
    assert pa.types.is_integer(batches[0].schema.field("rooms").type)


def test_descriptions() -> None:
    descriptions = {kind: FrameSource(frame).description for kind, frame in frames().items()}
    assert descriptions == {
        "pandas": "pandas DataFrame (5 rows)",
        "polars": "polars DataFrame (5 rows)",
        "lazy": "polars LazyFrame",
        "table": "Arrow Table (5 rows)",
        "batch": "Arrow RecordBatch (5 rows)",
        "reader": "Arrow RecordBatchReader",
    }
    assert FrameSource(pd.DataFrame({"x": range(1234)})).description == "pandas DataFrame (1,234 rows)"


def test_a_reader_can_be_read_once() -> None:
    source = FrameSource(frames()["reader"])
    assert sum(batch.num_rows for batch in source.batches()) == 5
    with pytest.raises(InvalidState, match="Arrow RecordBatchReader was read already; a reader can be read only once"):
        source.batches()


def test_other_frames_can_be_read_again() -> None:
    for kind, frame in frames().items():
        if kind != "reader":
            source = FrameSource(frame)
            assert pa.Table.from_batches(list(source.batches())) == pa.Table.from_batches(list(source.batches()))


def test_a_pandas_index_other_than_the_default_becomes_columns() -> None:
    frame = pd.DataFrame(COLUMNS).set_index("district")
    table = pa.Table.from_batches(list(FrameSource(frame, batch_rows=2).batches()))
    assert table.column_names == ["district", "rooms"]
    assert table.schema.metadata is None
    sliced = pd.DataFrame(COLUMNS).iloc[1:]
    assert pa.Table.from_batches(list(FrameSource(sliced).batches())).column_names == ["rooms", "district"]


def test_a_concatenated_pandas_frame_with_chunked_string_columns() -> None:
    frame = pd.concat([pd.DataFrame(COLUMNS).iloc[3:], pd.DataFrame(COLUMNS).iloc[:3]], ignore_index=True)
    batches = list(FrameSource(frame, batch_rows=4).batches())
    assert all(0 < batch.num_rows <= 4 for batch in batches)
    assert pa.Table.from_batches(batches).to_pylist() == ROWS[3:] + ROWS[:3]


def test_a_pandas_column_of_mixed_types_names_row_and_column() -> None:
    frame = pd.DataFrame({"id": [1, 2, 3], "size": ["small", None, 3]})
    with pytest.raises(InvalidData) as caught:
        list(FrameSource(frame).batches())
    assert str(caught.value) == (
        "pandas DataFrame (3 rows): column 'size' mixes types: row 1 has 'small' (str), but row 3 has 3 (int)."
    )
    assert (caught.value.row, caught.value.column) == (3, "size")


def test_a_lazy_frame_streams_a_scan(tmp_path: Path) -> None:
    path = tmp_path / "numbers.csv"
    path.write_text("n\n" + "".join(f"{i}\n" for i in range(10_000)))
    query = pl.scan_csv(path).filter(pl.col("n") % 2 == 0).with_columns(square=pl.col("n") ** 2)
    batches = list(FrameSource(query, batch_rows=1_000).batches())
    assert all(0 < batch.num_rows <= 1_000 for batch in batches)
    table = pa.Table.from_batches(batches)
    assert table.column("n").to_pylist() == list(range(0, 10_000, 2))


def test_a_failing_lazy_query(tmp_path: Path) -> None:
    query = pl.LazyFrame({"a": [1]}).select(pl.col("missing"))
    with pytest.raises(InvalidInput, match=r"The query of polars LazyFrame failed: .*missing"):
        list(FrameSource(query).batches())


def test_polars_strings_come_as_large_strings() -> None:
    batch = next(FrameSource(pl.DataFrame(COLUMNS)).batches())
    assert batch.schema.field("district").type == pa.large_string()


def test_empty_frames_yield_no_batch() -> None:
    assert list(FrameSource(pd.DataFrame({"a": []})).batches()) == []
    assert list(FrameSource(pl.DataFrame({"a": []})).batches()) == []
    assert list(FrameSource(pa.table({"a": pa.array([], pa.int64())})).batches()) == []


def test_what_is_not_a_frame() -> None:
    with pytest.raises(InvalidInput, match=r"got builtins\.list"):
        FrameSource([1, 2, 3])  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match=r"Options \(format, delimiter\) apply to files, web APIs and SQL"):
        open_source(pa.table(COLUMNS), format="csv", delimiter=";")


@settings(max_examples=40, deadline=None)
@given(
    values=st.lists(st.one_of(st.none(), st.integers(-(2**40), 2**40)), max_size=80),
    batch_rows=st.integers(1, 100),
    kind=st.sampled_from(["pandas", "polars", "lazy", "table"]),
)
def test_batches_add_up_to_the_frame(values: list[int | None], batch_rows: int, kind: str) -> None:
    table = pa.table({"x": pa.array(values, pa.int64())})
    frame: Any = {
        "pandas": lambda: table.to_pandas(),
        "polars": lambda: pl.from_arrow(table),
        "lazy": lambda: pl.from_arrow(table).lazy(),  # type: ignore[union-attr]
        "table": lambda: table,
    }[kind]()
    batches = list(FrameSource(frame, batch_rows=batch_rows).batches())
    assert all(0 < batch.num_rows <= batch_rows for batch in batches)
    read_back = [value for batch in batches for value in batch.column("x").to_pylist()]
    expected = [None if value is None else value for value in values]
    if kind == "pandas":  # NaN for missing numbers, floats throughout
        read_back = [None if value is None or value != value else int(value) for value in read_back]
    assert read_back == expected


def test_a_pandas_frame_whose_columns_share_a_name_is_refused_by_name(sqlite_workspace: Workspace) -> None:
    frame = pd.DataFrame([[1, 2, 3]], columns=["area", "area", "rooms"])
    with pytest.raises(InvalidData, match=r"columns that share a name \('area'\)"):
        sqlite_workspace.datasets.ingest("houses", frame)
    assert sqlite_workspace.datasets.list() == []
