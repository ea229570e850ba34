"""Transforms as a whole: declaring in Python, dict and YAML, hashing, fitting once and applying batch by batch."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import pickle
from typing import Any

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from driftloop.data.transforms import (
    Cast,
    Derive,
    DropDuplicates,
    DropMissing,
    Encode,
    Filter,
    FittedTransform,
    Impute,
    Outliers,
    Rename,
    Scale,
    Select,
    Transform,
)
from driftloop.errors import InvalidData, InvalidInput

HOUSES_YAML = """\
- kind: rename
  mapping: {dien_tich: area}
- kind: cast
  types: {area: float64, built: date}
- kind: filter
  expression: price > 0
- kind: impute
  columns: [area]
  strategy: median
- kind: derive
  column: price_per_m2
  expression: price / area
- kind: outliers
  columns: [price_per_m2]
  method: zscore
  action: clip
- kind: encode
  columns: [district]
  max_categories: 3
- kind: scale
  columns: [area]
  method: minmax
"""

GOLDEN_HASH = "6f8b20008f9b6d146fe650ef282ea8721132cab742f433533335f2a6759d78a0"


def houses() -> Transform:
    return Transform(
        [
            Rename({"dien_tich": "area"}),
            Cast({"area": "float64", "built": "date"}),
            Filter("price > 0"),
            Impute(["area"], strategy="median"),
            Derive("price_per_m2", "price / area"),
            Outliers(["price_per_m2"], method="zscore", action="clip"),
            Encode(["district"], max_categories=3),
            Scale(["area"], method="minmax"),
        ]
    )


def houses_sample(offset: int = 0, rows: int = 40) -> pa.Table:
    numbers = range(offset, offset + rows)
    return pa.table(
        {
            "dien_tich": [None if i % 7 == 3 else str(40 + (i * 13) % 90) for i in numbers],
            "built": [f"20{10 + i % 14}-0{1 + i % 9}-1{i % 9}" for i in numbers],
            "price": [float(-1 if i % 11 == 5 else 900 + (i * 37) % 4000) for i in numbers],
            "district": [
                ["Ba Dinh", "Hoan Kiem", "Tay Ho", "Cau Giay", "Long Bien"][i % 5 if i % 3 else 0] for i in numbers
            ],
            "_source_row": [i + 1 for i in numbers],
        }
    )


# declaring: Python, dict, YAML, hash


def test_yaml_dict_and_python_declare_the_same_transform() -> None:
    from_yaml = Transform.from_yaml(HOUSES_YAML)
    assert from_yaml == houses()
    assert from_yaml.steps == houses().steps
    assert Transform.from_dict(houses().to_dict()).hash == houses().hash
    assert Transform.from_yaml(houses().to_yaml()).hash == houses().hash
    assert Transform.from_dict({"steps": houses().to_dict()}) == houses()


def test_to_dict_leaves_defaults_out() -> None:
    assert Transform([Outliers(["a"]), Impute(["b"], strategy="knn", neighbors=3)]).to_dict() == [
        {"kind": "outliers", "columns": ["a"]},
        {"kind": "impute", "columns": ["b"], "strategy": "knn", "neighbors": 3},
    ]


def test_the_hash_is_a_stable_golden_value() -> None:
    assert houses().hash == GOLDEN_HASH
    assert Transform([]).hash == "4f53cda18c2baa0c0354bb5f9a3ecbe5ed12ab4d8e11ba873c2f11161202b945"  # sha256 of "[]"


def test_the_hash_ignores_key_order_and_spelled_out_defaults() -> None:
    reordered = [dict(reversed(list(step.items()))) for step in houses().to_dict()]
    reordered[0]["mapping"] = {"dien_tich": "area"}
    reordered[1]["types"] = {"built": "date", "area": "float64"}
    assert Transform.from_dict(reordered).hash == houses().hash
    explicit = Transform([Outliers(["a"], method="iqr", threshold=None, action="clip")])
    assert explicit.hash == Transform([Outliers(["a"])]).hash
    assert Transform([Outliers(["a"], threshold=2)]).hash == Transform([Outliers(["a"], threshold=2.0)]).hash


def test_the_hash_changes_with_the_steps_and_their_order() -> None:
    a, b = Select(["x"]), Filter("x > 1")
    hashes = {Transform([a, b]).hash, Transform([b, a]).hash, Transform([a]).hash, Transform([Select(["y"])]).hash}
    assert len(hashes) == 4


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- kind: select\n  columns: [a\n", r"^The transform YAML does not parse at line 3, column 1: "),
        (
            "kind: select",
            r"^A transform is a list of steps, or a mapping with just the key 'steps'; got the keys \['kind'\]",
        ),
        ("- select", r"^Step 1 of 1 must be a mapping with a 'kind'; got str 'select'"),
        ("- {columns: [a]}", r"^Step 1 of 1: The step has no 'kind'; the kinds are cast, derive, drop_duplicates, "),
        ("- {kind: select, columns: [a]}\n- {kind: scaler}", r"^Step 2 of 2: The step has the unknown kind 'scaler'"),
        ("- {kind: impute, columns: [a], strategy: mean, neighbours: 3}", r"^Step 1 of 1 \(impute\): impute has no pa"),
        ("- {kind: impute, columns: [a]}", r"^Step 1 of 1 \(impute\): impute needs the parameter 'strategy'"),
        ("- {kind: filter, expression: 'price >>> 3'}", r"^Step 1 of 1 \(filter\): The expression 'price >>> 3' of"),
        (
            "- {kind: select, columns: a}",
            r"^Step 1 of 1 \(select\): The 'columns' of select must be a list of column n",
        ),
        ("- {kind: impute, columns: [a], strategy: constant, value: 2024-01-01}", r"dates as ISO text\); got datetime"),
    ],
)
def test_bad_yaml_names_the_step_and_the_problem(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Transform.from_yaml(text)


def test_an_empty_yaml_document_is_the_identity() -> None:
    fitted = Transform.from_yaml("").fit(pa.table({"a": [1]}))
    assert fitted.apply(pa.table({"a": [2]})).to_pydict() == {"a": [2]}


def test_a_transform_takes_only_steps() -> None:
    with pytest.raises(
        InvalidInput, match=r"^Step 2 of 2 must be a step such as Select\(...\) or Impute\(...\); got dict"
    ):
        Transform([Select(["a"]), {"kind": "select"}])  # type: ignore[list-item]


# fitting and applying


def test_fit_learns_once_and_apply_uses_the_stored_statistics() -> None:
    fitted = Transform([Impute(["a"], strategy="median"), Scale(["b"])]).fit(
        pa.table({"a": [1.0, 2.0, 3.0, None], "b": [0.0, 2.0, 4.0, 2.0]})
    )
    later = pa.table({"a": [100.0, 200.0, None], "b": [10.0, 20.0, 30.0]})
    result = fitted.apply(later).to_pydict()
    assert result["a"] == [100.0, 200.0, 2.0]  # the sample's median, not the batch's
    std = (2.0 / 1.0) ** 0.5
    assert result["b"] == pytest.approx([(10.0 - 2.0) / std, (20.0 - 2.0) / std, (30.0 - 2.0) / std])


def test_each_step_fits_on_what_the_steps_before_it_give() -> None:
    fitted = Transform([Filter("a < 100"), Impute(["a"], strategy="mean")]).fit(pa.table({"a": [1.0, 3.0, 500.0]}))
    assert fitted.statistics[1] == {"values": {"a": 2.0}}


def test_fitting_twice_gives_the_same_statistics_and_applying_twice_the_same_table() -> None:
    sample = houses_sample()
    first, second = houses().fit(sample), houses().fit(sample)
    assert first.statistics == second.statistics
    assert first.fitted_hash == second.fitted_hash
    assert first.hash == houses().hash != first.fitted_hash
    batch = houses_sample(offset=1000)
    assert first.apply(batch).equals(first.apply(batch))
    assert first.apply(batch).equals(second.apply(batch))


def test_a_different_sample_changes_only_the_fitted_hash() -> None:
    first, second = houses().fit(houses_sample()), houses().fit(houses_sample(offset=7))
    assert first.hash == second.hash
    assert first.fitted_hash != second.fitted_hash


def test_source_row_survives_every_step_and_leaves_with_dropped_rows() -> None:
    sample = pa.table(
        {
            "_source_row": [10, 11, 12, 13, 14, 15],
            "a": [1.0, None, 3.0, 3.0, 2.0, 1000.0],
            "b": ["x", "y", "z", "z", "x", "x"],
        }
    )
    transform = Transform(
        [
            DropMissing(["a"]),  # drops 11
            Filter("b <> 'y'"),
            DropDuplicates(),  # drops 13, a copy of 12 but for its source row
            Outliers(["a"], action="drop"),  # drops 15
            Select(["b"]),
            Encode(["b"], method="ordinal"),
        ]
    )
    result = transform.fit(sample).apply(sample)
    assert result.column_names == ["b", "_source_row"]
    assert result.to_pydict()["_source_row"] == [10, 12, 14]


def test_the_fitted_statistics_leave_the_source_row_out() -> None:
    sample = pa.table({"_source_row": [1, 2], "a": [1.0, 2.0]})
    fitted = Transform([DropMissing(), DropDuplicates(), Impute(["a"], strategy="knn")]).fit(sample)
    assert fitted.statistics[0] == {"columns": ["a"]}
    assert fitted.statistics[1] == {"columns": ["a"]}
    assert fitted.input_schema == {"a": "float64"}


ROW_WISE = Transform(
    [
        Cast({"n": "float64"}),
        Filter("n IS NULL OR n > -50"),
        Impute(["x"], strategy="median"),
        Impute(["n", "x"], strategy="knn", neighbors=3),
        DropMissing(["c"]),
        Derive("ratio", "x / (abs(n) + 1)"),
        Outliers(["ratio"], action="clip"),
        Encode(["c"], max_categories=2),
        Scale(["n"], method="robust"),
    ]
)

values = st.one_of(st.none(), st.floats(-100, 100, allow_nan=False, allow_subnormal=False, width=32))
rows = st.tuples(st.one_of(st.none(), st.integers(-100, 100)), values, st.sampled_from(["a", "b", "c", None]))


def frame(data: list[tuple[int | None, float | None, str | None]], start: int = 1) -> pa.Table:
    return pa.table(
        {
            "n": pa.array([row[0] for row in data], pa.int64()),
            "x": pa.array([row[1] for row in data], pa.float64()),
            "c": pa.array([row[2] for row in data], pa.string()),
            "_source_row": pa.array(range(start, start + len(data)), pa.int64()),
        }
    )


SAMPLE = frame([(i - 20, float(i % 9) if i % 4 else None, "abcd"[i % 4] if i % 5 else None) for i in range(60)])


@settings(max_examples=40, deadline=None)
@given(st.lists(rows, max_size=30), st.lists(st.integers(0, 30), max_size=4))
def test_applying_batch_by_batch_equals_applying_to_their_concatenation(
    data: list[tuple[int | None, float | None, str | None]], cuts: list[int]
) -> None:
    fitted = ROW_WISE.fit(SAMPLE)
    whole = frame(data)
    bounds = sorted({0, len(data), *(cut for cut in cuts if cut <= len(data))})
    batches = [whole.slice(start, end - start) for start, end in itertools.pairwise(bounds)]
    together = fitted.apply(whole)
    one_by_one = pa.concat_tables([together.slice(0, 0), *(fitted.apply(batch) for batch in batches)])
    assert one_by_one.schema == together.schema
    for name in together.column_names:
        expected, actual = together.column(name).to_pylist(), one_by_one.column(name).to_pylist()
        if pa.types.is_floating(together.schema.field(name).type):
            # Vectorised arithmetic may round the last bit differently for other batch lengths.
            assert actual == pytest.approx(expected, rel=1e-12, abs=1e-12, nan_ok=True), name
        else:
            assert actual == expected, name


def test_apply_takes_record_batches() -> None:
    fitted = ROW_WISE.fit(SAMPLE)
    batch = SAMPLE.to_batches()[0]
    assert fitted.apply(batch).equals(fitted.apply(SAMPLE))


def test_apply_widens_columns_to_the_fitted_types() -> None:
    fitted = Transform([Derive("y", "x * 2")]).fit(pa.table({"x": [1.5], "z": [1]}))
    result = fitted.apply(pa.table({"x": pa.array([2], pa.int32()), "z": pa.array([None], pa.null())}))
    assert result.schema == pa.schema({"x": pa.float64(), "z": pa.int64(), "y": pa.float64()})
    assert result.to_pydict() == {"x": [2.0], "z": [None], "y": [4.0]}


def test_apply_to_a_batch_missing_a_column_names_the_step_and_the_column() -> None:
    fitted = Transform([Select(["a"]), Scale(["a"])]).fit(pa.table({"a": [1.0, 2.0], "b": [1, 2]}))
    with pytest.raises(
        InvalidData, match=r"^Step 1 of 2 \(select\): There is no column 'a'; the columns here are 'b'"
    ) as caught:
        fitted.apply(pa.table({"b": [1]}))
    assert caught.value.column == "a"


def test_fit_on_something_else_than_arrow() -> None:
    with pytest.raises(InvalidInput, match=r"^The sample must be a pyarrow Table or RecordBatch; got dict"):
        houses().fit({"a": [1]})  # type: ignore[arg-type]


def test_wrong_types_at_fit_name_the_step() -> None:
    with pytest.raises(
        InvalidData, match=r"^Step 2 of 2 \(scale\): Column 'b' holds String, but scaling needs numbers"
    ):
        Transform([Select(["b"]), Scale(["b"])]).fit(pa.table({"b": ["x"]}))


# serving and saving


def test_apply_rows_equals_apply_on_a_table() -> None:
    fitted = houses().fit(houses_sample())
    batch = houses_sample(offset=300, rows=25)
    assert fitted.apply_rows(batch.to_pylist()) == fitted.apply(batch).to_pylist()


def test_apply_rows_converts_json_values_to_the_fitted_types() -> None:
    sample = pa.table({"when": [dt.date(2024, 1, 1)], "x": [1.5], "flag": [True]})
    fitted = Transform([Derive("next", "when + INTERVAL '1 day'")]).fit(sample)
    assert fitted.apply_rows([{"when": "2024-03-01", "x": 2, "flag": None}]) == [
        {"when": dt.date(2024, 3, 1), "x": 2.0, "flag": None, "next": dt.date(2024, 3, 2)}
    ]
    assert fitted.apply_rows([]) == []
    assert fitted.apply_rows([{"x": 1}]) == [{"x": 1.0, "when": None, "flag": None, "next": None}]
    with pytest.raises(
        InvalidData, match=r"^Column 'when' has 'soon' at row 1 of the batch, which does not convert to da"
    ):
        fitted.apply_rows([{"when": "soon"}])


def test_the_fitted_transform_round_trips_through_json() -> None:
    fitted = houses().fit(houses_sample())
    loaded = FittedTransform.from_json(fitted.to_json())
    assert loaded == fitted
    assert loaded.fitted_hash == fitted.fitted_hash
    assert loaded.hash == houses().hash
    assert loaded.statistics == fitted.statistics
    batch = houses_sample(offset=500)
    assert loaded.apply(batch).equals(fitted.apply(batch))
    assert json.loads(fitted.to_json())["format"] == 1


def test_damaged_statistics_fail_on_loading_naming_the_step() -> None:
    data = Transform([Select(["a"]), Impute(["a"], strategy="mean")]).fit(pa.table({"a": [1.0]})).to_dict()
    data["statistics"][1] = {"value": {"a": 1.0}}
    with pytest.raises(
        InvalidInput, match=r"^Step 2 of 2 \(impute\): its statistics are malformed \(KeyError: 'values'\)"
    ):
        FittedTransform.from_dict(data)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", r"^The fitted transform is not valid JSON: "),
        ('{"steps": []}', r"^A fitted transform is a mapping with 'format': 1"),
        ('{"format": 1, "steps": [], "statistics": {}, "input_schema": {}}', r"'statistics' .* must be a list of mapp"),
        (
            '{"format": 1, "steps": [{"kind": "select", "columns": ["a"]}], "statistics": [], "input_schema": {}}',
            r"needs as many statistics; got 0",
        ),
    ],
)
def test_a_bad_fitted_transform_file(text: str, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        FittedTransform.from_json(text)


def test_repr() -> None:
    assert repr(Transform([Select(["a"]), DropMissing()])) == "Transform([Select(columns=['a']), DropMissing()])"
    fitted: Any = Transform([]).fit(pa.table({"a": [1]}))
    assert repr(fitted).startswith("FittedTransform(Transform([]), fitted_hash='")


def test_a_fitted_transform_pickles_for_worker_processes() -> None:
    fitted = houses().fit(houses_sample())
    loaded = pickle.loads(pickle.dumps(fitted))
    assert loaded == fitted
    assert loaded.apply(houses_sample(offset=9)).equals(fitted.apply(houses_sample(offset=9)))


def test_statistics_that_are_not_finite_json_are_refused() -> None:
    with pytest.raises(InvalidInput, match=r"^The statistics of a fitted transform must be finite JSON data: "):
        FittedTransform(Transform([Select(["a"])]), [{"x": float("nan")}], input_schema={})
