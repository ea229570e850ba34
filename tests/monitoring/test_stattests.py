"""The vectorised drift statistics against scipy, column by column."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import spatial, stats

from driftloop.monitoring._stattests import (
    benjamini_hochberg,
    chi_square,
    ecdf_differences,
    hellinger,
    jensen_shannon,
    kolmogorov_smirnov,
    population_stability_index,
    quantile_bin_counts,
    run_method,
    two_proportion_z,
)

TOLERANCE = 1e-6


def _padded(columns: list[np.ndarray]) -> np.ndarray:
    width = max(column.size for column in columns)
    return np.stack(
        [np.pad(column.astype(float), (0, width - column.size), constant_values=np.nan) for column in columns]
    )


def _samples(seed: int) -> tuple[list[np.ndarray], list[np.ndarray]]:
    rng = np.random.default_rng(seed)
    reference = [rng.normal(size=rng.integers(1, 400)) for _ in range(3)]
    current = [rng.normal(0.3, 1.2, size=rng.integers(1, 400)) for _ in range(3)]
    # ties and integer-valued data
    reference.append(rng.integers(0, 5, size=200).astype(float))
    current.append(rng.integers(0, 6, size=150).astype(float))
    return reference, current


@pytest.mark.parametrize("seed", range(8))
def test_ks_and_wasserstein_equal_scipy(seed: int) -> None:
    reference, current = _samples(seed)
    statistic, exact_p = kolmogorov_smirnov(_padded(reference), _padded(current), exact=True)
    _, distance = ecdf_differences(_padded(reference), _padded(current))
    for index, (left, right) in enumerate(zip(reference, current, strict=True)):
        expected = stats.ks_2samp(left, right)
        assert statistic[index] == pytest.approx(expected.statistic, abs=TOLERANCE)
        assert exact_p[index] == pytest.approx(expected.pvalue, abs=TOLERANCE)
        assert distance[index] == pytest.approx(stats.wasserstein_distance(left, right), abs=TOLERANCE)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
    st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=60),
)
def test_ks_and_wasserstein_equal_scipy_on_any_values(left: list[float], right: list[float]) -> None:
    reference, current = np.array(left), np.array(right)
    statistic, p_value = kolmogorov_smirnov(reference[None, :], current[None, :], exact=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # scipy's own fallback from exact to asymptotic
        expected = stats.ks_2samp(reference, current)
    assert statistic[0] == pytest.approx(expected.statistic, abs=TOLERANCE)
    assert p_value[0] == pytest.approx(expected.pvalue, abs=TOLERANCE)
    distance = ecdf_differences(reference[None, :], current[None, :])[1][0]
    assert distance == pytest.approx(stats.wasserstein_distance(reference, current), rel=TOLERANCE, abs=TOLERANCE)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=2, max_size=40), st.integers(0, 2**32 - 1))
def test_ks_and_wasserstein_are_symmetric(values: list[float], seed: int) -> None:
    rng = np.random.default_rng(seed)
    left = np.array(values)[None, :]
    right = rng.normal(size=(1, 30))
    forward, backward = ecdf_differences(left, right), ecdf_differences(right, left)
    assert forward[0][0] == pytest.approx(backward[0][0])
    assert forward[1][0] == pytest.approx(backward[1][0])


def test_fast_ks_p_value_is_scipy_asymptotic_and_close_to_exact() -> None:
    """The default p-value is scipy's method="asymp"; at KS sample sizes it is within 0.01 of the exact one."""
    rng = np.random.default_rng(7)
    worst = 0.0
    for size in (100, 300, 1000):
        reference = rng.normal(size=(5, size))
        current = rng.normal(np.linspace(0, 0.2, 5)[:, None], size=(5, size - 37))
        _, fast = kolmogorov_smirnov(reference, current)
        _, exact = kolmogorov_smirnov(reference, current, exact=True)
        for index in range(5):
            asymptotic = stats.ks_2samp(reference[index], current[index], method="asymp").pvalue
            assert fast[index] == pytest.approx(asymptotic, abs=TOLERANCE)
        worst = max(worst, float(np.abs(fast - exact).max()))
    assert worst < 0.01


@pytest.mark.parametrize("seed", range(6))
def test_chi_square_equals_scipy(seed: int) -> None:
    rng = np.random.default_rng(seed)
    reference = rng.integers(0, 40, size=(6, 5))
    current = rng.integers(0, 40, size=(6, 5))
    reference[0, 2:] = current[0, 2:] = 0  # two categories: Yates' correction
    reference[1, 4] = current[1, 4] = 0  # a padded, empty category
    statistic, p_value = chi_square(reference, current)
    for index in range(6):
        table = np.array([reference[index], current[index]])
        table = table[:, table.sum(axis=0) > 0]
        expected = stats.chi2_contingency(table)
        assert statistic[index] == pytest.approx(expected.statistic, abs=TOLERANCE)
        assert p_value[index] == pytest.approx(expected.pvalue, abs=TOLERANCE)


def test_chi_square_of_one_category_is_no_change() -> None:
    statistic, p_value = chi_square(np.array([[10, 0]]), np.array([[3, 0]]))
    assert (statistic[0], p_value[0]) == (0.0, 1.0)


def test_z_test_agrees_with_chi_square_without_correction() -> None:
    reference, current = np.array([[60, 40]]), np.array([[45, 55]])
    z, p_value = two_proportion_z(reference, current)
    expected = stats.chi2_contingency(np.array([reference[0], current[0]]), correction=False)
    assert z[0] ** 2 == pytest.approx(expected.statistic)
    assert p_value[0] == pytest.approx(expected.pvalue)


def test_distances_equal_their_definitions() -> None:
    reference = np.array([[10, 20, 30, 0], [5, 5, 5, 5]])
    current = np.array([[15, 15, 20, 10], [5, 5, 5, 5]])
    js = jensen_shannon(reference, current)
    assert js[0] == pytest.approx(spatial.distance.jensenshannon(reference[0], current[0], base=2))
    assert js[1] == pytest.approx(0.0)
    p, q = reference[0] / 60, current[0] / 60
    assert hellinger(reference, current)[0] == pytest.approx(np.sqrt(np.sum((np.sqrt(p) - np.sqrt(q)) ** 2) / 2))
    p = np.maximum(p, 1e-4)  # the new category is smoothed, so PSI stays finite
    assert population_stability_index(reference, current)[0] == pytest.approx(np.sum((q - p) * np.log(q / p)))


def test_quantile_bins_catch_values_outside_the_reference_range() -> None:
    reference = np.full((1, 50), 3.0)
    current = np.full((1, 50), 4.0)
    left, right = quantile_bin_counts(reference, current)
    assert left.sum() == right.sum() == 50
    assert np.flatnonzero(left[0]).tolist() != np.flatnonzero(right[0]).tolist()
    assert jensen_shannon(left, right)[0] == pytest.approx(1.0)


@pytest.mark.parametrize("method", ["anderson", "cramer_von_mises", "psi", "kl", "hellinger", "jensenshannon"])
def test_every_numerical_method_sees_a_shift_and_not_a_copy(method: str) -> None:
    rng = np.random.default_rng(1)
    reference = rng.normal(size=(2, 500))
    current = np.stack([reference[0].copy(), rng.normal(1.5, size=500)])
    statistic, p_value = run_method(method, reference, current, kind="numerical")
    if p_value is None:
        assert statistic[0] < 0.01 < 0.1 < statistic[1]
    else:
        assert p_value[1] < 0.05 < p_value[0]


def test_anderson_darling_of_identical_constants_is_no_change() -> None:
    statistic, p_value = run_method("anderson", np.full((1, 10), 2.0), np.full((1, 8), 2.0), kind="numerical")
    assert statistic[0] == 0.0
    assert p_value is not None and p_value[0] == 1.0


def test_benjamini_hochberg_matches_scipy() -> None:
    p_values = np.random.default_rng(3).uniform(size=30) ** 3
    assert benjamini_hochberg(p_values) == pytest.approx(stats.false_discovery_control(p_values))


def test_ragged_columns_equal_the_padded_matrix() -> None:
    """Columns may come as 1-D arrays of different lengths (no matrix): the same values as NaN-padded rows."""
    reference, current = _samples(11)
    ragged = [run_method(name, reference, current, kind="numerical") for name in ("ks", "wasserstein", "psi")]
    padded = [
        run_method(name, _padded(reference), _padded(current), kind="numerical")
        for name in ("ks", "wasserstein", "psi")
    ]
    for (statistic, p_value), (expected, expected_p) in zip(ragged, padded, strict=True):
        assert statistic == pytest.approx(expected, abs=1e-12)
        assert (p_value is None) == (expected_p is None)
        if p_value is not None:
            assert p_value == pytest.approx(expected_p, abs=1e-12)
    scale = np.array([np.std(column) for column in reference])
    distances = np.array([stats.wasserstein_distance(a, b) for a, b in zip(reference, current, strict=True)])
    assert ragged[1][0] == pytest.approx(distances / scale, abs=TOLERANCE)
