"""Profiles: exact moments, sketch answers within their stated error, merging, the binary format, bad input."""

from __future__ import annotations

import datetime
import decimal
import json
import math
import struct
import time
import zlib
from collections import Counter

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.data.profiles import CategoricalProfile, NumericProfile, Profile, profile_table
from driftloop.errors import InvalidData, InvalidInput

QUANTILE_RANKS = [float(rank) for rank in np.linspace(0.0, 1.0, 41)]


def numeric(profile: Profile, name: str) -> NumericProfile:
    column = profile.columns[name]
    assert isinstance(column, NumericProfile)
    return column


def categorical(profile: Profile, name: str) -> CategoricalProfile:
    column = profile.columns[name]
    assert isinstance(column, CategoricalProfile)
    return column


def batches_of(values: npt.NDArray[np.float64], parts: int, name: str = "x") -> list[pa.RecordBatch]:
    """Split ``values`` into record batches; NaN becomes an Arrow null in every other batch, NaN in the rest."""
    return [
        pa.record_batch({name: pa.array(chunk, from_pandas=index % 2 == 0)})
        for index, chunk in enumerate(np.array_split(values, parts))
    ]


def rank_miss(sorted_data: npt.NDArray[np.float64], value: float, rank: float) -> float:
    """How far ``rank`` lies outside the empirical ranks [fraction < value, fraction <= value] of ``value``."""
    below = np.searchsorted(sorted_data, value, "left") / sorted_data.size
    at_or_below = np.searchsorted(sorted_data, value, "right") / sorted_data.size
    return float(max(below - rank, rank - at_or_below, 0.0))


def answers(profile: Profile) -> dict[str, object]:
    """Every answer a profile gives, for comparing a profile with its copy read back from bytes."""
    result: dict[str, object] = {"rows": profile.rows, "summary": profile.to_dict()}
    for name, column in profile.columns.items():
        if isinstance(column, NumericProfile):
            result[name] = (
                column.quantile(QUANTILE_RANKS),
                column.cdf([-1.0, 0.0, 0.5, 3.0]),
                column.histogram(7),
                column.rank_error,
                column.mean,
                column.std,
            )
        else:
            result[name] = (column.top(100), column.frequency("a"), column.distinct_estimate, column.maximum_error)
    return result


# -- numeric columns -------------------------------------------------------------------------------------------


def test_numeric_statistics_are_exact() -> None:
    rng = np.random.default_rng(7)
    values = rng.normal(50.0, 12.0, 30_000)
    values[rng.random(values.size) < 0.1] = np.nan
    values[rng.random(values.size) < 0.01] = 0.0
    values[[5, 17, 400]] = [np.inf, -np.inf, np.inf]
    profile = profile_table(batches_of(values, 13))
    column = numeric(profile, "x")
    finite = values[np.isfinite(values)]

    assert profile.rows == values.size
    assert column.count == np.count_nonzero(~np.isnan(values))
    assert column.missing == np.count_nonzero(np.isnan(values))
    assert column.infinite == 3
    assert column.zeros == np.count_nonzero(finite == 0.0)
    assert column.min == finite.min() and column.max == finite.max()
    assert column.mean == pytest.approx(finite.mean(), rel=1e-12)
    assert column.std == pytest.approx(finite.std(), rel=1e-12)


def test_quantiles_are_within_the_stated_rank_error() -> None:
    rng = np.random.default_rng(11)
    values = np.concatenate([rng.normal(0.0, 1.0, 100_000), rng.exponential(5.0, 100_000)])
    rng.shuffle(values)
    column = numeric(profile_table(batches_of(values, 20)), "x")
    data = np.sort(values)

    assert column.rank_error == pytest.approx(0.0133, abs=1e-4)  # k=200, as the docstring states
    for rank, value in zip(QUANTILE_RANKS, column.quantile(QUANTILE_RANKS), strict=True):
        assert rank_miss(data, value, rank) <= column.rank_error, (rank, value)
    assert column.quantile(0.0) == data[0] and column.quantile(1.0) == data[-1]
    points = [float(point) for point in np.quantile(data, [0.1, 0.3, 0.5, 0.9])] + [-math.inf, math.inf]
    for point, fraction in zip(points, column.cdf(points), strict=True):
        assert abs(fraction - np.searchsorted(data, point, "right") / data.size) <= column.rank_error


def test_histogram_comes_from_the_sketch() -> None:
    rng = np.random.default_rng(3)
    values = rng.uniform(-5.0, 5.0, 50_000)
    column = numeric(profile_table(batches_of(values, 5)), "x")
    edges, counts = column.histogram(10)
    exact, _edges = np.histogram(values, bins=np.asarray(edges))

    assert len(edges) == 11 and len(counts) == 10
    assert edges[0] == values.min() and edges[-1] == values.max()
    assert sum(counts) == pytest.approx(values.size)
    pmf_error = 0.0166  # kll_doubles_sketch.get_normalized_rank_error(200, True)
    assert np.all(np.abs(np.asarray(counts) - exact) <= pmf_error * values.size)


def test_a_column_of_one_value_has_one_bin_and_an_empty_column_has_none() -> None:
    profile = Profile.empty().update(pa.record_batch({"same": [2.5] * 4, "none": pa.array([None] * 4, pa.float64())}))
    assert numeric(profile, "same").histogram(5) == ([2.5, 2.5], [4.0])
    empty = numeric(profile, "none")
    assert (empty.count, empty.missing, empty.mean, empty.std, empty.min, empty.max) == (0, 4, None, None, None, None)
    assert empty.histogram() == ([], [])
    assert math.isnan(empty.quantile(0.5)) and math.isnan(empty.cdf([1.0])[0])
    json.dumps(profile.to_dict(), allow_nan=False)  # reports get plain JSON


def test_integers_decimals_and_times_are_numeric() -> None:
    batch = pa.record_batch(
        {
            "count": pa.array([1, None, 3], pa.int32()),
            "price": pa.array([decimal.Decimal("1.50"), decimal.Decimal("2.50"), None]),
            "at": pa.array(
                [datetime.datetime(1970, 1, 1, 0, 1, tzinfo=datetime.UTC), None, None], pa.timestamp("ms", "UTC")
            ),
            "day": pa.array([datetime.date(1970, 1, 3), None, None]),
            "wait": pa.array([datetime.timedelta(seconds=90), None, None], pa.duration("us")),
        }
    )
    profile = Profile.empty().update(batch)
    assert numeric(profile, "count").mean == 2.0 and numeric(profile, "count").missing == 1
    assert numeric(profile, "price").max == 2.5
    assert numeric(profile, "at").mean == 60.0  # seconds since the Unix epoch
    assert numeric(profile, "day").mean == 2 * 86_400.0
    assert numeric(profile, "wait").mean == 90.0


# -- categorical columns ---------------------------------------------------------------------------------------


def test_top_categories_of_a_skewed_column_are_right() -> None:
    rng = np.random.default_rng(5)
    vocabulary = np.array([f"district-{index}" for index in range(1_000)])
    values = vocabulary[(rng.zipf(1.3, 200_000) - 1) % vocabulary.size]
    profile = profile_table(
        (pa.record_batch({"district": pa.array(chunk)}) for chunk in np.array_split(values, 40)), top_k=16
    )
    column = categorical(profile, "district")
    truth = Counter(values.tolist())

    assert column.maximum_error > 0  # the sketch had to forget categories: the bound is being tested
    assert [value for value, _count in column.top(10)] == [value for value, _count in truth.most_common(10)]
    for value, estimate in column.top(10):
        assert truth[value] <= estimate <= truth[value] + column.maximum_error
    for value in ("district-0", "district-500", "district-999", "never-seen"):
        assert abs(column.frequency(value) - truth[value]) <= column.maximum_error
    assert column.distinct_estimate == pytest.approx(len(truth), rel=0.05)


def test_booleans_and_dictionaries_are_categorical_and_other_types_are_skipped() -> None:
    batch = pa.record_batch(
        {
            "_source_row": pa.array([1, 2, 3], pa.int64()),
            "flag": [True, False, True],
            "city": pa.array(["Hanoi", None, "Hanoi"]).dictionary_encode(),
            "rooms": pa.array([2, 3, 2]).dictionary_encode(),
            "tags": pa.array([["a"], [], None]),
            "blob": pa.array([b"x", b"y", b"z"]),
            "unknown": pa.array([None, None, None]),
            "label": pa.array(["", "b", None], pa.string_view()),
        }
    )
    profile = Profile.empty().update(batch)
    assert list(profile.columns) == ["flag", "city", "rooms", "label"]
    assert categorical(profile, "flag").top() == [("true", 2), ("false", 1)]
    assert categorical(profile, "city").top() == [("Hanoi", 2)] and categorical(profile, "city").missing == 1
    assert categorical(profile, "rooms").frequency("2") == 2
    assert categorical(profile, "label").top() == [("", 1), ("b", 1)]  # an empty string is a value, not missing


# -- rows, columns and batches ---------------------------------------------------------------------------------


def test_rows_without_a_column_count_as_missing() -> None:
    profile = Profile.empty()
    profile.update(pa.record_batch({"x": [1.0, 2.0]}))
    profile.update(pa.record_batch({"x": [3.0], "y": ["a"]}))
    profile.update(pa.record_batch({"y": ["b", "c", None], "x": pa.array([None, None, None])}))
    assert profile.rows == 6
    assert list(profile.columns) == ["x", "y"]
    assert (profile.columns["x"].count, profile.columns["x"].missing) == (3, 3)
    assert (profile.columns["y"].count, profile.columns["y"].missing) == (3, 3)


def test_a_table_profiles_like_its_batches() -> None:
    values = np.arange(150.0)  # fewer than k values: the sketch is exact, so the answers can be compared
    values[::10] = np.nan
    table = pa.Table.from_batches(batches_of(values, 7))
    assert Profile.empty().update(table).to_dict() == profile_table(batches_of(values, 3)).to_dict()
    empty = Profile.empty().update(table.slice(0, 0))
    assert empty.rows == 0 and list(empty.columns) == ["x"]


# -- merging ---------------------------------------------------------------------------------------------------


@st.composite
def split_data(draw: st.DrawFn) -> tuple[npt.NDArray[np.float64], list[str | None], int]:
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    size = draw(st.integers(0, 3_000))
    scale = draw(st.sampled_from([1e-3, 1.0, 1e6]))
    values = rng.normal(draw(st.floats(-1e3, 1e3)), scale, size)
    if draw(st.booleans()):
        values = np.round(values)  # ties and zeros
    values[rng.random(size) < draw(st.sampled_from([0.0, 0.1, 1.0]))] = np.nan
    values[rng.random(size) < 0.01] = np.inf
    words = [f"w{index}" if index < 40 else None for index in (rng.zipf(1.5, size) % 50).tolist()]
    return values, words, draw(st.integers(0, size))


def profile_of(values: npt.NDArray[np.float64], words: list[str | None], kll_k: int = 16) -> Profile:
    # A small k puts the sketch in estimation mode on small data.
    batch = pa.record_batch({"x": pa.array(values, from_pandas=True), "s": pa.array(words, pa.string())})
    return Profile.empty(kll_k=kll_k, top_k=4).update(batch)


def assert_same_exact_fields(left: Profile, right: Profile) -> None:
    assert left.rows == right.rows and list(left.columns) == list(right.columns)
    for name, column in left.columns.items():
        other = right.columns[name]
        assert (column.count, column.missing) == (other.count, other.missing)
        if isinstance(column, NumericProfile) and isinstance(other, NumericProfile):
            assert (column.min, column.max, column.zeros, column.infinite) == (
                other.min,
                other.max,
                other.zeros,
                other.infinite,
            )
            for mine, theirs in ((column.mean, other.mean), (column.std, other.std)):
                assert (mine is None) == (theirs is None)
                if mine is not None and theirs is not None:
                    assert mine == pytest.approx(theirs, rel=1e-9, abs=1e-9 * (abs(other.max or 0.0) + 1.0))


@settings(max_examples=60, deadline=None)
@given(split_data())
def test_merging_profiles_of_two_parts_gives_the_profile_of_the_whole(
    data: tuple[npt.NDArray[np.float64], list[str | None], int],
) -> None:
    values, words, split = data
    first, second = profile_of(values[:split], words[:split]), profile_of(values[split:], words[split:])
    whole = profile_of(values, words)
    merged = first.merge(second)

    assert_same_exact_fields(merged, whole)
    assert_same_exact_fields(merged, second.merge(first))
    finite = np.sort(values[np.isfinite(values)])
    column = numeric(merged, "x")
    if finite.size:
        for rank, value in zip(QUANTILE_RANKS, column.quantile(QUANTILE_RANKS), strict=True):
            assert rank_miss(finite, value, rank) <= 2 * column.rank_error, (rank, value)
    counts = Counter(word for word in words if word is not None)
    top = categorical(merged, "s")
    for word, estimate in top.top(3):
        assert counts[word] <= estimate <= counts[word] + top.maximum_error


def test_merge_leaves_both_inputs_unchanged_and_fills_columns_the_other_lacks() -> None:
    left = Profile.empty().update(pa.record_batch({"x": [1.0, 2.0], "a": ["p", "q"]}))
    right = Profile.empty().update(pa.record_batch({"x": [5.0], "b": [7]}))
    left_bytes, right_bytes = left.to_bytes(), right.to_bytes()
    merged = left.merge(right)

    assert (left.to_bytes(), right.to_bytes()) == (left_bytes, right_bytes)
    assert list(merged.columns) == ["x", "a", "b"] and merged.rows == 3
    assert (merged.columns["a"].count, merged.columns["a"].missing) == (2, 1)
    assert (merged.columns["b"].count, merged.columns["b"].missing) == (1, 2)
    assert numeric(merged, "x").mean == pytest.approx(8.0 / 3.0)
    merged.update(pa.record_batch({"a": ["p"]}))  # the merge result is a profile like any other
    assert categorical(merged, "a").top(1) == [("p", 2)] and categorical(left, "a").count == 2


# -- the binary format -----------------------------------------------------------------------------------------


def mixed_profile(rows: int = 20_000) -> Profile:
    rng = np.random.default_rng(2)
    values = rng.lognormal(0.0, 1.0, rows)
    values[rng.random(rows) < 0.05] = np.nan
    values[:3] = [np.inf, 0.0, -np.inf]
    words = np.array(["a", "b", "c", "d", "e"])[rng.integers(0, 5, rows)]
    return profile_table(
        pa.record_batch({"x": pa.array(chunk, from_pandas=True), "s": pa.array(text), "n": [None] * len(chunk)})
        for chunk, text in zip(np.array_split(values, 4), np.array_split(words, 4), strict=True)
    )


def test_bytes_round_trip_preserves_every_answer() -> None:
    profile = mixed_profile()
    data = profile.to_bytes()
    copy = Profile.from_bytes(data)
    assert answers(copy) == answers(profile)
    assert answers(Profile.from_bytes(copy.to_bytes())) == answers(profile)
    assert (copy.kll_k, copy.top_k) == (profile.kll_k, profile.top_k)
    assert answers(Profile.from_bytes(Profile.empty().to_bytes())) == answers(Profile.empty())


def test_streaming_keeps_the_serialized_size_bounded() -> None:
    rng = np.random.default_rng(9)
    vocabulary = np.array([f"street-{index}" for index in range(20_000)])
    profile, sizes = Profile.empty(), {}
    for index in range(1, 101):
        profile.update(
            pa.record_batch(
                {
                    "price": rng.lognormal(3.0, 1.0, 10_000),
                    "area": rng.normal(80.0, 20.0, 10_000),
                    "street": pa.array(vocabulary[rng.zipf(1.2, 10_000) % vocabulary.size]),
                }
            )
        )
        if index in (10, 100):
            sizes[index] = len(profile.to_bytes())
    print(f"serialized size after 10 batches: {sizes[10]} bytes, after 100: {sizes[100]} bytes")
    assert sizes[100] < 1.3 * sizes[10]  # ten times the data: KLL grows by a few levels, the rest is fixed
    assert sizes[100] < 64 * 1024


# -- bad input -------------------------------------------------------------------------------------------------


def test_merging_a_numeric_column_with_a_categorical_one_is_refused() -> None:
    numbers = Profile.empty().update(pa.record_batch({"zone": [1, 2]}))
    words = Profile.empty().update(pa.record_batch({"zone": ["a", "b"]}))
    with pytest.raises(InvalidInput, match="column 'zone' is numeric in one and categorical in the other"):
        numbers.merge(words)
    with pytest.raises(InvalidInput, match="merges with another Profile; got dict"):
        numbers.merge({})  # type: ignore[arg-type]


def test_a_column_that_changes_kind_is_refused_and_the_profile_stays_as_it_was() -> None:
    profile = Profile.empty().update(pa.record_batch({"zone": [1, 2]}))
    before = profile.to_bytes()
    with pytest.raises(InvalidData, match="Column 'zone' was profiled as numeric but this batch") as error:
        profile.update(pa.record_batch({"other": [1.0], "zone": ["a"]}))
    assert error.value.column == "zone"
    assert profile.to_bytes() == before
    with pytest.raises(InvalidData, match="which are not profiled"):
        profile.update(pa.record_batch({"zone": pa.array([[1]])}))


def test_bad_batches_and_settings_are_refused() -> None:
    with pytest.raises(InvalidInput, match="updated with a pyarrow RecordBatch or Table; got list"):
        Profile.empty().update([1, 2])
    twice = pa.RecordBatch.from_arrays([pa.array([1]), pa.array([2])], names=["x", "x"])
    with pytest.raises(InvalidData, match="more than one column named 'x'"):
        Profile.empty().update(twice)
    with pytest.raises(InvalidInput, match=r"'kll_k' must be an integer in \[8, 65535\]; got 4"):
        Profile.empty(kll_k=4)
    with pytest.raises(InvalidInput, match=r"'top_k' must be an integer in \[1, 100000\]; got 0"):
        Profile(top_k=0)


def test_bad_queries_are_refused() -> None:
    profile = mixed_profile(100)
    with pytest.raises(InvalidInput, match=r"rank must be a number in \[0, 1\]; got 1.5"):
        numeric(profile, "x").quantile([0.5, 1.5])
    with pytest.raises(InvalidInput, match="histogram bins must be a positive integer; got 0"):
        numeric(profile, "x").histogram(0)
    with pytest.raises(InvalidInput, match="must be numbers, not NaN"):
        numeric(profile, "x").cdf([math.nan])
    with pytest.raises(InvalidInput, match="non-negative integer; got -1"):
        categorical(profile, "s").top(-1)
    with pytest.raises(InvalidInput, match="looked up by its text; got int 3"):
        categorical(profile, "s").frequency(3)  # type: ignore[arg-type]


def with_version(data: bytes, version: int) -> bytes:
    body = data[:8] + struct.pack(">H", version) + data[10:-4]
    return body + struct.pack(">I", zlib.crc32(body))


def test_corrupt_or_foreign_bytes_give_clear_errors() -> None:
    data = mixed_profile(500).to_bytes()
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    with pytest.raises(InvalidData, match="profile bytes are corrupt or truncated: their CRC-32 is"):
        Profile.from_bytes(bytes(flipped))
    with pytest.raises(InvalidData, match="profile bytes are corrupt or truncated"):
        Profile.from_bytes(data[:-10])
    with pytest.raises(InvalidData, match=r"These 5 bytes are not a driftloop profile.*got b'not a'"):
        Profile.from_bytes(b"not a")
    with pytest.raises(InvalidInput, match="format version 2; this driftloop reads version 1") as error:
        Profile.from_bytes(with_version(data, 2))
    assert not isinstance(error.value, InvalidData)
    with pytest.raises(InvalidInput, match="read from bytes; got str"):
        Profile.from_bytes("DLPROF")  # type: ignore[arg-type]


def test_well_framed_bytes_that_describe_no_profile_are_refused() -> None:
    def framed(header: bytes, sketches: bytes = b"") -> bytes:
        body = b"DLPROF\r\n" + struct.pack(">HI", 1, len(header)) + header + sketches
        return body + struct.pack(">I", zlib.crc32(body))

    with pytest.raises(InvalidData, match="malformed: its header does not parse"):
        Profile.from_bytes(framed(b"{not json"))
    with pytest.raises(InvalidData, match="malformed: KeyError: 'rows'"):
        Profile.from_bytes(framed(b'{"sketch_sizes":[],"kll_k":200,"top_k":64}'))
    with pytest.raises(InvalidData, match="malformed: the header lists 4 bytes of sketches, the body holds 0"):
        Profile.from_bytes(framed(b'{"sketch_sizes":[4]}'))
    column = b'{"name":"x","kind":"numeric","count":1,"missing":0,"zeros":0,"infinite":0,"finite":1,'
    column += b'"mean":1.0,"m2":0.0,"min":1.0,"max":1.0}'
    header = b'{"sketch_sizes":[8],"rows":1,"kll_k":200,"top_k":64,"columns":[' + column + b"]}"
    with pytest.raises(InvalidData, match=r"malformed: ValueError: .*corruption") as error:
        Profile.from_bytes(framed(header, b"garbage!"))
    assert error.value.source == "profile bytes"


# -- speed -----------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_profiling_a_million_rows_of_twenty_columns_is_quick() -> None:
    rng = np.random.default_rng(0)
    rows, batch_rows = 1_000_000, 65_536
    columns: dict[str, pa.Array] = {}
    for index in range(15):
        values = rng.normal(index, index + 1.0, rows)
        values[rng.random(rows) < 0.05] = np.nan
        columns[f"number_{index}"] = pa.array(values, from_pandas=True)
    vocabulary = np.array([f"district-{index}" for index in range(500)])
    for index in range(5):
        columns[f"text_{index}"] = pa.array(vocabulary[rng.zipf(1.5, rows) % 500], mask=rng.random(rows) < 0.05)
    batches = pa.table(columns).to_batches(max_chunksize=batch_rows)

    started = time.perf_counter()
    profile = profile_table(batches)
    elapsed = time.perf_counter() - started
    print(f"profiled {rows:,} rows x {len(columns)} columns in {elapsed:.2f} s")
    assert profile.rows == rows and len(profile.columns) == 20
    assert elapsed < 60.0
