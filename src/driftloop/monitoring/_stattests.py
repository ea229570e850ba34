"""Two-sample drift statistics, computed for many columns at once.

Every function returns one statistic (and p-value) per column. Numerical inputs give each window's columns
either as an array of shape ``(columns, rows)`` or as one 1-D array per column (lengths may differ, so a caller
need not build a matrix of every column); ``NaN`` marks a value left out of the test (missing, or infinite:
:mod:`driftloop.monitoring._drift` leaves those out), and each column must keep at least one value on each side.
Categorical inputs are count matrices ``(columns, categories)`` over the union of both windows' categories,
zero-padded on the right.

Exactness, checked against scipy in ``tests/monitoring/test_stattests.py``:

- Kolmogorov-Smirnov statistic and Wasserstein-1 distance come from one pass over the merged sorted values
  with integer counts, so they equal ``scipy.stats.ks_2samp(...).statistic`` and
  ``scipy.stats.wasserstein_distance`` up to float rounding (far below 1e-6).
- The KS p-value is Smirnov's asymptotic one by default (``kstwo.sf(D, round(n*m/(n+m)))``, which is what
  scipy computes with ``method="asymp"``); with ``exact=True`` it is scipy's own default (``method="auto"``:
  the exact distribution up to 10,000 values per side). The asymptotic value differs from the exact one by a
  few thousandths at the sample sizes where KS is the default test (see the tests for the bound).
- Chi-square is ``scipy.stats.chi2_contingency`` on the 2 x k table of counts, Yates' correction included
  when the table has one degree of freedom, as scipy does by default.

>>> import numpy as np
>>> statistic, p_value = kolmogorov_smirnov(np.array([[1.0, 2.0, 3.0]]), np.array([[1.0, 2.0, 3.0]]))
>>> float(statistic[0]), float(p_value[0])
(0.0, 1.0)
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import special, stats

__all__ = [
    "METHODS",
    "SMOOTHING_EPSILON",
    "Method",
    "anderson_darling",
    "benjamini_hochberg",
    "chi_square",
    "cramer_von_mises",
    "ecdf_differences",
    "hellinger",
    "jensen_shannon",
    "kolmogorov_smirnov",
    "kullback_leibler",
    "normalised_wasserstein",
    "population_stability_index",
    "quantile_bin_counts",
    "run_method",
    "two_proportion_z",
    "wasserstein",
]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

SMOOTHING_EPSILON = 1e-4
"""Share given to a bin empty on one side before PSI or KL divides by it (the usual PSI practice): finite, and
large enough that a category new in the current window weighs in the result."""

Columns = FloatArray | Sequence[FloatArray]
"""Numerical columns of one window: a ``(columns, rows)`` array or one 1-D array per column."""


def ecdf_differences(reference: Columns, current: Columns) -> tuple[FloatArray, FloatArray]:
    """The Kolmogorov-Smirnov statistic and the Wasserstein-1 distance of every column.

    Both are read off the same walk along the merged sorted values: KS is the largest gap between the two
    empirical distribution functions, Wasserstein-1 the area between them. One column is sorted at a time, so
    memory holds a few copies of one column, never of all of them.
    """
    pairs = [
        _sorted_differences(np.sort(_finite(left)), np.sort(_finite(right)))
        for left, right in _pairs(reference, current)
    ]
    return np.array([ks for ks, _ in pairs], dtype=float), np.array([distance for _, distance in pairs], dtype=float)


def _sorted_differences(reference: FloatArray, current: FloatArray) -> tuple[float, float]:
    """KS and Wasserstein-1 of two sorted, non-empty samples, from their merge."""
    n, m = reference.size, current.size
    pooled = np.concatenate([reference, current])
    # Two sorted runs: a stable argsort (timsort) merges them in one linear pass, reference first among ties.
    order = np.argsort(pooled, kind="stable")
    values = pooled[order]
    del pooled
    from_reference = np.cumsum(order < n)
    del order
    # |F_ref - F_cur| * n * m in exact integers (below 2**63 up to about 3e9 values a side).
    gap = np.abs(from_reference * m - (np.arange(1, n + m + 1) - from_reference) * n)
    del from_reference
    # KS reads the gap only after the last of a run of tied values, as scipy's searchsorted(side="right") does.
    run_end = np.empty(n + m, dtype=bool)
    run_end[-1] = True
    np.not_equal(values[1:], values[:-1], out=run_end[:-1])
    scale = float(n) * float(m)
    ks = float(gap[run_end].max()) / scale
    distance = float((gap[:-1] * np.diff(values)).sum()) / scale
    return ks, distance


def kolmogorov_smirnov(reference: Columns, current: Columns, *, exact: bool = False) -> tuple[FloatArray, FloatArray]:
    """Two-sample, two-sided KS statistic and p-value per column (asymptotic, or scipy's default if exact)."""
    statistic, _ = ecdf_differences(reference, current)
    n = np.array([np.count_nonzero(~np.isnan(column)) for column in reference], dtype=float)
    m = np.array([np.count_nonzero(~np.isnan(column)) for column in current], dtype=float)
    if not exact:
        p_value = np.clip(stats.kstwo.sf(statistic, np.round(n * m / (n + m))), 0.0, 1.0)
        return statistic, np.asarray(p_value, dtype=float)
    p_value = np.empty_like(statistic)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's own fallback from exact to asymptotic
        for index, (left, right) in enumerate(_pairs(reference, current)):
            p_value[index] = stats.ks_2samp(_finite(left), _finite(right)).pvalue
    return statistic, p_value


def wasserstein(reference: Columns, current: Columns) -> FloatArray:
    """Wasserstein-1 (earth mover's) distance per column, in the columns' own units."""
    return ecdf_differences(reference, current)[1]


def anderson_darling(reference: Columns, current: Columns) -> tuple[FloatArray, FloatArray]:
    """k-sample Anderson-Darling (midrank variant) via scipy; scipy caps its p-value to [0.001, 0.25]."""
    statistic = np.zeros(len(reference))
    p_value = np.ones(len(reference))
    for column, (left, right) in enumerate(_pairs(reference, current)):
        left, right = _finite(left), _finite(right)
        if np.unique(np.concatenate([left, right])).size < 2:
            continue  # one value on both sides: identical samples, which scipy refuses to test
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # the cap on the p-value, stated above
            result = stats.anderson_ksamp([left, right], variant="midrank")
        statistic[column], p_value[column] = result.statistic, result.pvalue
    return statistic, p_value


def cramer_von_mises(reference: Columns, current: Columns) -> tuple[FloatArray, FloatArray]:
    """Two-sample Cramér-von Mises statistic and p-value per column via scipy (exact for small samples)."""
    statistic = np.empty(len(reference))
    p_value = np.empty(len(reference))
    for column, (left, right) in enumerate(_pairs(reference, current)):
        result = stats.cramervonmises_2samp(_finite(left), _finite(right))
        statistic[column], p_value[column] = result.statistic, min(1.0, max(0.0, result.pvalue))
    return statistic, p_value


def quantile_bin_counts(reference: Columns, current: Columns, *, bins: int = 10) -> tuple[IntArray, IntArray]:
    """Counts of both windows in bins cut at the reference's quantiles (deciles by default), per column.

    Two more bins catch values below the reference's minimum and above its maximum, so a shift outside the
    reference range (or a constant that changed) lands in a bin of its own. Ties in the quantiles merge bins.
    """
    edges_per_column = []
    for row in reference:
        values = _finite(row)
        edges = np.unique(np.quantile(values, np.linspace(0.0, 1.0, bins + 1)))
        edges_per_column.append(np.append(edges, np.nextafter(edges[-1], np.inf)))
    width = max(edges.size for edges in edges_per_column) + 1
    return _binned(reference, edges_per_column, width), _binned(current, edges_per_column, width)


def _binned(columns: Columns, edges_per_column: list[FloatArray], width: int) -> IntArray:
    counts = np.zeros((len(edges_per_column), width), dtype=np.int64)
    for index, (values, edges) in enumerate(zip(columns, edges_per_column, strict=True)):
        counts[index] = np.bincount(np.searchsorted(edges, _finite(values), side="right"), minlength=width)
    return counts


def chi_square(reference: IntArray, current: IntArray) -> tuple[FloatArray, FloatArray]:
    """Pearson's chi-square on each column's 2 x k contingency table, as ``scipy.stats.chi2_contingency``.

    Categories absent from both windows (the zero padding) are dropped; one category left means nothing
    differs (statistic 0, p-value 1); one degree of freedom gets Yates' continuity correction.
    """
    observed = np.stack([reference, current], axis=1).astype(float)  # (columns, 2, categories)
    row_totals = observed.sum(axis=2, keepdims=True)
    category_totals = observed.sum(axis=1, keepdims=True)
    expected = row_totals * category_totals / row_totals.sum(axis=1, keepdims=True)
    present = category_totals > 0
    dof = present.sum(axis=(1, 2)) - 1
    difference = expected - observed
    yates = (dof == 1)[:, None, None]
    difference = np.where(yates, np.sign(difference) * np.maximum(np.abs(difference) - 0.5, 0.0), difference)
    terms = np.divide(difference**2, expected, out=np.zeros_like(expected), where=present & (expected > 0))
    statistic = np.where(dof > 0, terms.sum(axis=(1, 2)), 0.0)
    p_value = np.where(dof > 0, stats.chi2.sf(statistic, np.maximum(dof, 1)), 1.0)
    return statistic, np.asarray(p_value, dtype=float)


def two_proportion_z(reference: IntArray, current: IntArray) -> tuple[FloatArray, FloatArray]:
    """Pooled two-proportion Z-test on the first of two categories: signed z and two-sided p-value."""
    n, m = reference.sum(axis=1), current.sum(axis=1)
    share_reference, share_current = reference[:, 0] / n, current[:, 0] / m
    pooled = (reference[:, 0] + current[:, 0]) / (n + m)
    error = np.sqrt(pooled * (1.0 - pooled) * (1.0 / n + 1.0 / m))
    z = np.divide(share_reference - share_current, error, out=np.zeros_like(error), where=error > 0)
    return np.asarray(z, dtype=float), np.asarray(2.0 * stats.norm.sf(np.abs(z)), dtype=float)


def _shares(counts: IntArray) -> FloatArray:
    return np.asarray(counts / counts.sum(axis=1, keepdims=True), dtype=float)


def _smoothed(counts: IntArray) -> FloatArray:
    return np.maximum(_shares(counts), SMOOTHING_EPSILON)


def jensen_shannon(reference: IntArray, current: IntArray) -> FloatArray:
    """Jensen-Shannon distance (base 2, so within [0, 1]) between the two windows' shares, per column."""
    p, q = _shares(reference), _shares(current)
    middle = (p + q) / 2.0
    divergence = (special.rel_entr(p, middle).sum(axis=1) + special.rel_entr(q, middle).sum(axis=1)) / 2.0
    return np.asarray(np.sqrt(np.maximum(divergence, 0.0) / np.log(2.0)), dtype=float)


def hellinger(reference: IntArray, current: IntArray) -> FloatArray:
    """Hellinger distance (within [0, 1]) between the two windows' shares, per column."""
    overlap = np.sqrt(_shares(reference) * _shares(current)).sum(axis=1)
    return np.asarray(np.sqrt(np.maximum(1.0 - overlap, 0.0)), dtype=float)


def kullback_leibler(reference: IntArray, current: IntArray) -> FloatArray:
    """KL divergence of the reference from the current window, KL(reference || current), in nats, smoothed."""
    p, q = _smoothed(reference), _smoothed(current)
    return np.asarray((p * np.log(p / q)).sum(axis=1), dtype=float)


def population_stability_index(reference: IntArray, current: IntArray) -> FloatArray:
    """PSI = sum((current - reference) * ln(current / reference)) over shares smoothed at the epsilon."""
    p, q = _smoothed(reference), _smoothed(current)
    return np.asarray(((q - p) * np.log(q / p)).sum(axis=1), dtype=float)


def benjamini_hochberg(p_values: FloatArray) -> FloatArray:
    """Benjamini-Hochberg adjusted p-values (step-up, false discovery rate), in the order given.

    >>> [round(float(p), 3) for p in benjamini_hochberg(np.array([0.01, 0.04, 0.03, 0.5]))]
    [0.04, 0.053, 0.053, 0.5]
    """
    count = p_values.size
    if count == 0:
        return p_values.copy()
    order = np.argsort(p_values)
    scaled = p_values[order] * count / np.arange(1, count + 1)
    adjusted = np.minimum.accumulate(scaled[::-1])[::-1]
    result = np.empty(count)
    result[order] = np.minimum(adjusted, 1.0)
    return result


def _finite(values: FloatArray) -> FloatArray:
    """The values without NaN; the array itself (no copy) when it has none."""
    values = np.asarray(values, dtype=np.float64)
    missing = np.isnan(values)
    return values[~missing] if missing.any() else values


def _pairs(reference: Columns, current: Columns) -> zip[tuple[FloatArray, FloatArray]]:
    return zip(reference, current, strict=True)


def normalised_wasserstein(reference: Columns, current: Columns) -> FloatArray:
    """Wasserstein-1 divided by the reference's standard deviation, so one threshold fits every column.

    A constant reference has no spread: the pooled standard deviation of both windows is used instead (computed
    only then), and two equal constants give 0.
    """
    result = np.zeros(len(reference))
    for index, (left, right) in enumerate(_pairs(reference, current)):
        left, right = _finite(left), _finite(right)
        scale = float(np.std(left))
        if scale == 0.0:
            scale = float(np.std(np.concatenate([left, right])))
        if scale > 0.0:
            result[index] = _sorted_differences(np.sort(left), np.sort(right))[1] / scale
    return result


@dataclass(frozen=True)
class Method:
    """A drift test: the column kinds it applies to, whether it gives a p-value, and its default threshold."""

    name: str
    kinds: frozenset[str]
    p_value: bool
    threshold: float


_BOTH = frozenset({"numerical", "categorical"})
METHODS: dict[str, Method] = {
    method.name: method
    for method in (
        Method("ks", frozenset({"numerical"}), True, 0.05),
        Method("wasserstein", frozenset({"numerical"}), False, 0.1),
        Method("anderson", frozenset({"numerical"}), True, 0.05),
        Method("cramer_von_mises", frozenset({"numerical"}), True, 0.05),
        Method("chisquare", frozenset({"categorical"}), True, 0.05),
        Method("z", frozenset({"categorical"}), True, 0.05),
        Method("jensenshannon", _BOTH, False, 0.1),
        Method("psi", _BOTH, False, 0.1),
        Method("kl", _BOTH, False, 0.1),
        Method("hellinger", _BOTH, False, 0.1),
    )
}
"""Every selectable test by name; p-value tests drift when p < threshold, distances when above it."""

_DISTANCES = {
    "jensenshannon": jensen_shannon,
    "psi": population_stability_index,
    "kl": kullback_leibler,
    "hellinger": hellinger,
}


def run_method(
    name: str,
    reference: npt.NDArray[Any] | Sequence[FloatArray],
    current: npt.NDArray[Any] | Sequence[FloatArray],
    *,
    kind: str,
    exact: bool = False,
) -> tuple[FloatArray, FloatArray | None]:
    """Statistic (and p-value, or None for a distance) of test ``name`` for every column given.

    Numerical columns come as values (``Columns``); categorical ones as counts ``(columns, categories)``.
    """
    if kind == "numerical":
        if name == "ks":
            return kolmogorov_smirnov(reference, current, exact=exact)
        if name == "wasserstein":
            return normalised_wasserstein(reference, current), None
        if name == "anderson":
            return anderson_darling(reference, current)
        if name == "cramer_von_mises":
            return cramer_von_mises(reference, current)
        reference, current = quantile_bin_counts(reference, current)
    reference, current = np.asarray(reference), np.asarray(current)
    if name == "chisquare":
        return chi_square(reference, current)
    if name == "z":
        return two_proportion_z(reference, current)
    return _DISTANCES[name](reference, current), None
