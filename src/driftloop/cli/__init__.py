"""The ``driftloop`` command line: a thin adapter over the services (Typer + Rich)."""

from driftloop.cli._app import app, main

__all__ = ["app", "main"]
