"""Data quality of live traffic: missing-rate jumps, ranges, unseen categories, schema violations, flags."""

from __future__ import annotations

import json
import math

import pandas as pd
import polars as pl
import pyarrow as pa
import pytest

from driftloop.data.profiles import CategoricalProfile, Profile
from driftloop.data.validation import ColumnSpec, DataSchema
from driftloop.errors import InvalidData, InvalidInput
from driftloop.monitoring._quality import ColumnQuality, QualityReport, QualityThresholds, check_quality
from driftloop.monitoring._quality_flags import quality_from_flags
from driftloop.registry import Signature

DISTRICTS = ("Ba Dinh", "Cau Giay", "Dong Da")


def signature(*, area_nullable: bool = True) -> Signature:
    return Signature(
        DataSchema(
            (
                ColumnSpec("area", "float64", nullable=area_nullable, minimum=10.0, maximum=450.0),
                ColumnSpec("rooms", "int64", nullable=True),
                ColumnSpec("district", "string", nullable=True, categories=DISTRICTS),
            )
        )
    )


def training(rows: int = 300) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "area": [10.0 + (index * 7) % 440 for index in range(rows)],
            "rooms": [1 + index % 5 for index in range(rows)],
            "district": [DISTRICTS[index % 3] for index in range(rows)],
        }
    )


def profile_of(frame: pl.DataFrame, **settings: int) -> Profile:
    return Profile.empty(**settings).update(frame.to_arrow())


def column(report: QualityReport, name: str) -> ColumnQuality:
    return next(item for item in report.columns if item.column == name)


def test_a_clean_window_is_ok() -> None:
    report = check_quality(training(50), signature=signature(), reference=profile_of(training()))
    assert report.ok is True
    assert report.rows == 50
    assert report.problems == ()
    area = column(report, "area")
    assert (area.missing, area.out_of_range, area.type_errors, area.missing_jump) == (0, 0, 0, False)
    assert area.reference_missing_rate == 0.0


def test_out_of_range_values_are_counted_and_flagged_over_the_share() -> None:
    window = training(99).vstack(pl.DataFrame({"area": [9000.0], "rooms": [2], "district": ["Dong Da"]}))
    area = column(check_quality(window, signature=signature()), "area")
    assert area.out_of_range == 1
    assert area.out_of_range_share == pytest.approx(0.01)
    assert area.problems == ()  # 1 % is not over the default 1 %
    strict = check_quality(window, signature=signature(), thresholds={"out_of_range_share": 0.0})
    assert column(strict, "area").problems == ("1 value(s) (1.0%) outside [10.0, 450.0]",)
    assert strict.ok is False


def test_infinite_values_are_out_of_range_not_missing_nor_type_errors() -> None:
    window = pl.DataFrame({"area": [50.0, math.inf, -math.inf, float("nan")], "rooms": [1, 2, 3, 4]})
    window = window.with_columns(pl.lit("Ba Dinh").alias("district"))
    report = check_quality(window, signature=signature())
    area = column(report, "area")
    assert (area.infinite, area.out_of_range, area.missing, area.type_errors) == (2, 2, 1, 0)
    assert area.out_of_range_share == pytest.approx(2 / 3)
    # Without a range (the reference gives none for rooms cast from an int column with infinities), still out.
    rooms = column(check_quality(pl.DataFrame({"rooms": [1.0, math.inf]}), reference=training()), "rooms")
    assert (rooms.infinite, rooms.out_of_range, rooms.type_errors) == (1, 1, 0)


def test_unseen_categories_need_a_minimum_count() -> None:
    one = pl.DataFrame({"area": [50.0], "rooms": [2], "district": ["Tay Ho"]})
    district = column(check_quality(one, signature=signature()), "district")
    assert (district.unseen, district.unseen_share, district.unseen_examples) == (1, 1.0, ("Tay Ho",))
    assert district.problems == ()  # one value is below unseen_min_count (5)

    many = training(20).with_columns(
        pl.when(pl.int_range(20) < 6).then(pl.lit("Tay Ho")).otherwise(pl.col("district")).alias("district")
    )
    district = column(check_quality(many, signature=signature()), "district")
    assert district.unseen == 6
    assert district.unseen_examples == ("Tay Ho",)
    assert district.problems == ("6 value(s) (30.0%) of unseen categories, such as 'Tay Ho'",)


def test_unseen_categories_from_a_reference_profile_and_a_reference_frame() -> None:
    window = pl.DataFrame({"district": ["Tay Ho"] * 5 + ["Hoan Kiem"] * 5 + ["Ba Dinh"] * 10})
    for reference in (profile_of(training()), training()):
        district = column(check_quality(window, reference=reference), "district")
        assert district.unseen == 10
        assert district.unseen_examples == ("Hoan Kiem", "Tay Ho")  # ties by value
        assert not district.ok


def test_a_lossy_frequent_items_sketch_raises_the_unseen_floor() -> None:
    # 40 categories, a sketch sized for 1: it drops rare categories, which must not read as unseen.
    values = [f"c{index % 40}" for index in range(4000)]
    profile = Profile.empty(top_k=1).update(pa.table({"code": values}))
    sketch = profile.columns["code"]
    assert isinstance(sketch, CategoricalProfile)
    assert sketch.maximum_error > 0
    tracked = {value for value, _count in sketch.top(1000)}
    dropped = next(value for value in sorted(set(values)) if value not in tracked)
    window = pl.DataFrame({"code": [dropped] * 5 + [next(iter(tracked))] * 95})
    code = column(check_quality(window, reference=profile), "code")
    assert sketch.maximum_error / sketch.count == pytest.approx(0.075)
    assert (code.unseen, code.unseen_share, code.ok) == (5, 0.05, True)  # 5 % may be a category the sketch dropped
    more = pl.DataFrame({"code": [dropped] * 20 + [next(iter(tracked))] * 80})
    assert column(check_quality(more, reference=profile), "code").ok is False  # 20 % cannot be
    exact = column(check_quality(window, reference=pl.DataFrame({"code": values})), "code")
    assert exact.unseen == 0


def test_an_open_ended_reference_column_has_no_unseen_check() -> None:
    reference = pl.DataFrame({"id": [f"id-{index}" for index in range(500)]})
    ids = column(check_quality(pl.DataFrame({"id": ["new-1", "new-2"] * 10}), reference=reference), "id")
    assert (ids.unseen, ids.unseen_share, ids.ok) == (0, None, True)


def test_an_all_missing_column_is_a_missing_rate_jump() -> None:
    window = training(40).with_columns(pl.lit(None, dtype=pl.Float64).alias("area"))
    report = check_quality(window, signature=signature(), reference=profile_of(training()))
    area = column(report, "area")
    assert (area.missing, area.missing_rate, area.reference_missing_rate) == (40, 1.0, 0.0)
    assert area.missing_jump is True
    assert area.missing_p_value is not None and area.missing_p_value < 1e-40
    assert report.ok is False
    assert report.problems == ("area: missing rate 100.0% against 0.0% in the reference",)


def test_one_row_with_its_value_missing_does_not_alarm() -> None:
    one = pl.DataFrame({"area": [None], "rooms": [1], "district": ["Ba Dinh"]}, schema_overrides={"area": pl.Float64})
    report = check_quality(one, signature=signature(), reference=profile_of(training()))
    area = column(report, "area")
    assert (area.rows, area.missing_rate, area.missing_jump) == (1, 1.0, False)
    assert area.missing_p_value == pytest.approx(0.05)  # the tolerated rate: 0 + the 0.05 margin
    assert report.ok is True


def test_a_rise_within_margin_and_factor_is_no_jump() -> None:
    reference = training(1000).with_columns(
        pl.when(pl.int_range(1000) % 10 == 0).then(None).otherwise(pl.col("area")).alias("area")
    )  # 10 % missing: 20 % is tolerated
    window = training(1000).with_columns(
        pl.when(pl.int_range(1000) % 6 == 0).then(None).otherwise(pl.col("area")).alias("area")
    )  # about 16.7 %
    area = column(check_quality(window, reference=profile_of(reference)), "area")
    assert area.reference_missing_rate == pytest.approx(0.1)
    assert area.missing_jump is False
    doubled = window.with_columns(
        pl.when(pl.int_range(1000) % 3 == 0).then(None).otherwise(pl.col("area")).alias("area")
    )  # about 33 %
    assert column(check_quality(doubled, reference=reference), "area").missing_jump is True


def test_without_a_reference_the_missing_jump_is_unknown() -> None:
    area = column(check_quality(training(10), signature=signature()), "area")
    assert (area.reference_missing_rate, area.missing_jump, area.missing_p_value) == (None, None, None)


def test_constant_columns() -> None:
    constant = pl.DataFrame({"area": [80.0] * 30, "rooms": [2] * 30, "district": ["Ba Dinh"] * 30})
    assert check_quality(constant, signature=signature(), reference=profile_of(constant)).ok is True
    moved = constant.with_columns(pl.lit(81.0).alias("area"))
    area = column(check_quality(moved, reference=profile_of(constant)), "area")
    assert (area.out_of_range, area.out_of_range_share, area.ok) == (30, 1.0, False)


def test_an_empty_window_is_not_judged() -> None:
    report = check_quality(training(0), signature=signature(), reference=profile_of(training()))
    assert (report.rows, report.ok, report.missing_columns) == (0, None, ())
    assert report.note == "The window has no rows: nothing to judge."
    assert all(item.ok is None and item.missing_rate is None for item in report.columns)
    assert json.dumps(report.to_dict(), allow_nan=False)


def test_a_reference_column_missing_live_is_a_schema_violation() -> None:
    window = training(20).drop("rooms")
    for reference in (profile_of(training()), training()):
        report = check_quality(window, reference=reference)
        assert report.missing_columns == ("rooms",)
        assert report.ok is False
        assert "column 'rooms' is missing from the window" in report.problems
    assert check_quality(window, signature=signature()).missing_columns == ("rooms",)


def test_an_absent_optional_column_is_all_missing() -> None:
    spec = ColumnSpec("note", "string", nullable=True, required=False)
    optional = Signature(DataSchema((*signature().inputs.columns, spec)))
    reference = training().with_columns(pl.lit("x").alias("note"))
    report = check_quality(training(20), signature=optional, reference=profile_of(reference))
    note = column(report, "note")
    assert report.missing_columns == ()
    assert (note.missing_rate, note.missing_jump) == (1.0, True)


def test_extra_columns_type_errors_and_null_violations() -> None:
    window = pl.DataFrame(
        {
            "area": ["50.5", "abc", None, "80"],
            "rooms": [1.0, 1.5, 2.0, None],
            "district": ["Ba Dinh"] * 4,
            "colour": ["red"] * 4,
        }
    )
    report = check_quality(window, signature=signature(area_nullable=False))
    area, rooms = column(report, "area"), column(report, "rooms")
    assert report.extra_columns == ("colour",)
    assert (area.type_errors, area.missing, area.null_violations) == (1, 1, 1)
    assert area.problems == (
        "1 missing value(s) in a column that is not nullable",
        "1 value(s) that do not convert to float64",
    )
    assert (rooms.type_errors, rooms.missing) == (1, 1)
    assert "column 'colour' is not expected" in report.problems
    assert report.ok is False


def test_pandas_and_pyarrow_windows_agree_with_polars() -> None:
    window = training(30).with_columns(pl.lit("Tay Ho").alias("district"))
    expected = check_quality(window, signature=signature(), reference=training()).to_dict()
    assert check_quality(window.to_pandas(), signature=signature(), reference=training().to_pandas()).to_dict() == (
        expected
    )
    assert check_quality(window.to_arrow(), signature=signature(), reference=training().to_arrow()).to_dict() == (
        expected
    )


def test_to_dict_is_plain_json() -> None:
    window = pl.DataFrame({"area": [math.inf, None], "rooms": [1, 2], "district": ["Tay Ho", None]})
    data = check_quality(window, signature=signature(), reference=profile_of(training())).to_dict()
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["columns"][0]["unseen_examples"] == []
    assert set(data) == {"rows", "ok", "broken", "columns", "missing_columns", "extra_columns", "problems", "note"}


def test_broken_values_are_told_apart_from_new_categories() -> None:
    reference = profile_of(training())
    new_district = pl.DataFrame({"area": [60.0] * 40, "rooms": [2] * 40, "district": ["Tay Ho"] * 40})
    report = check_quality(new_district, signature=signature(), reference=reference)
    assert report.ok is False and report.broken is False  # a new segment: drift, not a fault
    feet = pl.DataFrame({"area": [60.0 * 10.7639] * 40, "rooms": [2] * 40, "district": ["Ba Dinh"] * 40})
    assert check_quality(feet, signature=signature(), reference=reference).broken is True
    gaps = pl.DataFrame({"area": [None, 60.0] * 20, "rooms": [2] * 40, "district": ["Ba Dinh"] * 40})
    assert check_quality(gaps, signature=signature(), reference=reference).broken is True
    assert check_quality(new_district.head(0), signature=signature(), reference=reference).broken is None


def test_bad_arguments_are_named() -> None:
    with pytest.raises(InvalidInput, match="needs a signature, a reference"):
        check_quality(training(5))
    with pytest.raises(InvalidInput, match="pandas or polars DataFrame"):
        check_quality([{"area": 1.0}], signature=signature())
    with pytest.raises(InvalidInput, match="Unknown quality threshold 'alpha'"):
        check_quality(training(5), signature=signature(), thresholds={"alpha": 0.1})
    with pytest.raises(InvalidInput, match="'missing_factor' of quality must be a number at least 1"):
        QualityThresholds(missing_factor=0.5)
    with pytest.raises(InvalidInput, match="'unseen_min_count' of quality must be a positive integer"):
        QualityThresholds(unseen_min_count=0)
    with pytest.raises(InvalidData, match="reference window has no rows"):
        check_quality(training(5), reference=training(0))
    with pytest.raises(InvalidData, match="reference profile has no rows"):
        check_quality(training(5), reference=Profile.empty())
    with pytest.raises(InvalidData, match="could not be read"):
        check_quality(pd.DataFrame({"mixed": [1, "a"]}), signature=signature())


def test_flags_are_counted_per_column_and_kind() -> None:
    flags = [
        ["area: 9000.0 above the maximum 450.0", "district: unseen category 'Tay Ho'"],
        [],
        ["district: unseen category 'Tay Ho'"],
        ["area: 1.0 below the minimum 10.0"],
        ["something odd"],
    ]
    summary = quality_from_flags(flags)
    assert (summary.rows, summary.flagged_rows) == (5, 4)
    assert summary.count("district", "unseen_category") == 2
    assert summary.count("area") == 2
    assert summary.count("area", "below_minimum") == 1
    first = summary.counts[0]
    assert (first.column, first.kind, first.count, first.rows, first.share) == (
        "district",
        "unseen_category",
        2,
        2,
        0.4,
    )
    assert any(item.column is None and item.kind == "unrecognised" for item in summary.counts)
    assert json.dumps(summary.to_dict(), allow_nan=False)


def test_flags_from_the_log_column_and_empty_logs() -> None:
    log = pa.table(
        {"flags": pa.array([["rooms: 12 above the maximum 9"], []], type=pa.list_(pa.string()))},
    )
    summary = quality_from_flags(log.column("flags"))
    assert summary.count("rooms", "above_maximum") == 1
    assert quality_from_flags(pl.Series([[]], dtype=pl.List(pl.String))).flagged_rows == 0
    empty = quality_from_flags([])
    assert (empty.rows, empty.flagged_rows, empty.counts) == (0, 0, ())
    with pytest.raises(InvalidInput, match="lists of text"):
        quality_from_flags([[1]])
    with pytest.raises(InvalidInput, match="lists of text"):
        quality_from_flags("area: unseen category 'x'")
    with pytest.raises(InvalidInput, match="Unknown flag kind"):
        empty.count("area", "odd")
