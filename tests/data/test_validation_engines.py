"""The native engine finds exactly the failures pandera's model of the same schema finds; pandera runs the
custom checks and is the schema's model (rules fail, expectations warn)."""

from __future__ import annotations

import math
import subprocess
import sys

import polars as pl
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pandera.errors import SchemaErrors, SchemaWarning

from driftloop.data.validation import ColumnSpec, CustomCheck, DataSchema, Validator
from driftloop.data.validation._rules import RuleBook

EVERYTHING_PROMOTED = DataSchema(
    (
        ColumnSpec("price", "float64", nullable=False, minimum=0.0, maximum=100.0, promoted=frozenset({"range"})),
        ColumnSpec("rooms", "int64", nullable=True, minimum=1, maximum=9, promoted=frozenset({"range"})),
        ColumnSpec("district", "string", nullable=False, categories=("a", "b"), promoted=frozenset({"categories"})),
        ColumnSpec("area", "float32", nullable=True, minimum=-5.0, promoted=frozenset({"range"})),
    )
)
PANDERA_CHECK_LABELS = {"not_nullable": "not nullable"}


def native_failures(schema: DataSchema, frame: pl.DataFrame) -> set[tuple[int, str, str]]:
    rules = RuleBook(schema)
    found = rules.run(frame, "test")
    return {
        (row, str(rules.rules[ordinal].column), rules.rules[ordinal].label)
        for row, ordinal in zip(found["row"].to_list(), found["ordinal"].to_list(), strict=True)
    }


def pandera_failures(schema: DataSchema, frame: pl.DataFrame) -> set[tuple[int, str, str]]:
    try:
        schema.to_pandera().validate(frame, lazy=True)
    except SchemaErrors as errors:
        cases = errors.failure_cases
        return {
            (int(index), str(column), PANDERA_CHECK_LABELS.get(check, check))
            for index, column, check in cases.select("index", "column", "check").iter_rows()
        }
    return set()


def test_both_engines_find_the_same_failures_on_awkward_values() -> None:
    frame = pl.DataFrame(
        {
            "price": [1.0, -1.0, 150.0, None, math.nan, math.inf, -math.inf, 100.0, 0.0],
            "rooms": [1, 0, 10, None, 5, 9, None, 3, 4],
            "district": ["a", "c", None, "b", "", "a", "A", "b", "a"],
            "area": pl.Series([1.0, -6.0, None, math.nan, -5.0, 3.0, -math.inf, 2.0, 0.0], dtype=pl.Float32),
        }
    )
    native = native_failures(EVERYTHING_PROMOTED, frame)
    assert native == pandera_failures(EVERYTHING_PROMOTED, frame)
    # Spelled out, so that agreeing on nothing would not pass: NaN is missing where nulls are not allowed, a
    # NaN compares above every bound (polars' total order), and a missing value passes every check.
    assert native == {
        (1, "price", "minimum 0.0"),
        (2, "price", "maximum 100.0"),
        (3, "price", "not nullable"),
        (4, "price", "not nullable"),
        (4, "price", "maximum 100.0"),
        (5, "price", "maximum 100.0"),
        (6, "price", "minimum 0.0"),
        (1, "rooms", "minimum 1"),
        (2, "rooms", "maximum 9"),
        (1, "district", "categories"),
        (2, "district", "not nullable"),
        (4, "district", "categories"),
        (6, "district", "categories"),
        (1, "area", "minimum -5.0"),
        (6, "area", "minimum -5.0"),
    }


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=64)),
            st.one_of(st.none(), st.integers(-20, 20)),
            st.one_of(st.none(), st.sampled_from(["a", "b", "c", ""])),
            st.one_of(st.none(), st.floats(allow_nan=True, allow_infinity=True, width=32)),
        ),
        min_size=1,
        max_size=30,
    )
)
def test_both_engines_agree_on_any_batch(rows: list[tuple[float | None, int | None, str | None, float | None]]) -> None:
    price, rooms, district, area = zip(*rows, strict=True)
    frame = pl.DataFrame(
        {
            "price": pl.Series(price, dtype=pl.Float64),
            "rooms": pl.Series(rooms, dtype=pl.Int64),
            "district": pl.Series(district, dtype=pl.String),
            "area": pl.Series(area, dtype=pl.Float32),
        }
    )
    assert native_failures(EVERYTHING_PROMOTED, frame) == pandera_failures(EVERYTHING_PROMOTED, frame)


def test_the_pandera_model_warns_on_expectations_and_fails_on_rules() -> None:
    schema = DataSchema(
        (
            ColumnSpec("id", "int64", nullable=False, unique=True),
            ColumnSpec("price", "float64", nullable=True, minimum=0.0),
        ),
        (
            CustomCheck(name="cheap", expression="price < 50", kind="expectation"),
            CustomCheck(name="positive_id", expression="id > 0", kind="rule"),
        ),
    )
    model = schema.to_pandera()
    assert [check.name for check in model.columns["id"].checks] == ["unique"]
    assert [(check.name, check.raise_warning) for check in model.checks] == [("cheap", True), ("positive_id", False)]
    with pytest.warns(SchemaWarning):
        assert model.validate(pl.DataFrame({"id": [1, 1], "price": [-1.0, 70.0]})).height == 2
    with pytest.raises(SchemaErrors, match="positive_id"):
        model.validate(pl.DataFrame({"id": [0, 2], "price": [1.0, 2.0]}), lazy=True)


def test_a_schema_without_custom_checks_validates_without_importing_pandera() -> None:
    script = (
        "import sys, pyarrow as pa\n"
        "from driftloop.data.validation import DataSchema, Validator\n"
        "schema = DataSchema.infer(pa.table({'a': [1, 2, 3]})).promote('a', 'range')\n"
        "checked = Validator(schema, on_rule_failure='quarantine').check(pa.table({'a': [2, 9]}))\n"
        "assert checked.quarantined.num_rows == 1\n"
        "print('pandera' in sys.modules)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"


def test_a_polars_frame_validates_as_the_same_arrow_table_does() -> None:
    schema = DataSchema(
        (
            ColumnSpec("id", "int64", nullable=False, unique=True, promoted=frozenset({"unique"})),
            ColumnSpec("price", "float64", nullable=True, maximum=10.0),
        ),
        (CustomCheck(name="small_id", expression="id < 100", kind="rule"),),
    )
    table = pa.table({"id": [1, 2, 2, 500], "price": ["1.5", "x", "3", "99"], "_source_row": [11, 12, 13, 14]})
    from_arrow = Validator(schema, on_rule_failure="quarantine").check(table)
    frame = pl.from_arrow(table)
    assert isinstance(frame, pl.DataFrame)
    from_polars = Validator(schema, on_rule_failure="quarantine").check(frame)
    assert from_polars.good.equals(from_arrow.good)
    assert from_polars.quarantined.equals(from_arrow.quarantined)
    # Row 12 breaks its type, so row 13's id is its first kept occurrence; row 14 breaks the check.
    assert from_arrow.quarantined.column("_source_row").to_pylist() == [12, 14]
