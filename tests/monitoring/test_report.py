"""The HTML drift report: escaping of user text, bounded size, JSON twin, atomic writes, and a real browser.

The browser test drives Debian's Chromium (/usr/bin/chromium) with Playwright, offline: it is skipped with a
message when Chromium is missing on a laptop, and fails in CI, which installs it (.ci/run).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
import pytest
from tests.conftest import IN_CI

from driftloop.errors import InvalidInput
from driftloop.monitoring._drift import compare
from driftloop.monitoring._estimation import PerformanceEstimate
from driftloop.monitoring._quality import check_quality
from driftloop.monitoring._report import BINS, TOP_CATEGORIES, render_report, report_json, write_report

CHROMIUM = Path("/usr/bin/chromium")
HOSTILE = "</script><script>alert(1)</script>"


def windows(rows: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    reference = pl.DataFrame(
        {
            "price": rng.normal(100.0, 10.0, rows),
            HOSTILE: rng.choice(["north", "south", "x</script><img src=x onerror=alert(2)>"], rows),
            "rooms": rng.integers(1, 6, rows),
        }
    )
    current = pl.DataFrame(
        {
            "price": rng.normal(115.0, 10.0, rows),
            HOSTILE: rng.choice(["north", "x</script><img src=x onerror=alert(2)>", "<b>new</b>"], rows),
            "rooms": rng.integers(1, 6, rows),
        }
    )
    return reference, current


class Scripts(HTMLParser):
    """Collects each <script> element's attributes and text, as a browser's parser would split them."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[tuple[dict[str, str | None], str]] = []
        self.images = 0
        self._open: dict[str, str | None] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._open = dict(attrs)
            self.scripts.append((self._open, ""))
        self.images += tag == "img"

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attributes, text = self.scripts[-1]
            self.scripts[-1] = (attributes, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None


def parsed(page: str) -> Scripts:
    parser = Scripts()
    parser.feed(page)
    return parser


def test_user_text_cannot_close_a_script_or_add_markup() -> None:
    reference, current = windows(500)
    page = render_report(compare(reference, current), reference, current, title="<script>alert(3)</script>")
    parser = parsed(page)
    executable = [text for attributes, text in parser.scripts if attributes.get("type") != "application/json"]
    assert len(executable) == 2  # Plotly, then the bootstrap: nothing injected
    assert executable[0].startswith("/**") and "Plotly.newPlot" in executable[1]
    assert page.count(executable[0][:200]) == 1  # Plotly's JavaScript is inlined once
    assert parser.images == 0
    figures = [json.loads(text) for attributes, text in parser.scripts if attributes.get("type") == "application/json"]
    assert len(figures) == 3 and all(len(figure["data"]) == 2 for figure in figures)
    labels = {label for figure in figures for trace in figure["data"] if trace["type"] == "bar" for label in trace["x"]}
    assert "x&lt;/script&gt;&lt;img src=x onerror=alert(2)&gt;" in labels  # shown literally by Plotly
    assert "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;" in page  # headings and table cells
    assert "<title>&lt;script&gt;alert(3)&lt;/script&gt;</title>" in page


def test_numerical_features_are_binned_and_categories_capped() -> None:
    rng = np.random.default_rng(1)
    reference = pl.DataFrame({"value": rng.normal(0.0, 1.0, 3_000), "city": [f"city {i % 50}" for i in range(3_000)]})
    current = pl.DataFrame({"value": np.append(rng.normal(0.5, 1.0, 2_999), 1e9), "city": ["city 0"] * 3_000})
    page = render_report(compare(reference, current), reference, current, title="bins")
    figures = [
        json.loads(text) for attributes, text in parsed(page).scripts if attributes.get("type") == "application/json"
    ]
    histogram, bars = figures
    for trace in histogram["data"]:
        assert len(trace["x"]) == BINS and math.isclose(sum(trace["y"]), 1.0, abs_tol=1e-4)
    assert max(histogram["data"][1]["x"]) < 10  # one far outlier falls in the last bin, not the range
    assert len(bars["data"][0]["x"]) == TOP_CATEGORIES + 1 and bars["data"][0]["x"][-1] == "(other: 30 categories)"
    assert math.isclose(sum(bars["data"][0]["y"]), 1.0, abs_tol=1e-4)


def test_page_size_does_not_grow_with_rows() -> None:
    sizes = []
    for rows in (1_000, 100_000):
        reference, current = windows(rows)
        sizes.append(len(render_report(compare(reference, current), reference, current, title="size")))
    assert abs(sizes[1] - sizes[0]) < 4_000, sizes


def test_awkward_columns_render_without_nan() -> None:
    reference = pl.DataFrame(
        {
            "constant": [1.0] * 20,
            "empty": pl.Series([None] * 20, dtype=pl.Float64),
            "gone": [float(i) for i in range(20)],
            "spiky": [float(i) for i in range(19)] + [math.inf],
            "when": [datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=i) for i in range(20)],
        }
    )
    current = reference.drop("gone").with_columns(pl.col("spiky") * 2, pl.col("constant") + 1)
    report = compare(reference, current)
    page = render_report(report, reference, current, title="awkward")  # tojson refuses NaN: it would raise
    figures = [
        json.loads(text) for attributes, text in parsed(page).scripts if attributes.get("type") == "application/json"
    ]
    assert len(figures) == 5
    gone = figures[2]["data"]
    assert sum(gone[0]["y"]) > 0.99 and sum(gone[1]["y"]) == 0  # the reference drawn, the current empty
    assert [trace["x"] for trace in figures[1]["data"]] == [["(missing)"]] * 2  # all missing: a category of its own


def test_quality_estimate_and_history_sections() -> None:
    reference, current = windows(400)
    report = compare(reference, current)
    quality = check_quality(current, reference=reference)
    estimate = PerformanceEstimate(
        task="binary", rows=400, metrics={"accuracy": 0.81, "roc_auc": None}, bands={"accuracy": (0.77, 0.85)}
    )
    start = datetime(2025, 1, 1, tzinfo=UTC)
    history = [(start + timedelta(hours=h), {"price": 0.05 * h, HOSTILE: None}) for h in range(4)]
    page = render_report(report, reference, current, title="all", quality=quality, estimate=estimate, history=history)
    assert "Drift scores over time" in page and "Estimated performance" in page and "Data quality" in page
    assert "0.77 – 0.85" in page
    figures = {attributes["id"]: json.loads(text) for attributes, text in parsed(page).scripts if attributes.get("id")}
    assert [trace["y"] for trace in figures["history"]["data"]] == [pytest.approx([0.0, 0.05, 0.1, 0.15]), [None] * 4]
    assert figures["estimate"]["data"][0]["error_y"]["array"][0] == pytest.approx(0.04)
    machine = report_json(report, quality=quality, estimate=estimate, history=history)
    assert json.loads(json.dumps(machine, allow_nan=False))["history"][0]["at"] == start.isoformat()
    assert machine["drift"] == report.to_dict() and machine["quality"]["rows"] == 400
    with pytest.raises(InvalidInput, match="history"):
        render_report(report, reference, current, title="bad", history=[("monday", 0.3)])  # type: ignore[list-item]


def test_write_report_is_atomic_and_names_a_missing_folder(tmp_path: Path) -> None:
    target = write_report(tmp_path / "report.html", "<p>old</p>")
    write_report(target, "<p>new</p>")
    assert target.read_text() == "<p>new</p>" and [p.name for p in tmp_path.iterdir()] == ["report.html"]
    with pytest.raises(InvalidInput, match="folder"):
        write_report(tmp_path / "absent" / "report.html", "x")


@pytest.fixture(scope="module")
def chromium() -> Iterator[Any]:
    if not CHROMIUM.exists():
        message = f"Debian's Chromium is not installed at {CHROMIUM}"
        if IN_CI:
            pytest.fail(f"{message}; CI must run the browser tests (.ci/run installs it).")
        pytest.skip(f"{message}; run `apt-get install -y chromium` to run the browser tests.")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.mark.slow
def test_chromium_draws_every_plot_offline_without_errors(chromium: Any, tmp_path: Path) -> None:
    reference, current = windows(2_000)
    report = compare(reference, current)
    history = [(f"window {i}", {"price": 0.1 * i}) for i in range(3)]
    estimate = PerformanceEstimate(
        task="binary", rows=2_000, metrics={"accuracy": 0.8}, bands={"accuracy": (0.78, 0.82)}
    )
    page = render_report(report, reference, current, title=HOSTILE, history=history, estimate=estimate)
    path = write_report(tmp_path / "report.html", page)

    context = chromium.new_context()
    context.set_offline(True)
    requests: list[str] = []
    context.route("**/*", lambda route: (requests.append(route.request.url), route.continue_()))
    tab = context.new_page()
    problems: list[str] = []
    tab.on("console", lambda message: problems.append(message.text) if message.type == "error" else None)
    tab.on("pageerror", lambda error: problems.append(str(error)))
    tab.on("dialog", lambda dialog: (problems.append(f"dialog: {dialog.message}"), dialog.dismiss()))
    try:
        tab.goto(path.as_uri(), wait_until="load")
        tab.wait_for_function("document.querySelectorAll('.js-plotly-plot .main-svg').length >= 5", timeout=20_000)
        drawn = tab.evaluate(
            "Array.from(document.querySelectorAll('[data-figure]'), node => "
            "[node.dataset.figure, node.classList.contains('js-plotly-plot') && !!node.querySelector('svg.main-svg'),"
            " node.querySelectorAll('.point, .trace').length])"
        )
        headings = tab.evaluate("Array.from(document.querySelectorAll('h3'), h => h.firstChild.textContent.trim())")
        title = tab.title()
    finally:
        context.close()
    assert [name for name, ok, _ in drawn if ok] == ["history", "estimate", "figure-0", "figure-1", "figure-2"]
    assert all(marks > 0 for _, _, marks in drawn)  # bars and lines, not empty axes
    assert HOSTILE in headings and title == HOSTILE  # shown as text
    assert problems == []
    assert all(url.startswith("file://") for url in requests), requests
