"""A SQL query against any SQLAlchemy URL, streamed with a server-side cursor where there is one."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator, Mapping
from typing import Any

import pyarrow as pa
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from driftloop.data.sources._base import DEFAULT_BATCH_ROWS, check_batch_rows
from driftloop.data.sources._records import RecordBatcher
from driftloop.errors import DriftloopError, InvalidInput, NotFound, SourceError

__all__ = ["SqlSource"]


class SqlSource:
    """The rows of a SQL query, fetched ``batch_rows`` at a time into Arrow batches.

    Results stream (``stream_results=True``: a server-side cursor on PostgreSQL), so memory follows
    the batch size, not the result's. Column types come from the values (the first rows with a
    non-null value in a column fix its type, see :class:`RecordBatcher`); cast in the query to force
    one. A query that returns no rows yields no batch. Passwords never appear in the description or
    in messages.

    Args:
        url: A SQLAlchemy URL, such as ``sqlite:///houses.db`` or ``postgresql+psycopg://u@host/db``.
        query: The SQL text; ``:name`` marks a bound parameter.
        params: Values of the bound parameters.
        batch_rows: The most rows in one batch.

    Raises:
        InvalidInput: The URL does not parse, or the query is empty.

    >>> SqlSource("postgresql+psycopg://reader:s3cret@db.example.com/sales", "SELECT * FROM houses").description
    'SQL query on postgresql+psycopg://reader:***@db.example.com/sales'
    """

    def __init__(
        self,
        url: str,
        query: str,
        *,
        params: Mapping[str, Any] | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        try:
            self._url = sa.engine.make_url(url)
        except (sa.exc.ArgumentError, TypeError, ValueError) as error:
            raise InvalidInput(
                f"The database URL {'<hidden>' if '@' in str(url) else url!r} does not parse; expected a SQLAlchemy "
                "URL such as 'sqlite:///houses.db' or 'postgresql+psycopg://user@host/db'."
            ) from error
        if not isinstance(query, str) or not query.strip():
            raise InvalidInput(f"A SQL source needs a query, such as 'SELECT * FROM houses'; got {query!r}.")
        if params is not None and not isinstance(params, Mapping):
            raise InvalidInput(
                f"params must map parameter names to values, such as {{'since': '2024-01-01'}}; got {params!r}."
            )
        self.query = query
        self.params = dict(params or {})
        self.batch_rows = check_batch_rows(batch_rows)
        self.redacted_url = self._url.render_as_string(hide_password=True)
        self.description = f"SQL query on {self.redacted_url}"

    def __repr__(self) -> str:
        return f"SqlSource({self.description!r})"

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Run the query and stream its rows.

        Raises:
            InvalidInput: The query fails (a syntax error, a missing table or parameter); the message
                names the database and its first line of error.
            InvalidData: A column's values change type between rows.
            NotFound: A SQLite database file does not exist (it would be created empty otherwise).
            SourceError: The database cannot be reached, or the connection drops.
        """
        self._check_sqlite_file()
        try:
            engine = sa.create_engine(self._url, poolclass=NullPool)
        except sa.exc.NoSuchModuleError as error:
            raise InvalidInput(f"{self.description}: SQLAlchemy knows no such database dialect ({error}).") from error
        except ImportError as error:
            raise SourceError(f"{self.description} needs a database driver that is not installed: {error}.") from error
        try:
            yield from self._stream(engine)
        finally:
            engine.dispose()

    def _stream(self, engine: sa.Engine) -> Iterator[pa.RecordBatch]:
        try:
            connection = engine.connect()
        except sa.exc.DBAPIError as error:
            raise SourceError(f"Cannot connect to {self.redacted_url}: {_first_line(error)}.") from error
        with connection:
            streaming = connection.execution_options(stream_results=True, yield_per=self.batch_rows)
            try:
                result = streaming.execute(sa.text(self.query), self.params)
            except sa.exc.StatementError as error:
                raise self._failure(error) from error
            try:
                names = list(result.keys())
            except sa.exc.ResourceClosedError as error:
                raise InvalidInput(f"{self.description}: the statement returns no rows; expected a SELECT.") from error
            repeated = [name for name, count in Counter(names).items() if count > 1]
            if repeated:
                raise InvalidInput(
                    f"{self.description} returns more than one column named {', '.join(map(repr, repeated))}; "
                    "give each column its own name (SELECT a.id AS house_id, …)."
                )
            batcher = RecordBatcher(self.description)
            rows = 0
            partitions = result.partitions(self.batch_rows)
            while True:
                try:
                    partition = next(partitions)
                except StopIteration:
                    return
                except sa.exc.StatementError as error:
                    raise self._failure(error) from error
                columns = list(zip(*partition, strict=True))
                yield batcher.from_columns(names, columns, first_row=rows + 1)
                rows += len(partition)

    def _failure(self, error: sa.exc.StatementError) -> DriftloopError:
        if isinstance(error, sa.exc.DBAPIError) and error.connection_invalidated:
            return SourceError(f"The connection to {self.redacted_url} dropped during the query: {_first_line(error)}.")
        return InvalidInput(f"The SQL query on {self.redacted_url} failed: {_first_line(error)}.")

    def _check_sqlite_file(self) -> None:
        database = self._url.database
        if self._url.get_backend_name() != "sqlite" or not database or database == ":memory:":
            return
        if database.startswith("file:"):
            return
        if not os.path.exists(database):
            raise NotFound(f"{self.description}: the SQLite file {database} does not exist.")


def _first_line(error: sa.exc.StatementError) -> str:
    """The database's own message, first line only (SQLAlchemy's adds the statement and a link)."""
    original = error.orig if error.orig is not None else error
    text = str(original).strip()
    return text.splitlines()[0] if text else type(original).__name__
