"""Module-level helpers (``driftloop.start_run``…) that act on the process's default workspace.

The default workspace is the one the settings name (see :mod:`driftloop.settings`): no arguments are
involved, so it comes from ``DRIFTLOOP_*`` environment variables, else the nearest ``driftloop.toml``,
else ``.driftloop/`` in the folder the process was in when the workspace was first needed.
:func:`set_workspace` replaces it. Runs started here nest per thread: ``start_run(nested=True)``
makes the innermost active run of the calling thread the parent.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from typing import Any

from driftloop.errors import InvalidState
from driftloop.tracking import ActiveRun
from driftloop.workspace import Workspace

__all__ = ["active_run", "get_workspace", "set_workspace", "start_run"]

_default: Workspace | None = None
_default_lock = threading.Lock()
_stacks = threading.local()


def get_workspace() -> Workspace:
    """The process's default workspace, built from the settings on first use."""
    global _default
    with _default_lock:
        if _default is None:
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
    run = get_workspace().tracking.start_run(experiment, name=name, parent=parent, tags=tags, params=params)
    run.on_end(_leave_stack)
    stack.append(run)
    return run


def active_run() -> ActiveRun | None:
    """The innermost run started with :func:`start_run` in this thread and not yet ended."""
    stack = _stack()
    while stack and stack[-1].ended:
        stack.pop()
    return stack[-1] if stack else None


def _leave_stack(run: ActiveRun) -> None:
    stack = _stack()
    if run in stack:
        stack.remove(run)


def _stack() -> list[ActiveRun]:
    if not hasattr(_stacks, "runs"):
        _stacks.runs = []
    return _stacks.runs  # type: ignore[no-any-return]
