"""The demo's HTML report: error over time for the loop and its baselines, drift, the market's events, each loop
action with its evidence and cost, and the alerts. One self-contained file: Plotly is inlined, it opens offline."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from driftloop.demo._loop_demo import LoopDemo

__all__ = ["render_loop_report", "write_loop_report"]


def render_loop_report(demo: LoopDemo) -> str:
    """The report's HTML."""
    import jinja2

    from driftloop.monitoring._report import page_scripts

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("driftloop.demo", "templates"), autoescape=True, undefined=jinja2.StrictUndefined
    )
    environment.policies["json.dumps_kwargs"] = {"allow_nan": False, "separators": (",", ":")}
    months = [month.month for month in demo.months]
    page = environment.get_template("loop_report.html.j2").render(
        title="driftloop: the closed loop on a housing market",
        generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
        demo=demo,
        first_month=months[0],
        last_month=months[-1],
        loop=demo.mean("loop"),
        frozen=demo.mean("frozen"),
        scheduled=demo.mean("scheduled"),
        actions=[_action_row(demo, action) for action in demo.actions],
        figures={"mape": _mape_figure(demo), "drift": _drift_figure(demo)},
        **page_scripts(),
    )
    return str(page)


def write_loop_report(demo: LoopDemo, path: Path) -> Path:
    from driftloop.monitoring._report import write_report

    return write_report(path, render_loop_report(demo))


def _mape_figure(demo: LoopDemo) -> dict[str, Any]:
    months = [month.month for month in demo.months]
    lines = [
        ("the loop", [m.loop_mape * 100 for m in demo.months]),
        ("frozen first champion", [m.frozen_mape * 100 for m in demo.months]),
        ("scheduled monthly retrain", [m.scheduled_mape * 100 for m in demo.months]),
    ]
    shown = [event for event in demo.events if event.month >= months[0]]
    shapes = [_event_line(event.month) for event in shown]
    notes = [_event_note(event.month, event.name) for event in shown]
    promotions = [m for m in demo.months if m.status == "promoted"]
    data: list[dict[str, Any]] = [
        {"type": "scatter", "mode": "lines+markers", "name": name, "x": months, "y": y} for name, y in lines
    ]
    data.append(
        {
            "type": "scatter",
            "mode": "markers",
            "name": "a new champion after this month",
            "x": [m.month for m in promotions],
            "y": [m.loop_mape * 100 for m in promotions],
            "marker": {"symbol": "star", "size": 12},
        }
    )
    layout = {
        "xaxis": {"title": {"text": "month"}},
        "yaxis": {"title": {"text": "MAPE (%)"}},
        "shapes": shapes,
        "annotations": notes,
        "margin": {"t": 20},
    }
    return {"data": data, "layout": layout}


def _event_line(month: int) -> dict[str, Any]:
    line = {"dash": "dot", "width": 1, "color": "#999"}
    return {"type": "line", "x0": month, "x1": month, "yref": "paper", "y0": 0, "y1": 1, "line": line}


def _event_note(month: int, name: str) -> dict[str, Any]:
    return {
        "x": month,
        "y": 1,
        "yref": "paper",
        "text": name,
        "showarrow": False,
        "textangle": -90,
        "xanchor": "right",
        "yanchor": "top",
        "font": {"size": 10, "color": "#666"},
    }


def _drift_figure(demo: LoopDemo) -> dict[str, Any]:
    bars = {
        "type": "bar",
        "name": "share of drifted features",
        "x": [m.month for m in demo.months],
        "y": [m.drift_share for m in demo.months],
    }
    layout = {
        "xaxis": {"title": {"text": "month"}},
        "yaxis": {"title": {"text": "drifted share"}, "range": [0, 1]},
        "margin": {"t": 20},
    }
    return {"data": [bars], "layout": layout}


def _action_row(demo: LoopDemo, action: Any) -> dict[str, Any]:
    month = demo.action_months.get(action.id)
    versions = f"v{action.champion_version}" + (
        f" -> v{action.challenger_version}" if action.challenger_version is not None else ""
    )
    cost = []
    for step, measured in action.cost.items():
        if isinstance(measured, dict):
            wall, cpu, peak = (measured.get(k) for k in ("wall_seconds", "cpu_seconds", "peak_rss_mib"))
            cost.append(f"{step}: {wall} s wall, {cpu} s CPU, peak {peak} MiB")
        else:
            cost.append(f"{step}: {measured} s")
    evidence = json.dumps(action.evidence.get("trigger") or action.evidence, default=str, sort_keys=True)
    return {
        "id": action.id,
        "month": month,
        "trigger": action.trigger,
        "action": action.action,
        "state": action.state + (f" ({action.error})" if action.error else ""),
        "versions": versions,
        "evidence": evidence[:600],
        "cost": "; ".join(cost),
    }
