"""Drift reports: one self-contained HTML page (and its JSON twin) from a :class:`DriftReport`.

The page opens offline: Plotly's JavaScript is inlined once, from the installed ``plotly`` package, and a
Content-Security-Policy forbids every network request and every script but the two the page ships (by their
SHA-256), so neither a lost connection nor injected markup can change what it shows. It holds:

- the dataset verdict and a table of the per-feature results (test, statistic, p-value, threshold, drifted, note);
- per feature, the reference and current distributions: overlaid histograms of shares for numerical columns,
  grouped bars of shares for categorical ones;
- optionally, drift scores over time (``history``), the window's data quality and its estimated performance.

**Bounded size.** Distributions are summarised in Python before they reach the page, so its size does not grow
with the rows: ``BINS`` (40) equal bins spanning the 0.5 % to 99.5 % quantiles of both windows (values beyond
fall in the end bins, so one outlier cannot squeeze every other value into one bar), and the ``TOP_CATEGORIES``
(20) categories with the largest share in either window, the rest summed as one bar. Labels longer than
``MAX_LABEL`` (80) characters are cut.

**Untrusted text.** Column names and category values come from users. Page text goes through Jinja2 with
autoescaping; figure data is JSON inside ``<script type="application/json">`` with ``<``, ``>``, ``&`` and
``'`` written as ``\\u003c``-style escapes (Jinja2's ``tojson``), so ``</script>`` in the data cannot close the
tag; labels handed to Plotly are HTML-escaped too, because Plotly reads a few tags in its labels.

>>> import polars as pl
>>> from driftloop.monitoring._drift import compare
>>> reference = pl.DataFrame({"price": [float(x) for x in range(200)]})
>>> current = pl.DataFrame({"price": [float(x) + 150 for x in range(200)]})
>>> page = render_report(compare(reference, current), reference, current, title="Prices")
>>> page.count("Plotly.newPlot"), page.count('class="plot"')
(1, 1)
"""

from __future__ import annotations

import base64
import functools
import hashlib
import html
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt
import polars as pl

from driftloop.errors import InvalidInput
from driftloop.monitoring._frames import as_frame

if TYPE_CHECKING:
    import jinja2

    from driftloop.monitoring._drift import DriftReport, FeatureDrift
    from driftloop.monitoring._estimation import PerformanceEstimate
    from driftloop.monitoring._quality import QualityReport

__all__ = ["BINS", "MAX_LABEL", "TOP_CATEGORIES", "History", "render_report", "report_json", "write_report"]

BINS: Final = 40
"""Histogram bins per numerical feature: enough to show a shape, few enough to keep the page small."""
TOP_CATEGORIES: Final = 20
"""Categories drawn per categorical feature; the others are summed into one bar."""
MAX_LABEL: Final = 80
"""Characters kept of a category label (a long free-text value would otherwise bloat the page)."""
_TAIL: Final = 0.005  # quantile cut at each end of a histogram's range

History = Sequence[tuple[datetime | str, Mapping[str, float | None]]]
"""Drift scores over time: ``(moment, {column: statistic})`` points, oldest first."""

_WINDOWS: Final = ("reference", "current")
_COLOURS: Final = {"reference": "#4c78a8", "current": "#f58518"}
# Runs Plotly on each figure; its exact text is hashed into the page's Content-Security-Policy.
_BOOTSTRAP: Final = (
    'document.querySelectorAll("[data-figure]").forEach(function (node) {'
    " var figure = JSON.parse(document.getElementById(node.dataset.figure).textContent);"
    " Plotly.newPlot(node, figure.data, figure.layout, {displaylogo: false, responsive: true}); });"
)


def page_scripts() -> dict[str, str]:
    """What every self-contained page inlines: Plotly's JavaScript (from the installed package), the script that
    draws each ``data-figure`` element from its JSON block, and the content-security-policy hashes of both."""
    from plotly.offline import get_plotlyjs

    plotly_js = get_plotlyjs()
    return {
        "plotly_js": plotly_js,
        "bootstrap": _BOOTSTRAP,
        "script_hashes": " ".join(f"'sha256-{_digest(text)}'" for text in (plotly_js, _BOOTSTRAP)),
    }


def render_report(
    report: DriftReport,
    reference: Any,
    current: Any,
    *,
    title: str,
    quality: QualityReport | None = None,
    estimate: PerformanceEstimate | None = None,
    history: History | None = None,
) -> str:
    """The HTML page of ``report``, drawing each feature's distributions from ``reference`` and ``current``.

    Args:
        report: What :func:`~driftloop.monitoring.compare` found on the two windows.
        reference: The reference window (pandas or polars DataFrame, pyarrow Table).
        current: The current window.
        title: The page's title (shown as text, never read as markup).
        quality: The current window's data quality, shown as a table.
        estimate: The window's estimated performance, shown as bars with their bands.
        history: Drift scores over time, drawn as one line per column.

    Raises:
        InvalidInput: A window is not a table, or ``history`` is not a list of ``(moment, scores)`` pairs.
    """
    frames = as_frame(reference, "reference"), as_frame(current, "current")
    features = [*report.features, *([] if report.prediction is None else [report.prediction])]
    figures = [_distribution(feature, *frames) for feature in features]
    sections = [
        {"column": f.column, "prediction": f is report.prediction, "kind": f.kind, "figure": f"figure-{index}"}
        for index, f in enumerate(features)
    ]
    extras = {}
    if history:
        extras["history"] = _history_figure(history)
    if estimate is not None and estimate.metrics:
        extras["estimate"] = _estimate_figure(estimate)
    page = (
        _environment()
        .get_template("report.html.j2")
        .render(
            title=title,
            generated_at=datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC"),
            report=report,
            features=features,
            sections=sections,
            figures={section["figure"]: figure for section, figure in zip(sections, figures, strict=True)} | extras,
            quality=quality,
            estimate=estimate,
            verdict={True: "drift", False: "no drift", None: "undecided"}[report.dataset_drift],
            **page_scripts(),
        )
    )
    return str(page)


def report_json(
    report: DriftReport,
    *,
    quality: QualityReport | None = None,
    estimate: PerformanceEstimate | None = None,
    history: History | None = None,
) -> dict[str, Any]:
    """The report for machines: ``report.to_dict()`` under ``"drift"``, with quality, estimate and history."""
    return {
        "drift": report.to_dict(),
        "quality": None if quality is None else quality.to_dict(),
        "estimate": None if estimate is None else estimate.to_dict(),
        "history": None if history is None else [{"at": _moment(at), "scores": dict(s)} for at, s in _points(history)],
    }


def write_report(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (a page or JSON) to ``path`` atomically: a temporary file beside it, then a rename.

    A reader never sees half a report, and a failed write leaves the previous one in place.

    Raises:
        InvalidInput: The folder does not exist.
    """
    target = Path(path)
    if not target.parent.is_dir():
        raise InvalidInput(f"Cannot write the report to {str(target)!r}: the folder {str(target.parent)!r} is missing.")
    handle, temporary = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as file:
            file.write(text)
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
    return target


@functools.cache
def _environment() -> jinja2.Environment:
    import jinja2

    environment = jinja2.Environment(
        loader=jinja2.PackageLoader("driftloop.monitoring", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
    )
    # JSON.parse refuses NaN: the figures hold None instead, and a NaN left by mistake fails here, not in a browser.
    environment.policies["json.dumps_kwargs"] = {"allow_nan": False, "separators": (",", ":")}
    environment.filters["number"] = _number
    environment.filters["verdict"] = lambda value: {True: "yes", False: "no", None: "?"}[value]
    return environment


def _digest(text: str) -> str:
    return base64.b64encode(hashlib.sha256(text.encode("utf-8")).digest()).decode("ascii")


def _number(value: float | int | None, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "–"
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:.{digits}g}"


def _distribution(feature: FeatureDrift, reference: pl.DataFrame, current: pl.DataFrame) -> dict[str, Any]:
    series = {
        w: f[feature.column] if feature.column in f.columns else None
        for w, f in zip(_WINDOWS, (reference, current), strict=True)
    }
    if feature.kind == "numerical":
        return _histogram(series)
    return _category_bars(series)


def _layout(**extra: Any) -> dict[str, Any]:
    return {
        "height": 320,
        "margin": {"l": 50, "r": 20, "t": 20, "b": 60},
        "legend": {"orientation": "h", "y": 1.12},
        **extra,
    }


def _finite(series: pl.Series | None) -> npt.NDArray[np.float64]:
    if series is None:
        return np.empty(0)
    if series.dtype.is_temporal():
        series = series.to_physical()
    try:
        values = series.cast(pl.Float64, strict=False).drop_nulls().to_numpy()
    except pl.exceptions.PolarsError:  # text where a number was expected (a changed type): nothing to draw
        return np.empty(0)
    return np.asarray(values[np.isfinite(values)], dtype=np.float64)


def _histogram(series: Mapping[str, pl.Series | None]) -> dict[str, Any]:
    values = {window: _finite(column) for window, column in series.items()}
    present = [v for v in values.values() if v.size]
    if not present:
        return {"data": [], "layout": _layout(annotations=[_note("no finite value in either window")])}
    low = min(float(np.quantile(v, _TAIL)) for v in present)
    high = max(float(np.quantile(v, 1 - _TAIL)) for v in present)
    if not high > low:  # a constant: one bar in the middle
        low, high = low - 0.5, high + 0.5
    edges = np.linspace(low, high, BINS + 1)
    centres, width = (edges[:-1] + edges[1:]) / 2, float(edges[1] - edges[0])
    traces = []
    for window, numbers in values.items():
        counts = np.histogram(np.clip(numbers, low, high), bins=edges)[0] if numbers.size else np.zeros(BINS)
        traces.append(
            {
                "type": "bar",
                "name": f"{window} ({numbers.size:,} values)",
                "x": [round(float(x), 6) for x in centres],
                "y": [round(float(share), 6) for share in counts / max(numbers.size, 1)],
                "width": width,
                "opacity": 0.6,
                "marker": {"color": _COLOURS[window]},
            }
        )
    return {"data": traces, "layout": _layout(barmode="overlay", yaxis={"title": {"text": "share"}})}


def _category_bars(series: Mapping[str, pl.Series | None]) -> dict[str, Any]:
    shares: dict[str, dict[str, float]] = {}
    totals: dict[str, int] = {}
    for window, column in series.items():
        if column is None:
            shares[window], totals[window] = {}, 0
            continue
        text = column.cast(pl.String, strict=False).fill_null("(missing)")
        counts = text.value_counts(name="n")
        totals[window] = len(text)
        shares[window] = dict(
            zip(counts[text.name].to_list(), (counts["n"] / max(len(text), 1)).to_list(), strict=True)
        )
    every = set().union(*shares.values())
    ranked = sorted(every, key=lambda label: (-max(s.get(label, 0.0) for s in shares.values()), label))
    kept, rest = ranked[:TOP_CATEGORIES], ranked[TOP_CATEGORIES:]
    labels = [_label(label) for label in kept] + ([f"(other: {len(rest):,} categories)"] if rest else [])
    traces = []
    for window in _WINDOWS:
        values = [shares[window].get(label, 0.0) for label in kept]
        if rest:
            values.append(sum(shares[window].get(label, 0.0) for label in rest))
        traces.append(
            {
                "type": "bar",
                "name": f"{window} ({totals[window]:,} rows)",
                "x": labels,
                "y": [round(value, 6) for value in values],
                "marker": {"color": _COLOURS[window]},
            }
        )
    # A category axis, even for numbers used as labels: "1" and "10" are categories, not positions.
    return {
        "data": traces,
        "layout": _layout(barmode="group", xaxis={"type": "category"}, yaxis={"title": {"text": "share"}}),
    }


def _label(text: str) -> str:
    """A label as Plotly shows it literally: cut to ``MAX_LABEL`` characters, HTML-escaped."""
    cut = text if len(text) <= MAX_LABEL else text[: MAX_LABEL - 1] + "…"
    return html.escape(cut, quote=False)


def _note(text: str) -> dict[str, Any]:
    return {"text": text, "showarrow": False, "xref": "paper", "yref": "paper", "x": 0.5, "y": 0.5}


def _points(history: History) -> list[tuple[datetime | str, Mapping[str, float | None]]]:
    if isinstance(history, str | bytes) or not isinstance(history, Sequence):
        raise InvalidInput(f"'history' must be a list of (moment, {{column: statistic}}) pairs; got {history!r:.80}.")
    points = []
    for point in history:
        if not (isinstance(point, tuple | list) and len(point) == 2 and isinstance(point[1], Mapping)):
            raise InvalidInput(
                f"Each 'history' point must be a (moment, {{column: statistic}}) pair; got {point!r:.80}."
            )
        if not isinstance(point[0], datetime | str):
            raise InvalidInput(f"A 'history' moment must be a datetime or text; got {point[0]!r:.80}.")
        points.append((point[0], point[1]))
    return points


def _moment(at: datetime | str) -> str:
    return at.isoformat() if isinstance(at, datetime) else at


def _score(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(float(value)) else float(value)


def _history_figure(history: History) -> dict[str, Any]:
    points = _points(history)
    columns = list(dict.fromkeys(column for _, scores in points for column in scores))
    moments = [_moment(at) for at, _ in points]
    timed = all(isinstance(at, datetime) for at, _ in points)
    traces = [
        {
            "type": "scatter",
            "mode": "lines+markers",
            "name": _label(column),
            "x": moments if timed else [_label(m) for m in moments],
            "y": [_score(scores.get(column)) for _, scores in points],
        }
        for column in columns
    ]
    axis = {"type": "date"} if timed else {"type": "category"}
    return {"data": traces, "layout": _layout(xaxis=axis, yaxis={"title": {"text": "drift statistic"}})}


def _estimate_figure(estimate: PerformanceEstimate) -> dict[str, Any]:
    names = list(estimate.metrics)
    values = [_score(estimate.metrics[name]) for name in names]
    bands = [estimate.bands.get(name) for name in names]
    above = [None if b is None or v is None else max(float(b[1]) - v, 0.0) for v, b in zip(values, bands, strict=True)]
    below = [None if b is None or v is None else max(v - float(b[0]), 0.0) for v, b in zip(values, bands, strict=True)]
    trace = {
        "type": "bar",
        "name": "estimate",
        "x": [_label(name) for name in names],
        "y": values,
        "error_y": {"type": "data", "symmetric": False, "array": above, "arrayminus": below, "visible": True},
        "marker": {"color": _COLOURS["current"]},
    }
    return {"data": [trace], "layout": _layout(xaxis={"type": "category"}, showlegend=False)}
