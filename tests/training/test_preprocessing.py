"""Preprocessing inside the models: column roles, refusals, and what each kind turns raw rows into."""

from __future__ import annotations

import datetime
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import skops.io

from driftloop.errors import InvalidData, InvalidInput
from driftloop.training._preprocessing import ONE_HOT_MAX_CATEGORIES, build_preprocessing, column_roles


def raw_frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "area": [52.0, np.nan, 80.0, 61.5],
            "rooms": pd.array([2, None, 3, 2], dtype="Int64"),
            "floors": pd.array([1, 2, None, 1], dtype=pd.ArrowDtype(pa.int64())),
            "district": pd.Series(["Ba Dinh", None, "Tay Ho", "Ba Dinh"], dtype=object),
            "kind": pd.Series(["flat", "house", None, "flat"], dtype="str"),
            "street": pd.Categorical(["a", "b", None, "a"]),
            "new": [True, False, True, False],
            "parking": pd.array([True, None, False, True], dtype="boolean"),
        }
    )


def test_roles_follow_the_dtypes() -> None:
    assert column_roles(raw_frame()) == {
        "area": "numeric",
        "rooms": "numeric",
        "floors": "numeric",
        "district": "categorical",
        "kind": "categorical",
        "street": "categorical",
        "new": "categorical",
        "parking": "categorical",
    }


@pytest.mark.parametrize(
    ("values", "expected"),
    [
        (pd.to_datetime(["2024-01-01", None]), "holds datetimes"),
        (pd.to_datetime(["2024-01-01", None]).tz_localize("UTC"), "holds datetimes"),
        (pd.array([datetime.date(2024, 1, 1), None], dtype=pd.ArrowDtype(pa.date32())), "holds datetimes"),
        (pd.Series([datetime.date(2024, 1, 1), None], dtype=object), "holds dates or times"),
        (pd.to_timedelta(["1D", None]), "holds durations"),
        (pd.Series(["a", 1], dtype=object), "mixes strings with numbers"),
        (pd.Series([[1], None], dtype=object), "values of type list"),
        (pd.Series(["a", pd.NA], dtype=object), "holds pd.NA"),
        (pd.array(["a", None], dtype="string"), r"pd.NA .*astype\('str'\)"),
        (pd.array(["a", None], dtype=pd.ArrowDtype(pa.string())), r"pd.NA .*astype\('str'\)"),
        (np.array([1j, 2j]), "complex numbers"),
        (pd.arrays.IntervalArray.from_breaks([0, 1, 2]), "convert it to numbers or strings"),
    ],
)
def test_unusable_columns_are_refused_by_name(values: Any, expected: str) -> None:
    with pytest.raises(InvalidData, match=expected) as caught:
        build_preprocessing(pd.DataFrame({"area": [1.0, 2.0], "listed": values}), kind="onehot")
    assert caught.value.column == "listed"
    assert "'listed'" in str(caught.value)


@pytest.mark.parametrize(
    ("frame", "expected"),
    [
        (pd.DataFrame(index=range(3)), "no feature columns"),
        (pd.DataFrame({0: [1.0]}), "must be strings; got 0"),
        (pd.DataFrame([[1.0, 2.0]], columns=["area", "area"]), "unique; repeated: area"),
    ],
)
def test_unusable_frames_are_refused(frame: pd.DataFrame, expected: str) -> None:
    with pytest.raises(InvalidData, match=expected):
        column_roles(frame)


def test_arguments_are_checked() -> None:
    with pytest.raises(InvalidInput, match="must be a pandas DataFrame; got dict"):
        column_roles({"area": [1.0]})  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="must be one of onehot, ordinal, native; got 'dense'"):
        build_preprocessing(raw_frame(), kind="dense")  # type: ignore[arg-type]


@pytest.mark.parametrize("kind", ["onehot", "ordinal", "native"])
def test_every_kind_gives_floats_and_keeps_nan_only_when_native(kind: Any) -> None:
    train = raw_frame()
    later = train.copy()
    later["district"] = pd.Series(["Hoan Kiem", None, "Tay Ho", None], dtype=object)  # one unseen category
    transformer = build_preprocessing(train, kind=kind)
    fitted = transformer.fit_transform(train)
    transformed = transformer.transform(later)
    assert fitted.dtype == np.float64 and transformed.dtype == np.float64
    assert fitted.shape[0] == 4 and transformed.shape == (4, fitted.shape[1])
    numeric = transformed[:, :3]
    assert np.isnan(numeric).any() == (kind == "native")
    assert not np.isnan(transformed[:, 3:]).any()  # categories never become NaN


def test_unseen_categories_are_all_zeros_in_one_hot_and_minus_one_in_ordinal() -> None:
    train = pd.DataFrame({"district": ["Ba Dinh", "Tay Ho", "Ba Dinh"]})
    later = pd.DataFrame({"district": ["Hoan Kiem", "Tay Ho"]})
    one_hot = build_preprocessing(train, kind="onehot").fit(train)
    assert one_hot.transform(later).tolist() == [[0.0, 0.0], [0.0, 1.0]]
    for kind in ("ordinal", "native"):
        ordinal = build_preprocessing(train, kind=kind).fit(train)
        assert ordinal.transform(later).tolist() == [[-1.0], [1.0]]


def test_missing_strings_are_a_category_or_minus_one() -> None:
    train = pd.DataFrame({"kind": pd.Series(["flat", None, "house"], dtype="str")})
    one_hot = build_preprocessing(train, kind="onehot").fit(train)
    assert one_hot.transform(train).tolist() == [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0], [0.0, 1.0, 0.0]]
    ordinal = build_preprocessing(train, kind="ordinal").fit(train)
    assert ordinal.transform(train).ravel().tolist() == [0.0, -1.0, 1.0]


def test_one_hot_width_is_bounded() -> None:
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"street": rng.choice([f"street {i}" for i in range(200)], size=1000)})
    encoded = build_preprocessing(frame, kind="onehot").fit_transform(frame)
    assert encoded.shape == (1000, ONE_HOT_MAX_CATEGORIES)


def test_numeric_imputation_and_scaling() -> None:
    frame = pd.DataFrame({"area": [1.0, np.nan, 3.0, np.nan], "empty": [np.nan] * 4})
    ordinal = build_preprocessing(frame, kind="ordinal").fit_transform(frame)
    assert ordinal.tolist() == [[1.0, 0.0], [2.0, 0.0], [3.0, 0.0], [2.0, 0.0]]  # an empty column stays
    scaled = build_preprocessing(frame, kind="onehot").fit_transform(frame)
    assert scaled[:, 0].mean() == pytest.approx(0.0) and scaled[:, 0].std() == pytest.approx(1.0)


def test_extra_columns_at_predict_time_are_ignored() -> None:
    train = raw_frame()
    transformer = build_preprocessing(train, kind="ordinal").fit(train)
    assert np.array_equal(transformer.transform(train.assign(price=1.0)), transformer.transform(train))


def test_a_fitted_transformer_round_trips_through_skops() -> None:
    frame = raw_frame()
    for kind in ("onehot", "ordinal", "native"):
        transformer = build_preprocessing(frame, kind=kind).fit(frame)
        data = skops.io.dumps(transformer)
        # A fitted SimpleImputer keeps the dtype it saw, a type skops 0.16 does not trust by default.
        untrusted = skops.io.get_untrusted_types(data=data)
        assert set(untrusted) <= {"numpy.dtype"}
        loaded = skops.io.loads(data, trusted=untrusted)
        assert np.array_equal(loaded.transform(frame), transformer.transform(frame), equal_nan=True)
