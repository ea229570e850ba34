"""Every run left open is ended when its process ends.

Runs register here when they start, whichever API started them. When the process exits normally
they end ``finished`` (``failed`` after an uncaught exception); on SIGTERM they end ``killed``. The
SIGTERM handler does no I/O itself: it raises ``SystemExit(143)`` in the main thread, so ``with``
blocks unwind and end their runs, and the exit hook ends the rest, all outside the signal handler
(doing database work inside it could deadlock on a lock the interrupted code holds).

Runs belong to the process that started them: a forked child never ends its parent's runs.
"""

from __future__ import annotations

import atexit
import os
import signal
import sys
import threading
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from driftloop.entities import RunStatus

if TYPE_CHECKING:
    from driftloop.tracking._active_run import ActiveRun

__all__ = ["forget", "open_runs", "register"]

SIGTERM_EXIT_CODE = 128 + signal.SIGTERM

_lock = threading.Lock()
_open: dict[str, tuple[int, ActiveRun]] = {}
_uncaught_exception = False
_terminated = False
_exit_hooks_installed = False
_sigterm_installed = False
_previous_sigterm: Any = None
_previous_excepthook = sys.excepthook


def register(run: ActiveRun) -> None:
    """Track an open run of this process and make sure the exit hooks are in place."""
    _install_hooks()
    with _lock:
        _open[run.id] = (os.getpid(), run)


def forget(run: ActiveRun) -> None:
    with _lock:
        _open.pop(run.id, None)


def open_runs() -> list[ActiveRun]:
    """Runs this process started and has not ended yet, oldest first."""
    pid = os.getpid()
    with _lock:
        return [run for owner, run in _open.values() if owner == pid]


def end_open_runs(status: RunStatus) -> None:
    for run in reversed(open_runs()):
        if run.ended:
            continue
        try:
            run.end(status)
        except Exception as error:
            print(f"driftloop: could not end run {run.id}: {error}", file=sys.stderr)


def _at_exit() -> None:
    if _terminated:
        status = RunStatus.KILLED
    elif _uncaught_exception:
        status = RunStatus.FAILED
    else:
        status = RunStatus.FINISHED
    end_open_runs(status)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    global _terminated
    _terminated = True
    if callable(_previous_sigterm):
        _previous_sigterm(signum, frame)
    raise SystemExit(SIGTERM_EXIT_CODE)


def _excepthook(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    global _uncaught_exception
    _uncaught_exception = True
    _previous_excepthook(kind, error, traceback)


def _install_hooks() -> None:
    global _exit_hooks_installed, _sigterm_installed, _previous_sigterm, _previous_excepthook
    if not _exit_hooks_installed:
        _exit_hooks_installed = True
        atexit.register(_at_exit)
        _previous_excepthook = sys.excepthook
        sys.excepthook = _excepthook
    # Signal handlers can only be set from the main thread: try again on each run until one is.
    if not _sigterm_installed and threading.current_thread() is threading.main_thread():
        current = signal.getsignal(signal.SIGTERM)
        if current is signal.SIG_DFL or callable(current):
            _previous_sigterm = current if callable(current) else None
            signal.signal(signal.SIGTERM, _on_sigterm)
        _sigterm_installed = True
