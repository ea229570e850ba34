"""The market demo's timeline: what each replayed month measured and what the loop did after it, as it happens.

On an interactive terminal (Rich's own detection: :attr:`Console.is_terminal`, and not a dumb one) a live table
grows by one row per month: the market's events starting that month, the version that served, the MAPE of the
loop and its two baselines (the best in bold), the drifted share of features, the alerts that opened, and each
loop action with its state, the version it promoted and the seconds from detection to the alias move. Drift,
quarantines, promotions and rollbacks have colours of their own. Anywhere else (a pipe, CI, a file, a quiet
console) each month is one plain line, so logs stay readable and nothing is redrawn.

The table is redrawn once per month, never on a timer: the replay is not slowed by the display. While it runs,
only the newest months that fit the terminal's height are shown; the whole table is drawn when the replay ends.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from rich.table import Table
from rich.text import Text

if TYPE_CHECKING:
    from types import TracebackType

    from rich.console import Console
    from rich.live import Live

    from driftloop.demo._loop_demo import MonthResult
    from driftloop.demo._market import MarketEvent
    from driftloop.entities import LoopAction

__all__ = ["MonthTimeline", "month_line", "timeline_table"]

DRIFT = "bold yellow"
QUARANTINE = "bold magenta"
PROMOTION = "bold green"
ROLLBACK = "bold red"
ALERT = "red"
_STATE_STYLES = {"promoted": PROMOTION, "remedied": QUARANTINE, "rejected": "red", "failed": ROLLBACK}
_STATUS_STYLES = {"held": QUARANTINE, "error": ROLLBACK, "quiet": "dim", "cooldown": "dim"}
_EVENT_STYLES = {"concept": DRIFT, "data": DRIFT, "quality": QUARANTINE}


class MonthTimeline:
    """Shows the replay month by month on ``console``: a live table on a terminal, plain lines elsewhere.

    Use it as a context manager around the replay and :meth:`add` each month as it ends; leaving the block draws
    the whole table (or does nothing more, for plain lines).

    Args:
        console: Where to show it.
        events: The market's events; each is named in the month it starts.
        drift_threshold: The drifted share of features the loop's policy acts on; a month at or above it shows
            its share in the drift colour (None: never).
    """

    def __init__(
        self, console: Console, *, events: Sequence[MarketEvent] = (), drift_threshold: float | None = None
    ) -> None:
        self.console = console
        self.events = tuple(events)
        self.drift_threshold = drift_threshold
        self.months: list[MonthResult] = []
        self._live: Live | None = None
        self._finished = False
        self._hidden = 0  # the earlier months the live table leaves out to fit the terminal

    @property
    def interactive(self) -> bool:
        """Whether the console is a terminal that can redraw the table in place. A quiet console (the benchmarks')
        is not: a live display would capture ``sys.stdout`` and ``sys.stderr`` and swallow what they print."""
        return self.console.is_terminal and not self.console.is_dumb_terminal and not self.console.quiet

    def __enter__(self) -> MonthTimeline:
        if self.interactive:
            from rich.live import Live

            self._live = Live(get_renderable=self._visible, console=self.console, auto_refresh=False)
            self._live.start(refresh=True)  # the header shows while the first month is replayed
        return self

    def add(self, month: MonthResult) -> None:
        """Show one more month: a row of the table (redrawn once), or a plain line."""
        self.months.append(month)
        if self._live is None:
            self.console.print(month_line(month, self.events), markup=False, highlight=False, soft_wrap=True)
        else:
            self._live.refresh()

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self._finished = True
        if self._live is not None:
            self._live.stop()  # its last refresh draws every month, however tall the table
            self._live = None

    def _visible(self) -> Table:
        """The table to draw now: every month once the replay ended, else the newest that fit the terminal."""
        if self._finished:
            return self._table(hidden=0)
        room = max(self.console.height - 1, 1)  # the cursor's line below the table
        # Wrapped cells make rows' heights differ, so each try renders the table. Months only get added, so the
        # search starts from the months hidden last time: usually one or two tries a month. The newest always shows.
        hidden = self._hidden
        table = self._table(hidden=hidden)
        while hidden < len(self.months) - 1 and len(self.console.render_lines(table, pad=False)) > room:
            hidden += 1
            table = self._table(hidden=hidden)
        self._hidden = hidden
        return table

    def _table(self, *, hidden: int) -> Table:
        return timeline_table(
            self.months[hidden:], events=self.events, drift_threshold=self.drift_threshold, hidden=hidden
        )


def timeline_table(
    months: Sequence[MonthResult],
    *,
    events: Sequence[MarketEvent] = (),
    drift_threshold: float | None = None,
    hidden: int = 0,
) -> Table:
    """The timeline as a Rich table, one row per month; ``hidden`` earlier months are left out (its caption
    says so)."""
    table = Table(title="the replay, month by month", title_justify="left", header_style="bold")
    table.add_column("month", justify="right")
    table.add_column("market")
    table.add_column("served")
    table.add_column("MAPE loop", justify="right")
    table.add_column("frozen", justify="right")
    table.add_column("scheduled", justify="right")
    table.add_column("drift", justify="right")
    table.add_column("alerts opened")
    table.add_column("the loop after the month")
    table.add_column("took", justify="right")
    if hidden:
        table.caption = f"{hidden} earlier month(s) not shown until the replay ends"
    for month in months:
        table.add_row(
            str(month.month),
            _events_text(month, events),
            _served_text(month),
            *_mape_texts(month),
            _drift_text(month, drift_threshold),
            Text(", ".join(month.alerts), style=ALERT),
            _loop_text(month),
            f"{month.seconds:.1f} s",
        )
    return table


def month_line(month: MonthResult, events: Sequence[MarketEvent] = ()) -> str:
    """One month as a plain line, for output that is not an interactive terminal."""
    starting = _events_text(month, events).plain
    line = (
        f"month {month.month:2d}{' [' + starting + ']' if starting else ''}: served by v{month.champion_version}"
        + (f" ({month.failed_requests} failed requests)" if month.failed_requests else "")
        + f", MAPE loop {month.loop_mape:.1%} | frozen {month.frozen_mape:.1%} | scheduled {month.scheduled_mape:.1%}"
    )
    if month.drift_share is not None:
        line += f"; drift {month.drift_share:.0%}"
    if month.alerts:
        line += f"; alerts: {', '.join(month.alerts)}"
    return line + f"; loop: {_loop_text(month).plain} ({month.seconds:.1f} s)"


def _events_text(month: MonthResult, events: Sequence[MarketEvent]) -> Text:
    return Text(", ").join(Text(e.name, style=_EVENT_STYLES[e.kind]) for e in events if e.month == month.month)


def _served_text(month: MonthResult) -> Text:
    text = Text(f"v{month.champion_version}")
    if month.failed_requests:
        text.append(f" ({month.failed_requests} failed)", style=ROLLBACK)
    return text


def _mape_texts(month: MonthResult) -> list[Text]:
    values = (month.loop_mape, month.frozen_mape, month.scheduled_mape)
    best = min(values)
    return [Text(f"{value:.1%}", style="bold" if value == best else "") for value in values]


def _drift_text(month: MonthResult, threshold: float | None) -> Text:
    if month.drift_share is None:
        return Text("-", style="dim")
    drifted = threshold is not None and month.drift_share >= threshold
    return Text(f"{month.drift_share:.0%}", style=DRIFT if drifted else "")


def _loop_text(month: MonthResult) -> Text:
    """Each action the month's tick started or moved on, or (none) the tick's status."""
    if not month.actions:
        held = " (its window was already quarantined)" if month.status == "held" else ""
        return Text(month.status + held, style=_STATUS_STYLES.get(month.status, ""))
    return Text("; ").join(_action_text(action) for action in month.actions)


def _action_text(action: LoopAction) -> Text:
    rolled_back = bool(action.evidence.get("rolled_back"))  # a rollout that did worse live than the champion
    state = "rolled back" if rolled_back else action.state
    text = Text(f"{action.trigger} -> {action.action}: ")
    text.append(state, style=ROLLBACK if rolled_back else _STATE_STYLES.get(state, "cyan"))
    details = []
    if action.challenger_version is not None:
        details.append(f"v{action.challenger_version}")
    seconds = action.cost.get("detection_to_promotion_seconds")
    if action.state == "promoted" and seconds is not None:
        details.append(f"alias moved {seconds:.1f} s after detection")
    if action.state == "remedied" and "rows" in action.evidence:
        details.append(f"{action.evidence['rows']:,} rows quarantined")
    compared = action.evidence.get("transfer")
    if compared:
        details.append(_transfer_comparison(compared))
    if details:
        text.append(f" ({'; '.join(details)})")
    return text


def _transfer_comparison(compared: dict[str, Any]) -> str:
    return (
        f"{', '.join(compared['segment'])}: {compared['metric']} on its newest {compared['holdout_rows']} sales: "
        f"transferred {compared['transferred']:.1%}, from scratch on the same {compared['learn_rows']} rows "
        f"{compared['scratch']:.1%}, the old champion {compared['champion']:.1%}"
    )
