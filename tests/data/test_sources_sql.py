"""SQL sources on a real SQLite file and, where reachable, the PostgreSQL server."""

from __future__ import annotations

import datetime
import decimal
import os
import re
import socket
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import sqlalchemy as sa

from driftloop.data.sources import SqlSource, open_source
from driftloop.errors import InvalidData, InvalidInput, NotFound, SourceError

POSTGRES = os.environ.get("DRIFTLOOP_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def read(source: Any) -> pa.Table:
    return pa.Table.from_batches(list(source.batches()))


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    path = tmp_path / "houses.db"
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE houses (id INTEGER, district TEXT, price REAL, note TEXT)")
        connection.executemany(
            "INSERT INTO houses VALUES (?, ?, ?, ?)",
            [(i, f"district {i % 3}", i * 1.5, None if i < 8 else f"note {i}") for i in range(1, 11)],
        )
        connection.execute("CREATE TABLE messy (id INTEGER, value)")
        connection.executemany("INSERT INTO messy VALUES (?, ?)", [(1, 10), (2, 20), (3, "thirty")])
    connection.close()
    return f"sqlite:///{path}"


def test_sqlite_streams_in_batches(sqlite_url: str) -> None:
    source = open_source(sqlite_url, query="SELECT * FROM houses ORDER BY id", batch_rows=3)
    assert isinstance(source, SqlSource)
    assert source.description == f"SQL query on {sqlite_url}"
    batches = list(source.batches())
    assert [batch.num_rows for batch in batches] == [3, 3, 3, 1]
    assert batches[0].schema == pa.schema(
        {"id": pa.int64(), "district": pa.string(), "price": pa.float64(), "note": pa.null()}
    )
    # 'note' is null in the first batches and takes its type from the first value.
    assert batches[-1].schema.field("note").type == pa.string()
    table = pa.concat_tables([pa.Table.from_batches([batch]) for batch in batches], promote_options="default")
    assert table.column("id").to_pylist() == list(range(1, 11))
    assert table.column("note").to_pylist() == [None] * 7 + ["note 8", "note 9", "note 10"]


def test_bound_parameters_and_an_empty_result(sqlite_url: str) -> None:
    source = SqlSource(sqlite_url, "SELECT id FROM houses WHERE price > :least ORDER BY id", params={"least": 12})
    assert read(source).column("id").to_pylist() == [9, 10]
    assert list(SqlSource(sqlite_url, "SELECT * FROM houses WHERE id < 0").batches()) == []


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("SELECT * FROM missing", "no such table: missing"),
        ("SELEC id FROM houses", 'near "SELEC": syntax error'),
        ("SELECT id FROM houses WHERE id = :wanted", "A value is required for bind parameter 'wanted'"),
    ],
)
def test_a_failing_query_names_the_database_and_its_error(sqlite_url: str, query: str, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        read(SqlSource(sqlite_url, query))
    assert str(caught.value).startswith(f"The SQL query on {sqlite_url} failed: {message}")
    assert "\n" not in str(caught.value)


def test_a_column_that_changes_type(sqlite_url: str) -> None:
    with pytest.raises(InvalidData) as caught:
        read(SqlSource(sqlite_url, "SELECT * FROM messy ORDER BY id", batch_rows=2))
    assert str(caught.value) == (
        f"SQL query on {sqlite_url}: column 'value' holds int64 values in earlier rows, but row 3 has 'thirty' (str)."
    )
    assert (caught.value.row, caught.value.column) == (3, "value")
    with pytest.raises(InvalidData, match="column 'value' mixes types: row 1 has 10 \\(int\\), but row 3"):
        read(SqlSource(sqlite_url, "SELECT * FROM messy ORDER BY id"))


def test_repeated_column_names_and_statements_without_rows(sqlite_url: str) -> None:
    with pytest.raises(InvalidInput, match="returns more than one column named 'id'; give each column its own name"):
        read(SqlSource(sqlite_url, "SELECT a.id, b.id FROM houses a JOIN houses b ON a.id = b.id"))
    with pytest.raises(InvalidInput, match="the statement returns no rows; expected a SELECT"):
        read(SqlSource(sqlite_url, "UPDATE houses SET price = 1 WHERE id < 0"))


def test_a_missing_sqlite_file_is_not_created(tmp_path: Path) -> None:
    path = tmp_path / "missing.db"
    with pytest.raises(NotFound, match=f"the SQLite file {path} does not exist"):
        read(SqlSource(f"sqlite:///{path}", "SELECT 1"))
    assert not path.exists()


def test_passwords_stay_hidden() -> None:
    source = SqlSource(f"postgresql+psycopg://reader:s3cret@127.0.0.1:{closed_port()}/sales", "SELECT 1")
    assert "s3cret" not in source.description + repr(source)
    with pytest.raises(SourceError) as caught:
        read(source)
    assert str(caught.value).startswith(f"Cannot connect to {source.redacted_url}: ")
    assert "reader:***@" in str(caught.value)
    assert "s3cret" not in str(caught.value)


@pytest.mark.parametrize(
    ("url", "query", "message"),
    [
        ("not a url", "SELECT 1", "The database URL 'not a url' does not parse"),
        ("sqlite://", "  ", "A SQL source needs a query"),
        ("sqlite://", "SELECT 1", "batch_rows must be a positive integer"),
    ],
)
def test_bad_sql_arguments(url: str, query: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        SqlSource(url, query, batch_rows=-1 if "batch_rows" in message else 10)


def test_an_unknown_dialect() -> None:
    with pytest.raises(InvalidInput, match="SQLAlchemy knows no such database dialect"):
        read(SqlSource("nosuchdb://host/db", "SELECT 1"))


# --- PostgreSQL ------------------------------------------------------------------------------------


@pytest.fixture
def postgres_table() -> Iterator[str]:
    """A uniquely named table in the test database, dropped afterwards."""
    engine = sa.create_engine(POSTGRES, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except sa.exc.DBAPIError as error:
        engine.dispose()
        message = f"PostgreSQL is not reachable at {POSTGRES} ({str(error.orig).splitlines()[0]})"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the PostgreSQL tests.")
        pytest.skip(f"{message}; start it or set DRIFTLOOP_TEST_POSTGRES to run these tests.")
    table = f"dl_sources_{uuid.uuid4().hex[:12]}"
    with engine.begin() as connection:
        connection.execute(
            sa.text(
                f"CREATE TABLE {table} (id integer, district text, price numeric(10, 2), listed timestamptz, "
                "code uuid, sold boolean)"
            )
        )
        connection.execute(
            sa.text(
                f"INSERT INTO {table} SELECT i, 'district ' || (i % 4), i * 1.25, "
                "timestamptz '2024-01-01 00:00+00' + i * interval '1 day', md5(i::text)::uuid, i % 2 = 0 "
                "FROM generate_series(1, 1000) AS i"
            )
        )
    try:
        yield table
    finally:
        with engine.begin() as connection:
            connection.execute(sa.text(f"DROP TABLE {table}"))
        engine.dispose()


@pytest.mark.postgres
def test_postgresql_streams_with_a_server_side_cursor(postgres_table: str) -> None:
    source = SqlSource(POSTGRES, f"SELECT * FROM {postgres_table} WHERE id > :after ORDER BY id", params={"after": 0})
    batches = list(SqlSource(source.redacted_url, source.query, params=source.params, batch_rows=300).batches())
    assert [batch.num_rows for batch in batches] == [300, 300, 300, 100]
    assert len({batch.schema for batch in batches}) == 1
    schema = batches[0].schema
    assert schema.field("price").type == pa.decimal128(38, 2)
    assert pa.types.is_timestamp(schema.field("listed").type)
    assert schema.field("listed").type.tz in ("UTC", "Etc/UTC")
    assert schema.field("code").type == pa.string()
    table = pa.Table.from_batches(batches)
    first = table.slice(0, 1).to_pylist()[0]
    assert first["id"] == 1 and first["district"] == "district 1" and first["sold"] is False
    assert first["price"] == decimal.Decimal("1.25")
    assert first["listed"] == datetime.datetime(2024, 1, 2, tzinfo=datetime.UTC)
    assert first["code"] == str(uuid.UUID("c4ca4238a0b923820dcc509a6f75849b"))
    assert table.column("id").to_pylist() == list(range(1, 1001))


@pytest.mark.postgres
def test_postgresql_failing_query(postgres_table: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        read(SqlSource(POSTGRES, f"SELECT nope FROM {postgres_table}"))
    assert str(caught.value) == (
        f"The SQL query on {sa.engine.make_url(POSTGRES).render_as_string(hide_password=True)} failed: "
        'column "nope" does not exist.'
    )
    with pytest.raises(InvalidInput, match=f'relation "{postgres_table}_missing" does not exist'):
        read(SqlSource(POSTGRES, f"SELECT * FROM {postgres_table}_missing"))


def test_postgresql_unreachable() -> None:
    url = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/test"
    with pytest.raises(SourceError, match=rf"Cannot connect to {re.escape(url)}: connection failed: "):
        read(SqlSource(url, "SELECT 1"))
