"""Shared CLI plumbing: the workspace from global options, tables, JSON and one-line errors."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NoReturn

from rich.console import Console
from rich.table import Table
from rich.text import Text

from driftloop.workspace import Workspace

console = Console(highlight=False)
errors = Console(stderr=True, highlight=False)


@dataclass
class Context:
    """Global options, turned into a workspace on demand."""

    root: str | None = None
    store: str | None = None
    artifacts: str | None = None
    _workspace: Workspace | None = field(default=None, repr=False)

    def workspace(self) -> Workspace:
        if self._workspace is None:
            self._workspace = Workspace(self.root, store=self.store, artifacts=self.artifacts)
        return self._workspace


_current = Context()


def use(context: Context) -> None:
    """Remember the global options of this invocation (set by the root command)."""
    global _current
    _current = context


def workspace() -> Workspace:
    """The workspace the global options (or, without them, the settings) name."""
    return _current.workspace()


def local_workspace(command: str, *, instead: str) -> Workspace:
    """The workspace, for a command that runs where the workspace is (it reads the stores or the prediction log
    directly, or keeps a process beside them); through a server it is refused, saying what to do ``instead``.

    Raises:
        InvalidState: The workspace is reached through a server.
    """
    from driftloop.errors import InvalidState
    from driftloop.store.metadata import redact

    ws = workspace()
    if ws.is_remote:
        raise InvalidState(
            f"`driftloop {command}` runs where the workspace is, next to its stores, not through a server "
            f"({redact(ws.settings.store)}): run it on the server's machine with the workspace's own settings, or "
            f"{instead}."
        )
    return ws


def fail(message: str, *, code: int = 1) -> NoReturn:
    """Print one ``error:`` line (the message is shown as is, never read as markup) and exit."""
    errors.print(Text.assemble(("error:", "bold red"), " ", message), soft_wrap=True)
    sys.exit(code)


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, default=_json_default, sort_keys=False) + "\n")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | frozenset | tuple):
        return list(value)
    return str(value)


def table(
    title: str | None, columns: Sequence[str], rows: Sequence[Sequence[Any]], *, wrap: Sequence[str] = ()
) -> None:
    """Print rows under ``columns``. Cells are plain text (user data is never read as Rich markup); only
    the columns named in ``wrap`` may wrap, the others keep one line and are cut with an ellipsis.
    """
    grid = Table(title=title, title_justify="left", header_style="bold", show_lines=False)
    for column in columns:
        if column in wrap:
            grid.add_column(column, overflow="fold")
        else:
            grid.add_column(column, no_wrap=True, overflow="ellipsis")
    for row in rows:
        grid.add_row(*(cell if isinstance(cell, Text) else Text(format_value(cell)) for cell in row))
    console.print(grid)


def format_value(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def format_bytes(size: int | None) -> str:
    if size is None:
        return "-"
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    return f"{value:.1f} GiB"


def use_workspace_settings() -> None:
    """Put the resolved workspace settings in the environment, for worker processes started from here."""
    import os

    settings = workspace().settings
    os.environ.update(
        {
            "DRIFTLOOP_ROOT": settings.root,
            "DRIFTLOOP_STORE": settings.store,
            "DRIFTLOOP_ARTIFACTS": settings.artifacts,
            "DRIFTLOOP_ACTOR": settings.actor,
        }
    )
