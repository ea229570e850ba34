"""What a run records about where it ran: code version, interpreter, packages and resources used."""

from __future__ import annotations

import functools
import os
import platform
import resource
import shlex
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from importlib import metadata

from driftloop.entities import Resources, RunEnvironment

__all__ = ["ResourceMeter", "capture_environment"]

# Packages whose versions decide whether a model trains and loads the same way again.
KEY_PACKAGES = (
    "driftloop",
    "numpy",
    "scipy",
    "pandas",
    "polars",
    "pyarrow",
    "scikit-learn",
    "lightgbm",
    "xgboost",
    "river",
    "optuna",
    "torch",
)


def capture_environment() -> RunEnvironment:
    """The environment of this process, with the git state of the current folder."""
    commit, dirty = git_state(os.getcwd())
    return RunEnvironment(
        git_commit=commit,
        git_dirty=dirty,
        python_version=platform.python_version(),
        platform=platform.platform(),
        hostname=socket.gethostname(),
        pid=os.getpid(),
        command=shlex.join(sys.argv)[:4096] if sys.argv and sys.argv[0] else "",
        packages=package_versions(),
    )


@functools.lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    """Installed versions of the key packages (read from metadata; nothing is imported)."""
    versions: dict[str, str] = {}
    for name in KEY_PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


# Runs started in a tight loop (tuning trials) share one git lookup; a notebook cell run later sees
# a fresh commit and dirty flag.
GIT_CACHE_SECONDS = 2.0
_git_cache: dict[str, tuple[float, tuple[str | None, bool | None]]] = {}


def git_state(folder: str) -> tuple[str | None, bool | None]:
    """The commit checked out in ``folder`` and whether tracked files differ from it; (None, None) outside git."""
    now = time.monotonic()
    cached = _git_cache.get(folder)
    if cached is not None and now - cached[0] < GIT_CACHE_SECONDS:
        return cached[1]
    state = _read_git_state(folder)
    _git_cache[folder] = (now, state)
    return state


def _read_git_state(folder: str) -> tuple[str | None, bool | None]:
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5, check=True
        ).stdout.strip()
        status = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=folder,
            capture_output=True,
            text=True,
            timeout=10,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError):
        return None, None
    return commit or None, bool(status.strip())


@dataclass
class ResourceMeter:
    """Measures wall and CPU time from its creation; peak memory is the process's peak resident set."""

    wall_start: float
    cpu_start: float

    @classmethod
    def start(cls) -> ResourceMeter:
        return cls(wall_start=time.perf_counter(), cpu_start=time.process_time())

    def read(self) -> Resources:
        return Resources(
            wall_time=time.perf_counter() - self.wall_start,
            cpu_time=time.process_time() - self.cpu_start,
            peak_memory=peak_resident_memory(),
        )


def peak_resident_memory() -> int:
    """Peak resident memory of this process in bytes (Linux reports kilobytes, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return int(peak if sys.platform == "darwin" else peak * 1024)
