"""compare_profiles(): drift from stored sketches agrees with compare() within the stated bounds, and treats
awkward data the same way; compare(profile, frame) and compare_versions() build on it.

KLL sketches compact at random, so a profile of more than ``kll_k`` (200) values differs a little from run to run:
those tests check the documented bounds, never equality. Up to 200 values a sketch holds every value, and the
results must equal compare()'s.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pyarrow as pa
import pytest
import sqlalchemy as sa

from driftloop import Workspace
from driftloop.data.profiles import Profile
from driftloop.errors import InvalidData, InvalidInput, InvalidState, NotFound
from driftloop.monitoring._dataset_drift import compare_versions
from driftloop.monitoring._drift import DriftReport, FeatureDrift, compare
from driftloop.monitoring._sketch_drift import _category_counts, compare_profiles


def profile(frame: pl.DataFrame, *, chunks: int = 1, top_k: int = 64) -> Profile:
    """The frame's profile, built from ``chunks`` slices of it (as a stream would arrive)."""
    result = Profile.empty(top_k=top_k)
    bounds = np.linspace(0, frame.height, chunks + 1).round().astype(int)
    for start, stop in itertools.pairwise(bounds):
        result.update(frame[int(start) : int(stop)].to_arrow())
    return result


def windows(rows: int, seed: int = 0) -> tuple[pl.DataFrame, pl.DataFrame]:
    """Reference and current windows: shifted (by half a std) and unshifted numbers, categories, a flag."""
    rng = np.random.default_rng(seed)
    cities = ["hanoi", "hue", "saigon", "danang"]

    def window(shift: float) -> pl.DataFrame:
        return pl.DataFrame(
            {
                "price": rng.normal(100 + 5 * shift, 10, rows),
                "area": rng.gamma(2.0, 30.0 * (1 + shift), rows),
                "age": rng.normal(20, 4, rows),
                "rooms": rng.poisson(3, rows).astype(float),
                "city": rng.choice(cities, rows, p=[0.4 - 0.2 * shift, 0.3, 0.2, 0.1 + 0.2 * shift]),
                "district": rng.choice([f"d{i}" for i in range(30)], rows),
                "furnished": rng.random(rows) < 0.5,
            }
        )

    return window(0.0), window(1.0)


def feature(report: DriftReport, column: str) -> FeatureDrift:
    return next(item for item in report.features if item.column == column)


def rank_error(profile: Profile, column: str) -> float:
    """The sketch's rank error, 0 while it holds every value (the bound the module docstring states)."""
    numeric = profile.columns[column]
    return 0.0 if numeric.count - numeric.infinite <= profile.kll_k else numeric.rank_error  # type: ignore[union-attr]


def wasserstein_bound(reference: Profile, current: Profile, column: str) -> float:
    """ε_ref·(max_ref - min_ref) + ε_cur·(max_cur - min_cur), over the reference std."""
    spans = []
    for side in (reference, current):
        numeric = side.columns[column]
        spans.append(rank_error(side, column) * (numeric.max - numeric.min))  # type: ignore[union-attr,operator]
    return sum(spans) / reference.columns[column].std  # type: ignore[union-attr,operator]


def assert_same_as_exact(sketched: DriftReport, exact: DriftReport) -> None:
    """Every field equal; statistics and p-values to float rounding (the sketches hold every value)."""
    assert len(sketched.features) == len(exact.features)
    for ours, theirs in zip(sketched.features, exact.features, strict=True):
        for name in ("column", "kind", "method", "drifted", "reference_rows", "current_rows", "note"):
            assert getattr(ours, name) == getattr(theirs, name), (ours.column, name)
        for name in ("missing_reference", "missing_current", "infinite_reference", "infinite_current", "threshold"):
            assert getattr(ours, name) == getattr(theirs, name), (ours.column, name)
        for name in ("statistic", "p_value", "p_value_adjusted"):
            left, right = getattr(ours, name), getattr(theirs, name)
            assert (left is None) == (right is None), (ours.column, name)
            if left is not None:
                assert left == pytest.approx(right, abs=1e-9), (ours.column, name)
    for name in ("drifted_columns", "share", "dataset_drift", "reference_rows", "current_rows", "new_columns"):
        assert getattr(sketched, name) == getattr(exact, name), name


# -- agreement with compare() --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("rows", "seed"), [(150, 1), (200, 2), (60, 3)])
def test_sketches_that_hold_every_value_give_compares_result(rows: int, seed: int) -> None:
    left, right = windows(rows, seed)
    assert_same_as_exact(compare_profiles(profile(left), profile(right)), compare(left, right))
    same = windows(rows, seed + 10)[0]
    assert_same_as_exact(compare_profiles(profile(left), profile(same)), compare(left, same))


def test_large_windows_agree_with_compare_within_the_bounds() -> None:
    left, right = windows(20_000)
    reference, current = profile(left), profile(right)
    sketched, exact = compare_profiles(reference, current), compare(left, right)
    assert sketched.drifted_columns == exact.drifted_columns == ("price", "area", "city")
    for name in ("price", "area", "age", "rooms"):
        ours, theirs = feature(sketched, name), feature(exact, name)
        assert ours.method == theirs.method == "wasserstein"
        assert ours.statistic is not None and theirs.statistic is not None
        assert abs(ours.statistic - theirs.statistic) <= wasserstein_bound(reference, current, name)
        assert abs(ours.statistic - theirs.statistic) < 0.05  # what KLL gives in practice, far inside the bound
    for name in ("city", "district", "furnished"):  # few categories: the frequent-items counts are exact
        ours, theirs = feature(sketched, name), feature(exact, name)
        assert ours.method == theirs.method == "jensenshannon"
        assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
    # KS statistics only: at 20,000 values a side a p-value turns on gaps (~0.014) smaller than the sketches' error.
    ks_sketched, ks_exact = compare_profiles(reference, current, methods="ks"), compare(left, right, methods="ks")
    for name in ("price", "area", "age", "rooms"):
        bound = rank_error(reference, name) + rank_error(current, name)
        ours, theirs = feature(ks_sketched, name), feature(ks_exact, name)
        assert bound == pytest.approx(2 * reference.columns[name].rank_error)  # type: ignore[union-attr]
        assert abs(ours.statistic - theirs.statistic) <= bound  # type: ignore[operator]


def test_ks_default_below_a_thousand_values_within_the_rank_errors() -> None:
    left, right = windows(900, seed=4)
    reference, current = profile(left), profile(right)
    sketched, exact = compare_profiles(reference, current), compare(left, right)
    for name in ("price", "area", "age"):
        ours, theirs = feature(sketched, name), feature(exact, name)
        assert ours.method == theirs.method == "ks"
        bound = rank_error(reference, name) + rank_error(current, name)
        assert abs(ours.statistic - theirs.statistic) <= bound  # type: ignore[operator]
    assert {"price", "area"} <= set(sketched.drifted_columns)
    assert "age" not in sketched.drifted_columns


@pytest.mark.parametrize("method", ["psi", "kl", "hellinger", "jensenshannon"])
def test_histogram_distances_on_numbers_agree_with_compare(method: str) -> None:
    left, right = windows(20_000, seed=5)
    sketched = compare_profiles(profile(left), profile(right), methods=method, columns=["price", "age"])
    exact = compare(left, right, methods=method, columns=["price", "age"])
    assert [f.method for f in sketched.features] == [method, method]
    assert sketched.drifted_columns == exact.drifted_columns == ("price",)
    for ours, theirs in zip(sketched.features, exact.features, strict=True):
        assert ours.statistic == pytest.approx(theirs.statistic, abs=0.02)


def test_profiles_built_in_chunks_or_merged_give_the_same_result() -> None:
    left, right = windows(30_000, seed=6)
    whole = compare_profiles(profile(left), profile(right))
    chunked = compare_profiles(profile(left, chunks=7), profile(right, chunks=13))
    halves = [profile(right[:10_000]), profile(right[10_000:])]
    merged = compare_profiles(profile(left, chunks=3), halves[0].merge(halves[1]))
    for other in (chunked, merged):
        assert other.drifted_columns == whole.drifted_columns == ("price", "area", "city")
        assert other.share == whole.share and other.reference_rows == whole.reference_rows
        for ours, theirs in zip(other.features, whole.features, strict=True):
            assert (ours.reference_rows, ours.current_rows) == (theirs.reference_rows, theirs.current_rows)
            assert ours.method == theirs.method
            if ours.kind == "categorical":  # exact counts: equal
                assert ours.statistic == pytest.approx(theirs.statistic, abs=1e-12)
            else:  # two approximations of one exact value, each within the bound of it
                bound = 2 * wasserstein_bound(profile(left), profile(right), ours.column)
                assert abs(ours.statistic - theirs.statistic) <= bound  # type: ignore[operator]


def test_categories_beyond_the_tracked_set_are_pooled_within_the_stated_error() -> None:
    rng = np.random.default_rng(7)
    ranks = np.arange(1, 3001)
    shares = 1.0 / ranks**1.1
    shares /= shares.sum()
    labels = np.array([f"item{i:04d}" for i in ranks])
    left = pl.DataFrame({"item": rng.choice(labels, 50_000, p=shares)})
    right = pl.DataFrame({"item": rng.choice(labels, 50_000, p=shares[::-1])})  # the rare ones become common
    reference, current = profile(left, top_k=8), profile(right, top_k=8)
    error = reference.columns["item"].maximum_error  # type: ignore[union-attr]
    assert error > 0
    columns = reference.columns["item"], current.columns["item"]
    names, (counts, _current_counts) = _category_counts(*columns)  # type: ignore[arg-type]
    assert counts.size == len(names) + 1  # the "other" bucket
    truth = left["item"].value_counts()
    true_counts = dict(zip(truth["item"].to_list(), truth["count"].to_list(), strict=True))
    for name, count in zip(names, counts, strict=False):  # tracked by either sketch: the midpoint of its bounds
        assert abs(count - true_counts.get(name, 0)) <= error / 2
    true_other = left.height - sum(true_counts.get(name, 0) for name in names)
    assert abs(counts[-1] - true_other) <= len(names) * error / 2
    sketched, exact = compare_profiles(reference, current), compare(left, right)
    assert feature(sketched, "item").drifted is feature(exact, "item").drifted is True
    alike = compare_profiles(reference, profile(left.sample(fraction=1.0, shuffle=True, seed=1), top_k=8))
    assert feature(alike, "item").drifted is False
    assert feature(alike, "item").note is None  # the reference sketch is not exact: nothing named as unseen


# -- awkward data, as compare() treats it ---------------------------------------------------------------------------


def test_refuses_empty_profiles_and_other_inputs() -> None:
    frame = windows(50)[0]
    full, empty = profile(frame), Profile.empty()
    with pytest.raises(InvalidData, match="The current profile has no rows"):
        compare_profiles(full, empty)
    with pytest.raises(InvalidData, match="The reference profile has no rows"):
        compare_profiles(empty, full)
    with pytest.raises(InvalidInput, match="must be a driftloop Profile; got DataFrame"):
        compare_profiles(full, frame)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="Columns not in the reference profile: 'nope'"):
        compare_profiles(full, full, columns=["price", "nope"])
    with pytest.raises(InvalidInput, match="prediction column 'label'"):
        compare_profiles(full, full, prediction="label")
    with pytest.raises(InvalidInput, match="'anderson' needs the raw rows"):
        compare_profiles(full, full, methods="anderson")
    with pytest.raises(InvalidInput, match="'cramer_von_mises' needs the raw rows"):
        compare_profiles(full, full, methods={"price": "cramer_von_mises"})
    with pytest.raises(InvalidInput, match="Unknown drift method 'tt'"):
        compare_profiles(full, full, methods={"price": "tt"})
    with pytest.raises(InvalidInput, match="must be in \\(0, 1\\)"):
        compare_profiles(full, full, thresholds={"price": 1.5})
    with pytest.raises(InvalidInput, match="'correction'"):
        compare_profiles(full, full, correction="bonferroni")


@pytest.mark.parametrize("rows", [50, 3000])
def test_constant_columns(rows: int) -> None:
    left = pl.DataFrame({"same": [7.0] * rows, "moved": [7.0] * rows, "label": ["a"] * rows})
    right = pl.DataFrame({"same": [7.0] * rows, "moved": [8.0] * rows, "label": ["b"] * rows})
    assert_same_as_exact(compare_profiles(profile(left), profile(right)), compare(left, right))


def test_constant_reference_against_a_spread_column_uses_the_pooled_std() -> None:
    left = pl.DataFrame({"x": [5.0] * 3000})
    right = pl.DataFrame({"x": np.random.default_rng(0).normal(5.0, 1.0, 3000)})
    ours, theirs = compare_profiles(profile(left), profile(right)).features[0], compare(left, right).features[0]
    assert (ours.kind, ours.method, ours.drifted) == (theirs.kind, theirs.method, theirs.drifted)
    assert ours.statistic == pytest.approx(theirs.statistic, abs=0.05)


def test_all_missing_columns_and_missing_values() -> None:
    values = np.random.default_rng(0).normal(size=100)
    gaps = values.copy()
    gaps[:30] = np.nan
    left = pl.DataFrame(
        {"gone": values, "back": [None] * 100, "never": [None] * 100, "holes": values, "text": ["a", None] * 50},
        schema_overrides={"back": pl.Float64, "never": pl.Float64},
    )
    right = pl.DataFrame(
        {"gone": [None] * 100, "back": values, "never": [None] * 100, "holes": gaps, "text": [None] * 100},
        schema_overrides={"gone": pl.Float64, "never": pl.Float64, "text": pl.String},
    )
    report = compare_profiles(profile(left), profile(right))
    assert_same_as_exact(report, compare(left, right))
    assert feature(report, "holes").missing_current == 30 and feature(report, "never").drifted is None


def test_infinite_values_are_counted_from_the_profile_and_noted() -> None:
    rng = np.random.default_rng(0)
    values, current = rng.normal(size=150), rng.normal(size=150)
    current[:10] = np.inf
    left, right = pl.DataFrame({"x": values}), pl.DataFrame({"x": current})
    report = compare_profiles(profile(left), profile(right))
    assert_same_as_exact(report, compare(left, right))
    assert report.features[0].infinite_current == 10 and "infinite values left out" in str(report.features[0].note)
    all_infinite = pl.DataFrame({"x": [np.inf] * 150})
    assert_same_as_exact(compare_profiles(profile(left), profile(all_infinite)), compare(left, all_infinite))


def test_unseen_categories_are_named_and_flags_are_categorical() -> None:
    left = pl.DataFrame({"city": ["a", "b", "c"] * 60, "flag": [0, 1] * 90, "count": list(range(180))})
    right = pl.DataFrame({"city": ["a", "b", "c"] * 50 + ["z"] * 30, "flag": [0, 0, 0, 1] * 45, "count": [1] * 180})
    report = compare_profiles(profile(left), profile(right))
    assert_same_as_exact(report, compare(left, right))
    for method in ("chisquare", "psi", "kl", "hellinger", "jensenshannon"):
        assert_same_as_exact(
            compare_profiles(profile(left), profile(right), columns=["city", "flag"], methods=method),
            compare(left, right, columns=["city", "flag"], methods=method),
        )
    assert feature(report, "city").note == "1 categories not seen in the reference: 'z'"
    assert (feature(report, "flag").kind, feature(report, "flag").method) == ("categorical", "z")


def test_large_flag_columns_count_their_two_values_from_the_sketch_weights() -> None:
    left = pl.DataFrame({"flag": [0, 1] * 5000, "level": [3] * 10_000})
    right = pl.DataFrame({"flag": [0, 0, 0, 1] * 2500, "level": [3] * 5000 + [4] * 5000})
    reference, current = profile(left), profile(right)
    sketched, exact = compare_profiles(reference, current), compare(left, right)
    for ours, theirs in zip(sketched.features, exact.features, strict=True):
        assert (ours.kind, ours.method, ours.drifted) == ("categorical", "jensenshannon", True)
        assert (theirs.kind, theirs.method, theirs.drifted) == ("categorical", "jensenshannon", True)
        # Shares within ε a side move the distance by at most √ε_ref + √ε_cur (the module's bound).
        bound = math.sqrt(rank_error(reference, ours.column)) + math.sqrt(rank_error(current, ours.column))
        assert abs(ours.statistic - theirs.statistic) <= bound  # type: ignore[operator]
    # 4.0 lies above the reference's exact maximum: surely never seen there, though the sketch is not exact.
    assert (
        feature(sketched, "level").note
        == feature(exact, "level").note
        == "1 categories not seen in the reference: '4.0'"
    )


def test_missing_column_type_change_and_new_columns() -> None:
    left = pl.DataFrame({"code": [1.0, 2.0, 3.0] * 50, "city": ["a", "b", "c"] * 50, "gone": [1.5] * 150})
    right = pl.DataFrame({"code": ["1", "2", "3"] * 50, "city": ["a", "b", "c"] * 50, "extra": [1] * 150})
    report = compare_profiles(profile(left), profile(right))
    code, city, gone = report.features
    assert code.drifted is True and code.kind == "numerical" and code.note == "type changed from numeric to categorical"
    assert city.drifted is False
    assert gone.drifted is True and gone.note == "missing in the current data" and gone.statistic is None
    assert report.new_columns == ("extra",)


def test_too_few_values_leave_the_result_undecided() -> None:
    left, right = windows(300, seed=8)
    report = compare_profiles(profile(left), profile(right.head(1)))
    assert all(f.drifted is None and "too few values" in str(f.note) for f in report.features)
    assert report.share is None and report.dataset_drift is None


def test_prediction_is_reported_apart_and_benjamini_hochberg_adjusts_the_features() -> None:
    rng = np.random.default_rng(9)
    left = pl.DataFrame({**{f"x{i}": rng.normal(size=150) for i in range(6)}, "score": rng.normal(size=150)})
    right = pl.DataFrame({**{f"x{i}": rng.normal(size=150) for i in range(6)}, "score": rng.normal(2, size=150)})
    report = compare_profiles(profile(left), profile(right), prediction="score")
    assert_same_as_exact(report, compare(left, right, prediction="score"))
    assert report.prediction is not None and report.prediction.drifted is True
    assert report.prediction.p_value_adjusted is None and "score" not in [f.column for f in report.features]
    unadjusted = compare_profiles(profile(left), profile(right), correction=None, dataset_drift_share=0.2)
    assert all(f.p_value_adjusted is None for f in unadjusted.features) and unadjusted.dataset_drift_share == 0.2


def test_to_dict_is_plain_json() -> None:
    left, right = windows(2_000, seed=10)
    data = compare_profiles(profile(left), profile(right)).to_dict()
    assert all(math.isfinite(f["statistic"]) for f in data["features"]) and data["multivariate"] is None


# -- compare(profile, frame) --------------------------------------------------------------------------------------


def test_compare_takes_a_profile_as_the_reference() -> None:
    left, right = windows(150, seed=11)
    report = compare(profile(left), right.to_pandas())
    assert_same_as_exact(report, compare(left, right))
    assert compare(profile(left), pa.table(right.to_arrow())).drifted_columns == report.drifted_columns
    with pytest.raises(InvalidInput, match="need raw rows"):
        compare(profile(left), right, multivariate=True)
    with pytest.raises(InvalidData, match="The current profile has no rows"):
        compare(profile(left), right.head(0))


# -- two versions of a dataset --------------------------------------------------------------------------------------


def test_compare_versions_from_profiles_and_from_rows(sqlite_workspace: Workspace) -> None:
    left, right = windows(3_000, seed=12)
    datasets = sqlite_workspace.datasets
    datasets.ingest("houses", left.to_arrow())
    datasets.ingest("houses", windows(3_000, seed=13)[0].to_arrow())  # appended: version 2 holds 6,000 rows
    datasets.ingest("houses", right.to_arrow(), mode="overwrite")  # version 3 holds the shifted rows only
    second = datasets.profile("houses", 2)
    assert second.rows == datasets.get("houses", 2).info.total_rows == 6_000
    alike = compare_versions(sqlite_workspace, "houses", 1, 2)
    assert alike.dataset_drift is False and (alike.reference_rows, alike.current_rows) == (3_000, 6_000)
    sketched, exact = (
        compare_versions(sqlite_workspace, "houses", 1),
        compare_versions(sqlite_workspace, "houses", 1, 3, exact=True),
    )
    assert sketched.drifted_columns == exact.drifted_columns == ("price", "area", "city")
    assert sketched.dataset_drift is False  # 3 of 7 features, under the 50 % share
    for ours, theirs in zip(sketched.features, exact.features, strict=True):
        assert (ours.column, ours.method, ours.reference_rows) == (theirs.column, theirs.method, theirs.reference_rows)
    with pytest.raises(NotFound, match="no version 9"):
        compare_versions(sqlite_workspace, "houses", 1, 9)
    with pytest.raises(InvalidInput, match="The old version must be a version number"):
        compare_versions(sqlite_workspace, "houses", 0)


def test_compare_versions_without_profiles_asks_for_the_rows(sqlite_workspace: Workspace) -> None:
    datasets = sqlite_workspace.datasets
    datasets.ingest("houses", windows(100)[0].to_arrow())
    datasets.ingest("houses", windows(100, seed=1)[0].to_arrow())
    with sqlite_workspace.metadata.database.engine.begin() as connection:  # as a version stored without a profile
        connection.execute(sa.text("UPDATE dataset_versions SET profile_digest = NULL WHERE number = 1"))
    with pytest.raises(InvalidState, match="Version 1 of the dataset 'houses' was stored without a profile"):
        compare_versions(sqlite_workspace, "houses", 1, 2)
    assert compare_versions(sqlite_workspace, "houses", 1, 2, exact=True).dataset_drift is False
