"""``driftloop loop …``: run the policies (once, or on a schedule under the controller's lease), list actions."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from driftloop.cli._output import console, local_workspace, print_json, table, workspace

app = typer.Typer(help="The closed loop: policies that act on drift, and what they did.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]


@app.command()
def run(
    policies: Annotated[
        Path | None,
        typer.Argument(help="A policy file (YAML); the workspace's stored policies when left out (read each tick)."),
    ] = None,
    every: Annotated[
        str | None,
        typer.Option(
            help="Tick every 1m, 5m, 1h... until stopped, and only while no other process runs the controller "
            "(a lease in the metadata store); once by default.",
            show_default=False,
        ),
    ] = None,
    alerts: Annotated[
        Path | None,
        typer.Option(help="Channels (and extra rules) for the loop's alerts (YAML).", show_default=False),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Evaluate every policy: quarantine broken data, or retrain, gate and promote when a trigger fires.

    Through a workspace server, each tick runs on the server over its stored policies, as you (the deployer role).
    """
    from driftloop.durations import parse_duration

    interval = None if every is None else parse_duration(every, "--every")
    ws = workspace()
    if ws.is_remote:
        if policies is not None:
            local_workspace("loop run FILE", instead="store the file first (driftloop policies set FILE, an admin's "
                            "change), then run driftloop loop run without it")  # fmt: skip
        if alerts is not None:
            local_workspace("loop run --alerts", instead="leave --alerts out: a tick on the server records the loop's "
                            "alerts in the workspace (driftloop alerts list)")  # fmt: skip
        _tick_through_the_server(ws, interval, as_json=as_json)
        return

    from driftloop.loop import load_policies
    from driftloop.loop._controller import LoopController
    from driftloop.monitoring import AlertConfig

    # A bad file, or an unknown model, fails before any work.
    loaded = ws.policies.load() if policies is None else load_policies(policies, ws)
    config = None if alerts is None else AlertConfig.from_yaml(alerts)
    controller = LoopController(ws, loaded, alerts=config)

    def tick(token: int = 0) -> None:
        if policies is None:  # an admin may have changed them since the last tick
            controller.policies = tuple(ws.policies.load())
        _print_outcomes(controller.tick(), as_json=as_json)

    if interval is None or interval <= 0:
        tick()
        return
    from driftloop.execution import LeasedJob
    from driftloop.loop._controller import CONTROLLER_LEASE

    leased = LeasedJob(ws.metadata.leases, CONTROLLER_LEASE, tick, interval=interval, first_run_after=0.0)
    console.print(f"the loop ticks every {interval:g} s while it holds the lease (Ctrl-C stops)", markup=False)
    leased.run_in_foreground()


def _tick_through_the_server(ws: Any, interval: float | None, *, as_json: bool) -> None:
    """One tick on the server, or one every ``interval`` seconds until Ctrl-C (a tick refused because another process
    runs the controller is reported, and the next one tried)."""
    import time

    from driftloop.errors import Conflict

    if interval is None or interval <= 0:
        _print_outcomes(ws.policies.tick(), as_json=as_json)
        return
    console.print(f"the loop ticks on the server every {interval:g} s (Ctrl-C stops)", markup=False)
    try:
        while True:
            started = time.monotonic()
            try:
                _print_outcomes(ws.policies.tick(), as_json=as_json)
            except Conflict as busy:
                console.print(busy.message, markup=False)
            time.sleep(max(0.0, interval - (time.monotonic() - started)))
    except KeyboardInterrupt:
        pass


def _print_outcomes(outcomes: Any, *, as_json: bool) -> None:
    if as_json:
        print_json([outcome.to_dict() for outcome in outcomes])
        return
    table(
        None,
        ["policy", "model", "status", "action", "evidence"],
        [
            (
                o.policy,
                o.model,
                o.status,
                "-" if o.action is None else f"#{o.action.id} {o.action.trigger} -> {o.action.action}",
                _short(o.evidence or o.observed),
            )
            for o in outcomes
        ],
        wrap=["evidence"],
    )


@app.command()
def actions(
    policy: Annotated[str | None, typer.Option(help="Only this policy's actions.")] = None,
    model: Annotated[str | None, typer.Option(help="Only actions on this model.")] = None,
    limit: Annotated[int, typer.Option(help="At most this many, newest first.")] = 50,
    as_json: JsonOption = False,
) -> None:
    """The loop's actions, newest first: trigger, state, versions, evidence and cost."""
    from dataclasses import asdict

    found = workspace().loop_actions.list(policy=policy, model=model, limit=limit)
    if as_json:
        print_json([asdict(action) for action in found])
        return
    table(
        None,
        ["#", "policy", "trigger", "action", "state", "versions", "evidence", "cost (wall s)"],
        [
            (
                a.id,
                a.policy,
                a.trigger,
                a.action,
                a.state if a.error is None else f"{a.state}: {a.error}",
                f"v{a.champion_version}" + ("" if a.challenger_version is None else f" -> v{a.challenger_version}"),
                _short(a.evidence.get("trigger") or a.evidence),
                sum(step.get("wall_seconds", 0.0) for step in a.cost.values() if isinstance(step, dict)),
            )
            for a in found
        ],
        wrap=["evidence"],
    )


def _short(evidence: Any, limit: int = 160) -> str:
    import json

    text = json.dumps(evidence, default=str, sort_keys=True)
    return text if len(text) <= limit else text[: limit - 1] + "…"


policies_app = typer.Typer(
    help="The loop's policies kept in the workspace (what `driftloop loop run` runs without a file).",
    no_args_is_help=True,
)


@policies_app.command("set")
def set_policies(
    file: Annotated[Path, typer.Argument(help="A policy file (YAML): each policy is stored by name.")],
) -> None:
    """Store every policy of a file (created, or replacing the one of its name), once all of them check out."""
    stored = workspace().policies.set_file(file)
    for policy in stored:
        console.print(f"policy {policy.name}: revision {policy.revision}", markup=False)


@policies_app.command("list")
def list_policies(as_json: JsonOption = False) -> None:
    """The stored policies: model, action, revision, who set it last and when."""
    from dataclasses import asdict

    found = workspace().policies.list()
    if as_json:
        print_json([asdict(policy) for policy in found])
        return
    table(
        None,
        ["policy", "model", "action", "revision", "set by", "set at"],
        [
            (
                p.name,
                p.document.get("model"),
                _short(p.document.get("action"), 60),
                p.revision,
                p.updated_by,
                _when(p.updated_at),
            )
            for p in found
        ],
    )


@policies_app.command("show")
def show_policy(name: str) -> None:
    """One stored policy, as YAML."""
    import yaml

    stored = workspace().policies.get(name)
    console.print(yaml.safe_dump({"policies": [stored.document]}, sort_keys=False), markup=False, end="")


@policies_app.command("delete")
def delete_policy(name: str) -> None:
    """Remove a stored policy (its last revision stays in the audit log)."""
    stored = workspace().policies.delete(name)
    console.print(f"policy {stored.name} deleted (it was at revision {stored.revision})", markup=False)


def _when(seconds: float) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%S")
