"""Each transform step on a small hand-made table, with its exact output and its errors."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import pyarrow as pa
import pytest

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
    Step,
    Transform,
)
from driftloop.errors import InvalidData, InvalidInput

NAN = float("nan")


def table(**columns: list[Any]) -> pa.Table:
    """A table with a 1-based ``_source_row`` after the given columns."""
    height = len(next(iter(columns.values())))
    return pa.table({**columns, "_source_row": list(range(1, height + 1))})


def fit(*steps: Step, sample: pa.Table) -> FittedTransform:
    return Transform(steps).fit(sample)


def run(*steps: Step, sample: pa.Table, batch: pa.Table | None = None) -> dict[str, list[Any]]:
    return fit(*steps, sample=sample).apply(sample if batch is None else batch).to_pydict()


# select, rename, cast, filter, derive


def test_select_keeps_the_columns_in_order_and_the_source_row_last() -> None:
    sample = table(a=[1, 2], b=["x", "y"], c=[0.5, 1.5])
    assert run(Select(["c", "a"]), sample=sample) == {"c": [0.5, 1.5], "a": [1, 2], "_source_row": [1, 2]}


def test_select_without_a_source_row() -> None:
    sample = pa.table({"a": [1], "b": [2]})
    assert run(Select(["b"]), sample=sample) == {"b": [2]}


def test_select_an_unknown_column_names_the_step_and_the_column() -> None:
    with pytest.raises(InvalidData, match=r"^Step 2 of 2 \(select\): There is no column 'd'; the columns here are 'a'"):
        fit(Rename({"b": "c"}), Select(["a", "d"]), sample=table(a=[1], b=[2]))


def test_rename() -> None:
    sample = table(a=[1], b=[2])
    assert run(Rename({"a": "alpha"}), sample=sample) == {"alpha": [1], "b": [2], "_source_row": [1]}


def test_rename_onto_an_existing_column_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"Step 1 of 1 \(rename\): Renaming a column to 'b' would clash"):
        fit(Rename({"a": "b"}), sample=table(a=[1], b=[2]))
    # Swapping two names is fine.
    assert run(Rename({"a": "b", "b": "a"}), sample=table(a=[1], b=[2])) == {"b": [1], "a": [2], "_source_row": [1]}


def test_cast_converts_text_to_numbers_dates_and_booleans() -> None:
    sample = table(n=[" 3", "4"], x=["1.5", None], d=["2024-01-31", "2024-02-01"], b=["true", "0"], i=[1, 2])
    types = {"n": "int32", "x": "float64", "d": "date", "b": "bool", "i": "string"}
    result = fit(Cast(types), sample=sample).apply(sample)
    assert result.to_pydict() == {
        "n": [3, 4],
        "x": [1.5, None],
        "d": [dt.date(2024, 1, 31), dt.date(2024, 2, 1)],
        "b": [True, False],
        "i": ["1", "2"],
        "_source_row": [1, 2],
    }
    assert result.schema.field("n").type == pa.int32()


def test_cast_refuses_a_value_that_does_not_convert_naming_column_value_and_source_row() -> None:
    fitted = fit(Cast({"price": "float64"}), sample=table(price=["1.5", "2"]))
    with pytest.raises(InvalidData) as caught:
        fitted.apply(pa.table({"price": ["3", "n/a"], "_source_row": [41, 42]}))
    assert caught.value.message == (
        "Step 1 of 1 (cast): Column 'price' has 'n/a' at source row 42, which does not convert to float64."
    )
    assert (caught.value.row, caught.value.column) == (42, "price")


def test_cast_not_strict_turns_bad_values_into_missing_ones() -> None:
    sample = table(price=["1.5", "n/a"])
    assert run(Cast({"price": "float"}, strict=False), sample=sample)["price"] == [1.5, None]


def test_cast_to_an_unknown_type_is_refused_when_declared() -> None:
    with pytest.raises(InvalidInput, match=r"The type of column 'a' in cast must be a type name .*got 'integr'"):
        Cast({"a": "integr"})


def test_filter_keeps_true_rows_and_drops_null_results() -> None:
    sample = table(price=[10.0, -1.0, None, 5.0], area=[1, 2, 3, 4])
    assert run(Filter("price > 0 AND area < 4"), sample=sample) == {
        "price": [10.0],
        "area": [1],
        "_source_row": [1],
    }


def test_filter_needs_a_boolean_expression() -> None:
    with pytest.raises(InvalidInput, match=r"Step 1 of 1 \(filter\): The expression 'price \+ 1' must be true or"):
        fit(Filter("price + 1"), sample=table(price=[1.0]))


def test_filter_refuses_an_aggregate_since_batches_are_independent() -> None:
    with pytest.raises(InvalidInput, match=r"Step 1 of 1 \(filter\): The expression 'price > avg\(price\)' aggr"):
        fit(Filter("price > avg(price)"), sample=table(price=[1.0, 2.0, 3.0]))


def test_a_bad_expression_is_refused_when_declared() -> None:
    with pytest.raises(InvalidInput, match=r"^The expression 'price >>> 3' of filter does not parse: "):
        Filter("price >>> 3")
    with pytest.raises(InvalidInput, match=r"^The 'expression' of derive must be a polars SQL expression"):
        Derive("x", "")


def test_derive_adds_or_replaces_a_column() -> None:
    sample = table(price=[100.0, 300.0], area=[50, 100])
    assert run(Derive("per_m2", "price / area"), Derive("area", "area * 2"), sample=sample) == {
        "price": [100.0, 300.0],
        "area": [100, 200],
        "_source_row": [1, 2],
        "per_m2": [2.0, 3.0],
    }


def test_derive_from_an_unknown_column() -> None:
    with pytest.raises(InvalidData, match=r"^Step 1 of 1 \(derive\): There is no column 'surface'") as caught:
        fit(Derive("per_m2", "price / surface"), sample=table(price=[1.0]))
    assert caught.value.column == "surface"


def test_derive_with_mismatched_types_names_the_columns() -> None:
    with pytest.raises(InvalidInput, match=r"^Step 1 of 1 \(derive\): The expression .* does not apply to the columns"):
        fit(Derive("x", "city * 2"), sample=table(city=["a"]))


# drop missing, impute


def test_drop_missing_looks_at_every_column_by_default_and_counts_nan_as_missing() -> None:
    sample = table(a=[1.0, NAN, 3.0, 4.0], b=["x", "y", None, "z"])
    assert run(DropMissing(), sample=sample) == {"a": [1.0, 4.0], "b": ["x", "z"], "_source_row": [1, 4]}
    assert run(DropMissing(["b"]), sample=sample)["_source_row"] == [1, 2, 4]


def test_impute_constant_fills_nulls_and_nan() -> None:
    sample = table(a=[1.0, None, NAN], c=["x", None, "y"], d=[dt.date(2024, 1, 1), None, None])
    result = run(
        Impute(["a"], strategy="constant", value=0),
        Impute(["c"], strategy="constant", value="unknown"),
        Impute(["d"], strategy="constant", value="2000-01-01"),
        sample=sample,
    )
    assert result["a"] == [1.0, 0.0, 0.0]
    assert result["c"] == ["x", "unknown", "y"]
    assert result["d"] == [dt.date(2024, 1, 1), dt.date(2000, 1, 1), dt.date(2000, 1, 1)]


def test_impute_constant_of_the_wrong_type() -> None:
    with pytest.raises(InvalidData, match=r"Step 1 of 1 \(impute\): The constant 'n/a' does not fit column 'a', wh"):
        fit(Impute(["a"], strategy="constant", value="n/a"), sample=table(a=[1, None]))


@pytest.mark.parametrize(
    ("strategy", "expected"),
    [("mean", [1.0, 2.0, 6.0, 3.0]), ("median", [1.0, 2.0, 6.0, 2.0]), ("mode", [1.0, 2.0, 6.0, 1.0])],
)
def test_impute_statistics(strategy: Any, expected: list[float]) -> None:
    sample = table(a=[1.0, 2.0, 6.0, None])
    assert run(Impute(["a"], strategy=strategy), sample=sample)["a"] == expected


def test_impute_an_integer_column_keeps_its_type_and_rounds_the_statistic() -> None:
    fitted = fit(Impute(["rooms"], strategy="mean"), sample=table(rooms=[1, 2, 4, None]))
    assert fitted.statistics == ({"values": {"rooms": 2}},)  # mean 2.33 rounds to 2
    result = fitted.apply(table(rooms=[None, 5]))
    assert result.to_pydict()["rooms"] == [2, 5]
    assert result.schema.field("rooms").type == pa.int64()


def test_impute_mode_of_text_picks_the_smallest_of_the_most_frequent() -> None:
    sample = table(city=["b", "a", None, "b", "a", "c"])
    assert run(Impute(["city"], strategy="mode"), sample=sample)["city"] == ["b", "a", "a", "b", "a", "c"]


def test_impute_mean_of_text_is_refused() -> None:
    with pytest.raises(InvalidData, match=r"Step 1 of 1 \(impute\): Column 'city' holds String, but mean imputation"):
        fit(Impute(["city"], strategy="mean"), sample=table(city=["a"]))


def test_impute_from_a_column_with_no_values() -> None:
    with pytest.raises(InvalidData, match=r"Column 'a' has no values in the sample to learn its median from"):
        fit(Impute(["a"], strategy="median"), sample=table(a=[None, NAN]))


def test_impute_knn_averages_the_nearest_complete_rows() -> None:
    sample = table(x=[1.0, 2.0, 3.0, 10.0, None], y=[10.0, 20.0, 30.0, 100.0, None])
    fitted = fit(Impute(["x", "y"], strategy="knn", neighbors=2), sample=sample)
    assert fitted.statistics[0]["reference"] == [[1.0, 10.0], [2.0, 20.0], [3.0, 30.0], [10.0, 100.0]]
    batch = table(x=[2.1, None, 9.0, None], y=[None, 95.0, 110.0, None])
    result = fitted.apply(batch).to_pydict()
    # (2.1, ?) is nearest to x=2 and x=3; (?, 95) to y=100 and y=30; (?, ?) gets the reference means.
    assert result["y"] == [25.0, 95.0, 110.0, 40.0]
    assert result["x"] == [2.1, 6.5, 9.0, 4.0]


@pytest.mark.parametrize(("neighbors", "expected"), [(1, 10.0), (2, 20.0), (3, 30.0), (4, 40.0), (9, 40.0)])
def test_impute_knn_breaks_ties_by_sample_order(neighbors: int, expected: float) -> None:
    sample = table(x=[1.0, 3.0, 1.0, 3.0], y=[10.0, 30.0, 50.0, 70.0])
    fitted = fit(Impute(["x", "y"], strategy="knn", neighbors=neighbors), sample=sample)
    assert fitted.apply(table(x=[2.0], y=[None])).to_pydict()["y"] == [expected]  # all four are equally near


def test_impute_knn_keeps_at_most_two_thousand_reference_rows() -> None:
    sample = table(x=[float(i) for i in range(5000)], y=[float(i % 7) for i in range(5000)])
    first = fit(Impute(["x", "y"], strategy="knn"), sample=sample)
    again = fit(Impute(["x", "y"], strategy="knn"), sample=sample)
    assert len(first.statistics[0]["reference"]) == 2000
    assert first.fitted_hash == again.fitted_hash


def test_impute_knn_needs_complete_rows() -> None:
    with pytest.raises(InvalidData, match=r"Step 1 of 1 \(impute\): Nearest-neighbour imputation needs sample rows"):
        fit(Impute(["x", "y"], strategy="knn"), sample=table(x=[1.0, None], y=[None, 2.0]))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"strategy": "average"}, r"The 'strategy' of impute must be one of 'constant', .*; got 'average'"),
        ({"strategy": "constant"}, r"The 'value' of impute with strategy 'constant' must be a number"),
        ({"strategy": "mean", "value": 3}, r"The 'value' of impute is used only by strategy 'constant', not 'mean'"),
        ({"strategy": "knn", "neighbors": 0}, r"The 'neighbors' of impute must be a whole number of at least 1"),
        ({"strategy": "mean", "neighbors": 3}, r"The 'neighbors' of impute is used only by strategy 'knn'"),
    ],
)
def test_impute_hyperparameters_are_checked_when_declared(arguments: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Impute(["a"], **arguments)


# drop duplicates, outliers


def test_drop_duplicates_ignores_the_source_row() -> None:
    sample = table(a=[1, 1, 2, 1], b=["x", "x", "y", "z"])
    assert run(DropDuplicates(), sample=sample)["_source_row"] == [1, 3, 4]
    assert run(DropDuplicates(keep="last"), sample=sample)["_source_row"] == [2, 3, 4]
    assert run(DropDuplicates(keep="none"), sample=sample)["_source_row"] == [3, 4]
    assert run(DropDuplicates(["a"]), sample=sample)["_source_row"] == [1, 3]


def test_outliers_iqr_clip() -> None:
    sample = table(a=[1.0, 2.0, 3.0, 4.0, 100.0, None])
    fitted = fit(Outliers(["a"]), sample=sample)
    assert fitted.statistics[0] == {"bounds": {"a": {"q1": 2.0, "q3": 4.0, "low": -1.0, "high": 7.0}}}
    assert fitted.apply(sample).to_pydict()["a"] == [1.0, 2.0, 3.0, 4.0, 7.0, None]
    assert fitted.apply(table(a=[-5.0])).to_pydict()["a"] == [-1.0]


def test_outliers_clip_an_integer_column_inward() -> None:
    sample = table(a=[1, 2, 3, 4, 100])
    result = fit(Outliers(["a"], threshold=1.25), sample=sample).apply(table(a=[-9, 9]))  # bounds -0.5 and 6.5
    assert result.to_pydict()["a"] == [0, 6]
    assert result.schema.field("a").type == pa.int64()


def test_outliers_zscore_drop_keeps_missing_values() -> None:
    sample = table(a=[0.0, 0.0, 1.0, 1.0, None])  # mean 0.5, population std 0.5
    fitted = fit(Outliers(["a"], method="zscore", threshold=2, action="drop"), sample=sample)
    assert fitted.statistics[0]["bounds"]["a"] == {"mean": 0.5, "std": 0.5, "low": -0.5, "high": 1.5}
    assert fitted.apply(table(a=[-0.6, 1.5, None, NAN, 1.6])).to_pydict()["_source_row"] == [2, 3, 4]


def test_outliers_of_text_are_refused() -> None:
    with pytest.raises(InvalidData, match=r"Column 'city' holds String, but outlier detection needs numbers"):
        fit(Outliers(["city"]), sample=table(city=["a"]))


# encode, scale


def test_encode_onehot_replaces_the_column_in_place() -> None:
    sample = table(city=["b", "a", "b", None], area=[1, 2, 3, 4])
    fitted = fit(Encode(["city"]), sample=sample)
    assert fitted.statistics[0] == {
        "columns": {"city": {"categories": ["b", "a"], "other": False, "names": ["city_b", "city_a"]}}
    }
    assert fitted.apply(sample).to_pydict() == {
        "city_b": [1, 0, 1, 0],
        "city_a": [0, 1, 0, 0],
        "area": [1, 2, 3, 4],
        "_source_row": [1, 2, 3, 4],
    }
    # An unseen value sets no indicator.
    assert fitted.apply(table(city=["z"], area=[0])).to_pydict()["city_b"] == [0]


def test_encode_puts_rare_and_unseen_values_in_other() -> None:
    sample = table(city=["a", "a", "b", "b", "c", "District 1", "District 1", "District 1"])
    fitted = fit(Encode(["city"], method="ordinal", max_categories=2), sample=sample)
    assert fitted.statistics[0]["columns"]["city"] == {"categories": ["District 1", "a"], "other": True}
    assert fitted.apply(table(city=["a", "District 1", "c", "new", None])).to_pydict()["city"] == [1, 0, 2, 2, None]
    onehot = fit(Encode(["city"], max_categories=2, unknown="error"), sample=sample)
    assert onehot.apply(table(city=["new"])).column_names == [
        "city_District_1",
        "city_a",
        "city___other__",
        "_source_row",
    ]


def test_encode_dictionary_encoded_text_booleans_and_integers() -> None:
    sample = table(c=pa.array(["x", "y", "x"]).dictionary_encode(), b=[True, None, False], i=[7, 7, 8])
    assert run(Encode(["c", "b", "i"]), sample=sample) == {
        "c_x": [1, 0, 1],
        "c_y": [0, 1, 0],
        "b_false": [0, 0, 1],
        "b_true": [1, 0, 0],
        "i_7": [1, 1, 0],
        "i_8": [0, 0, 1],
        "_source_row": [1, 2, 3],
    }


def test_encode_ordinal_codes_unseen_values_minus_one() -> None:
    fitted = fit(Encode(["rooms"], method="ordinal"), sample=table(rooms=[3, 1, 3]))
    assert fitted.apply(table(rooms=[1, 3, 7])).to_pydict()["rooms"] == [1, 0, -1]


def test_encode_unknown_error_names_the_column_the_value_and_the_source_row() -> None:
    fitted = fit(Encode(["city"], unknown="error"), sample=table(city=["a", "b"]))
    with pytest.raises(InvalidData) as caught:
        fitted.apply(pa.table({"city": ["a", "Hue"], "_source_row": [70, 71]}))
    assert caught.value.message == (
        "Step 1 of 1 (encode): Column 'city' has the category 'Hue' at source row 71, which the transform did not "
        "see when it was fitted (encode with unknown='error')."
    )
    assert (caught.value.row, caught.value.column) == (71, "city")


def test_encode_an_indicator_clashing_with_a_column_is_refused() -> None:
    with pytest.raises(InvalidInput, match=r"The indicator column 'city_a' would clash with an existing column"):
        fit(Encode(["city"]), sample=table(city=["a"], city_a=[1]))


@pytest.mark.parametrize(
    ("method", "statistics", "expected"),
    [
        ("standard", {"mean": 2.0, "std": 1.0}, [-1.0, 1.0, 0.0, None]),  # population std
        ("minmax", {"min": 1.0, "max": 3.0}, [0.0, 1.0, 0.5, None]),
        ("robust", {"median": 2.0, "q1": 1.5, "q3": 2.5}, [-1.0, 1.0, 0.0, None]),
    ],
)
def test_scale(method: Any, statistics: dict[str, float], expected: list[float | None]) -> None:
    fitted = fit(Scale(["a"], method=method), sample=table(a=[1, 3, None]))
    assert fitted.statistics == ({"columns": {"a": statistics}},)
    result = fitted.apply(table(a=[1, 3, 2, None]))
    assert result.to_pydict()["a"] == expected
    assert result.schema.field("a").type == pa.float64()


def test_scale_a_constant_column_divides_by_one() -> None:
    assert run(Scale(["a"]), sample=table(a=[5.0, 5.0]))["a"] == [0.0, 0.0]


def test_scale_with_infinite_values_is_refused() -> None:
    with pytest.raises(InvalidData, match=r"The mean of column 'a' in the sample is inf; remove infinite values"):
        fit(Scale(["a"]), sample=table(a=[1.0, math.inf]))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: Select("a"), r"The 'columns' of select must be a list of column names; got 'a'"),
        (lambda: Select([]), r"The 'columns' of select must name at least one column"),
        (lambda: Select(["a", "a"]), r"The 'columns' of select lists 'a' more than once"),
        (lambda: Scale(["_source_row"]), r"The 'columns' of scale names '_source_row', which the pipeline carries"),
        (lambda: Derive("_source_row", "1"), r"The 'column' of derive names '_source_row'"),
        (lambda: Rename({"a": "b", "c": "b"}), r"The 'mapping' of rename gives more than one column the name 'b'"),
        (lambda: Outliers(["a"], threshold=-1), r"The 'threshold' of outliers must be a positive number; got -1"),
        (lambda: Encode(["a"], max_categories=True), r"The 'max_categories' of encode must be a whole number"),
        (lambda: DropDuplicates(keep="any"), r"The 'keep' of drop_duplicates must be one of 'first', 'last', 'none'"),
        (lambda: Cast({"a": "int"}, strict="yes"), r"The 'strict' of cast must be true or false"),
    ],
)
def test_hyperparameters_are_checked_when_declared(build: Any, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        build()


def test_steps_compare_by_their_declaration() -> None:
    assert Select(["a", "b"]) == Select(("a", "b"))
    assert hash(Rename({"a": "x", "b": "y"})) == hash(Rename({"b": "y", "a": "x"}))
    assert Outliers(["a"], threshold=2) == Outliers(["a"], threshold=2.0)
    assert Impute(["a"], strategy="knn") == Impute(["a"], strategy="knn", neighbors=5)
    assert Scale(["a"]) != Scale(["a"], method="robust")
    assert repr(Impute(["a"], strategy="knn", neighbors=3)) == "Impute(columns=['a'], strategy='knn', neighbors=3)"
