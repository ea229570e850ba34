"""File sources: CSV, TSV, Parquet, JSON and JSON Lines on disk and in fsspec memory, good and bad."""

from __future__ import annotations

import gzip
import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import fsspec
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.data.sources import FileSource, open_source
from driftloop.errors import InvalidData, InvalidInput, NotFound

HOUSES = [
    {"district": "Ba Dinh", "rooms": 2, "price": 3.5},
    {"district": "Cau Giay", "rooms": 3, "price": 4.25},
    {"district": "Tay Ho", "rooms": 4, "price": 7.0},
    {"district": "Hoan Kiem", "rooms": 1, "price": 2.75},
    {"district": "Dong Da", "rooms": 5, "price": 9.5},
]
HOUSES_CSV = "district,rooms,price\n" + "".join(f"{h['district']},{h['rooms']},{h['price']}\n" for h in HOUSES)
# More rows than open_csv's first block (1 MiB) holds, so a bad row after them lands in a later block.
MANY_ROWS = 80_000


def read_all(source: FileSource | object) -> pa.Table:
    batches = list(source.batches())  # type: ignore[attr-defined]
    return pa.Table.from_batches(batches)


def write_many_rows(path: Path, tail: str = "", *, prefix: str = "") -> None:
    """A CSV of MANY_ROWS rows ``id,name,amount`` (about 2 MB), then ``tail``."""
    with open(path, "w", encoding="utf-8", newline="") as file:
        file.write(prefix or "id,name,amount\n")
        for start in range(0, MANY_ROWS, 10_000):
            file.write("".join(f"{i},name{i},{i % 97}\n" for i in range(start, start + 10_000)))
        file.write(tail)


@pytest.fixture
def memory_folder() -> Iterator[str]:
    folder = f"memory://sources-{uuid.uuid4().hex}"
    yield folder
    filesystem = fsspec.filesystem("memory")
    if filesystem.exists(folder):
        filesystem.rm(folder, recursive=True)


# --- reading each format ---------------------------------------------------------------------------


def test_csv_streams_in_batches_of_at_most_batch_rows(tmp_path: Path) -> None:
    path = tmp_path / "houses.csv"
    path.write_text(HOUSES_CSV)
    source = open_source(path, batch_rows=2)
    batches = list(source.batches())
    assert isinstance(source, FileSource)
    assert source.description == f"CSV file {path}"
    assert [batch.num_rows for batch in batches] == [2, 2, 1]
    assert pa.Table.from_batches(batches).to_pylist() == HOUSES


def test_tsv_gzip_and_an_explicit_format(tmp_path: Path) -> None:
    tsv = tmp_path / "houses.tsv"
    tsv.write_text(HOUSES_CSV.replace(",", "\t"))
    assert read_all(open_source(tsv)).to_pylist() == HOUSES
    gzipped = tmp_path / "houses.csv.gz"
    gzipped.write_bytes(gzip.compress(HOUSES_CSV.encode()))
    source = open_source(gzipped)
    assert source.description == f"CSV file {gzipped} (gzip)"
    assert read_all(source).to_pylist() == HOUSES
    text = tmp_path / "houses.txt"
    text.write_text(HOUSES_CSV.replace(",", ";"))
    assert read_all(open_source(text, format="csv", delimiter=";")).to_pylist() == HOUSES


def test_csv_options_column_types_and_encoding(tmp_path: Path) -> None:
    path = tmp_path / "codes.csv"
    path.write_bytes("zip,city\n01000,Hà Nội\n70000,Sài Gòn\n".encode("latin-1", errors="replace"))
    with pytest.raises(InvalidData, match="not valid utf-8"):
        read_all(open_source(path))
    table = read_all(open_source(path, column_types={"zip": "string"}, encoding="latin-1"))
    assert table.schema.field("zip").type == pa.string()
    assert table.column("zip").to_pylist() == ["01000", "70000"]


def test_quoted_values_may_span_lines(tmp_path: Path) -> None:
    path = tmp_path / "notes.csv"
    path.write_text('id,note\n1,"first line\nsecond line"\n2,plain\n')
    assert read_all(open_source(path)).to_pylist() == [
        {"id": 1, "note": "first line\nsecond line"},
        {"id": 2, "note": "plain"},
    ]


def test_parquet_streams_by_row_group(tmp_path: Path) -> None:
    path = tmp_path / "houses.parquet"
    pq.write_table(pa.Table.from_pylist(HOUSES * 4), path, row_group_size=6)
    batches = list(open_source(path, batch_rows=4).batches())
    assert all(0 < batch.num_rows <= 4 for batch in batches)
    assert pa.Table.from_batches(batches).to_pylist() == HOUSES * 4
    assert FileSource(tmp_path / "x.pq").format == "parquet"


def test_json_array_object_with_one_list_and_records_path(tmp_path: Path) -> None:
    array = tmp_path / "array.json"
    array.write_text(json.dumps(HOUSES))
    assert read_all(open_source(array)).to_pylist() == HOUSES
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"count": 5, "houses": HOUSES}))
    assert read_all(open_source(wrapped, batch_rows=2)).to_pylist() == HOUSES
    nested = tmp_path / "nested.json.gz"
    nested.write_bytes(gzip.compress(json.dumps({"data": {"items": HOUSES, "tags": []}}).encode()))
    assert read_all(open_source(nested, records_path="data.items")).to_pylist() == HOUSES


def test_json_document_types_come_from_all_records(tmp_path: Path) -> None:
    path = tmp_path / "late.json"
    path.write_text(json.dumps([{"a": 1, "b": None}, {"a": 2, "b": None}, {"a": 3, "b": "x", "c": True}]))
    batches = list(open_source(path, batch_rows=1).batches())
    assert {batch.schema for batch in batches} == {pa.schema({"a": pa.int64(), "b": pa.string(), "c": pa.bool_()})}


def test_json_lines_stream_and_skip_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "houses.ndjson"
    path.write_text("\n".join(json.dumps(house) for house in HOUSES[:2]) + "\n\n" + json.dumps(HOUSES[2]) + "\n")
    source = open_source(path, batch_rows=2)
    assert source.description == f"JSON Lines file {path}"
    assert [batch.num_rows for batch in source.batches()] == [2, 1]
    assert read_all(source).to_pylist() == HOUSES[:3]


def test_json_lines_column_null_at_first_takes_the_later_type(tmp_path: Path) -> None:
    path = tmp_path / "late.jsonl"
    path.write_text('{"a": 1, "b": null}\n{"a": 2}\n{"a": 3, "b": "x", "c": 1.5}\n')
    batches = list(open_source(path, batch_rows=2).batches())
    assert batches[0].schema.field("b").type == pa.null()
    assert batches[1].schema == pa.schema({"a": pa.int64(), "b": pa.string(), "c": pa.float64()})
    table = pa.concat_tables([pa.Table.from_batches([batch]) for batch in batches], promote_options="default")
    assert table.to_pylist() == [
        {"a": 1, "b": None, "c": None},
        {"a": 2, "b": None, "c": None},
        {"a": 3, "b": "x", "c": 1.5},
    ]


def test_memory_urls(memory_folder: str) -> None:
    with fsspec.open(f"{memory_folder}/houses.csv", "w") as file:
        file.write(HOUSES_CSV)
    with fsspec.open(f"{memory_folder}/houses.parquet", "wb") as file:
        pq.write_table(pa.Table.from_pylist(HOUSES), file)
    with fsspec.open(f"{memory_folder}/houses.jsonl.gz", "wb") as file:
        file.write(gzip.compress("".join(json.dumps(house) + "\n" for house in HOUSES).encode()))
    for name in ("houses.csv", "houses.parquet", "houses.jsonl.gz"):
        source = open_source(f"{memory_folder}/{name}")
        assert source.description.endswith(f"{memory_folder}/{name}" + (" (gzip)" if name.endswith(".gz") else ""))
        assert read_all(source).to_pylist() == HOUSES
    with pytest.raises(NotFound, match="no such file"):
        read_all(open_source(f"{memory_folder}/missing.csv"))


@settings(max_examples=25, deadline=None)
@given(
    rows=st.lists(st.tuples(st.integers(-(10**9), 10**9), st.text("abcxyz ", max_size=5)), min_size=1, max_size=60),
    batch_rows=st.integers(1, 70),
)
def test_csv_batches_add_up_to_the_file(rows: list[tuple[int, str]], batch_rows: int) -> None:
    url = f"memory://hypothesis-{uuid.uuid4().hex}/rows.csv"
    with fsspec.open(url, "w") as file:
        file.write("number,word\n" + "".join(f'{number},"{word}"\n' for number, word in rows))
    batches = list(open_source(url, column_types={"word": "string"}, batch_rows=batch_rows).batches())
    fsspec.filesystem("memory").rm(url)
    assert all(0 < batch.num_rows <= batch_rows for batch in batches)
    table = pa.Table.from_batches(batches)
    assert table.column("number").to_pylist() == [number for number, _ in rows]
    assert table.column("word").to_pylist() == [word for _, word in rows]


# --- bad arguments ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"path": "houses.xlsx"}, "Cannot tell the format of '.*houses.xlsx' from its name; pass format="),
        ({"path": "houses.csv", "format": "excel"}, "Unknown file format 'excel'; expected one of 'csv'"),
        ({"path": "houses.parquet.gz"}, "gzip applies to text formats"),
        ({"path": "houses.parquet", "delimiter": ";"}, "The option 'delimiter' does not apply to Parquet files"),
        ({"path": "houses.csv", "records_path": "a"}, "The option 'records_path' does not apply to CSV files"),
        ({"path": "houses.csv", "delimiter": ";;"}, "A CSV delimiter must be one character"),
        ({"path": "houses.csv", "encoding": "klingon"}, "Unknown encoding 'klingon'"),
        ({"path": "houses.csv", "column_types": {"a": "integer64"}}, "the type 'integer64', which Arrow does not know"),
        ({"path": "houses.csv", "batch_rows": 0}, "batch_rows must be a positive integer"),
        ({"path": ""}, "A file source needs a path or URL"),
    ],
)
def test_bad_arguments_fail_before_any_io(arguments: dict[str, object], message: str) -> None:
    path = arguments.pop("path")
    with pytest.raises(InvalidInput, match=message):
        FileSource(path, **arguments)  # type: ignore[arg-type]


def test_column_types_must_name_existing_columns(tmp_path: Path) -> None:
    path = tmp_path / "houses.csv"
    path.write_text(HOUSES_CSV)
    with pytest.raises(InvalidInput, match=r"column_types names 'prcie', which CSV file .* does not have"):
        read_all(open_source(path, column_types={"prcie": "float64"}))


# --- malformed CSV ---------------------------------------------------------------------------------


def test_a_later_block_with_another_type_names_file_row_and_column(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    write_many_rows(path, "7,late,not-a-number\n")
    with pytest.raises(InvalidData) as caught:
        read_all(open_source(path))
    row = MANY_ROWS + 1
    assert str(caught.value) == (
        f"CSV file {path}: row {row} (line {row + 1}) has 'not-a-number' in column 'amount', which holds int64 values "
        "in the first rows. Declare its type: column_types={'amount': 'string'}."
    )
    assert (caught.value.source, caught.value.row, caught.value.column) == (f"CSV file {path}", row, "amount")


def test_a_late_decimal_in_an_integer_column_suggests_float64(tmp_path: Path) -> None:
    path = tmp_path / "late.csv"
    write_many_rows(path, "7,late,2.5\n")
    with pytest.raises(InvalidData, match=r"has '2.5' in column 'amount'.*column_types=\{'amount': 'float64'\}"):
        read_all(open_source(path))
    assert read_all(open_source(path, column_types={"amount": "float64"})).num_rows == MANY_ROWS + 1


def test_a_column_empty_in_the_first_block_then_filled(tmp_path: Path) -> None:
    path = tmp_path / "empty-then-filled.csv"
    with open(path, "w") as file:
        file.write("id,comment\n" + "".join(f"{i},\n" for i in range(700_000)) + "700000,finally\n")
    with pytest.raises(InvalidData, match="which is empty in the first rows, so it was read as type null") as caught:
        read_all(open_source(path))
    assert (caught.value.row, caught.value.column) == (700_001, "comment")


@pytest.mark.parametrize("late", [False, True])
def test_ragged_rows(tmp_path: Path, late: bool) -> None:
    path = tmp_path / "ragged.csv"
    if late:
        write_many_rows(path, "1,2,3,4\n")
        row = MANY_ROWS + 1
    else:
        path.write_text("id,name,amount\n1,a,2\n3,b\n4,c,5\n")
        row = 2
    with pytest.raises(InvalidData) as caught:
        read_all(open_source(path))
    values = 4 if late else 2
    assert str(caught.value) == (
        f"CSV file {path}: row {row} (line {row + 1}) has {values} values; the header has 3 columns (id, name, amount)."
    )
    assert caught.value.row == row


def test_an_unclosed_quote(tmp_path: Path) -> None:
    path = tmp_path / "quote.csv"
    write_many_rows(path, '5,"never closed,3\n' + "".join(f"{i},x,{i}\n" for i in range(100)))
    with pytest.raises(InvalidData) as caught:
        read_all(open_source(path))
    row = MANY_ROWS + 1
    assert (
        str(caught.value) == f"CSV file {path}: row {row} (line {row + 1}) opens a quoted value that is never closed."
    )


@pytest.mark.parametrize("late", [False, True])
def test_undecodable_bytes_name_the_encoding(tmp_path: Path, late: bool) -> None:
    path = tmp_path / "bytes.csv"
    bad = b"9,caf\xe9,1\n"
    if late:
        write_many_rows(path)
        with open(path, "ab") as file:
            file.write(bad)
        row = MANY_ROWS + 1
    else:
        path.write_bytes(b"id,name,amount\n1,ok,2\n" + bad)
        row = 2
    with pytest.raises(InvalidData) as caught:
        read_all(open_source(path))
    assert str(caught.value) == (
        f"CSV file {path}: row {row} (line {row + 1}), column 'name' has bytes that are not valid utf-8 (b'\\xe9'); "
        "pass the file's encoding, e.g. encoding='latin-1'."
    )
    assert (caught.value.row, caught.value.column) == (row, "name")
    assert read_all(open_source(path, encoding="latin-1")).column("name")[-1].as_py() == "café"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty: it has no header and no rows."),
        (b"a,b\n", "is empty: it has a header (a, b) but no data rows."),
    ],
)
def test_empty_csv(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "empty.csv"
    path.write_bytes(content)
    with pytest.raises(InvalidData) as caught:
        read_all(open_source(path))
    assert str(caught.value) == f"CSV file {path} {message}"


def test_a_file_that_is_not_gzip(tmp_path: Path) -> None:
    path = tmp_path / "plain.csv.gz"
    path.write_text(HOUSES_CSV)
    with pytest.raises(InvalidData, match=r"plain.csv.gz \(gzip\) is not a complete gzip file"):
        read_all(open_source(path))


def test_a_missing_file(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"CSV file .*missing.csv: no such file."):
        read_all(open_source(tmp_path / "missing.csv"))


# --- malformed Parquet and JSON --------------------------------------------------------------------


def test_bad_parquet(tmp_path: Path) -> None:
    not_parquet = tmp_path / "houses.parquet"
    not_parquet.write_text(HOUSES_CSV)
    with pytest.raises(InvalidData, match=r"Parquet file .*houses.parquet is not a readable Parquet file: "):
        read_all(open_source(not_parquet))
    no_rows = tmp_path / "none.parquet"
    pq.write_table(pa.table({"a": pa.array([], pa.int64())}), no_rows)
    with pytest.raises(InvalidData, match=r"none.parquet is empty: it has no rows."):
        read_all(open_source(no_rows))
    zero_bytes = tmp_path / "zero.parquet"
    zero_bytes.write_bytes(b"")
    with pytest.raises(InvalidData, match=r"zero.parquet is empty: it has 0 bytes."):
        read_all(open_source(zero_bytes))


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("", "is empty: it has no JSON document."),
        ("[]", "is empty: it has no records."),
        ('[{"a": 1},', "is not valid JSON: Expecting value at line 1, character 11."),
        ('{"a": 1}\n{"a": 2}\n', "It looks like JSON Lines (one object per line): pass format='jsonl'."),
        ('{"a": [1], "b": [2]}', "has several list fields (a, b); set records_path"),
        ('"text"', "holds a str with no list of records"),
        ('[{"a": 1}, 5]', "row 2 is a int (5), not an object of named fields."),
        ('[{"a": 1}, {"a": "x"}]', "column 'a' mixes types: row 1 has 1 (int), but row 2 has 'x' (str)."),
    ],
)
def test_bad_json(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "bad.json"
    path.write_text(content)
    with pytest.raises(InvalidData) as caught:
        read_all(open_source(path))
    assert message in str(caught.value)
    assert str(caught.value).startswith(f"JSON file {path}")


@pytest.mark.parametrize(
    ("content", "message", "row", "column"),
    [
        ('{"a": 1}\n\n{"a": \n', "row 2 (line 3) is not valid JSON: Expecting value at character 7.", 2, None),
        ('{"a": 1}\n[1, 2]\n', "row 2 (line 2) is a list ([1, 2]), not an object of named fields.", 2, None),
        (
            '{"a": 1}\n{"a": 2}\n{"a": "three"}\n',
            "column 'a' holds int64 values in earlier rows, but row 3 (line 3) has 'three' (str).",
            3,
            "a",
        ),
        ('{"a": 1}\n{"a": 2.5}\n', "column 'a' holds int64 values in earlier rows, but row 2 (line 2) has 2.5", 2, "a"),
        ("\n\n", "is empty: it has no records.", None, None),
    ],
)
def test_bad_json_lines(tmp_path: Path, content: str, message: str, row: int | None, column: str | None) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text(content)
    with pytest.raises(InvalidData) as caught:
        read_all(open_source(path, batch_rows=1))
    assert str(caught.value).startswith(f"JSON Lines file {path}")
    assert message in str(caught.value)
    assert (caught.value.row, caught.value.column) == (row, column)


def test_json_lines_with_undecodable_bytes(tmp_path: Path) -> None:
    path = tmp_path / "bytes.jsonl"
    path.write_bytes(b'{"a": "ok"}\n{"a": "caf\xe9"}\n')
    with pytest.raises(InvalidData, match=r"line 2 has bytes that are not valid utf-8 \(b'\\xe9'\)"):
        read_all(open_source(path))
    assert read_all(open_source(path, encoding="latin-1")).column("a").to_pylist() == ["ok", "café"]


def test_json_lines_declared_types(tmp_path: Path) -> None:
    path = tmp_path / "typed.jsonl"
    path.write_text('{"price": 1}\n{"price": 2.5}\n')
    table = read_all(open_source(path, column_types={"price": "float64"}, batch_rows=1))
    assert table.column("price").to_pylist() == [1.0, 2.5]
