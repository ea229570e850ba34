"""Where Optuna studies are kept: a picklable description of the storage, and opening it.

A study lives in Optuna's own storage, never in driftloop's tables: a journal file under the workspace for the
embedded default (``<root>/optuna/journal.log``), or Optuna's tables in a PostgreSQL schema of their own
(``optuna`` by default) when the metadata is shared. :class:`StudyStorageSpec` says which as plain data, so a worker
process can receive it and open the storage itself; :mod:`driftloop.training._tuning` runs the studies.
"""

from __future__ import annotations

import os
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sqlalchemy as sa
from optuna.exceptions import ExperimentalWarning
from optuna.storages import BaseStorage, JournalStorage, RDBStorage, RetryHeartbeatStaleTrialCallback
from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

from driftloop.errors import InvalidInput, StoreUnavailable

__all__ = ["StudyStorageSpec", "stale_trial_retry_callback", "study_storage"]

_MAX_RETRIES = 3
_SCHEMA_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


@dataclass(frozen=True, slots=True)
class StudyStorageSpec:
    """Where studies are kept, as plain picklable data: worker processes get this and open their own storage.

    ``str(spec)`` is a one-line form (``journal:/abs/path/journal.log``, or the PostgreSQL URL with its
    ``search_path``) that :meth:`parse` reads back, e.g. from a command line.

    >>> spec = StudyStorageSpec.resolve("/srv/project/.driftloop")
    >>> spec
    StudyStorageSpec(kind='journal', location='/srv/project/.driftloop/optuna/journal.log')
    >>> StudyStorageSpec.parse(str(spec)) == spec
    True
    >>> StudyStorageSpec.resolve(database_url="postgresql+psycopg://me:pw@db/ml").schema
    'optuna'

    Attributes:
        kind: ``"journal"`` (a journal file) or ``"postgresql"`` (Optuna's tables in their own schema).
        location: the journal file's absolute path, or the SQLAlchemy URL whose ``search_path`` names the schema.
        heartbeat_interval: seconds between the heartbeats of a running trial.
        grace_period: seconds without a heartbeat after which a running trial is failed and retried; ``None`` is
            twice the interval.
    """

    kind: Literal["journal", "postgresql"]
    location: str
    heartbeat_interval: int = 60
    grace_period: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("journal", "postgresql"):
            raise InvalidInput(f"The study storage kind must be 'journal' or 'postgresql'; got {self.kind!r}.")
        for name in ("heartbeat_interval", "grace_period"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
                raise InvalidInput(f"The {name!r} of a study storage must be an integer >= 1; got {value!r}.")

    def __str__(self) -> str:
        return f"journal:{self.location}" if self.kind == "journal" else self.location

    def __repr__(self) -> str:
        location = self.location if self.kind == "journal" else _redacted(self.location)
        return f"StudyStorageSpec(kind={self.kind!r}, location={location!r})"

    @property
    def schema(self) -> str | None:
        """The PostgreSQL schema holding Optuna's tables; ``None`` for a journal."""
        return _search_path(self.location) if self.kind == "postgresql" else None

    @property
    def stale_after(self) -> float:
        """Seconds without a heartbeat after which a running trial counts as abandoned."""
        return float(self.grace_period if self.grace_period is not None else 2 * self.heartbeat_interval)

    @classmethod
    def parse(cls, text: str) -> StudyStorageSpec:
        """Read back the form :func:`str` gives: ``journal:<path>`` or a ``postgresql+psycopg://`` URL."""
        if text.startswith("journal:"):
            path = text.removeprefix("journal:")
            if not path:
                raise InvalidInput("A journal study storage needs a path: 'journal:/path/to/journal.log'.")
            return cls("journal", str(Path(path).expanduser().resolve()))
        if text.startswith("postgres"):
            return cls.resolve(database_url=text, schema=_search_path(text) or "optuna")
        raise InvalidInput(
            f"A study storage must be 'journal:<path>' or a 'postgresql+psycopg://…' URL; got {_redacted(text)!r}."
        )

    @classmethod
    def resolve(
        cls,
        workspace_root: str | os.PathLike[str] | None = None,
        *,
        database_url: str | None = None,
        schema: str = "optuna",
        heartbeat_interval: int = 60,
        grace_period: int | None = None,
    ) -> StudyStorageSpec:
        """Where a workspace keeps its studies; no I/O.

        Args:
            workspace_root: the workspace folder (``.driftloop/``); ``None`` resolves the settings of the current
                folder. The journal is ``<root>/optuna/journal.log``.
            database_url: the workspace's metadata URL. PostgreSQL keeps the studies in ``schema`` of that
                database, whatever ``search_path`` the URL sets for driftloop's own tables; a SQLite file keeps them
                in the journal beside it (``<folder of the database>/optuna/journal.log``).
            schema: the PostgreSQL schema for Optuna's tables.
            heartbeat_interval: see the class attributes.
            grace_period: see the class attributes.
        """
        if database_url is not None and not database_url.startswith("sqlite"):
            return cls("postgresql", _postgresql_url(database_url, schema), heartbeat_interval, grace_period)
        database = sa.make_url(database_url).database if database_url is not None else None
        if database and database != ":memory:" and not database.startswith("file:"):
            journal = Path(database).expanduser().resolve().parent / "optuna" / "journal.log"
        else:
            if workspace_root is None:
                from driftloop.settings import Settings

                workspace_root = Settings.resolve().root
            journal = Path(workspace_root).expanduser().resolve() / "optuna" / "journal.log"
        return cls("journal", str(journal), heartbeat_interval, grace_period)

    def open(self, *, pooled: bool = True) -> BaseStorage:
        """Open the Optuna storage: create the journal's folder, or the PostgreSQL schema and Optuna's tables.

        Args:
            pooled: keep PostgreSQL connections open between operations (dispose of ``storage.engine`` when done);
                ``False`` connects for each operation and leaves nothing open, for a study handed back to a caller.
        """
        if self.kind == "journal":
            Path(self.location).parent.mkdir(parents=True, exist_ok=True)
            # The open-file lock (O_EXCL) works across processes on one machine, on NFSv3+ and on Windows, where the
            # default symlink lock needs privileges.
            return JournalStorage(JournalFileBackend(self.location, lock_obj=JournalFileOpenLock(self.location)))
        _create_schema(self.location, self.schema or "optuna")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", ExperimentalWarning)  # the heartbeat is experimental in Optuna 5
                return RDBStorage(
                    self.location,
                    engine_kwargs={"pool_pre_ping": True} if pooled else {"poolclass": sa.pool.NullPool},
                    heartbeat_interval=self.heartbeat_interval,
                    grace_period=self.grace_period,
                    heartbeat_stale_trial_callback=stale_trial_retry_callback(),
                )
        except sa.exc.OperationalError as error:
            raise StoreUnavailable(
                f"Cannot reach the study storage at {_redacted(self.location)}: {_first_line(error)}"
            ) from error


def study_storage(
    workspace_root: str | os.PathLike[str] | None = None,
    *,
    database_url: str | None = None,
    schema: str = "optuna",
) -> BaseStorage:
    """Open the Optuna storage of a workspace: see :meth:`StudyStorageSpec.resolve` for where it is."""
    return StudyStorageSpec.resolve(workspace_root, database_url=database_url, schema=schema).open()


def stale_trial_retry_callback() -> RetryHeartbeatStaleTrialCallback:
    """Optuna's callback that queues a trial failed as stale again with the same parameters, up to three times."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ExperimentalWarning)
        return RetryHeartbeatStaleTrialCallback(max_retry=_MAX_RETRIES)


def _postgresql_url(database_url: str, schema: str) -> str:
    if not isinstance(schema, str) or not _SCHEMA_NAME.fullmatch(schema):
        raise InvalidInput(
            f"The study schema must be a lower-case SQL name (letters, digits, '_', at most 63); got {schema!r}."
        )
    try:
        url = sa.make_url(database_url)
    except (sa.exc.ArgumentError, ValueError) as error:
        raise InvalidInput(f"The database URL {_redacted(database_url)!r} is not a URL: {error}") from error
    if url.get_backend_name() != "postgresql":
        raise InvalidInput(
            f"Studies are kept in PostgreSQL or in a journal file; got the database {url.get_backend_name()!r}."
        )
    if url.drivername == "postgresql":
        url = url.set(drivername="postgresql+psycopg")
    # Only Optuna's schema on the search path: its tables (alembic_version, studies, trials…) go there and
    # nowhere near driftloop's, whatever search_path the metadata URL carries.
    options = re.sub(r"-c\s*search_path=\S+", "", str(url.query.get("options", ""))).strip()
    url = url.update_query_dict({"options": f"{options} -csearch_path={schema}".strip()})
    return url.render_as_string(hide_password=False)


def _create_schema(location: str, schema: str) -> None:
    engine = sa.create_engine(location, connect_args={"connect_timeout": 10})
    try:
        with engine.begin() as connection:
            connection.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{schema}"'))
    except sa.exc.IntegrityError:
        pass  # created at the same moment by another worker
    except sa.exc.OperationalError as error:
        raise StoreUnavailable(
            f"Cannot reach the study storage at {_redacted(location)}: {_first_line(error)}"
        ) from error
    finally:
        engine.dispose()


def _search_path(url: str) -> str | None:
    found = re.search(r"search_path(?:=|%3D)(\w+)", url)
    return found.group(1) if found else None


def _redacted(url: str) -> str:
    try:
        return sa.make_url(url).render_as_string(hide_password=True)
    except (sa.exc.ArgumentError, ValueError):
        return url


def _first_line(error: BaseException) -> str:
    return str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
