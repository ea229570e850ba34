"""Module-level helpers (``driftloop.start_run``…) that act on the process's default workspace.

The default workspace is the one the settings name (see :mod:`driftloop.settings`): arguments are not
involved, so it comes from ``DRIFTLOOP_*`` environment variables, else the nearest ``driftloop.toml``,
else ``.driftloop/`` in the folder the process was in when the workspace was first needed.
:func:`set_workspace` replaces it. Runs started here nest per thread: ``start_run(nested=True)``
makes the innermost active run of the calling thread the parent.

Open runs are flushed and ended when the process exits normally (``finished``, or ``failed`` after an
uncaught exception) and on SIGTERM (``killed``).
"""

from __future__ import annotations

import atexit
import signal
import sys
import threading
from collections.abc import Mapping
from types import FrameType, TracebackType
from typing import TYPE_CHECKING, Any

from driftloop.entities import RunStatus
from driftloop.errors import InvalidState
from driftloop.tracking._active_run import ActiveRun

if TYPE_CHECKING:
    from driftloop.workspace import Workspace

__all__ = ["active_run", "get_workspace", "set_workspace", "start_run"]

_default: Workspace | None = None
_default_lock = threading.Lock()
_stacks = threading.local()
_started: list[ActiveRun] = []
_uncaught_exception = False
_hooks_installed = False


def get_workspace() -> Workspace:
    """The process's default workspace, built from the settings on first use."""
    global _default
    with _default_lock:
        if _default is None:
            from driftloop.workspace import Workspace

            _default = Workspace()
        return _default


def set_workspace(workspace: Workspace | None) -> None:
    """Make ``workspace`` the default for the module-level helpers (None: rebuild from settings)."""
    global _default
    with _default_lock:
        _default = workspace


def start_run(
    experiment: str = "default",
    *,
    name: str | None = None,
    nested: bool = False,
    tags: Mapping[str, Any] | None = None,
    params: Mapping[str, Any] | None = None,
) -> ActiveRun:
    """Start a run in the default workspace; use it as ``with driftloop.start_run(...) as run:``."""
    stack = _stack()
    parent = None
    if stack:
        if not nested:
            raise InvalidState(
                f"The run {stack[-1].id!r} is still active in this thread; end it first, or pass "
                "nested=True to start a child run."
            )
        parent = stack[-1]
    _install_exit_hooks()
    run = get_workspace().tracking.start_run(experiment, name=name, parent=parent, tags=tags, params=params)
    run.on_end(_untrack)
    stack.append(run)
    _started.append(run)
    return run


def active_run() -> ActiveRun | None:
    """The innermost run started with :func:`start_run` in this thread and not yet ended."""
    stack = _stack()
    while stack and stack[-1].ended:
        stack.pop()
    return stack[-1] if stack else None


def _untrack(run: ActiveRun) -> None:
    stack = _stack()
    if run in stack:
        stack.remove(run)
    if run in _started:
        _started.remove(run)


def _stack() -> list[ActiveRun]:
    if not hasattr(_stacks, "runs"):
        _stacks.runs = []
    return _stacks.runs  # type: ignore[no-any-return]


def _end_open_runs(status: RunStatus) -> None:
    for run in reversed(list(_started)):
        if not run.ended:
            try:
                run.end(status)
            except Exception as error:
                print(f"driftloop: could not end run {run.id}: {error}", file=sys.stderr)


def _at_exit() -> None:
    _end_open_runs(RunStatus.FAILED if _uncaught_exception else RunStatus.FINISHED)


def _on_sigterm(signum: int, frame: FrameType | None) -> None:
    _end_open_runs(RunStatus.KILLED)
    previous = _previous_sigterm
    if callable(previous):
        previous(signum, frame)
        return
    # Default behaviour: die of SIGTERM, as the sender expects.
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.raise_signal(signal.SIGTERM)


_previous_sigterm: Any = None


def _excepthook(kind: type[BaseException], error: BaseException, traceback: TracebackType | None) -> None:
    global _uncaught_exception
    _uncaught_exception = True
    _previous_excepthook(kind, error, traceback)


_previous_excepthook = sys.excepthook


def _install_exit_hooks() -> None:
    global _hooks_installed, _previous_sigterm, _previous_excepthook
    if _hooks_installed:
        return
    _hooks_installed = True
    atexit.register(_at_exit)
    _previous_excepthook = sys.excepthook
    sys.excepthook = _excepthook
    if threading.current_thread() is threading.main_thread():
        current = signal.getsignal(signal.SIGTERM)
        if current in (signal.SIG_DFL, None) or callable(current):
            _previous_sigterm = current if callable(current) else None
            signal.signal(signal.SIGTERM, _on_sigterm)
