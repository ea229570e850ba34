"""Servers a benchmark starts as processes of their own: a free port, the start with its log, the wait until it
answers, the stop. Shared by ``serving.py`` and ``server_logging.py`` (run as scripts, which find this module
beside them)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path

import httpx

__all__ = ["free_port", "start_server", "stop", "wait_ready"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    command: list[str], ready_url: str, log: Path, cwd: Path, settings: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start a server with its output in ``log`` and only ``settings`` of its own tool's environment variables;
    return once ``ready_url`` answers 200."""
    environment = {name: value for name, value in os.environ.items() if not name.startswith(("DRIFTLOOP_", "MLFLOW_"))}
    environment.update(settings or {})
    with log.open("wb") as sink:
        process = subprocess.Popen(command, stdout=sink, stderr=subprocess.STDOUT, cwd=cwd, env=environment)
    try:
        wait_ready(ready_url, process, timeout=180, log=log)
    except SystemExit:
        stop(process)
        raise
    return process


def wait_ready(url: str, process: subprocess.Popen[bytes], timeout: float = 120, log: Path | None = None) -> None:
    """Return once ``url`` answers 200; exit naming the server (and the end of its log) if it stops or times out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            said = "" if log is None else "\n" + "\n".join(log.read_text(errors="replace").splitlines()[-30:])
            raise SystemExit(f"the server exited with {process.returncode} before it was ready ({url}){said}")
        try:
            if httpx.get(url, timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"the server at {url} did not become ready in {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after a minute."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=60)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
