"""Rules: each failing in reject mode (a precise message) and in quarantine mode (good rows kept, bad ones traced)."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from driftloop.data.validation import ColumnSpec, CustomCheck, DataSchema, Validator
from driftloop.errors import InvalidData, InvalidInput, InvalidState

SCHEMA = DataSchema(
    (
        ColumnSpec("id", "int64", nullable=False, unique=True, promoted=frozenset({"unique"})),
        ColumnSpec("district", "string", nullable=False, categories=("north", "south"), promoted={"categories"}),  # type: ignore[arg-type]
        ColumnSpec("price", "float64", nullable=True, minimum=0.0, maximum=1000.0, promoted=frozenset({"range"})),
        ColumnSpec("area", "int32", nullable=True),
    ),
    (CustomCheck(name="price_per_area", expression="price / area < 50", kind="rule"),),
)


def batch(rows: list[tuple[object, ...]], *, first_row: int = 1, **extra: list[object]) -> pa.Table:
    """A batch as a CSV reader without type inference would give it: every value as text."""
    columns = list(zip(*rows, strict=True)) if rows else [(), (), (), ()]
    data: dict[str, object] = {
        name: pa.array([None if value is None else str(value) for value in values], pa.string())
        for name, values in zip(SCHEMA.names, columns, strict=True)
    }
    data.update(extra)
    data["_source_row"] = pa.array(range(first_row, first_row + len(rows)), pa.int64())
    return pa.table(data)


GOOD = [(1, "north", 100.5, 30), (2, "south", 200, 40), (3, "north", None, None)]


def test_a_conforming_batch_passes_cast_to_the_schema_types() -> None:
    checked = Validator(SCHEMA, source="houses.csv").check(batch(GOOD, first_row=10, extra=[1, 2, 3]))
    assert checked.good.schema == SCHEMA.arrow_schema()
    assert checked.good.to_pydict() == {
        "id": [1, 2, 3],
        "district": ["north", "south", "north"],
        "price": [100.5, 200.0, None],
        "area": [30, 40, None],
        "_source_row": [10, 11, 12],
    }
    assert checked.quarantined.num_rows == 0
    assert checked.quarantined.column_names == ["id", "district", "price", "area", "_source_row", "_reasons"]
    assert checked.flagged_rows == 0


@pytest.mark.parametrize(
    ("bad_row", "message"),
    [
        (
            (4, "north", "abc", 50),
            r"^Source 'houses.csv' breaks its schema: 1 row breaks the rule 'type float64' of column 'price' "
            r"\(source row 5; first value 'abc'\)\. Fix the data",
        ),
        (
            ("4.0", "north", 1, 50),
            r"1 row breaks the rule 'type int64' of column 'id' \(source row 5; first value '4.0'\)",
        ),
        (
            (4, "north", 1, 2**40),
            r"1 row breaks the rule 'type int32' of column 'area' \(source row 5; first value '1099511627776'\)",
        ),
        ((4, None, 1, 50), r"1 row breaks the rule 'not nullable' of column 'district' \(source row 5\)\."),
        (
            (4, "north", -3, 50),
            r"1 row breaks the rule 'minimum 0.0' of column 'price' \(source row 5; first value '-3.0'\)",
        ),
        (
            (4, "north", 5000, 500),
            r"1 row breaks the rule 'maximum 1000.0' of column 'price' \(source row 5; first value '5000.0'\)",
        ),
        (
            (4, "west", 1, 50),
            r"1 row breaks the rule 'categories' of column 'district' \(source row 5; first value 'west'\)",
        ),
        ((2, "north", 1, 50), r"1 row breaks the rule 'unique' of column 'id' \(source row 5; first value '2'\)"),
        (
            (4, "north", 900, 2),
            r"1 row breaks the check 'price_per_area' \(price / area < 50\) \(source row 5\)\.",
        ),
    ],
    ids=["type", "int-strict", "int-overflow", "nullable", "minimum", "maximum", "categories", "unique", "check"],
)
def test_each_rule_rejects_the_batch_naming_column_and_source_rows(bad_row: tuple[object, ...], message: str) -> None:
    validator = Validator(SCHEMA, source="houses.csv")
    with pytest.raises(InvalidData, match=message) as caught:
        validator.check(batch([*GOOD, bad_row], first_row=2))
    assert caught.value.source == "houses.csv"
    assert caught.value.row == 5


def test_rejection_lists_counts_rows_and_several_rules() -> None:
    rows = [(i, "north" if i % 3 else "west", -i if i % 2 else i, 1000) for i in range(1, 13)]
    with pytest.raises(InvalidData) as caught:
        Validator(SCHEMA, source="houses.csv").check(batch(rows, first_row=101))
    message = str(caught.value)
    assert "6 rows break the rule 'minimum 0.0' of column 'price' (source rows 101, 103, 105, 107, 109, …; " in message
    assert "4 rows break the rule 'categories' of column 'district' (source rows 103, 106, 109, 112; " in message
    assert (caught.value.column, caught.value.row) == ("district", 103)  # the first rule in schema order


def test_quarantine_keeps_good_rows_and_traces_bad_ones() -> None:
    validator = Validator(SCHEMA, on_rule_failure="quarantine", source="houses.csv")
    rows = [
        *GOOD,
        (4, "north", "abc", 50),
        ("x", None, -1, 50),
        (5, "west", 10, 20),
        (2, "south", 7, 70),
        (6, "south", 900, 2),
        (7, "south", 1, 3),
    ]
    checked = validator.check(batch(rows, first_row=1))
    assert checked.good.column("_source_row").to_pylist() == [1, 2, 3, 9]
    assert checked.good.column("id").to_pylist() == [1, 2, 3, 7]
    quarantined = checked.quarantined.to_pylist()
    assert [row["_source_row"] for row in quarantined] == [4, 5, 6, 7, 8]
    assert quarantined[0] == {
        "id": "4",
        "district": "north",
        "price": "abc",
        "area": "50",
        "_source_row": 4,
        "_reasons": "column price: 'abc' is not a valid float64",
    }
    assert quarantined[1]["_reasons"] == (
        "column id: 'x' is not a valid int64; column district: missing value (the column is not nullable); "
        "column price: -1.0 is below the minimum 0.0"
    )
    assert quarantined[2]["_reasons"] == "column district: 'west' is not one of the expected categories"
    assert quarantined[3]["_reasons"] == "column id: 2 repeats an earlier row's value"
    assert quarantined[4]["_reasons"] == "check price_per_area failed (price / area < 50)"
    assert checked.quarantined.schema.field("price").type == pa.large_string()
    report = validator.finish()
    assert (report.rows, report.rows_quarantined) == (9, 5)


def test_missing_required_column_fails_in_both_modes() -> None:
    table = batch(GOOD).drop(["price", "district"])
    for mode in ("reject", "quarantine"):
        with pytest.raises(InvalidData, match=r"^Source 'h.csv': the required columns 'district', 'price' are missing"):
            Validator(SCHEMA, on_rule_failure=mode, source="h.csv").check(table)  # type: ignore[arg-type]
    with pytest.raises(InvalidData, match=r"^The batch: the required column 'price' is missing") as caught:
        Validator(SCHEMA).check(batch(GOOD).drop(["price"]))
    assert caught.value.column == "price"


def test_optional_columns_may_be_absent_and_extra_columns_are_reported() -> None:
    schema = DataSchema(
        (ColumnSpec("a", "int64", nullable=False), ColumnSpec("b", "string", nullable=True, required=False))
    )
    validator = Validator(schema)
    checked = validator.check(pa.table({"a": [1, 2], "z": ["x", "y"]}))
    assert checked.good.to_pydict() == {"a": [1, 2], "b": [None, None], "_source_row": [1, 2]}
    report = validator.finish()
    assert report.extra_columns == ("z",)
    assert report.column("b").missing == 2


def test_rows_are_numbered_from_one_when_the_batch_has_no_source_row() -> None:
    schema = DataSchema((ColumnSpec("a", "int64", nullable=False),))
    validator = Validator(schema, on_rule_failure="quarantine")
    validator.check(pa.table({"a": ["1", "2"]}))
    checked = validator.check(pa.record_batch({"a": ["3", "x"]}))
    assert checked.good.column("_source_row").to_pylist() == [3]
    assert checked.quarantined.column("_source_row").to_pylist() == [4]


@pytest.mark.parametrize(
    ("dtype", "values", "good", "errors"),
    [
        ("int64", ["1", "-0", "+3", " 2", "1.0", "1e3", "", "NA"], [1, 0, 3, None, None], 3),
        ("uint8", pa.array([1, 255, 256, -1], pa.int64()), [1, 255], 2),
        ("int64", pa.array([1.0, 2.5, float("nan"), None], pa.float64()), [1, None], 2),
        ("float64", ["1.5", "1e3", "inf", "1,5", "nan"], [1.5, 1000.0, float("inf"), None], 1),
        ("bool", ["true", "FALSE", "1", "0", "yes"], [True, False, True, False], 1),
        ("date", ["2024-02-29", "2023-02-29", "29/02/2024"], [dt.date(2024, 2, 29)], 2),
        (
            "timestamp[us]",
            ["2024-01-02T03:04:05.5", "2024-01-02 03:04", "2024-01-02", "2024-01-02T03:04:05Z", "soon"],
            [dt.datetime(2024, 1, 2, 3, 4, 5, 500000), dt.datetime(2024, 1, 2, 3, 4), dt.datetime(2024, 1, 2)],
            2,
        ),
        (
            "timestamp[us, tz=UTC]",
            ["2024-01-02T03:04:05+02:00", "2024-01-02 03:04:05"],
            [
                dt.datetime(2024, 1, 2, 1, 4, 5, tzinfo=dt.UTC),
                dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.UTC),
            ],
            0,
        ),
        (
            "date",
            pa.array([dt.datetime(2024, 1, 1), dt.datetime(2024, 1, 1, 12)], pa.timestamp("us")),
            [dt.date(2024, 1, 1)],
            1,
        ),
        ("string", pa.array([1, None, 3]), ["1", None, "3"], 0),
        ("int64", pa.array([[1], [2]]), [], 2),
    ],
    ids=[
        "int",
        "uint8",
        "float-to-int",
        "float",
        "bool",
        "date",
        "timestamp",
        "timestamp-tz",
        "lossy-date",
        "text",
        "list",
    ],
)
def test_casts_are_strict_and_lossless(dtype: str, values: object, good: list[object], errors: int) -> None:
    schema = DataSchema((ColumnSpec("v", dtype, nullable=True),))
    validator = Validator(schema, on_rule_failure="quarantine")
    checked = validator.check(pa.table({"v": values}))
    assert checked.good.schema.field("v").type == schema.arrow_schema().field("v").type
    kept = checked.good.column("v").to_pylist()
    assert [value for value in kept if value == value] == [value for value in good if value == value]  # NaN-blind
    assert checked.quarantined.num_rows == errors
    assert validator.finish().column("v").type_errors == errors


def test_null_markers_count_as_missing_not_as_type_errors() -> None:
    schema = DataSchema((ColumnSpec("v", "int64", nullable=False),))
    with pytest.raises(InvalidData, match=r"1 row breaks the rule 'not nullable' of column 'v' \(source row 2\)"):
        Validator(schema).check(pa.table({"v": ["1", "NA"]}))


def test_bad_arguments() -> None:
    with pytest.raises(InvalidInput, match="on_rule_failure must be 'reject' or 'quarantine'; got 'drop'"):
        Validator(SCHEMA, on_rule_failure="drop")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="A Validator needs a DataSchema; got dict"):
        Validator({})  # type: ignore[arg-type]
    validator = Validator(SCHEMA)
    with pytest.raises(InvalidInput, match="A batch must be a pyarrow Table or RecordBatch; got list"):
        validator.check([])  # type: ignore[arg-type]
    with pytest.raises(InvalidData, match="the column 'id' appears twice"):
        validator.check(pa.Table.from_arrays([pa.array([1]), pa.array([2])], names=["id", "id"]))
    with pytest.raises(InvalidData, match="_source_row must hold integers; got string"):
        validator.check(batch(GOOD).set_column(4, "_source_row", pa.array(["a", "b", "c"])))
    validator.finish()
    with pytest.raises(InvalidState, match="This validator has finished"):
        validator.check(batch(GOOD))


def test_a_check_that_fails_at_run_time_names_itself() -> None:
    schema = DataSchema(
        (ColumnSpec("a", "string", nullable=True),),
        (CustomCheck(name="as_number", expression="CAST(a AS INTEGER) > 0", kind="expectation"),),
    )
    with pytest.raises(
        InvalidData, match=r"^Source 's': the check 'as_number' \(CAST\(a AS INTEGER\) > 0\) could not run"
    ):
        Validator(schema, source="s").check(pa.table({"a": ["1", "x"]}))
