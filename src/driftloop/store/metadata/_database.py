"""The metadata engine: connecting by URL scheme, transactions, busy retries and schema migrations.

SQLite runs in WAL mode with a busy timeout, and every write transaction starts with
``BEGIN IMMEDIATE``: a transaction that begins as a read and later writes gets ``SQLITE_BUSY``
at once, without waiting for the busy timeout, so writers take the write lock up front. Readers
use a plain deferred ``BEGIN`` and never block writers.
"""

from __future__ import annotations

import os
import random
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, OperationalError

from driftloop.errors import InvalidSettings, SchemaMismatch, StoreBusy, StoreUnavailable

__all__ = ["Database", "redact"]

MIGRATIONS = Path(__file__).parent / "migrations"
SQLITE_BUSY_TIMEOUT_MS = 5_000
# How long a writer keeps retrying a locked SQLite database before giving up with StoreBusy.
WRITE_PATIENCE_SECONDS = 120.0
_WRITE = "driftloop_write"


def redact(url: str) -> str:
    """The URL with any password hidden, fit for error messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except ArgumentError:
        return url


class Database:
    """One metadata database, reached by a SQLAlchemy URL (``sqlite:///…`` or ``postgresql+psycopg://…``).

    Building it does no I/O; :meth:`open` connects, checks the schema revision and, when
    ``auto_migrate`` is set (the embedded SQLite default), applies pending migrations.
    """

    def __init__(self, url: str, *, auto_migrate: bool | None = None) -> None:
        self.url = url
        self.auto_migrate = auto_migrate
        self._engine: Engine | None = None
        _live_databases.add(self)

    # -- lifecycle ---------------------------------------------------------------------------------

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            self._engine = self._create_engine()
        return self._engine

    def open(self) -> None:
        """Connect and make sure the schema is the one this code knows, migrating if allowed."""
        try:
            self._check_schema()
        except BaseException:
            self.dispose()
            raise

    def _check_schema(self) -> None:
        current, head = self.revisions()
        if current == head:
            return
        auto = self.auto_migrate if self.auto_migrate is not None else self.dialect == "sqlite"
        if current is not None and current not in self._known_revisions():
            raise SchemaMismatch(
                f"The metadata database at {redact(self.url)} is at schema revision {current!r}, which is "
                f"newer than this driftloop knows (its newest is {head!r}); upgrade driftloop."
            )
        if not auto:
            state = "has no driftloop schema yet" if current is None else f"is at revision {current!r}"
            raise SchemaMismatch(
                f"The metadata database at {redact(self.url)} {state}; this driftloop needs revision "
                f"{head!r}. Run `driftloop --store '{redact(self.url)}' db upgrade` once."
            )
        self.upgrade()

    def revisions(self) -> tuple[str | None, str]:
        """The database's current schema revision (None when empty) and the newest this code knows."""
        from alembic.runtime.migration import MigrationContext

        with self.read() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
        return current, self.newest_revision()

    @staticmethod
    def newest_revision() -> str:
        """The newest schema revision this driftloop knows (its migrations' head)."""
        return Database._script().get_current_head() or ""

    def upgrade(self) -> str:
        """Apply every pending migration in one write transaction; returns the new revision."""
        from alembic import command
        from alembic.runtime.migration import MigrationContext

        with self.write() as conn:
            current = MigrationContext.configure(conn).get_current_revision()
            if current is not None and current not in self._known_revisions():
                raise SchemaMismatch(
                    f"The metadata database at {redact(self.url)} is at revision {current!r}, newer "
                    "than this driftloop; refusing to migrate it."
                )
            config = self._alembic_config()
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
            return MigrationContext.configure(conn).get_current_revision() or ""

    def dispose(self, *, close: bool = True) -> None:
        """Close pooled connections (``close=False`` after a fork: drop them without closing)."""
        if self._engine is not None:
            self._engine.dispose(close=close)
            if close:
                self._engine = None

    # -- transactions ------------------------------------------------------------------------------

    @contextmanager
    def read(self) -> Iterator[Connection]:
        """A connection in a read transaction, rolled back at the end."""
        with self._translate_errors(), self._connect() as conn:
            yield conn

    @contextmanager
    def write(self) -> Iterator[Connection]:
        """A connection in a write transaction, committed at the end (rolled back on error).

        On SQLite the write lock is taken up front and, while other writers hold it, retried with
        jittered back-off for up to ``WRITE_PATIENCE_SECONDS``; then :class:`StoreBusy` is raised.
        """
        deadline = time.monotonic() + WRITE_PATIENCE_SECONDS
        delay = 0.005
        with self._translate_errors():
            while True:
                conn = self._connect().execution_options(**{_WRITE: True})
                try:
                    transaction = conn.begin()
                except OperationalError as error:
                    conn.close()
                    if not _is_locked(error):
                        raise
                    if time.monotonic() > deadline:
                        raise StoreBusy(
                            f"The metadata database at {redact(self.url)} stayed locked by other writers "
                            f"for {WRITE_PATIENCE_SECONDS:.0f} s."
                        ) from error
                    time.sleep(delay * (1 + random.random()))
                    delay = min(delay * 2, 0.5)
                    continue
                try:
                    yield conn
                    transaction.commit()
                except Exception:
                    transaction.rollback()
                    raise
                except BaseException:
                    # SIGTERM's SystemExit or Ctrl-C landing inside a statement may leave the connection
                    # mid-statement, where a rollback fails: its error must not hide the interruption, and the pool
                    # must never hand that connection out again (dropping it rolls the transaction back). A
                    # rollback that works keeps the connection (an in-memory SQLite store lives in it).
                    try:
                        transaction.rollback()
                    except Exception:
                        with suppress(Exception):
                            conn.invalidate()
                    raise
                finally:
                    conn.close()
                return

    def run_write(self, work: Callable[[Connection], Any]) -> Any:
        """Run ``work(conn)`` in a write transaction and return its result."""
        with self.write() as conn:
            return work(conn)

    # -- internals ---------------------------------------------------------------------------------

    def _connect(self) -> Connection:
        """A pooled connection; any failure to get one is the store being unavailable, said in one line."""
        engine = self.engine
        try:
            return engine.connect()
        except DBAPIError as error:
            if isinstance(error, OperationalError) and _is_locked(error):
                raise
            raise StoreUnavailable(
                f"Cannot reach the metadata store at {redact(self.url)}: {_first_line(error)}"
            ) from error

    def _create_engine(self) -> Engine:
        try:
            url = make_url(self.url)
        except (ArgumentError, ValueError) as error:
            raise InvalidSettings(
                f"The metadata store URL {self.url!r} is not a database URL; expected e.g. "
                "'sqlite:///path/driftloop.db' or 'postgresql+psycopg://user@host/db'."
            ) from error
        backend = url.get_backend_name()
        if backend == "sqlite":
            return self._create_sqlite_engine(url)
        if backend == "postgresql":
            if url.drivername == "postgresql":
                url = url.set(drivername="postgresql+psycopg")
            try:
                return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)
            except (NoSuchModuleError, ImportError) as error:
                raise InvalidSettings(
                    f"Unsupported PostgreSQL driver in {redact(self.url)!r}; use 'postgresql+psycopg://'."
                ) from error
            except (ArgumentError, ValueError, TypeError) as error:
                raise InvalidSettings(f"The metadata store URL {redact(self.url)!r} is not valid: {error}") from error
        raise InvalidSettings(
            f"Unsupported metadata store {backend!r} in {redact(self.url)!r}; driftloop stores metadata "
            "in 'sqlite:///…' or 'postgresql+psycopg://…'."
        )

    def _create_sqlite_engine(self, url: sa.URL) -> Engine:
        if url.database and url.database != ":memory:":
            folder = Path(url.database).parent
            try:
                folder.mkdir(parents=True, exist_ok=True)
            except OSError as error:
                raise StoreUnavailable(
                    f"Cannot create the folder {str(folder)!r} for the metadata store: {error.strerror or error}."
                ) from error
        engine = sa.create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

        @event.listens_for(engine, "connect")
        def _configure(dbapi_connection: Any, _record: Any) -> None:
            # Let SQLAlchemy's "begin" event below issue BEGIN instead of the driver's implicit one.
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            # LIKE is case-sensitive on PostgreSQL; make SQLite agree (ILIKE is the case-blind one).
            cursor.execute("PRAGMA case_sensitive_like=ON")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _begin(conn: Connection) -> None:
            write = conn.get_execution_options().get(_WRITE, False)
            conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")

        return engine

    @contextmanager
    def _translate_errors(self) -> Iterator[None]:
        try:
            yield
        except OperationalError as error:
            if _is_locked(error):
                raise StoreBusy(f"The metadata database at {redact(self.url)} is locked by another writer.") from error
            if _is_connection_failure(error):
                raise StoreUnavailable(
                    f"Cannot reach the metadata store at {redact(self.url)}: {_first_line(error)}"
                ) from error
            raise

    @staticmethod
    def _alembic_config() -> Any:
        from alembic.config import Config

        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS))
        return config

    @staticmethod
    def _script() -> Any:
        from alembic.script import ScriptDirectory

        return ScriptDirectory.from_config(Database._alembic_config())

    def _known_revisions(self) -> set[str]:
        return {script.revision for script in self._script().walk_revisions()}


_live_databases: weakref.WeakSet[Database] = weakref.WeakSet()


def _forget_pools_in_child() -> None:
    # A pooled connection must never be used by two processes: the child drops (without closing)
    # what it inherited and opens its own on first use.
    for database in list(_live_databases):
        if database._engine is not None:
            database._engine.dispose(close=False)


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_pools_in_child)


def _is_locked(error: DBAPIError) -> bool:
    return "database is locked" in str(error.orig) or "database table is locked" in str(error.orig)


def _is_connection_failure(error: DBAPIError) -> bool:
    if error.connection_invalidated:
        return True
    text = str(error.orig).lower()
    return any(
        marker in text
        for marker in (
            "connection refused",
            "could not connect",
            "connection failed",
            "unable to open database",
            "could not translate host",
            "name or service not known",
            "timeout expired",
            "does not exist",
            "server closed the connection",
        )
    )


def _first_line(error: BaseException) -> str:
    orig = getattr(error, "orig", None) or error
    return str(orig).strip().splitlines()[0] if str(orig).strip() else type(orig).__name__


def sqlite_path(url: str) -> str | None:
    """The file of a SQLite URL, or None for other backends and in-memory databases."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    return os.path.abspath(parsed.database)
