"""compare(): column typing, method choice, dataset drift, and every kind of awkward data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import polars as pl
import pyarrow as pa
import pytest
from scipy import stats

from driftloop.errors import InvalidData, InvalidInput
from driftloop.monitoring._drift import DriftReport, FeatureDrift, compare


def _frame(seed: int, rows: int, shift: float = 0.0) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    return pl.DataFrame(
        {
            "price": rng.normal(100 + shift * 10, 10, rows),
            "area": rng.gamma(2.0, 30.0, rows),
            "city": rng.choice(["hanoi", "hue", "saigon"], rows, p=[0.5 - shift / 4, 0.25, 0.25 + shift / 4]),
            "furnished": rng.random(rows) < 0.5 + shift / 4,
        }
    )


def _feature(report: DriftReport, column: str) -> FeatureDrift:
    return next(feature for feature in report.features if feature.column == column)


def test_same_distribution_does_not_drift() -> None:
    report = compare(_frame(1, 800), _frame(2, 800))
    assert report.drifted_columns == ()
    assert report.share == 0.0 and report.dataset_drift is False
    assert [f.method for f in report.features] == ["ks", "ks", "chisquare", "z"]
    assert [f.kind for f in report.features] == ["numerical", "numerical", "categorical", "categorical"]


def test_shift_drifts_and_large_samples_use_distances() -> None:
    report = compare(_frame(1, 5000), _frame(2, 5000, shift=1.0))
    assert [f.method for f in report.features] == ["wasserstein", "wasserstein", "jensenshannon", "jensenshannon"]
    assert set(report.drifted_columns) == {"price", "city", "furnished"}
    assert _feature(report, "price").p_value is None
    assert report.share == 0.75 and report.dataset_drift is True


@pytest.mark.parametrize("kind", ["pandas", "polars", "arrow"])
def test_accepts_pandas_polars_and_arrow(kind: str) -> None:
    left, right = _frame(1, 300), _frame(2, 300, shift=1.0)
    convert = {"pandas": lambda f: f.to_pandas(), "polars": lambda f: f, "arrow": lambda f: f.to_arrow()}[kind]
    report = compare(convert(left), convert(right))
    assert report == compare(left, right)


def test_rejects_other_inputs_and_unknown_names() -> None:
    frame = _frame(1, 50)
    with pytest.raises(InvalidInput, match="must be a pandas or polars DataFrame"):
        compare([1, 2, 3], frame)
    with pytest.raises(InvalidInput, match="'nope'"):
        compare(frame, frame, columns=["price", "nope"])
    with pytest.raises(InvalidInput, match="Unknown drift method 'tt'"):
        compare(frame, frame, methods={"price": "tt"})
    with pytest.raises(InvalidInput, match="does not apply to categorical column 'city'"):
        compare(frame, frame, methods={"city": "ks"})
    with pytest.raises(InvalidInput, match="must be in \\(0, 1\\)"):
        compare(frame, frame, thresholds={"price": 1.5})
    with pytest.raises(InvalidInput, match="needs two categories"):
        compare(frame, frame, methods={"city": "z"})


def test_exact_mode_equals_scipy() -> None:
    left, right = _frame(1, 600), _frame(2, 500, shift=0.2)
    report = compare(left, right, exact=True, correction=None)
    price = _feature(report, "price")
    expected = stats.ks_2samp(left["price"].to_numpy(), right["price"].to_numpy())
    assert price.statistic == pytest.approx(expected.statistic, abs=1e-6)
    assert price.p_value == pytest.approx(expected.pvalue, abs=1e-6)
    city = _feature(report, "city")
    table = pd.crosstab(
        np.r_[np.zeros(600), np.ones(500)], np.r_[left["city"].to_numpy(), right["city"].to_numpy()]
    ).to_numpy()
    assert city.p_value == pytest.approx(stats.chi2_contingency(table).pvalue, abs=1e-6)


def test_methods_and_thresholds_for_all_or_per_column() -> None:
    left, right = _frame(1, 600), _frame(2, 600, shift=1.0)
    report = compare(left, right, methods="psi", thresholds={"area": 0.5})
    assert {f.method for f in report.features} == {"psi"}
    assert _feature(report, "area").threshold == 0.5
    report = compare(left, right, methods="anderson")  # numerical only; categories keep their default
    assert [f.method for f in report.features] == ["anderson", "anderson", "chisquare", "z"]
    assert _feature(report, "price").drifted is True


def test_benjamini_hochberg_adjusts_the_p_values_of_the_features() -> None:
    rng = np.random.default_rng(5)
    left = pl.DataFrame({f"x{i}": rng.normal(size=300) for i in range(20)})
    right = pl.DataFrame({f"x{i}": rng.normal(size=300) for i in range(20)})
    report = compare(left, right)
    raw = np.array([f.p_value for f in report.features])
    adjusted = np.array([f.p_value_adjusted for f in report.features])
    assert adjusted == pytest.approx(stats.false_discovery_control(raw))
    assert all(f.drifted is (f.p_value_adjusted < 0.05) for f in report.features)
    unadjusted = compare(left, right, correction=None)
    assert all(f.p_value_adjusted is None for f in unadjusted.features)


def test_prediction_is_reported_apart_from_the_features() -> None:
    left = _frame(1, 400).with_columns(score=pl.Series(np.random.default_rng(1).normal(size=400)))
    right = _frame(2, 400).with_columns(score=pl.Series(np.random.default_rng(2).normal(2, size=400)))
    report = compare(left, right, prediction="score")
    assert report.prediction is not None and report.prediction.drifted is True
    assert "score" not in [f.column for f in report.features]
    assert report.dataset_drift is False
    with pytest.raises(InvalidInput, match="prediction column 'label'"):
        compare(left, right, prediction="label")


def test_to_dict_is_plain_json_without_nan() -> None:
    left = pl.DataFrame(
        {"x": [1.0, np.inf, 3.0, 4.0, 5.0, 6.0], "empty": [None] * 6}, schema_overrides={"empty": pl.Float64}
    )
    right = pl.DataFrame({"x": [1.0, 2.0], "empty": [None, None]}, schema_overrides={"empty": pl.Float64})
    text = json.dumps(compare(left, right, multivariate=True).to_dict(), allow_nan=False)
    assert json.loads(text)["features"][1]["note"] == "no usable value in either window"


def test_empty_windows_are_refused() -> None:
    frame = _frame(1, 10)
    with pytest.raises(InvalidData, match="The current window has no rows"):
        compare(frame, frame.head(0))
    with pytest.raises(InvalidData, match="The reference window has no rows"):
        compare(frame.head(0), frame)


def test_one_row_window_gives_an_undecided_result() -> None:
    report = compare(_frame(1, 300), _frame(2, 1))
    assert all(f.drifted is None and f.note and "too few values" in f.note for f in report.features)
    assert report.share is None and report.dataset_drift is None
    price = _feature(report, "price")
    assert price.statistic is not None and price.current_rows == 1


@pytest.mark.parametrize("rows", [50, 3000])
def test_constant_columns(rows: int) -> None:
    left = pl.DataFrame({"same": [7.0] * rows, "moved": [7.0] * rows, "label": ["a"] * rows})
    right = pl.DataFrame({"same": [7.0] * rows, "moved": [8.0] * rows, "label": ["b"] * rows})
    report = compare(left, right)
    assert _feature(report, "same").drifted is False
    assert _feature(report, "moved").drifted is True
    assert _feature(report, "label").drifted is True


def test_constant_reference_against_a_spread_numerical_column() -> None:
    rng = np.random.default_rng(0)
    left = pl.DataFrame({"x": [5.0] * 3000})
    right = pl.DataFrame({"x": rng.normal(5.0, 1.0, 3000)})
    feature = compare(left, right).features[0]
    assert feature.kind == "numerical" and feature.method == "wasserstein" and feature.drifted is True


def test_all_missing_columns() -> None:
    values = np.random.default_rng(0).normal(size=100)
    left = pl.DataFrame(
        {"gone": values, "back": [None] * 100, "never": [None] * 100},
        schema_overrides={"back": pl.Float64, "never": pl.Float64},
    )
    right = pl.DataFrame(
        {"gone": [None] * 100, "back": values, "never": [None] * 100},
        schema_overrides={"gone": pl.Float64, "never": pl.Float64},
    )
    report = compare(left, right)
    gone, back, never = report.features
    assert gone.drifted is True and gone.missing_current == 100 and "no usable value in the current" in str(gone.note)
    assert back.drifted is True and "reference" in str(back.note)
    assert never.drifted is None
    assert report.share == 1.0


def test_missing_values_are_left_out_and_counted() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=200)
    right_values = rng.normal(size=200)
    right_values[:50] = np.nan
    report = compare(pd.DataFrame({"x": values}), pd.DataFrame({"x": right_values}))
    feature = report.features[0]
    assert (feature.missing_current, feature.current_rows, feature.drifted) == (50, 150, False)


def test_category_never_seen_in_the_reference() -> None:
    left = pl.DataFrame({"city": ["a", "b", "c"] * 100})
    right = pl.DataFrame({"city": ["a", "b", "c"] * 90 + ["z"] * 30})
    for method in ("chisquare", "psi", "kl", "jensenshannon", "hellinger"):
        feature = compare(left, right, methods=method).features[0]
        assert feature.drifted is True, method
        assert feature.statistic is not None and np.isfinite(feature.statistic)
        assert feature.note == "1 categories not seen in the reference: 'z'"


def test_column_missing_from_the_current_data() -> None:
    left = _frame(1, 100)
    report = compare(left, left.drop("city").with_columns(extra=pl.lit(1)))
    city = _feature(report, "city")
    assert city.drifted is True and city.note == "missing in the current data" and city.statistic is None
    assert report.new_columns == ("extra",)


def test_type_change_is_drift_unless_declared_categorical() -> None:
    left = pl.DataFrame({"code": [1, 2, 3, 4] * 30})
    right = pl.DataFrame({"code": ["1", "2", "3", "4"] * 30})
    assert compare(left, right).features[0].drifted is True
    declared = compare(left, right, categorical=["code"]).features[0]
    assert declared.kind == "categorical" and declared.drifted is False


def test_infinite_values_are_left_out_and_noted() -> None:
    rng = np.random.default_rng(0)
    values = rng.normal(size=300)
    current = rng.normal(size=300)
    current[:10] = np.inf
    feature = compare(pl.DataFrame({"x": values}), pl.DataFrame({"x": current})).features[0]
    assert feature.infinite_current == 10 and feature.current_rows == 290 and feature.drifted is False
    assert feature.note and "infinite values left out" in feature.note
    all_infinite = compare(pl.DataFrame({"x": values}), pl.DataFrame({"x": [np.inf] * 300})).features[0]
    assert all_infinite.drifted is True


def test_binary_numbers_are_categorical() -> None:
    left = pl.DataFrame({"flag": [0, 1] * 200, "count": list(range(400))})
    right = pl.DataFrame({"flag": [0, 0, 0, 1] * 100, "count": list(range(400))})
    report = compare(left, right)
    assert _feature(report, "flag").kind == "categorical" and _feature(report, "flag").method == "z"
    assert _feature(report, "flag").drifted is True
    assert _feature(report, "count").kind == "numerical"


def test_nested_columns_are_refused_by_name() -> None:
    frame = pl.DataFrame({"tags": [[1], [2]]})
    with pytest.raises(InvalidData, match="'tags'"):
        compare(frame, frame)


def test_pyarrow_table_with_dates() -> None:
    dates = pa.array(np.arange(0, 300).astype("datetime64[D]"))
    later = pa.array(np.arange(200, 500).astype("datetime64[D]"))
    report = compare(pa.table({"day": dates}), pa.table({"day": later}))
    assert report.features[0].kind == "numerical" and report.features[0].drifted is True
