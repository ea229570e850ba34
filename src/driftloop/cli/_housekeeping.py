"""``driftloop gc`` and ``driftloop events``."""

from __future__ import annotations

from typing import Annotated

import typer

from driftloop.cli._output import console, format_bytes, print_json, table, workspace


def gc(
    grace_period: Annotated[
        float, typer.Option(help="Keep unreferenced blobs younger than this many seconds.", min=0)
    ] = 3600.0,
    purge_older_than: Annotated[
        float, typer.Option(help="Purge runs and experiments deleted at least this many seconds ago.", min=0)
    ] = 0.0,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Report what would go; remove nothing.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """Purge deleted runs and experiments, then remove blobs nothing refers to (through a server: an admin's)."""
    report = workspace().gc(grace_period=grace_period, purge_older_than=purge_older_than, dry_run=dry_run)
    if as_json:
        print_json({name: getattr(report, name) for name in report.__dataclass_fields__})
        return
    verb = "Would free" if dry_run else "Freed"
    console.print(
        f"{verb} {format_bytes(report.bytes_freed)} in {report.blobs_removed} blob(s); "
        f"purged {report.runs_purged} run(s) and {report.experiments_purged} experiment(s); "
        f"{report.blobs_kept} blob(s) kept; {report.temporary_files_removed} leftover temporary file(s) removed."
    )


def events(
    object_type: Annotated[str | None, typer.Option("--type", help="run, experiment, workspace…")] = None,
    object_id: Annotated[str | None, typer.Option("--id", help="The object's id.")] = None,
    action: Annotated[str | None, typer.Option(help="e.g. run.start")] = None,
    actor: Annotated[str | None, typer.Option(help="Only what this user or service account did.")] = None,
    since: Annotated[str | None, typer.Option(help="Only the last ... (e.g. 90m, 24h, 7d).")] = None,
    limit: Annotated[int, typer.Option(min=1)] = 50,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")] = False,
) -> None:
    """The audit trail, newest first: who did what, when, to which object, with the evidence."""
    import time

    from driftloop.durations import parse_duration

    start = None if since is None else time.time() - parse_duration(since, "--since")
    found = workspace().events.list(
        object_type=object_type, object_id=object_id, action=action, actor=actor, since=start, limit=limit
    )
    if as_json:
        print_json([{name: getattr(e, name) for name in e.__dataclass_fields__} for e in found])
        return
    table(
        "Events",
        ["at", "actor", "action", "object", "details"],
        [(e.at, e.actor, e.action, f"{e.object_type}:{e.object_id}", e.details or "") for e in found],
        wrap=["details"],
    )
