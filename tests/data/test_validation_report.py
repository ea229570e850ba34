"""Expectations flag rows without failing them; the quality report counts exactly; uniqueness spans batches."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.data.validation import (
    CheckQuality,
    ColumnQuality,
    ColumnSpec,
    CustomCheck,
    DataSchema,
    QualityReport,
    Validator,
)
from driftloop.data.validation._hashset import HashSet
from driftloop.errors import InvalidData, InvalidInput

SCHEMA = DataSchema(
    (
        ColumnSpec("id", "int64", nullable=False, unique=True),
        ColumnSpec("district", "string", nullable=True, categories=("a", "b")),
        ColumnSpec("price", "float64", nullable=True, minimum=0.0, maximum=100.0),
        ColumnSpec("area", "int64", nullable=False, minimum=10, promoted=frozenset({"range"})),
    ),
    (
        CustomCheck(name="cheap", expression="price < 50", kind="expectation", column="price"),
        CustomCheck(name="big", expression="area < 1000", kind="rule"),
    ),
)


def test_report_numbers_are_exact_on_a_hand_made_table() -> None:
    validator = Validator(SCHEMA, on_rule_failure="quarantine", source="hand.csv")
    first = validator.check(
        pa.table(
            {
                "id": [1, 2, 2, 4, 5],
                "district": ["a", "c", "a", None, "d"],
                "price": [10.0, 60.0, 150.0, None, -1.0],
                "area": ["20", "30", "40", "5", "x"],  # row 4 breaks the promoted minimum, row 5 its type
                "_source_row": [1, 2, 3, 4, 5],
            }
        )
    )
    second = validator.check(
        pa.table(
            {
                "id": [1, 8, 9],
                "district": ["a", "c", "b"],
                "price": [10.0, 20.0, None],
                "area": ["20", "2000", "50"],  # row 7 repeats row 1 whole; row 8 breaks the rule 'big'
                "_source_row": [7, 8, 9],
            }
        )
    )
    assert first.good.column("_source_row").to_pylist() == [1, 2, 3]
    assert first.quarantined.column("_source_row").to_pylist() == [4, 5]
    assert (first.flagged_rows, second.flagged_rows) == (2, 1)
    assert second.good.column("_source_row").to_pylist() == [7, 9]

    report = validator.finish()
    assert report == QualityReport(
        source="hand.csv",
        rows=8,
        rows_quarantined=3,
        rows_flagged=3,
        duplicate_rows=1,
        columns=(
            ColumnQuality("id", duplicates=2),
            ColumnQuality("district", missing=1, missing_rate=0.125, unseen_categories=3, unseen_examples=("c", "d")),
            ColumnQuality("price", missing=2, missing_rate=0.25, out_of_range=2),
            ColumnQuality("area", type_errors=1, out_of_range=1),
        ),
        checks=(CheckQuality("cheap", "expectation", 2), CheckQuality("big", "rule", 1)),
        extra_columns=(),
    )
    assert QualityReport.from_dict(report.to_dict()) == report
    assert report.to_dict()["columns"]["district"] == {
        "missing": 1,
        "missing_rate": 0.125,
        "type_errors": 0,
        "out_of_range": 0,
        "unseen_categories": 3,
        "unseen_examples": ["c", "d"],
        "duplicates": 0,
    }


def test_expectations_flag_rows_but_keep_them_in_reject_mode() -> None:
    schema = DataSchema.infer(pa.table({"district": ["north", "south"] * 20, "price": [float(i) for i in range(40)]}))
    validator = Validator(schema, source="houses.csv")
    checked = validator.check(pa.table({"district": ["north", "harbour", "harbour"], "price": [1.0, 99.0, 2.0]}))
    assert checked.good.column("district").to_pylist() == ["north", "harbour", "harbour"]
    assert checked.flagged_rows == 2
    report = validator.finish()
    assert report.column("district").unseen_categories == 2
    assert report.column("district").unseen_examples == ("harbour",)
    assert report.column("price").out_of_range == 1
    assert report.rows_quarantined == 0


def test_unseen_examples_keep_the_first_five_distinct_values() -> None:
    schema = DataSchema((ColumnSpec("c", "string", nullable=True, categories=("a",)),))
    validator = Validator(schema)
    validator.check(pa.table({"c": ["z", "a", "y", "z", "x"]}))
    validator.check(pa.table({"c": ["w", "v", "u"]}))
    column = validator.finish().column("c")
    assert (column.unseen_categories, column.unseen_examples) == (7, ("z", "y", "x", "w", "v"))


def test_custom_checks_of_both_kinds() -> None:
    schema = DataSchema(
        (ColumnSpec("price", "float64", nullable=True), ColumnSpec("area", "float64", nullable=True)),
        (
            CustomCheck(name="dense", expression="price / area < 10", kind="expectation"),
            CustomCheck(name="positive", expression="price > 0 AND area > 0", kind="rule", column="price"),
        ),
    )
    table = pa.table({"price": [100.0, 500.0, None, -1.0], "area": [50.0, 20.0, 10.0, 5.0]})
    with pytest.raises(
        InvalidData, match=r"1 row breaks the check 'positive' \(price > 0 AND area > 0\) \(source row 4\)"
    ):
        Validator(schema).check(table)
    validator = Validator(schema, on_rule_failure="quarantine")
    checked = validator.check(table)
    # A null result passes (the SQL CHECK convention): row 3's missing price is nullability's business.
    assert checked.good.column("_source_row").to_pylist() == [1, 2, 3]
    assert checked.flagged_rows == 1
    assert checked.quarantined.column("_reasons").to_pylist() == [
        "column price: check positive failed (price > 0 AND area > 0)"
    ]
    assert validator.finish().checks == (CheckQuality("dense", "expectation", 1), CheckQuality("positive", "rule", 1))


def test_promoted_uniqueness_spans_batches() -> None:
    schema = DataSchema(
        (
            ColumnSpec("id", "string", nullable=True, unique=True, promoted=frozenset({"unique"})),
            ColumnSpec("price", "float64", nullable=True, minimum=0.0, promoted=frozenset({"range"})),
        )
    )
    validator = Validator(schema, source="feed")
    validator.check(pa.table({"id": ["a", "b", None], "price": [1.0, 2.0, 3.0], "_source_row": [1, 2, 3]}))
    with pytest.raises(
        InvalidData, match=r"1 row breaks the rule 'unique' of column 'id' \(source row 5; first value 'b'\)"
    ):
        validator.check(pa.table({"id": ["c", "b", None], "price": [1.0, 2.0, 3.0], "_source_row": [4, 5, 6]}))

    validator = Validator(schema, on_rule_failure="quarantine")
    validator.check(pa.table({"id": ["a", "b", "q"], "price": [1.0, 2.0, -3.0], "_source_row": [1, 2, 3]}))
    checked = validator.check(
        pa.table({"id": ["b", "q", "q", None, None], "price": [1.0] * 5, "_source_row": [4, 5, 6, 7, 8]})
    )
    # 'q' was quarantined in the first batch, so its first kept occurrence is row 5; nulls never repeat.
    assert checked.good.column("_source_row").to_pylist() == [5, 7, 8]
    assert checked.quarantined.to_pydict()["_source_row"] == [4, 6]
    assert checked.quarantined.to_pydict()["_reasons"] == [
        "column id: 'b' repeats an earlier row's value",
        "column id: 'q' repeats an earlier row's value",
    ]
    assert validator.finish().column("id").duplicates == 2


def test_report_from_bad_data_is_rejected() -> None:
    with pytest.raises(InvalidInput, match="Not a quality report: KeyError"):
        QualityReport.from_dict({"rows": 1})
    with pytest.raises(InvalidInput, match="The report has no column 'z'"):
        Validator(SCHEMA).finish().column("z")


def test_hash_set_matches_a_python_set() -> None:
    rng = np.random.default_rng(7)
    seen, reference = HashSet(), set()
    for size in (0, 1, 5, 100, 37, 1000, 3, 2000):
        hashes = rng.integers(0, 3000, size, dtype=np.uint64)
        probe = rng.integers(0, 3000, 500, dtype=np.uint64)
        assert seen.contains(probe).tolist() == [int(value) in reference for value in probe]
        seen.add(hashes)
        reference.update(int(value) for value in hashes)
        assert len(seen) == len(reference)
        assert seen.nbytes == 8 * len(reference)


TEXT_VALUES = st.one_of(
    st.none(),
    st.integers(-20, 120).map(str),
    st.sampled_from(["abc", "1.5", "", "NA", "7"]),
)


@settings(max_examples=60, deadline=None)
@given(
    batches=st.lists(
        st.lists(st.tuples(TEXT_VALUES, TEXT_VALUES, st.sampled_from(["x", "y", "z", None])), max_size=12),
        min_size=1,
        max_size=4,
    )
)
def test_good_and_quarantined_rows_partition_the_input(batches: list[list[tuple[str | None, ...]]]) -> None:
    schema = DataSchema(
        (
            ColumnSpec("key", "int64", nullable=False, unique=True, promoted=frozenset({"unique"})),
            ColumnSpec("amount", "float64", nullable=True, minimum=0.0, maximum=100.0, promoted={"range"}),  # type: ignore[arg-type]
            ColumnSpec("tag", "string", nullable=True, categories=("x", "y")),
        ),
        (CustomCheck(name="small_key", expression="key < 100", kind="rule"),),
    )
    validator = Validator(schema, on_rule_failure="quarantine")
    first, good_rows, bad_rows = 1, [], []
    for rows in batches:
        columns = list(zip(*rows, strict=True)) if rows else [(), (), ()]
        table = pa.table(
            {
                "key": pa.array(columns[0], pa.string()),
                "amount": pa.array(columns[1], pa.string()),
                "tag": pa.array(columns[2], pa.string()),
                "_source_row": pa.array(range(first, first + len(rows)), pa.int64()),
            }
        )
        checked = validator.check(table)
        assert checked.good.num_rows + checked.quarantined.num_rows == len(rows)
        assert checked.good.schema == schema.arrow_schema()
        assert all(reason for reason in checked.quarantined.column("_reasons").to_pylist())
        good_rows += checked.good.column("_source_row").to_pylist()
        bad_rows += checked.quarantined.column("_source_row").to_pylist()
        first += len(rows)
    assert sorted(good_rows + bad_rows) == list(range(1, first))
    assert not set(good_rows) & set(bad_rows)
    report = validator.finish()
    assert report.rows == first - 1
    assert report.rows_quarantined == len(bad_rows)
