"""Data schemas: inference from a sample, editing, YAML round trips, and clear errors for malformed schemas."""

from __future__ import annotations

import datetime as dt

import pyarrow as pa
import pytest

from driftloop.data.validation import ColumnSpec, CustomCheck, DataSchema
from driftloop.errors import InvalidInput


@pytest.fixture
def houses() -> pa.Table:
    """200 houses: an id, a few districts, prices, areas with gaps, and free-text notes."""
    rows = 200
    return pa.table(
        {
            "id": pa.array(range(1000, 1000 + rows), pa.int64()),
            "district": [("Ba Dinh", "Cau Giay", "Dong Da", "Hoan Kiem")[i % 4] for i in range(rows)],
            "price": [1.5 + 0.25 * i for i in range(rows)],
            "area": [None if i % 10 == 0 else 30 + i for i in range(rows)],
            "bedrooms": pa.array([1 + i % 5 for i in range(rows)], pa.int32()),
            "note": [f"house number {i}" for i in range(rows)],
            "has_garage": [i % 2 == 0 for i in range(rows)],
            "listed": [dt.date(2024, 1, 1) + dt.timedelta(days=i) for i in range(rows)],
            "_source_row": pa.array(range(1, rows + 1), pa.int64()),
        }
    )


def test_inference_reads_types_nullability_and_expectations(houses: pa.Table) -> None:
    schema = DataSchema.infer(houses)

    assert schema.names == ("id", "district", "price", "area", "bedrooms", "note", "has_garage", "listed")
    by_name = {column.name: column for column in schema.columns}
    assert by_name["id"] == ColumnSpec("id", "int64", nullable=False, minimum=1000, maximum=1199, unique=True)
    assert by_name["district"] == ColumnSpec(
        "district", "string", nullable=False, categories=("Ba Dinh", "Cau Giay", "Dong Da", "Hoan Kiem")
    )
    assert by_name["price"] == ColumnSpec("price", "float64", nullable=False, minimum=1.5, maximum=51.25)
    assert by_name["area"] == ColumnSpec("area", "int64", nullable=True, minimum=31, maximum=229)
    # Five distinct values in 200 rows is few, but bedrooms is numeric: it gets a range, not categories.
    assert by_name["bedrooms"] == ColumnSpec("bedrooms", "int32", nullable=False, minimum=1, maximum=5)
    # 200 distinct texts: unique, and far too many to be categories.
    assert by_name["note"] == ColumnSpec("note", "string", nullable=False, unique=True)
    assert by_name["has_garage"] == ColumnSpec("has_garage", "bool", nullable=False)
    assert by_name["listed"] == ColumnSpec("listed", "date", nullable=False)
    assert all(not column.promoted and column.required for column in schema.columns)


def test_inference_category_threshold_is_five_percent_of_rows() -> None:
    # 3 distinct values need at least 60 rows to be at most 5% of them.
    assert DataSchema.infer(pa.table({"c": ["a", "b", "c"] * 20})).column("c").categories == ("a", "b", "c")
    assert DataSchema.infer(pa.table({"c": ["a", "b", "c"] * 19 + ["a"]})).column("c").categories is None


def test_inference_of_odd_types_and_empty_samples() -> None:
    sample = pa.table(
        {
            "when": pa.array([0, 1], pa.timestamp("s", tz="UTC")),
            "small": pa.array([1.0, 2.0], pa.float16()),
            "kind": pa.array(["x", "y"]).dictionary_encode(),
            "nothing": pa.array([None, None], pa.null()),
        }
    )
    columns = {column.name: column.dtype for column in DataSchema.infer(sample).columns}
    assert columns == {"when": "timestamp[ms, tz=UTC]", "small": "float32", "kind": "string", "nothing": "string"}
    empty = DataSchema.infer(pa.table({"a": pa.array([], pa.int64())}))
    assert empty.column("a") == ColumnSpec("a", "int64", nullable=True)


def test_inference_rejects_unsupported_types() -> None:
    with pytest.raises(InvalidInput, match=r"Column 'tags' has the Arrow type list<item: int64>"):
        DataSchema.infer(pa.table({"tags": [[1], [2]]}))
    with pytest.raises(InvalidInput, match="from a pyarrow Table; got dict"):
        DataSchema.infer({"a": [1]})  # type: ignore[arg-type]


def test_yaml_round_trip_and_a_user_edit(houses: pa.Table) -> None:
    schema = DataSchema.infer(houses).with_check(
        CustomCheck(name="sane_price", expression="price > 0 AND area < 10000", kind="rule", column="price")
    )
    text = schema.to_yaml()
    assert DataSchema.from_yaml(text) == schema
    assert DataSchema.from_yaml(text).fingerprint == schema.fingerprint

    # The user widens the price range and makes it a rule, by editing the YAML.
    edited = text.replace("maximum: 51.25\n  categories: null\n  unique: false\n  promoted: []", "X", 1)
    edited = edited.replace("X", "maximum: 80.0\n  categories: null\n  unique: false\n  promoted: [range]")
    changed = DataSchema.from_yaml(edited)
    assert changed.column("price") == ColumnSpec(
        "price", "float64", nullable=False, minimum=1.5, maximum=80.0, promoted=frozenset({"range"})
    )
    assert changed.fingerprint != schema.fingerprint
    assert changed == DataSchema.from_dict(changed.to_dict())


def test_promote_and_demote(houses: pa.Table) -> None:
    schema = DataSchema.infer(houses)
    promoted = schema.promote("district", "categories").promote("id", "unique")
    assert promoted.column("district").promoted == {"categories"}
    assert promoted.column("id").enforces("unique")
    assert promoted.demote("id", "unique").column("id").promoted == frozenset()
    assert schema.column("id").promoted == frozenset()  # schemas never change in place

    with pytest.raises(InvalidInput, match="Column 'note' promotes 'range' to a rule but has no range expectation"):
        schema.promote("note", "range")
    with pytest.raises(InvalidInput, match="Unknown expectation 'ranges'; expected one of range, categories, unique"):
        schema.promote("price", "ranges")
    with pytest.raises(InvalidInput, match="The schema has no column 'prize'; its columns are id, district"):
        schema.promote("prize", "range")


def test_fingerprint_is_stable_and_content_addressed() -> None:
    schema = DataSchema((ColumnSpec("a", "int64", nullable=False, minimum=0),))
    assert schema.fingerprint == DataSchema((ColumnSpec("a", "int64", nullable=False, minimum=0),)).fingerprint
    assert len(schema.fingerprint) == 64
    assert schema.fingerprint != DataSchema((ColumnSpec("a", "int64", nullable=True, minimum=0),)).fingerprint


def test_arrow_schema_of_validated_batches() -> None:
    schema = DataSchema((ColumnSpec("s", "string", nullable=True), ColumnSpec("t", "timestamp[us]", nullable=True)))
    assert schema.arrow_schema() == pa.schema(
        [("s", pa.large_string()), ("t", pa.timestamp("us")), ("_source_row", pa.int64())]
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("columns: [", r"The schema is not valid YAML at line 1, column 11"),
        ("- a\n- b\n", r"Invalid schema at its top level: expected a mapping with keys format, columns, checks"),
        ("colums: []\n", r"Invalid schema at 'colums': unknown key; expected one of format, columns, checks"),
        ("format: 2\ncolumns: []\n", r"Invalid schema at 'format': this driftloop reads schema format 1; got 2"),
        ("checks: []\n", r"Invalid schema at 'columns': missing"),
        ("columns: []\n", r"Invalid schema at 'columns': empty; list the columns of the data"),
        ("columns: {a: 1}\n", r"Invalid schema at 'columns': expected a list; got dict"),
        ("columns:\n- {name: a}\n", r"Invalid schema at 'columns\[0\].dtype': missing"),
        (
            "columns:\n- {name: a, dtype: int64, minimun: 0}\n",
            r"Invalid schema at 'columns\[0\].minimun': unknown key; expected one of name, dtype, nullable",
        ),
        ("columns:\n- {name: a, dtype: int}\n", r"Invalid schema at 'columns\[0\].dtype': Unknown column type 'int'"),
        (
            "columns:\n- {name: a, dtype: 'timestamp[us, tz=Mars/Olympus]'}\n",
            r"Invalid schema at 'columns\[0\].dtype': Unknown time zone 'Mars/Olympus'",
        ),
        (
            "columns:\n- {name: a, dtype: int64, nullable: maybe}\n",
            r"Invalid schema at 'columns\[0\].nullable': expected true or false; got str 'maybe'",
        ),
        (
            "columns:\n- {name: a, dtype: int64, minimum: '1e3'}\n",
            r"Invalid schema at 'columns\[0\].minimum': expected a number or null; got str '1e3'",
        ),
        (
            "columns:\n- {name: a, dtype: int64, minimum: 5, maximum: 1}\n",
            r"Invalid schema at 'columns\[0\]': Column 'a' has a minimum \(5\) above its maximum \(1\)",
        ),
        (
            "columns:\n- {name: a, dtype: string, minimum: 1}\n",
            r"Invalid schema at 'columns\[0\]': Column 'a' has the type string; a minimum applies to numeric",
        ),
        (
            "columns:\n- {name: a, dtype: int64, categories: [1, 2]}\n",
            r"Invalid schema at 'columns\[0\].categories\[0\]': expected a string \(quote numbers in YAML\); got int 1",
        ),
        (
            "columns:\n- {name: a, dtype: int64, promoted: [unique]}\n",
            r"Invalid schema at 'columns\[0\]': Column 'a' promotes 'unique' to a rule but has no unique expectation",
        ),
        (
            "columns:\n- {name: a, dtype: int64, promoted: [shape]}\n",
            r"Invalid schema at 'columns\[0\]': Column 'a' promotes 'shape'; expected some of range, categories",
        ),
        (
            "columns:\n- {name: a, dtype: int64}\n- {name: a, dtype: string}\n",
            r"Invalid schema at 'columns\[1\].name': the column 'a' is listed twice",
        ),
        (
            "columns:\n- {name: _source_row, dtype: int64}\n",
            r"Invalid schema at 'columns\[0\]': The column name '_source_row' is reserved",
        ),
        (
            "columns:\n- {name: a, dtype: int64}\nchecks:\n- {name: c, expression: 'a >', kind: rule}\n",
            r"Invalid schema at 'checks\[0\]': The expression of check 'c' is not valid SQL: 'a >'",
        ),
        (
            "columns:\n- {name: a, dtype: int64}\nchecks:\n- {name: c, expression: 'b > 1', kind: rule}\n",
            r"Invalid schema at 'checks\[0\]': Check 'c' cannot run on the schema's columns: 'b > 1'",
        ),
        (
            "columns:\n- {name: a, dtype: int64}\nchecks:\n- {name: c, expression: 'a + 1', kind: rule}\n",
            r"Invalid schema at 'checks\[0\]': Check 'c' must be a boolean condition",
        ),
        (
            "columns:\n- {name: a, dtype: int64}\nchecks:\n- {name: c, expression: 'AVG(a) > 1', kind: rule}\n",
            r"Invalid schema at 'checks\[0\]': Check 'c' must test each row on its own",
        ),
        (
            "columns:\n- {name: a, dtype: int64}\nchecks:\n- {name: c, expression: 'a > 1', kind: must}\n",
            r"Invalid schema at 'checks\[0\].kind': expected 'rule' or 'expectation'; got 'must'",
        ),
        (
            "columns:\n- {name: a, dtype: int64}\nchecks:\n- {name: c, expression: 'a > 1', kind: rule, column: z}\n",
            r"Invalid schema at 'checks\[0\]': Check 'c' is about column 'z', which the schema does not have",
        ),
        (
            "columns:\n- {name: a, dtype: int64}\nchecks:\n- {name: c, expression: 'a > 1', kind: rule, when: x}\n",
            r"Invalid schema at 'checks\[0\].when': unknown key; expected one of name, column, expression, kind",
        ),
        (
            "columns:\n- {name: a, dtype: int64}\nchecks:\n- {name: c, expression: 'a > 1', kind: rule}\n"
            "- {name: c, expression: 'a < 9', kind: rule}\n",
            r"Invalid schema at 'checks\[1\].name': the check 'c' is listed twice",
        ),
    ],
)
def test_malformed_schema_yaml_names_the_key_path(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        DataSchema.from_yaml(text)


def test_minimal_yaml_fills_defaults() -> None:
    schema = DataSchema.from_yaml("columns:\n- name: price\n  dtype: float64\n")
    assert schema.column("price") == ColumnSpec("price", "float64", nullable=True)
    assert schema.custom_checks == ()


def test_programmatic_construction_errors() -> None:
    with pytest.raises(InvalidInput, match="A schema needs at least one column"):
        DataSchema(())
    with pytest.raises(InvalidInput, match="The schema lists the column 'a' twice"):
        DataSchema((ColumnSpec("a", "int64", nullable=True), ColumnSpec("a", "int64", nullable=True)))
    with pytest.raises(InvalidInput, match="The schema has two checks named 'c'"):
        DataSchema(
            (ColumnSpec("a", "int64", nullable=True),),
            (CustomCheck(name="c", expression="a > 0", kind="rule"),) * 2,
        )
    with pytest.raises(InvalidInput, match="The minimum of column 'a' must be a finite number; got nan"):
        ColumnSpec("a", "float64", nullable=True, minimum=float("nan"))
    with pytest.raises(InvalidInput, match="The categories of column 'a' list 'x' twice"):
        ColumnSpec("a", "string", nullable=True, categories=("x", "x"))
    with pytest.raises(InvalidInput, match="Column 'a' has an empty category list; use null to expect any value"):
        ColumnSpec("a", "string", nullable=True, categories=())
    with pytest.raises(InvalidInput, match="The kind of check 'c' must be 'rule' or 'expectation'; got 'strict'"):
        CustomCheck(name="c", expression="a > 0", kind="strict")  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="'nullable' of column 'a' must be true or false; got 'no'"):
        ColumnSpec("a", "int64", nullable="no")  # type: ignore[arg-type]


def test_column_spec_normalises_sequences() -> None:
    spec = ColumnSpec("c", "string", nullable=True, categories=["b", "a"], promoted={"categories"})  # type: ignore[arg-type]
    assert spec.categories == ("b", "a")
    assert spec.promoted == frozenset({"categories"})
