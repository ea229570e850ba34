"""``driftloop serve`` as a real process: it starts, answers, and stops cleanly on SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import Ridge

from driftloop import Workspace


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_ready(base: str, process: subprocess.Popen[Any], output: Callable[[], str], timeout: float = 90) -> None:
    """Poll ``base``/readyz until the server answers 200; fail with its output if it exits or takes too long."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert process.poll() is None, output()
        assert time.monotonic() < deadline, "the server did not become ready"
        time.sleep(0.2)


def test_serve_starts_answers_and_stops_on_sigterm(sqlite_workspace: Workspace) -> None:
    frame = pd.DataFrame({"area": np.linspace(30, 200, 40), "rooms": np.tile([1.0, 2.0, 3.0, 4.0], 10)})
    sqlite_workspace.models.register("houses", Ridge().fit(frame, 2 * frame["area"]), signature=frame)
    sqlite_workspace.models.promote("houses/1")
    port = free_port()
    env = {**os.environ, "DRIFTLOOP_ROOT": sqlite_workspace.settings.root}
    process = subprocess.Popen(
        [sys.executable, "-m", "driftloop", "serve", "houses", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        wait_until_ready(base, process, lambda: process.stdout.read() if process.stdout else "")
        body = {"dataframe_split": {"columns": ["area", "rooms"], "data": [[100.0, 2.0]]}}
        answer = httpx.post(f"{base}/invocations", json=body, timeout=10)
        assert answer.status_code == 200
        assert answer.json()["predictions"][0] == pytest.approx(200.0, rel=0.05)
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    # uvicorn finishes the shutdown, then exits by the signal it was sent (so a supervisor sees it).
    assert "Application shutdown complete" in output
    assert process.returncode in (0, -signal.SIGTERM), output
