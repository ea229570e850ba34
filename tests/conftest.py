"""Shared fixtures: a fresh workspace per test, on SQLite and (where reachable) PostgreSQL.

PostgreSQL runs at 127.0.0.1:5432 with trust auth (override with DRIFTLOOP_TEST_POSTGRES). Each
test that uses it gets a schema of its own, dropped afterwards, so parallel runs never collide. On a
laptop without PostgreSQL those tests are skipped with a message; in CI (CI=true) they fail instead.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from driftloop import Workspace, set_workspace
from driftloop.store.metadata import Database

REMOTE = "remote"
"""The backend of a workspace reached through ``driftloop server``: see :func:`remote_workspace`."""
POSTGRES = os.environ.get("DRIFTLOOP_TEST_POSTGRES", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]

_postgres_error: str | None = None
_postgres_checked = False


def _postgres_reachable() -> str | None:
    """None when PostgreSQL answers, else why not."""
    global _postgres_checked, _postgres_error
    if not _postgres_checked:
        _postgres_checked = True
        try:
            engine = sa.create_engine(POSTGRES, connect_args={"connect_timeout": 3})
            with engine.connect() as conn:
                conn.execute(sa.text("SELECT 1"))
            engine.dispose()
        except Exception as error:
            _postgres_error = str(error).splitlines()[0]
    return _postgres_error


def postgres_schema_url(schema: str) -> str:
    return f"{POSTGRES}?options=-csearch_path%3D{schema}"


@contextmanager
def _fresh_schema() -> Iterator[str]:
    """The URL of a new, empty PostgreSQL schema, dropped afterwards."""
    problem = _postgres_reachable()
    if problem is not None:
        message = f"PostgreSQL is not reachable at {POSTGRES} ({problem})"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the PostgreSQL contract tests.")
        pytest.skip(f"{message}; start it or set DRIFTLOOP_TEST_POSTGRES to run these tests.")
    schema = f"dl_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES)
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    try:
        yield postgres_schema_url(schema)
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


@pytest.fixture
def empty_postgres_url() -> Iterator[str]:
    """A PostgreSQL schema of this test's own, with no tables yet."""
    with _fresh_schema() as url:
        yield url


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A migrated PostgreSQL schema of this test's own."""
    with _fresh_schema() as url:
        database = Database(url, auto_migrate=False)
        database.upgrade()
        database.dispose()
        yield url


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A metadata store URL for each backend: a fresh SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta' / 'driftloop.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def workspace(store_url: str, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh, opened workspace on each metadata backend, with local blobs in the test's folder."""
    ws = Workspace(tmp_path / "ws", store=store_url, actor="tester").open()
    set_workspace(ws)
    try:
        yield ws
    finally:
        set_workspace(None)
        ws.close()


@contextmanager
def served(app: Any) -> Iterator[str]:
    """``app`` served by uvicorn on a free loopback port, in a thread of this process; yields its address."""
    import socket
    import threading
    import time

    import uvicorn

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [listener]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            pytest.fail("The test server did not start within 30 s.")
        time.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        listener.close()


_SERVER_SIDE: dict[int, Workspace] = {}


def stores_of(workspace: Workspace) -> Workspace:
    """The workspace whose stores hold ``workspace``'s data: itself, or for a remote one the server's, for tests that
    write or check below the service (bulk rows, events) on every backend."""
    return _SERVER_SIDE.get(id(workspace), workspace)


@contextmanager
def remote_workspace(
    folder: Path, *, store: str | None = None, actor: str = "tester", settings: Any = None
) -> Iterator[Workspace]:
    """A workspace reached through a workspace server over loopback HTTP, as the admin ``actor`` with a token.

    The server's own workspace lives in ``folder`` (its metadata in ``store``, SQLite by default), served with
    ``settings`` (a ``WorkspaceServerSettings``); the server needs tokens (it has users), so every request of the
    returned workspace carries one.
    """
    from driftloop.entities import Role
    from driftloop.server import create_server_app

    behind = Workspace(folder / "server", store=store, actor="server-admin").open()
    identities = behind.metadata.identities
    identities.create_user(actor, role=Role.ADMIN, actor="setup")
    _, token = identities.create_token(actor, None, actor="setup")
    try:
        with served(create_server_app(behind, settings)) as url:
            client = Workspace(url, token=token, actor=actor).open()
            _SERVER_SIDE[id(client)] = behind
            try:
                yield client
            finally:
                del _SERVER_SIDE[id(client)]
                client.close()
    finally:
        behind.close()


@pytest.fixture(params=[*BACKENDS, REMOTE])
def service_workspace(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Workspace]:
    """A fresh workspace on each backend of the service contract: SQLite, PostgreSQL, and a workspace server (over
    SQLite) reached through HTTP; set as the default workspace. Test folders whose tests are the contract of a
    service (tracking, datasets, the registry) take it as their ``workspace``."""
    if request.param == REMOTE:
        opened = remote_workspace(tmp_path)
    else:
        store = request.getfixturevalue("postgres_url") if request.param == "postgresql" else None
        opened = contextlib.closing(Workspace(tmp_path / "ws", store=store, actor="tester").open())
    with opened as ws:
        set_workspace(ws)
        try:
            yield ws
        finally:
            set_workspace(None)


@pytest.fixture
def sqlite_workspace(tmp_path: Path) -> Iterator[Workspace]:
    """A fresh embedded workspace (SQLite) for tests that are not about the backend."""
    ws = Workspace(tmp_path / "ws", actor="tester").open()
    set_workspace(ws)
    try:
        yield ws
    finally:
        set_workspace(None)
        ws.close()


@pytest.fixture(autouse=True)
def _isolated_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No test reads the developer's DRIFTLOOP_* settings or writes into the repository."""
    for name in list(os.environ):
        if name.startswith("DRIFTLOOP_") and name != "DRIFTLOOP_TEST_POSTGRES":
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)


# -- S3-compatible storage: moto's server in a child process, shared by the whole session -------------------

AWS_VARIABLES = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT_URL_S3",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ALLOW_HTTP",
    "AWS_PROFILE",
)
# Serves until its stdin closes, so it cannot outlive the test session.
SERVE_MOTO = """
import logging, sys
logging.getLogger("werkzeug").setLevel(logging.ERROR)
from moto.server import ThreadedMotoServer
server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
print(server.get_host_and_port()[1], flush=True)
sys.stdin.read()
server.stop()
"""


def require_module(module: str, install: str) -> None:
    """Skip (locally) or fail (in CI) when a test's optional module is missing."""
    try:
        __import__(module)
    except ImportError:
        message = f"{module} is not installed; `pip install {install}` to run the S3 table tests"
        if IN_CI:
            pytest.fail(f"{message} (CI must run them).")
        pytest.skip(message)


@pytest.fixture(scope="session")
def moto_endpoint(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The URL of a moto S3 server running in a child process for the whole session."""
    require_module("moto", "'moto[server]'")
    require_module("boto3", "'moto[server]'")
    log = tmp_path_factory.mktemp("moto") / "server.log"
    with log.open("w") as errors:
        server = subprocess.Popen(
            [sys.executable, "-c", SERVE_MOTO], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errors, text=True
        )
    assert server.stdout is not None and server.stdin is not None
    port = server.stdout.readline().strip()
    if not port.isdigit():
        server.kill()
        pytest.fail(f"moto's S3 server did not start: {log.read_text()[-2000:]}")
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stdin.close()
        server.stdout.close()
        server.wait(timeout=30)


def s3_client(endpoint: str) -> Any:
    """A boto3 client of the moto server."""
    import boto3

    return boto3.client(
        "s3", endpoint_url=endpoint, aws_access_key_id="test", aws_secret_access_key="test", region_name="us-east-1"
    )


@pytest.fixture
def s3_bucket(moto_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """A new bucket on the moto server, with the AWS environment variables pointing at it."""
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test-secret-from-the-environment")
    monkeypatch.setenv("AWS_ENDPOINT_URL", moto_endpoint)
    monkeypatch.setenv("AWS_REGION", "us-east-1")
    monkeypatch.setenv("AWS_ALLOW_HTTP", "true")
    bucket = f"driftloop-{uuid.uuid4().hex[:16]}"
    s3_client(moto_endpoint).create_bucket(Bucket=bucket)
    return bucket
