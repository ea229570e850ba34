"""``driftloop models …``: list, versions, show, promote, rollback, alias, history, traffic, diff."""

from __future__ import annotations

import dataclasses
from typing import Annotated, Any

import typer

from driftloop.cli._output import console, print_json, table, workspace

app = typer.Typer(help="The model registry: versions, aliases and their history.", no_args_is_help=True)
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON for scripts.")]
ReasonOption = Annotated[str, typer.Option("--reason", "-m", help="Why: recorded with the alias move.")]


@app.command("list")
def list_(as_json: JsonOption = False) -> None:
    """List registered models with their latest version and aliases."""
    found = workspace().models.list()
    if as_json:
        print_json(
            [
                {
                    "name": m.name,
                    "latest_version": m.latest_version,
                    "aliases": dict(m.aliases),
                    "created_at": m.created_at,
                }
                for m in found
            ]
        )
        return
    table(
        "Registered models",
        ["name", "latest", "aliases", "created", "by"],
        [(m.name, m.latest_version, _aliases(m.aliases), m.created_at, m.created_by) for m in found],
    )


@app.command()
def versions(name: str, as_json: JsonOption = False) -> None:
    """List a model's versions."""
    found = workspace().models.versions(name)
    if as_json:
        print_json([_version_dict(v) for v in found])
        return
    table(
        f"Versions of {name}",
        ["version", "aliases", "flavour", "task", "dataset", "metrics", "created", "by"],
        [
            (
                v.number,
                ", ".join(v.aliases),
                v.flavour,
                v.task,
                None if v.dataset is None else f"{v.dataset}/{v.dataset_version}",
                _metrics(v.metrics),
                v.created_at,
                v.created_by,
            )
            for v in found
        ],
        wrap=["metrics"],
    )


@app.command()
def show(reference: str, as_json: JsonOption = False) -> None:
    """A version's facts: run, dataset, signature, metrics, files. REFERENCE is NAME, NAME/VERSION or NAME@ALIAS."""
    ws = workspace()
    info = ws.models.get(reference)
    manifest = ws.models.manifest(info)
    data = _version_dict(info)
    data["files"] = [{"name": p.name, "format": p.format, "size": p.size, "digest": p.digest} for p in manifest.parts]
    data["onnx"] = manifest.onnx
    if as_json:
        print_json(data)
        return
    console.print(f"{info.reference}  ({info.flavour}, {info.task or 'task unknown'})", markup=False)
    for key in ("aliases", "run_id", "dataset", "created_at", "created_by", "description"):
        console.print(f"  {key}: {data[key]}", markup=False)
    table("Metrics (holdout)", ["metric", "value"], sorted(info.metrics.items()))
    columns = info.signature.get("inputs", {}).get("columns", [])
    if columns:
        table(
            "Signature",
            ["column", "type", "nullable", "range", "categories"],
            [
                (
                    c["name"],
                    c.get("dtype", c.get("type")),
                    c.get("nullable"),
                    _range(c),
                    _categories(c.get("categories")),
                )
                for c in columns
            ],
        )
    table(
        "Files",
        ["name", "format", "bytes", "digest"],
        [(p.name, p.format, p.size, p.digest[:16]) for p in manifest.parts],
    )


@app.command()
def promote(
    reference: str,
    alias: Annotated[str, typer.Option(help="The alias to move.")] = "champion",
    reason: ReasonOption = "",
    gate: Annotated[
        list[str] | None, typer.Option("--gate", help="A gate, e.g. 'r2 >= 0.8' (default: the version's own).")
    ] = None,
) -> None:
    """Point an alias (champion by default) at a version, after its gates pass."""
    move = workspace().models.promote(reference, alias=alias, reason=reason, gates=gate or None)
    console.print(_describe(move), markup=False)


@app.command()
def rollback(
    name: str,
    alias: Annotated[str, typer.Option(help="The alias to move back.")] = "champion",
    reason: ReasonOption = "",
) -> None:
    """Point an alias back at the version it pointed at before."""
    move = workspace().models.rollback(name, alias=alias, reason=reason)
    console.print(_describe(move), markup=False)


@app.command()
def alias(
    name: str,
    alias_name: Annotated[str, typer.Argument(metavar="ALIAS")],
    version: Annotated[int | None, typer.Argument(help="The version; leave out with --delete.")] = None,
    delete: Annotated[bool, typer.Option("--delete", help="Remove the alias.")] = False,
    reason: ReasonOption = "",
) -> None:
    """Set (or with --delete remove) any alias, without gates."""
    models = workspace().models
    if delete:
        move = models.delete_alias(name, alias_name, reason=reason)
    else:
        if version is None:
            from driftloop.errors import InvalidInput

            raise InvalidInput("Give the VERSION the alias should point at, or --delete.")
        move = models.set_alias(name, alias_name, version, reason=reason)
    console.print(_describe(move), markup=False)


@app.command()
def history(
    name: str,
    alias_name: Annotated[str | None, typer.Option("--alias", help="Only this alias.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Every alias move: who moved which alias, from which version to which, when and why."""
    moves = workspace().models.history(name, alias_name)
    if as_json:
        print_json([{k: getattr(m, k) for k in m.__dataclass_fields__} for m in moves])
        return
    table(
        f"Alias history of {name}",
        ["at", "alias", "from", "to", "by", "reason"],
        [(m.at, m.alias, m.from_version, m.to_version, m.actor, m.reason) for m in moves],
        wrap=["reason"],
    )


@app.command()
def traffic(
    name: str,
    canary: Annotated[
        float | None, typer.Option(min=0.0, max=1.0, help="The share of requests (0 to 1) the challenger answers.")
    ] = None,
    shadow: Annotated[
        bool | None,
        typer.Option("--shadow/--no-shadow", help="Whether the challenger also scores a copy of every request."),
    ] = None,
    challenger: Annotated[str | None, typer.Option(help="The alias of the challenger (challenger).")] = None,
    off: Annotated[bool, typer.Option("--off", help="Send everything to the champion again.")] = False,
    reason: Annotated[str, typer.Option("--reason", "-m", help="Why: recorded with the change.")] = "",
    as_json: JsonOption = False,
) -> None:
    """Show or change how the model's servers share its requests with its challenger (canary, shadow).

    Every server of the model follows a change within its poll interval, unless it was started with --canary or
    --shadow of its own. Options left out keep their current value.
    """
    models = workspace().models
    now = models.traffic(name)
    changes = {"canary": canary, "shadow": shadow, "challenger": challenger}
    if off or any(value is not None for value in changes.values()):
        if off and any(value is not None for value in changes.values()):
            from driftloop.errors import InvalidInput

            raise InvalidInput("--off sends everything to the champion: give it alone, without --canary or --shadow.")
        wanted = (
            {} if off else {**dataclasses.asdict(now.policy), **{k: v for k, v in changes.items() if v is not None}}
        )
        now = models.set_traffic(name, **wanted, reason=reason, expected=now.policy)
    if as_json:
        print_json(dataclasses.asdict(now))
        return
    policy = now.policy
    by = "never set" if now.updated_at is None else f"set by {now.updated_by} at {now.updated_at:%Y-%m-%d %H:%M:%S} UTC"
    console.print(f"{name}: {policy.describe()} ({by})", markup=False)
    if policy.needs_challenger and policy.challenger not in models.model(name).aliases:
        console.print(
            f"  {name} has no alias {policy.challenger!r} yet: the champion answers everything until it is set.",
            markup=False,
        )


@app.command()
def diff(
    reference: str,
    other: str,
    score: Annotated[
        bool, typer.Option("--score", help="Also score both on the first version's holdout (identical rows).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Compare two versions: metrics, signature, dataset; with --score, both scored on the same rows."""
    models = workspace().models
    data = models.diff(reference, other)
    if score:
        data["scored"] = models.compare(reference, other)
    if as_json:
        print_json(data)
        return
    console.print(f"{data['a']} → {data['b']}", markup=False)
    console.print(f"  flavour: {data['flavour'][0]} → {data['flavour'][1]}", markup=False)
    console.print(f"  dataset: {data['dataset'][0]} → {data['dataset'][1]}", markup=False)
    for key in ("columns_added", "columns_removed", "columns_retyped"):
        if data[key]:
            console.print(f"  {key.replace('_', ' ')}: {', '.join(data[key])}", markup=False)
    table(
        "Metrics (as registered)",
        ["metric", data["a"], data["b"], "change"],
        [(k, v["a"], v["b"], v["change"]) for k, v in data["metrics"].items()],
    )
    if score:
        scored = data["scored"]
        keys = sorted(set(scored[data["a"]]) | set(scored[data["b"]]))
        table(
            f"Scored on {scored['rows']:,} identical holdout rows",
            ["metric", data["a"], data["b"]],
            [(k, scored[data["a"]].get(k), scored[data["b"]].get(k)) for k in keys],
        )


def _version_dict(info: Any) -> dict[str, Any]:
    return {
        "reference": info.reference,
        "model": info.model,
        "version": info.number,
        "aliases": list(info.aliases),
        "flavour": info.flavour,
        "task": info.task,
        "run_id": info.run_id,
        "dataset": None if info.dataset is None else f"{info.dataset}/{info.dataset_version}",
        "metrics": dict(info.metrics),
        "signature": dict(info.signature),
        "profile_digest": info.profile_digest,
        "created_at": info.created_at,
        "created_by": info.created_by,
        "description": info.description,
    }


def _describe(move: Any) -> str:
    before = "unset" if move.from_version is None else f"version {move.from_version}"
    after = "removed" if move.to_version is None else f"version {move.to_version}"
    return f"{move.model}@{move.alias}: {before} → {after}" + (f" ({move.reason})" if move.reason else "")


def _aliases(aliases: Any) -> str:
    return ", ".join(f"{name}→{version}" for name, version in sorted(aliases.items()))


def _metrics(metrics: Any) -> str:
    return ", ".join(f"{key}={value:.4g}" for key, value in sorted(metrics.items()))


def _range(column: dict[str, Any]) -> str:
    low, high = column.get("minimum"), column.get("maximum")
    return "" if low is None and high is None else f"{low} … {high}"


def _categories(categories: Any) -> str:
    if not categories:
        return ""
    shown = ", ".join(map(str, categories[:6]))
    return shown + (f" (+{len(categories) - 6})" if len(categories) > 6 else "")
