"""The market demo's timeline on a few made-up months: a table on a terminal that shows what each month measured and
what the loop did (in colour), plain lines anywhere else, and only the newest months while a short terminal waits."""

from __future__ import annotations

import io
import re
import sys

from rich.console import Console

from driftloop.demo._loop_demo import MonthResult
from driftloop.demo._market import MarketEvent
from driftloop.demo._timeline import MonthTimeline, month_line, timeline_table
from driftloop.entities import LoopAction

EVENTS = [
    MarketEvent(1, "concept", "inflation", "prices rise"),
    MarketEvent(7, "data", "new_district", "a district opens"),
    MarketEvent(8, "quality", "area_missing", "area goes missing", last_month=8),
]
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def _action(state: str, *, trigger: str = "data_drift", action: str = "retrain", **fields: object) -> LoopAction:
    return LoopAction(1, "houses-loop", "houses", trigger, action, state, 0.0, 0.0, **fields)  # type: ignore[arg-type]


def _month(month: int, mape: tuple[float, float, float], status: str, **fields: object) -> MonthResult:
    """A month served by v1 without failed requests unless ``fields`` say otherwise."""
    loop, frozen, scheduled = mape
    known: dict[str, object] = {"rows": 700, "failed_requests": 0, "champion_version": 1, **fields}
    return MonthResult(
        month=month,
        loop_mape=loop,
        frozen_mape=frozen,
        scheduled_mape=scheduled,
        status=status,
        **known,  # type: ignore[arg-type]
    )


def _months() -> list[MonthResult]:
    promoted = _action("promoted", challenger_version=2, cost={"detection_to_promotion_seconds": 4.21})
    quarantined = _action("remedied", trigger="quality_failure", action="data_remedy", evidence={"rows": 1234})
    rolled_back = _action("rejected", challenger_version=3, evidence={"rolled_back": True})
    incident = {"champion_version": 2, "failed_requests": 3, "alerts": ("loop-data-quality",)}
    return [
        _month(6, (0.081, 0.083, 0.082), "quiet", drift_share=0.2, seconds=1.5),
        _month(7, (0.124, 0.151, 0.118), "promoted", drift_share=0.625, seconds=9.25, actions=(promoted,)),
        _month(8, (0.097, 0.164, 0.133), "remedied", drift_share=0.25, seconds=2.0, actions=(quarantined,), **incident),
        _month(9, (0.101, 0.170, 0.104), "rejected", seconds=3.0, champion_version=2, actions=(rolled_back,)),
    ]


def _rows(text: str) -> dict[int, str]:
    """The lines of the table's rows (with their colour codes, if any) by the month in their first cell."""
    found = {}
    for line in text.splitlines():
        cells = [cell.strip() for cell in ANSI.sub("", line).split("│")[1:-1]]
        if cells and cells[0].isdigit():
            found[int(cells[0])] = line
    return found


def test_the_table_has_a_row_per_month_with_its_figures_and_what_the_loop_did() -> None:
    console = Console(record=True, width=240, file=io.StringIO())
    console.print(timeline_table(_months(), events=EVENTS, drift_threshold=0.5))
    rows = _rows(console.export_text())
    assert list(rows) == [6, 7, 8, 9]
    assert all(figure in rows[7] for figure in ("12.4%", "15.1%", "11.8%", "62%", "new_district", "9.2 s"))
    assert "data_drift -> retrain: promoted (v2; alias moved 4.2 s after detection)" in rows[7]
    assert "loop-data-quality" in rows[8] and "area_missing" in rows[8] and "v2 (3 failed)" in rows[8]
    assert "data_remedy: remedied (1,234 rows quarantined)" in rows[8]
    assert "rolled back (v3)" in rows[9] and "quiet" in rows[6]
    assert "inflation" not in console.export_text()  # it started before the replay


def test_events_have_colours_of_their_own() -> None:
    console = Console(record=True, width=240, file=io.StringIO(), force_terminal=True, color_system="standard")
    console.print(timeline_table(_months(), events=EVENTS, drift_threshold=0.5))
    rows = _rows(console.export_text(styles=True))

    def shown_in(style: str, text: str, month: int) -> bool:
        return re.search(re.escape(f"\x1b[{style}m") + r" *" + re.escape(text), rows[month]) is not None

    bold_green, bold_yellow, bold_magenta, bold_red = "1;32", "1;33", "1;35", "1;31"
    assert shown_in(bold_green, "promoted", 7)
    assert shown_in(bold_yellow, "62%", 7) and shown_in(bold_yellow, "new_district", 7)
    assert shown_in(bold_magenta, "remedied", 8) and shown_in(bold_magenta, "area_missing", 8)
    assert shown_in(bold_red, "rolled back", 9)
    assert shown_in("1", "11.8%", 7) and not shown_in("1", "12.4%", 7)  # the month's lowest MAPE in bold
    assert not shown_in(bold_yellow, "20%", 6)  # below the policy's threshold


def test_output_that_is_not_a_terminal_gets_one_plain_line_per_month() -> None:
    printed = io.StringIO()
    console = Console(file=printed, width=80)
    assert not console.is_terminal
    with MonthTimeline(console, events=EVENTS, drift_threshold=0.5) as timeline:
        for month in _months():
            timeline.add(month)
    lines = printed.getvalue().splitlines()
    assert lines == [month_line(month, EVENTS) for month in _months()]
    assert lines[1] == (
        "month  7 [new_district]: served by v1, MAPE loop 12.4% | frozen 15.1% | scheduled 11.8%; drift 62%; loop: "
        "data_drift -> retrain: promoted (v2; alias moved 4.2 s after detection) (9.2 s)"
    )
    assert "(3 failed requests)" in lines[2] and "alerts: loop-data-quality" in lines[2]
    assert "\x1b" not in printed.getvalue() and "│" not in printed.getvalue()


def test_a_quiet_terminal_console_prints_nothing_and_leaves_stdout_alone() -> None:
    printed, stdout = io.StringIO(), sys.stdout
    with MonthTimeline(Console(file=printed, force_terminal=True, quiet=True)) as timeline:
        assert not timeline.interactive and sys.stdout is stdout
        for month in _months():
            timeline.add(month)
    assert printed.getvalue() == ""


def test_a_terminal_gets_the_table_redrawn_once_a_month_and_whole_at_the_end() -> None:
    printed = io.StringIO()
    console = Console(file=printed, width=240, height=9, force_terminal=True, color_system=None)
    with MonthTimeline(console, events=EVENTS, drift_threshold=0.5) as timeline:
        drawn = [printed.getvalue().count("the replay, month by month")]
        for month in _months():
            timeline.add(month)
            drawn.append(printed.getvalue().count("the replay, month by month"))
        # A terminal 9 lines high holds the newest months only while the replay runs.
        waiting = printed.getvalue().split("the replay, month by month")[-1]
        assert list(_rows(waiting)) == [8, 9] and "2 earlier month(s) not shown" in waiting
    assert drawn == [1, 2, 3, 4, 5]  # the header at once, then one redraw per month
    final = printed.getvalue().split("the replay, month by month")[-1]
    assert list(_rows(final)) == [6, 7, 8, 9] and "not shown" not in final
