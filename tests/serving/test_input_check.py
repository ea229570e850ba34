"""Input checking against a model's signature: rules refuse the request (422), expectations flag its rows."""

from __future__ import annotations

import math
import pickle
from typing import Any

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.data.validation import ColumnSpec, DataSchema
from driftloop.errors import HTTP_STATUS, InvalidData, InvalidInput
from driftloop.registry import Signature
from driftloop.serving._input_check import MAX_ERRORS, CheckedInputs, FieldError, InputChecker, InputRejected

SIZES = [1, 5, 50]
"""One row (the single-row path), a few rows (the per-value loop) and a batch (the vectorised path)."""


def signature_of(*columns: ColumnSpec) -> Signature:
    return Signature(inputs=DataSchema(columns=columns))


def houses() -> Signature:
    return signature_of(
        ColumnSpec("area", "float64", nullable=False, minimum=20.0, maximum=450.0),
        ColumnSpec("rooms", "int64", nullable=False, minimum=1, maximum=8),
        ColumnSpec("district", "string", nullable=True, categories=("Ba Dinh", "Cau Giay", "Dong Da")),
        ColumnSpec("furnished", "bool", nullable=False),
    )


def a_house(**changes: Any) -> dict[str, Any]:
    return {"area": 75.0, "rooms": 3, "district": "Ba Dinh", "furnished": True, **changes}


def check(checker: InputChecker, records: list[dict[str, Any]], **options: Any) -> CheckedInputs:
    """Check rows given as records (turned into columns, as the server does)."""
    names = list(dict.fromkeys(name for record in records for name in record))
    columns = {name: [record.get(name) for record in records] for name in names}
    return checker.check(columns, len(records), **options)


def rejection(checker: InputChecker, records: list[dict[str, Any]], **options: Any) -> InputRejected:
    with pytest.raises(InputRejected) as caught:
        check(checker, records, **options)
    return caught.value


def problems(rejected: InputRejected) -> list[tuple[str, int | None, str]]:
    return [(error.column, error.row, error.problem) for error in rejected.errors]


@pytest.mark.parametrize("rows", SIZES)
def test_good_rows_are_converted_in_signature_order(rows: int) -> None:
    records = [a_house(rooms=2 + index % 3, area=50.0 + index) for index in range(rows)]
    checked = check(InputChecker(houses()), [dict(reversed(record.items())) for record in records])
    assert list(checked.frame_columns) == ["area", "rooms", "district", "furnished"]
    assert checked.frame_columns["area"].dtype == np.float64
    assert checked.frame_columns["area"].tolist() == [50.0 + index for index in range(rows)]
    assert checked.frame_columns["rooms"].dtype == np.int64
    assert checked.frame_columns["district"].dtype == object
    assert checked.frame_columns["district"].tolist() == ["Ba Dinh"] * rows
    assert checked.frame_columns["furnished"].dtype == np.bool_
    assert checked.rows == rows
    assert checked.flags == [[] for _ in range(rows)]
    assert not any(checked.flags)
    assert checked.extra_columns == ()


@pytest.mark.parametrize("rows", SIZES)
def test_a_missing_required_column_is_refused_by_name(rows: int) -> None:
    records = [{"area": 75.0, "district": "Ba Dinh", "furnished": False} for _ in range(rows)]
    rejected = rejection(InputChecker(houses()), records)
    assert problems(rejected) == [("rooms", None, "missing (a required column)")]
    assert rejected.column == "rooms"
    assert "column 'rooms': missing" in rejected.message


@pytest.mark.parametrize("rows", SIZES)
@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("area", "abc", "expected float64, got 'abc'"),
        ("area", "12", "expected float64, got '12' (a quoted number; send numbers unquoted)"),
        ("area", True, "expected float64, got true"),
        ("area", [1.0], "expected float64, got [1.0]"),
        ("rooms", True, "expected int64, got true"),
        ("rooms", 2.5, "expected int64, got 2.5"),
        ("rooms", "3", "expected int64, got '3' (a quoted number; send numbers unquoted)"),
        ("rooms", 2**70, f"expected int64, got {2**70} (out of the range of int64)"),
        ("furnished", 1, "expected bool, got 1 (send true or false)"),
        ("furnished", "true", "expected bool, got 'true' (send true or false)"),
        ("district", {"name": "Ba Dinh"}, "expected string, got {'name': 'Ba Dinh'}"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_naming_column_and_row(
    rows: int, column: str, value: Any, problem: str
) -> None:
    records = [a_house() for _ in range(rows)]
    records[-1][column] = value
    rejected = rejection(InputChecker(houses()), records)
    assert problems(rejected) == [(column, rows - 1, problem)]
    assert f"column {column!r}, row {rows - 1}: {problem}" in rejected.message


def test_the_error_is_invalid_data_answered_with_422() -> None:
    rejected = rejection(InputChecker(houses()), [a_house(area="abc")])
    assert isinstance(rejected, InvalidData)
    assert HTTP_STATUS[rejected.code] == 422
    assert (rejected.column, rejected.row) == ("area", 0)
    copy = pickle.loads(pickle.dumps(rejected))
    assert copy.errors == rejected.errors and copy.message == rejected.message


@pytest.mark.parametrize("rows", SIZES)
def test_integral_floats_are_integers_and_ints_are_floats(rows: int) -> None:
    checked = check(InputChecker(houses()), [a_house(rooms=4.0, area=80) for _ in range(rows)])
    assert checked.frame_columns["rooms"].tolist() == [4] * rows
    assert checked.frame_columns["area"].tolist() == [80.0] * rows


@pytest.mark.parametrize("rows", SIZES)
def test_csv_text_is_parsed_when_strings_are_not_text(rows: int) -> None:
    records = [
        {"area": "75.5", "rooms": "3", "district": "Dong Da", "furnished": "TRUE" if index % 2 else "0"}
        for index in range(rows)
    ]
    checked = check(InputChecker(houses()), records, strings_are_text=False)
    assert checked.frame_columns["area"].tolist() == [75.5] * rows
    assert checked.frame_columns["rooms"].tolist() == [3] * rows
    assert checked.frame_columns["furnished"].tolist() == [bool(index % 2) for index in range(rows)]


@pytest.mark.parametrize("rows", SIZES)
def test_csv_null_markers_are_missing_and_junk_is_still_refused(rows: int) -> None:
    signature = signature_of(ColumnSpec("area", "float64", nullable=True), ColumnSpec("rooms", "int64", nullable=False))
    records = [{"area": "NA", "rooms": "3"} for _ in range(rows)]
    checked = check(InputChecker(signature), records, strings_are_text=False)
    assert np.isnan(checked.frame_columns["area"]).all()
    records[0] = {"area": "1_000", "rooms": ""}
    rejected = rejection(InputChecker(signature), records, strings_are_text=False)
    assert problems(rejected) == [
        ("area", 0, "expected float64, got '1_000'"),
        ("rooms", 0, "null is not allowed (the column is not nullable)"),
    ]


@pytest.mark.parametrize("rows", SIZES)
@pytest.mark.parametrize(("value", "shown"), [(None, "null"), (math.nan, "NaN")])
def test_missing_values_are_refused_in_columns_that_are_not_nullable(rows: int, value: Any, shown: str) -> None:
    records = [a_house() for _ in range(rows)]
    records[0]["area"] = value
    records[-1]["furnished"] = value
    rejected = rejection(InputChecker(houses()), records)
    assert problems(rejected) == [
        ("area", 0, f"{shown} is not allowed (the column is not nullable)"),
        ("furnished", rows - 1, f"{shown} is not allowed (the column is not nullable)"),
    ]


@pytest.mark.parametrize("rows", SIZES)
def test_missing_values_of_nullable_columns_come_out_as_nan_or_none(rows: int) -> None:
    signature = signature_of(
        ColumnSpec("area", "float64", nullable=True, minimum=20.0),
        ColumnSpec("floors", "int64", nullable=True),
        ColumnSpec("district", "string", nullable=True, categories=("a",)),
        ColumnSpec("garden", "bool", nullable=True),
        ColumnSpec("built", "date", nullable=True),
    )
    records: list[dict[str, Any]] = [
        {"area": math.nan, "floors": None, "district": None, "garden": None, "built": None}
    ]
    records *= rows
    records = [*records[:-1], {"area": 30.0, "floors": 2, "district": "a", "garden": True, "built": "2020-01-31"}]
    checked = check(InputChecker(signature), records)
    columns = checked.frame_columns
    assert columns["floors"].dtype == np.float64  # numpy integers have no null
    assert np.isnan(columns["area"][:-1]).all() and np.isnan(columns["floors"][:-1]).all()
    assert (columns["area"][-1], columns["floors"][-1]) == (30.0, 2.0)
    assert columns["district"].tolist() == [None] * (rows - 1) + ["a"]
    assert columns["garden"].dtype == object and columns["garden"].tolist() == [None] * (rows - 1) + [True]
    assert columns["built"].dtype == np.dtype("datetime64[D]")
    assert np.isnat(columns["built"][:-1]).all() and str(columns["built"][-1]) == "2020-01-31"
    assert checked.flags == [[] for _ in range(rows)]


@pytest.mark.parametrize("rows", SIZES)
def test_infinity_is_refused_where_the_range_has_that_bound_even_as_an_expectation(rows: int) -> None:
    signature = signature_of(
        ColumnSpec("area", "float64", nullable=True, minimum=20.0, maximum=450.0),
        ColumnSpec("score", "float64", nullable=False, minimum=0.0),
    )
    records = [{"area": 75.0, "score": 1.0} for _ in range(rows)]
    records[0] = {"area": math.inf, "score": -math.inf}
    rejected = rejection(InputChecker(signature), records)
    assert problems(rejected) == [
        ("area", 0, "infinity is not allowed (the column has the maximum 450.0)"),
        ("score", 0, "-infinity is not allowed (the column has the minimum 0.0)"),
    ]
    records[0] = {"area": 75.0, "score": math.inf}  # no maximum: the signature allows it
    assert check(InputChecker(signature), records).frame_columns["score"][0] == math.inf


@pytest.mark.parametrize("rows", SIZES)
def test_values_out_of_an_expected_range_are_served_and_flagged(rows: int) -> None:
    records = [a_house() for _ in range(rows)]
    records[0]["area"] = 9000.0
    records[-1]["rooms"] = 0
    checked = check(InputChecker(houses()), records)
    assert checked.flags[0][0] == "area: 9000.0 above the maximum 450.0"
    assert checked.flags[-1][-1] == "rooms: 0 below the minimum 1"
    assert sum(map(len, checked.flags)) == 2
    assert checked.frame_columns["area"][0] == 9000.0


@pytest.mark.parametrize("rows", SIZES)
def test_out_of_range_values_of_a_nullable_column_can_be_scored_as_missing(rows: int) -> None:
    signature = signature_of(
        ColumnSpec("area", "float64", nullable=True, minimum=20.0, maximum=450.0),
        ColumnSpec("rooms", "int64", nullable=True, minimum=1, maximum=8),
        ColumnSpec("floor", "int64", nullable=False, minimum=0, maximum=30),  # not nullable: scored as sent
        ColumnSpec("age", "float64", nullable=True, minimum=0.0, maximum=99.0, promoted=frozenset({"range"})),
    )
    records = [{"area": 75.0, "rooms": 3, "floor": 2, "age": 10.0} for _ in range(rows)]
    records[0] = {"area": 807.3, "rooms": 0, "floor": 31, "age": 10.0}  # square feet, and two other slips
    records[-1]["area"] = None if rows > 1 else 807.3
    sent = {name: [record[name] for record in records] for name in records[0]}
    checked = InputChecker(signature, out_of_range="missing").check(sent, rows)
    assert checked.flags[0] == [
        "area: 807.3 above the maximum 450.0 (scored as missing)",
        "rooms: 0 below the minimum 1 (scored as missing)",
        "floor: 31 above the maximum 30",
    ]
    assert math.isnan(checked.frame_columns["area"][0]) and math.isnan(checked.frame_columns["rooms"][0])
    assert checked.frame_columns["floor"][0] == 31
    assert math.isnan(checked.frame_columns["area"][-1])
    assert all(checked.frame_columns["area"][1:-1] == 75.0) and all(checked.frame_columns["rooms"][1:] == 3)
    if checked.matrix is not None:  # the single row, as one matrix: the same values
        assert np.isnan(checked.matrix[0, :2]).all()
    assert sent["area"][0] == 807.3  # what was sent is left as it was (the prediction log keeps it)
    # A promoted range still refuses, whatever out_of_range says.
    records[0] = {"area": 75.0, "rooms": 3, "floor": 2, "age": 120.0}
    rejected = rejection(InputChecker(signature, out_of_range="missing"), records)
    assert problems(rejected) == [("age", 0, "120.0 above the maximum 99.0")]
    with pytest.raises(InvalidInput, match="'out_of_range' must be one of flag, missing; got 'clip'"):
        InputChecker(signature, out_of_range="clip")


@pytest.mark.parametrize("rows", SIZES)
def test_a_promoted_range_is_a_rule(rows: int) -> None:
    signature = Signature(inputs=houses().inputs.promote("area", "range"))
    records = [a_house() for _ in range(rows)]
    records[-1]["area"] = 19.5
    rejected = rejection(InputChecker(signature), records)
    assert problems(rejected) == [("area", rows - 1, "19.5 below the minimum 20.0")]


@pytest.mark.parametrize("rows", SIZES)
def test_unseen_categories_are_flagged_or_refused_when_promoted(rows: int) -> None:
    records = [a_house() for _ in range(rows)]
    records[-1]["district"] = "Tay Ho"
    checked = check(InputChecker(houses()), records)
    assert checked.flags[-1] == ["district: unseen category 'Tay Ho'"]
    assert checked.frame_columns["district"][-1] == "Tay Ho"
    strict = Signature(inputs=houses().inputs.promote("district", "categories"))
    rejected = rejection(InputChecker(strict), records)
    assert problems(rejected) == [
        (
            "district",
            rows - 1,
            "unseen category 'Tay Ho' (expected one of 'Ba Dinh', 'Cau Giay', 'Dong Da')",
        )
    ]


def test_categories_of_a_non_text_column_compare_as_text() -> None:
    signature = signature_of(ColumnSpec("grade", "int64", nullable=False, categories=("1", "2")))
    checked = check(InputChecker(signature), [{"grade": 2}, {"grade": 3}])
    assert checked.flags == [[], ["grade: unseen category 3"]]


def test_every_problem_is_collected_field_by_field() -> None:
    records = [a_house(area="big", furnished=None), a_house(), a_house(rooms=1.5)]
    rejected = rejection(InputChecker(houses()), [{k: v for k, v in r.items() if k != "district"} for r in records])
    assert problems(rejected) == [
        ("area", 0, "expected float64, got 'big'"),
        ("rooms", 2, "expected int64, got 1.5"),
        ("district", None, "missing (a required column)"),
        ("furnished", 0, "null is not allowed (the column is not nullable)"),
    ]
    assert rejected.message.splitlines() == [
        "The inputs do not match the model's signature (4 problems):",
        "- column 'area', row 0: expected float64, got 'big'",
        "- column 'rooms', row 2: expected int64, got 1.5",
        "- column 'district': missing (a required column)",
        "- column 'furnished', row 0: null is not allowed (the column is not nullable)",
    ]


@pytest.mark.parametrize("rows", [30, 2 * MAX_ERRORS])
def test_a_long_list_of_problems_is_cut_short_and_counted(rows: int) -> None:
    checker = InputChecker(houses())
    rejected = rejection(checker, [a_house(area="x", rooms="y") for _ in range(rows)])
    assert rejected.error_count == 2 * rows
    assert len(rejected.errors) == min(2 * rows, MAX_ERRORS)
    lines = rejected.message.splitlines()
    assert len(lines) == 1 + 20 + 1
    assert lines[0] == f"The inputs do not match the model's signature ({2 * rows} problems):"
    assert lines[-1] == f"- ... and {2 * rows - 20} more."


@pytest.mark.parametrize("rows", SIZES)
def test_extra_columns_are_ignored_and_reported(rows: int) -> None:
    checked = check(InputChecker(houses()), [a_house(request_tag="x", notes=None) for _ in range(rows)])
    assert checked.extra_columns == ("request_tag", "notes")
    assert list(checked.frame_columns) == ["area", "rooms", "district", "furnished"]


@pytest.mark.parametrize("rows", SIZES)
def test_an_absent_optional_column_is_all_null(rows: int) -> None:
    signature = signature_of(
        ColumnSpec("area", "float64", nullable=False),
        ColumnSpec("garden", "float64", nullable=True, required=False),
        ColumnSpec("note", "string", nullable=True, required=False),
        ColumnSpec("view", "string", nullable=False, required=False),
    )
    with pytest.raises(InputRejected) as caught:
        InputChecker(signature).check({"area": [1.0] * rows}, rows)
    assert problems(caught.value) == [("view", None, "missing (an optional column, but it is not nullable)")]
    checked = InputChecker(signature).check({"area": [1.0] * rows, "view": ["sea"] * rows}, rows)
    assert np.isnan(checked.frame_columns["garden"]).all() and len(checked.frame_columns["garden"]) == rows
    assert checked.frame_columns["note"].tolist() == [None] * rows


@pytest.mark.parametrize("rows", SIZES)
def test_timestamps_are_read_from_iso_strings(rows: int) -> None:
    signature = signature_of(
        ColumnSpec("listed", "timestamp[us]", nullable=False),
        ColumnSpec("sold", "timestamp[us, tz=Asia/Ho_Chi_Minh]", nullable=True),
        ColumnSpec("built", "date", nullable=False),
    )
    record = {"listed": "2024-05-31T14:30:00.5", "sold": "2024-06-01T07:00:00", "built": "1999-12-31"}
    checked = check(InputChecker(signature), [record] * (rows - 1) + [{**record, "sold": "2024-06-01T00:00:00Z"}])
    columns = checked.frame_columns
    assert columns["listed"].dtype == np.dtype("datetime64[us]")
    assert str(columns["listed"][0]) == "2024-05-31T14:30:00.500000"
    # A zoned column holds UTC instants; a time without an offset is read in the column's zone (UTC+7).
    assert set(columns["sold"].astype(str).tolist()) == {"2024-06-01T00:00:00.000000"}
    assert str(columns["built"][0]) == "1999-12-31"
    offset = signature_of(ColumnSpec("sold", "timestamp[ms, tz=+07:00]", nullable=False))
    sold = InputChecker(offset).check({"sold": ["2024-06-01T07:00:00"] * rows}, rows).frame_columns["sold"]
    assert sold.dtype == np.dtype("datetime64[ms]") and str(sold[0]) == "2024-06-01T00:00:00.000"


@pytest.mark.parametrize("rows", SIZES)
@pytest.mark.parametrize(
    ("column", "value", "problem"),
    [
        ("listed", "31/05/2024", "expected timestamp[us], got '31/05/2024' (send an ISO 8601 timestamp such as "),
        ("listed", 1717165800, "expected timestamp[us], got 1717165800 (send an ISO 8601 timestamp such as "),
        ("listed", "2024-05-31T14:30:00+07:00", "expected timestamp[us], got '2024-05-31T14:30:00+07:00' (the col"),
        ("built", "1999-12-31T10:00", "expected date, got '1999-12-31T10:00' (send an ISO 8601 date such as "),
    ],
)
def test_a_timestamp_that_does_not_parse_is_refused_with_an_example(
    rows: int, column: str, value: Any, problem: str
) -> None:
    signature = signature_of(
        ColumnSpec("listed", "timestamp[us]", nullable=False), ColumnSpec("built", "date", nullable=False)
    )
    records = [{"listed": "2024-05-31T14:30:00", "built": "1999-12-31"} for _ in range(rows)]
    records[0][column] = value
    rejected = rejection(InputChecker(signature), records)
    assert [(error.column, error.row) for error in rejected.errors] == [(column, 0)]
    assert rejected.errors[0].problem.startswith(problem)


@pytest.mark.parametrize("rows", SIZES)
def test_narrow_types_keep_their_width_and_refuse_what_does_not_fit(rows: int) -> None:
    signature = signature_of(ColumnSpec("level", "uint8", nullable=False), ColumnSpec("x", "float32", nullable=False))
    checked = InputChecker(signature).check({"level": [7] * rows, "x": [0.5] * rows}, rows)
    assert checked.frame_columns["level"].dtype == np.uint8 and checked.frame_columns["x"].dtype == np.float32
    with pytest.raises(InputRejected) as caught:
        InputChecker(signature).check({"level": [300] * rows, "x": [1e39] * rows}, rows)
    assert caught.value.errors[0] == FieldError("level", 0, "expected uint8, got 300 (out of the range of uint8)")
    assert caught.value.errors[-1].problem == "expected float32, got 1e+39 (beyond the range of float32)"


@pytest.mark.parametrize("rows", SIZES)
def test_numbers_sent_for_a_text_column_become_text(rows: int) -> None:
    signature = signature_of(ColumnSpec("postcode", "string", nullable=False))
    checked = InputChecker(signature).check({"postcode": [10000] * rows}, rows)
    assert checked.frame_columns["postcode"].tolist() == ["10000"] * rows


@pytest.mark.parametrize("rows", SIZES)
def test_numpy_arrays_are_taken_as_columns(rows: int) -> None:
    signature = signature_of(
        ColumnSpec("area", "float64", nullable=False), ColumnSpec("rooms", "int32", nullable=False)
    )
    checked = InputChecker(signature).check(
        {"area": np.arange(rows, dtype=np.float32), "rooms": np.arange(rows, dtype=np.int64)}, rows
    )
    assert checked.frame_columns["area"].dtype == np.float64
    assert checked.frame_columns["rooms"].tolist() == list(range(rows))
    with pytest.raises(InputRejected) as caught:
        InputChecker(signature).check({"area": np.zeros((rows, 2)), "rooms": np.ones(rows, dtype=bool)}, rows)
    assert problems(caught.value)[0] == ("area", None, f"expected a list of values, got an array of shape {(rows, 2)}")
    assert problems(caught.value)[1] == ("rooms", 0, "expected int32, got true")
    scalars = InputChecker(signature).check({"area": [np.float32(1.5)] * rows, "rooms": [np.int8(3)] * rows}, rows)
    assert scalars.frame_columns["area"].tolist() == [1.5] * rows
    assert scalars.frame_columns["rooms"].dtype == np.int32 and scalars.frame_columns["rooms"].tolist() == [3] * rows


def test_columns_of_the_wrong_shape_are_refused() -> None:
    checker = InputChecker(houses())
    with pytest.raises(InputRejected) as caught:
        checker.check({"area": [1.0, 2.0], "rooms": 3, "district": "Ba Dinh", "furnished": None}, 2)  # type: ignore[dict-item]
    assert problems(caught.value) == [
        ("rooms", None, "expected a list of values, got 3"),
        ("district", None, "expected a list of values, got 'Ba Dinh'"),
        ("furnished", None, "expected a list of values, got null"),
    ]
    with pytest.raises(InputRejected) as caught:
        checker.check({"area": [1.0], "rooms": [1, 2], "district": ["a"], "furnished": [True]}, 1)
    assert problems(caught.value) == [("rooms", None, "expected 1 value, got 2")]
    with pytest.raises(InvalidInput, match="'rows' must be an integer >= 0; got -1"):
        checker.check({}, -1)
    with pytest.raises(InvalidInput, match="a mapping of column names to values; got list"):
        checker.check([[1.0, 2]], 1)  # type: ignore[arg-type]


def test_no_rows_give_empty_columns() -> None:
    checked = InputChecker(houses()).check({"area": [], "rooms": [], "district": [], "furnished": []}, 0)
    assert [len(array) for array in checked.frame_columns.values()] == [0, 0, 0, 0]
    assert checked.flags == []


def test_a_signature_inferred_from_pandas_checks_its_own_frame() -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(
        {
            "area": rng.uniform(20, 450, 400),
            "rooms": rng.integers(1, 8, 400),
            "district": rng.choice(["Ba Dinh", "Cau Giay", "Dong Da"], 400),
            "furnished": rng.integers(0, 2, 400).astype(bool),
            "price": rng.uniform(1, 9, 400),
        }
    )
    signature = Signature.infer(frame, target="price")
    columns = {name: frame[name].tolist() for name in signature.features}
    checked = InputChecker(signature).check(columns, len(frame))
    assert not any(checked.flags)
    for name in signature.features:
        assert checked.frame_columns[name].tolist() == frame[name].tolist()
    one = InputChecker(signature).check({name: values[:1] for name, values in columns.items()}, 1)
    assert one.flags == [[]]


def test_the_checker_takes_only_a_signature() -> None:
    with pytest.raises(InvalidInput, match="takes a Signature; got dict"):
        InputChecker({"area": "float64"})  # type: ignore[arg-type]


# Property tests ------------------------------------------------------------------------------------------------

RANGED = signature_of(
    ColumnSpec("area", "float64", nullable=False, minimum=20.0, maximum=450.0, promoted=frozenset({"range"})),
    ColumnSpec("rooms", "int64", nullable=False, minimum=1, maximum=8),
    ColumnSpec("level", "int16", nullable=True, minimum=-3, maximum=60),
    ColumnSpec("ratio", "float32", nullable=True, minimum=0.0, maximum=1.0),
    ColumnSpec("district", "string", nullable=False, categories=("Ba Dinh", "Cau Giay", "Tay Ho")),
    ColumnSpec("kind", "string", nullable=True, categories=("flat", "house"), promoted=frozenset({"categories"})),
    ColumnSpec("furnished", "bool", nullable=False),
)


def rows_within(signature: Signature) -> st.SearchStrategy[list[dict[str, Any]]]:
    """Rows whose every value lies in the signature's own ranges and categories (or is null where allowed)."""
    fields: dict[str, st.SearchStrategy[Any]] = {}
    for spec in signature.inputs.columns:
        if spec.categories is not None:
            value: st.SearchStrategy[Any] = st.sampled_from(spec.categories)
        elif spec.dtype == "bool":
            value = st.booleans()
        elif spec.dtype.startswith("float"):
            value = st.floats(spec.minimum, spec.maximum, width=32 if spec.dtype == "float32" else 64)
            value = value | st.integers(math.ceil(spec.minimum or 0), math.floor(spec.maximum or 0))
        else:
            value = st.integers(int(spec.minimum or 0), int(spec.maximum or 0))
        fields[spec.name] = st.none() | value if spec.nullable else value
    return st.lists(st.fixed_dictionaries(fields), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(rows_within(RANGED))
def test_rows_built_from_the_signature_pass_without_flags(records: list[dict[str, Any]]) -> None:
    checked = check(InputChecker(RANGED), records)
    assert checked.flags == [[] for _ in records]
    for name, array in checked.frame_columns.items():
        assert len(array) == len(records), name


ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-10, 100),
    st.integers(-(2**70), 2**70),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from(["Ba Dinh", "Tay Ho", "flat", "villa", "12", "abc", ""]),
)


TYPED_VALUE = {
    # Values of each column's own type, in range or not, missing or not: what the vectorised paths take.
    "area": st.none() | st.floats() | st.integers(0, 500),
    "rooms": st.integers(-2, 10),
    "level": st.integers(-5, 70),
    "ratio": st.none() | st.floats(-1.0, 2.0) | st.just(1e39),
    "district": st.sampled_from(["Ba Dinh", "Cau Giay", "Tay Ho", "Hoan Kiem"]),
    "kind": st.none() | st.sampled_from(["flat", "house", "villa"]),
    "furnished": st.booleans(),
}


@settings(max_examples=100, deadline=None)
@given(
    st.lists(st.fixed_dictionaries({spec.name: ANY_VALUE for spec in RANGED.inputs.columns}), min_size=2, max_size=40)
    | st.lists(st.fixed_dictionaries(TYPED_VALUE), min_size=2, max_size=40)
)
def test_a_batch_is_judged_exactly_as_its_rows_one_by_one(records: list[dict[str, Any]]) -> None:
    """The vectorised and per-value paths agree: same problems, same flags, same values."""
    checker = InputChecker(RANGED)
    row_problems: list[tuple[str, int | None, str]] = []
    row_flags: list[list[str]] = []
    row_columns: list[dict[str, np.ndarray]] = []
    for row, record in enumerate(records):
        try:
            one = check(checker, [record])
        except InputRejected as rejected:
            row_problems += [(error.column, row, error.problem) for error in rejected.errors]
        else:
            row_flags += one.flags
            row_columns.append(one.frame_columns)
    order = {name: index for index, name in enumerate(RANGED.features)}
    row_problems.sort(key=lambda problem: (order[problem[0]], problem[1]))
    for copies in (1, 10):  # a few rows (the per-value loop), then enough for the vectorised path
        try:
            checked = check(checker, records * copies)
        except InputRejected as rejected:
            assert rejected.error_count == len(row_problems) * copies
            kept = {(column, (row or 0) % len(records), problem) for column, row, problem in problems(rejected)}
            assert kept == set(row_problems) or len(rejected.errors) == MAX_ERRORS
        else:
            assert not row_problems
            assert checked.flags == row_flags * copies
            for name, array in checked.frame_columns.items():
                expected = np.concatenate([columns[name] for columns in row_columns] * copies)
                assert array.dtype == expected.dtype, name
                assert array.astype(str).tolist() == expected.astype(str).tolist(), name
