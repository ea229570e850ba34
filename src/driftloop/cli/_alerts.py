"""``driftloop alerts …``: list the alerts monitoring rules raised, acknowledge and resolve them."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Literal

import typer

from driftloop.cli._output import console, print_json, table, workspace

app = typer.Typer(help="Alerts raised by monitoring rules: list, show, acknowledge, resolve.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
Status = Literal["open", "acknowledged", "resolved"]


@app.command("list")
def list_alerts(
    status: Annotated[Status | None, typer.Option(help="Only alerts in this status.")] = None,
    rule: Annotated[str | None, typer.Option(help="Only alerts of this rule.")] = None,
    subject: Annotated[str | None, typer.Option(help="Only alerts about this subject (a model, 'server').")] = None,
    limit: Annotated[int, typer.Option(min=1, help="At most this many, newest first.")] = 100,
    as_json: JsonOption = False,
) -> None:
    """The newest alerts first."""
    found = workspace().alerts.list(status=status, rule=rule, subject=subject, limit=limit)
    if as_json:
        print_json([alert.to_dict() for alert in found])
        return
    if not found:
        console.print("No alerts.", markup=False)
        return
    table(
        None,
        ["id", "severity", "status", "rule", "subject", "count", "last value", "opened", "last seen", "message"],
        [
            (
                a.id,
                a.severity,
                a.status,
                a.rule,
                a.subject,
                a.count,
                a.last_value,
                _time(a.opened_at),
                _time(a.last_seen_at),
                a.message,
            )
            for a in found
        ],
        wrap=["message"],
    )


@app.command()
def show(
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="The alert's id.")], as_json: JsonOption = False
) -> None:
    """One alert and every attempt to deliver it (failed channels included)."""
    alerts = workspace().alerts
    alert = alerts.get(alert_id)
    deliveries = alerts.deliveries(alert_id)
    if as_json:
        print_json({**alert.to_dict(), "deliveries": [d.to_dict() for d in deliveries]})
        return
    for key, value in alert.to_dict().items():
        shown = _time(value) if key.endswith("_at") and isinstance(value, float) else value
        console.print(f"{key}: {'-' if shown is None else shown}", markup=False)
    table(
        "deliveries",
        ["at", "channel", "kind", "attempt", "ok", "error"],
        [(_time(d.at), d.channel, d.kind, d.attempt, "yes" if d.ok else "no", d.error) for d in deliveries],
        wrap=["error"],
    )


@app.command()
def ack(
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="The alert's id.")],
    by: Annotated[str | None, typer.Option(help="Who acknowledges (default: the workspace's user).")] = None,
) -> None:
    """Acknowledge an open alert: its channels are not told again until it resolves."""
    ws = workspace()
    alert = ws.alerts.acknowledge(alert_id, by=by or ws.actor)
    console.print(f"Alert {alert.id} ({alert.rule} on {alert.subject}) acknowledged by {alert.acked_by}.", markup=False)


@app.command()
def resolve(
    alert_id: Annotated[int, typer.Argument(metavar="ID", help="The alert's id.")],
    by: Annotated[str | None, typer.Option(help="Who resolves (default: the workspace's user).")] = None,
) -> None:
    """Resolve an alert by hand; its rule must breach again, for as many windows as it needs, to re-fire."""
    ws = workspace()
    alert = ws.alerts.resolve(alert_id, by=by or ws.actor)
    console.print(f"Alert {alert.id} ({alert.rule} on {alert.subject}) resolved by {alert.resolved_by}.", markup=False)


def _time(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)
