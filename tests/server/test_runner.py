"""Starting the server: who may start it where, what it logs, and ``driftloop server`` as a real process."""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from typer.testing import CliRunner

from driftloop import Workspace
from driftloop.cli import app
from driftloop.entities import Role
from driftloop.errors import InvalidInput, InvalidSettings
from driftloop.server import access_settings


@pytest.fixture(autouse=True)
def _logging_put_back() -> Iterator[None]:
    """``driftloop server`` sets up logging for its process; a test that runs the command in this one puts the
    loggers back, so that no later test sees their level, their handlers (on a closed stream) or their output."""
    loggers = [logging.getLogger(name) for name in ("driftloop", "driftloop.server.access")]
    saved = [(logger.level, list(logger.handlers), logger.propagate) for logger in loggers]
    yield
    for logger, (level, handlers, propagate) in zip(loggers, saved, strict=True):
        logger.setLevel(level)
        logger.handlers[:] = handlers
        logger.propagate = propagate


def test_loopback_without_users_starts_open_and_says_so(
    sqlite_workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "driftloop.server")
    settings = access_settings(sqlite_workspace, host="127.0.0.1", port=8787, max_upload_bytes=10)
    assert (settings.open_access, settings.max_upload_bytes) == (True, 10)
    assert "requests without a token act as the local admin 'tester'" in caplog.text


def test_any_other_address_without_users_is_refused_unless_insecure(
    sqlite_workspace: Workspace, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(InvalidSettings, match=r"Refusing to serve the workspace on 0\.0\.0\.0:8787 without auth"):
        access_settings(sqlite_workspace, host="0.0.0.0", port=8787)
    caplog.set_level(logging.INFO, "driftloop.server")
    assert access_settings(sqlite_workspace, host="0.0.0.0", insecure=True).open_access is True
    (warning,) = [record for record in caplog.records if record.levelno == logging.WARNING]
    assert warning.getMessage().startswith("INSECURE: serving the workspace on 0.0.0.0:8787 without authentication")


@pytest.mark.parametrize("host", ["127.0.0.1", "0.0.0.0", "::"])
def test_with_users_every_request_needs_a_token_wherever_it_listens(
    sqlite_workspace: Workspace, caplog: pytest.LogCaptureFixture, host: str
) -> None:
    sqlite_workspace.metadata.identities.create_user("root", role=Role.ADMIN, actor="setup")
    caplog.set_level(logging.INFO, "driftloop.server")
    assert access_settings(sqlite_workspace, host=host, insecure=True).open_access is False
    assert "Authentication is on (1 users)" in caplog.text
    assert ("plain HTTP" in caplog.text) is (host != "127.0.0.1")


def test_the_command_refuses_before_it_listens(sqlite_workspace: Workspace) -> None:
    runner = CliRunner()
    root = ["--root", sqlite_workspace.settings.root]
    refused = runner.invoke(app, [*root, "server", "--host", "0.0.0.0", "--port", "1"])
    assert isinstance(refused.exception, InvalidSettings)
    no_room = runner.invoke(app, [*root, "server", "--max-upload-mb", "0"])
    assert isinstance(no_room.exception, InvalidInput)
    clipping = runner.invoke(app, [*root, "server", "--serve", "houses", "--out-of-range", "clip"])
    assert isinstance(clipping.exception, InvalidInput)
    assert "--out-of-range must be one of flag, missing; got 'clip'" in clipping.exception.message


def test_the_served_models_take_the_serving_settings(
    sqlite_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    import uvicorn
    from sklearn.linear_model import LinearRegression

    from driftloop.server import run_server

    frame = pd.DataFrame({"area": [50.0, 80.0, 120.0], "price": [150.0, 240.0, 360.0]})
    sqlite_workspace.models.register("houses", LinearRegression().fit(frame[["area"]], frame["price"]))
    sqlite_workspace.models.promote("houses/1")
    started: list[Any] = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **options: started.append(app))
    run_server(sqlite_workspace, serve=["houses"], serving={"out_of_range": "missing"})
    (served,) = started
    assert served.serving.state.settings.out_of_range == "missing"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_driftloop_server_serves_the_workspace_and_stops_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "DRIFTLOOP_ROOT": str(tmp_path / "ws"), "DRIFTLOOP_ACTOR": "ana"}
    process = subprocess.Popen(
        [sys.executable, "-m", "driftloop", "server", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    base = f"http://127.0.0.1:{port}/api/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                answer = httpx.post(f"{base}/experiments", json={"name": "remote"}, timeout=2)
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        assert answer.status_code == 201 and answer.json()["created_by"] == "ana"
        assert httpx.get(f"{base}/openapi.json", timeout=5).json()["info"]["title"] == "driftloop workspace"
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert "requests without a token act as the local admin 'ana'" in output
    assert '"path": "/api/v1/experiments", "status": 201' in output
    assert process.returncode in (0, -signal.SIGTERM), output
