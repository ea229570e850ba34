"""The closed-loop demo on a short market: it serves, monitors, quarantines, retrains and promotes, its figures
come from the run, and its report opens offline in Chromium with every plot drawn."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from tests.monitoring.test_report import chromium  # noqa: F401  (the browser fixture)

from driftloop import Workspace
from driftloop.demo import MarketParameters
from driftloop.demo._loop_demo import LoopDemo, run_loop_demo

SHORT = MarketParameters(
    months=12,
    sales_per_month=700,
    new_district_month=8,
    jump_month=9,
    small_flats_month=11,
    missing_area_months=(10,),
    square_feet_month=None,
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[LoopDemo, Workspace]:
    folder = tmp_path_factory.mktemp("loop-demo")
    ws = Workspace(folder / "ws").open()
    result = run_loop_demo(ws, parameters=SHORT, report=folder / "loop.html", console=Console(quiet=True))
    yield result, ws  # type: ignore[misc]
    ws.close()


def test_the_loop_acts_on_the_market_and_its_figures_come_from_the_run(demo: tuple[LoopDemo, Workspace]) -> None:
    result, ws = demo
    assert [month.month for month in result.months] == list(range(6, 12))
    assert result.failed_requests == 0
    assert all(0 < month.loop_mape < 1 and 0 < month.frozen_mape < 1 for month in result.months)
    states = {(action.action, action.state) for action in result.actions}
    assert ("retrain", "promoted") in states
    remedies = [a for a in result.actions if a.action == "data_remedy"]
    assert remedies and all(a.state == "remedied" for a in remedies)
    (incident,) = [m for m in result.months if m.month == 10]
    assert incident.status in ("remedied", "held")
    # No training window ever held the incident's broken rows.
    for version in ws.datasets.versions("houses-window"):
        frame = ws.datasets.get("houses-window", version.number).to_pandas()
        assert frame["area"].notna().all()
    champion = ws.models.get("houses@champion").number
    assert champion == max(a.challenger_version or 1 for a in result.actions if a.state == "promoted")
    assert result.months[-1].champion_version <= champion
    assert result.scheduled_retrains == 5 and result.retrains < result.scheduled_retrains + 1


def test_recoveries_are_counted_from_each_runs_own_months(demo: tuple[LoopDemo, Workspace]) -> None:
    result, _ = demo
    for of in ("loop", "scheduled", "frozen"):
        by_month = {month.month: getattr(month, f"{of}_mape") for month in result.months}
        found = result.recoveries(of)
        assert [event.name for event, _, _ in found] == [
            e.name for e in result.events if e.kind != "quality" and e.month - 1 in by_month
        ]
        for event, before, back in found:
            assert before == by_month[event.month - 1]
            after = [by_month.get(event.month + k, math.inf) for k in (1, 2)]
            expected = next((k for k, value in zip((1, 2), after, strict=True) if value <= 1.1 * before), None)
            assert back == expected
    assert result.recoveries() == result.recoveries("loop")


@pytest.mark.slow
def test_the_report_opens_offline_with_every_plot_drawn(
    demo: tuple[LoopDemo, Workspace],
    chromium: Any,  # noqa: F811
) -> None:
    result, _ = demo
    assert result.report is not None and result.report.exists()
    context = chromium.new_context()
    context.set_offline(True)
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    try:
        tab.goto(Path(result.report).as_uri(), wait_until="load")
        tab.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 2", timeout=20_000)
        drawn = tab.evaluate(
            "Array.from(document.querySelectorAll('[data-figure]'), node => "
            "[node.dataset.figure, node.querySelectorAll('.point, .trace').length])"
        )
        rows = tab.evaluate("document.querySelectorAll('#actions tbody tr').length")
    finally:
        context.close()
    assert [name for name, _ in drawn] == ["mape", "drift"] and all(marks > 0 for _, marks in drawn)
    assert rows == len(result.actions) and problems == []
