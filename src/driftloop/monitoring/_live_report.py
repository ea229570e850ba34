"""The drift report of a served model's traffic: its latest window against its version's holdout, as a page.

:func:`live_report` gathers what the page draws: the window checked as ``driftloop monitor check`` checks it (against
the holdout's rows, so the distributions drawn are the ones tested), drift over time (the monitor's recorded passes
when there are two or more, else the window cut into slices), data quality and estimated performance.
``driftloop monitor report --model`` writes it; a workspace server answers it at ``GET /api/v1/models/{name}/report``.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from driftloop.monitoring import DriftReport, PerformanceEstimate, QualityReport
    from driftloop.workspace import Workspace

__all__ = ["LiveReport", "live_report"]

History = list[tuple[str, dict[str, float | None]]]


@dataclass(frozen=True)
class LiveReport:
    """What a served model's drift report shows."""

    title: str
    drift: DriftReport
    reference: pl.DataFrame
    current: pl.DataFrame
    quality: QualityReport
    history: History | None
    estimate: PerformanceEstimate | None

    def html(self) -> str:
        """The self-contained page (it opens offline)."""
        from driftloop.monitoring._report import render_report

        return render_report(
            self.drift,
            self.reference,
            self.current,
            title=self.title,
            quality=self.quality,
            history=self.history,
            estimate=self.estimate,
        )

    def to_dict(self) -> dict[str, Any]:
        """The report for machines: its title, drift, quality, estimate and history."""
        from driftloop.monitoring._report import report_json

        data = report_json(self.drift, quality=self.quality, history=self.history, estimate=self.estimate)
        return {"title": self.title, **data}


def live_report(
    workspace: Workspace,
    reference: str,
    *,
    last: int | None = 1_000,
    since: datetime | None = None,
    multivariate: bool = False,
    slices: int = 4,
) -> LiveReport:
    """The report of the latest traffic of the version ``reference`` names (``"houses"``, ``"houses@challenger"``,
    ``"houses/3"``): the latest ``last`` predictions, or those since ``since`` (timezone-aware).

    Raises:
        NotFound: The version does not exist, or was registered without a holdout.
        InvalidData: The window is empty.
        InvalidInput: ``slices`` is below 1.
    """
    import polars as pl

    from driftloop.errors import InvalidInput
    from driftloop.monitoring import compare
    from driftloop.monitoring._live import PREDICTION, check_live_drift

    if isinstance(slices, bool) or not isinstance(slices, int) or slices < 1:
        raise InvalidInput(f"The slices of a drift report must be a whole number >= 1; got {slices!r}.")
    # The page draws the holdout's rows next to the window's, so the drift it reports is the holdout's too (exact).
    result = check_live_drift(
        workspace,
        reference,
        last=None if since is not None else last,
        since=since,
        multivariate=multivariate,
        against="holdout",
    )
    version = result.version.reference
    holdout = workspace.models.holdout(version)
    signature = workspace.models.signature(version)
    features = list(signature.features) if signature is not None else list(holdout.columns)
    predictions = workspace.models.load(version).predict(holdout[features])
    before = pl.from_pandas(holdout[features].assign(**{PREDICTION: predictions}))
    window = result.window
    now = window.inputs.with_columns(window.predictions)
    history = recorded_history(workspace, result.version.model)
    count = min(slices, now.height)
    if history is None and count > 1:
        bounds = [round(i * now.height / count) for i in range(count + 1)]
        history = []
        for start, stop in itertools.pairwise(bounds):
            part = compare(before, now[start:stop], columns=features, prediction=PREDICTION)
            scores = {f.column: f.statistic for f in (*part.features, *filter(None, [part.prediction]))}
            history.append((f"predictions {start + 1:,}-{stop:,}", scores))
    title = f"Drift of {result.version.model}/{result.version.number}: {window.rows:,} predictions"
    if window.first_at is not None and window.last_at is not None:
        title += f" ({window.first_at:%Y-%m-%d %H:%M} to {window.last_at:%Y-%m-%d %H:%M})"
    return LiveReport(title, result.report, before, now, result.quality, history, result.estimate)


def recorded_history(workspace: Workspace, model: str, limit: int = 50) -> History | None:
    """Each feature's statistic at the model's last ``limit`` recorded monitor passes, or None below two."""
    records = workspace.metadata.monitor_records.history(model, "drift", limit=limit)
    records = [record for record in records if "drift" in record.outputs]
    if len(records) < 2:
        return None
    history = []
    for record in records:
        drift = record.outputs["drift"]
        columns = [*drift.get("features", []), *filter(None, [drift.get("prediction")])]
        moment = datetime.fromtimestamp(record.recorded_at, UTC)
        history.append((f"{moment:%Y-%m-%d %H:%M:%S}", {c["column"]: c.get("statistic") for c in columns}))
    return history
