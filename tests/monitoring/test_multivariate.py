"""The domain classifier sees a change of correlation that no per-feature test sees."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from scipy import stats

from driftloop.errors import InvalidInput
from driftloop.monitoring._drift import compare
from driftloop.monitoring._multivariate import domain_classifier_drift


def _copula(correlation: float, rows: int, seed: int) -> pl.DataFrame:
    """Exponential and uniform marginals joined by a Gaussian copula of the given correlation."""
    rng = np.random.default_rng(seed)
    normal = rng.multivariate_normal([0.0, 0.0], [[1.0, correlation], [correlation, 1.0]], size=rows)
    shares = stats.norm.cdf(normal)
    return pl.DataFrame({"income": stats.expon.ppf(shares[:, 0]) * 1000, "age": 20 + 50 * shares[:, 1]})


@pytest.mark.parametrize("seed", [0, 1])
def test_correlation_change_is_multivariate_drift_only(seed: int) -> None:
    reference, current = _copula(0.0, 3000, seed), _copula(0.9, 3000, seed + 100)
    report = compare(reference, current, multivariate=True)
    assert report.drifted_columns == ()
    assert all(feature.drifted is False for feature in report.features)
    assert report.multivariate is not None
    assert report.multivariate.drifted is True
    assert report.multivariate.auc is not None and report.multivariate.auc > 0.7


@pytest.mark.parametrize("seed", [0, 1])
def test_same_distribution_is_no_multivariate_drift(seed: int) -> None:
    report = compare(_copula(0.5, 3000, seed), _copula(0.5, 3000, seed + 100), multivariate=True)
    assert report.multivariate is not None and report.multivariate.drifted is False
    assert report.multivariate.auc is not None and abs(report.multivariate.auc - 0.5) < 0.05


def test_categories_and_missing_values_reach_the_classifier() -> None:
    rng = np.random.default_rng(4)
    city = rng.choice(["a", "b"], 2000)
    reference = pl.DataFrame({"city": city, "price": np.where(city == "a", 1.0, 2.0) + rng.normal(0, 1, 2000)})
    flipped = rng.choice(["a", "b"], 2000)
    current = pl.DataFrame({"city": flipped, "price": np.where(flipped == "a", 2.0, 1.0) + rng.normal(0, 1, 2000)})
    current = current.with_columns(pl.when(pl.int_range(2000) % 10 == 0).then(None).otherwise(pl.col("price")))
    report = compare(reference, current, multivariate=True)
    assert report.multivariate is not None and report.multivariate.drifted is True
    assert report.multivariate.columns == ("city", "price")


def test_subsampling_and_small_windows() -> None:
    rng = np.random.default_rng(0)
    result = domain_classifier_drift(rng.normal(size=(2, 3000)), rng.normal(size=(2, 40)), max_rows=1000)
    assert (result.reference_rows_used, result.current_rows_used) == (1000, 40)
    assert result.auc is None and result.drifted is None and result.note and "too few rows" in result.note
    assert result.to_dict()["columns"] == ["x0", "x1"]


def test_bad_settings_are_refused() -> None:
    values = np.zeros((1, 100))
    with pytest.raises(InvalidInput, match="threshold"):
        domain_classifier_drift(values, values, threshold=0.3)
    with pytest.raises(InvalidInput, match="same features"):
        domain_classifier_drift(values, values, columns=["a", "b"])
