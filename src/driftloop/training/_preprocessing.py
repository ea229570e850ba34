"""Preprocessing that lives inside every scikit-learn model, so a registered model takes raw rows.

A model is fitted on, and later served with, a pandas DataFrame of the dataset's columns as they are: numbers
with NaN, strings with None or NaN, categoricals, booleans. :func:`build_preprocessing` turns such a frame into
an all-numeric float array with pure scikit-learn components (skops trusts them; skl2onnx converts them).

Column rules, decided from the sample's dtypes by :func:`column_roles`:

* **numeric**: integer, unsigned and float dtypes, numpy or pandas nullable (``Int64``, ``Float64``) or Arrow
  numbers. Missing values are NaN or ``pd.NA``.
* **categorical**: ``object``, ``str`` (pandas' string dtype whose missing value is NaN), ``category`` and
  boolean dtypes (``bool``, ``boolean``). An ``object`` column is categorical whatever its values, as long as
  they are all strings or all numbers/booleans; missing values are None or NaN.
* **refused** with :class:`~driftloop.errors.InvalidData` naming the column: datetimes, timedeltas and periods
  (derive numeric features such as the year, the day of the week or an age in days first), string dtypes whose
  missing value is ``pd.NA`` (``string``, ``string[pyarrow]``: scikit-learn's encoders cannot read ``pd.NA``;
  convert with ``astype("str")``), ``object`` columns mixing strings with numbers or holding other objects,
  complex numbers, and column names that are not strings.

What each kind of preprocessing does:

=========== =============================================== ==========================================
kind        numeric columns                                 categorical columns
=========== =============================================== ==========================================
``onehot``  median imputation, then standard scaling        one-hot; unseen categories give all zeros;
            (linear models, MLP, k-NN)                      past ``ONE_HOT_MAX_CATEGORIES`` the rarest
                                                            share one column
``ordinal`` median imputation (random forests, extra trees) ordinal codes; unseen and missing are -1
``native``  kept as they are, NaN included (gradient        as for ``ordinal``
            boosting learns where missing values go)
=========== =============================================== ==========================================

Ordinal codes feed LightGBM and XGBoost as plain numbers rather than through their native categorical splits,
which do not convert to ONNX. A None in an ``object`` column, seen in training, is a category of its own to the
encoders, as NaN is to the one-hot encoder; the ordinal encoders map NaN to -1.

For ONNX (skl2onnx, with onnxmltools for LightGBM and XGBoost), give each numeric column as a float tensor and
each categorical column as a string tensor of ``str(value)``: ``"None"``, ``"nan"`` and ``"True"`` then meet the
categories the encoders learned, and the converted model agrees with the Python one on every row.
"""

from __future__ import annotations

import datetime
import numbers
from typing import Any, Literal

import numpy as np
import pandas as pd
from pandas.api import types as pandas_types
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, OrdinalEncoder, StandardScaler

from driftloop.errors import InvalidData, InvalidInput

__all__ = [
    "ONE_HOT_MAX_CATEGORIES",
    "PREPROCESSING_KINDS",
    "ColumnRole",
    "PreprocessingKind",
    "build_preprocessing",
    "column_roles",
]

ColumnRole = Literal["numeric", "categorical"]
PreprocessingKind = Literal["onehot", "ordinal", "native"]
PREPROCESSING_KINDS: tuple[PreprocessingKind, ...] = ("onehot", "ordinal", "native")

ONE_HOT_MAX_CATEGORIES = 32
"""Widest one-hot block per column. Grouping rare categories only past this width (rather than by a minimum
frequency) keeps ordinary pipelines convertible to ONNX: skl2onnx 1.20 cannot convert infrequent categories."""

_DATETIME_ADVICE = "derive numeric features from it first (for example the year, the day of the week or an age in days)"


def column_roles(sample: pd.DataFrame) -> dict[str, ColumnRole]:
    """How each feature column of ``sample`` is preprocessed: as a number or as a category.

    Raises:
        InvalidInput: ``sample`` is not a DataFrame.
        InvalidData: no columns, duplicate or non-string names, or a column of a type models cannot take.

    >>> column_roles(pd.DataFrame({"area": [52.0, None], "district": ["Ba Dinh", None], "new": [True, False]}))
    {'area': 'numeric', 'district': 'categorical', 'new': 'categorical'}
    """
    if not isinstance(sample, pd.DataFrame):
        raise InvalidInput(f"The 'sample' must be a pandas DataFrame; got {type(sample).__name__}.")
    if sample.shape[1] == 0:
        raise InvalidData("The sample has no feature columns; a model needs at least one.")
    if sample.columns.has_duplicates:
        duplicated = sorted({str(name) for name in sample.columns[sample.columns.duplicated()]})
        raise InvalidData(f"Feature column names must be unique; repeated: {', '.join(duplicated)}.")
    roles: dict[str, ColumnRole] = {}
    for name in sample.columns:
        if not isinstance(name, str):
            raise InvalidData(
                f"Feature column names must be strings; got {name!r} ({type(name).__name__}).", column=str(name)
            )
        roles[name] = _column_role(name, sample[name])
    return roles


def build_preprocessing(sample: pd.DataFrame, *, kind: PreprocessingKind) -> ColumnTransformer:
    """An unfitted transformer from raw frames shaped like ``sample`` to a float array; see the module notes.

    Columns absent from ``sample`` are dropped at fit and predict time.

    >>> frame = pd.DataFrame({"area": [52.0, None, 80.0], "district": ["Ba Dinh", None, "Tay Ho"]})
    >>> build_preprocessing(frame, kind="ordinal").fit_transform(frame).tolist()
    [[52.0, 0.0], [66.0, -1.0], [80.0, 1.0]]
    """
    if kind not in PREPROCESSING_KINDS:
        raise InvalidInput(f"The preprocessing 'kind' must be one of {', '.join(PREPROCESSING_KINDS)}; got {kind!r}.")
    roles = column_roles(sample)
    numeric = [name for name, role in roles.items() if role == "numeric"]
    categorical = [name for name, role in roles.items() if role == "categorical"]
    transformers: list[tuple[str, Any, list[str]]] = []
    if numeric:
        transformers.append(("numeric", _numeric_transformer(kind), numeric))
    if categorical:
        transformers.append(("categorical", _categorical_encoder(kind), categorical))
    # Dense output: the estimators and the ONNX converters downstream all take dense float arrays.
    return ColumnTransformer(transformers, remainder="drop", sparse_threshold=0.0)


def _numeric_transformer(kind: PreprocessingKind) -> Any:
    # keep_empty_features: a column missing everywhere in one training fold stays (as zeros) instead of
    # vanishing with a warning and shifting every column after it.
    imputer = SimpleImputer(strategy="median", keep_empty_features=True)
    if kind == "onehot":
        return Pipeline([("impute", imputer), ("scale", StandardScaler())])
    if kind == "ordinal":
        return imputer
    # An identity scaler: it converts nullable and Arrow dtypes to float and keeps NaN, which "passthrough"
    # would hand on as objects.
    return StandardScaler(with_mean=False, with_std=False)


def _categorical_encoder(kind: PreprocessingKind) -> Any:
    if kind == "onehot":
        return OneHotEncoder(
            handle_unknown="ignore",
            max_categories=ONE_HOT_MAX_CATEGORIES,
            sparse_output=False,
            dtype=np.float64,
        )
    # Unseen and missing categories share the code -1 rather than NaN even for boosting: skl2onnx's ordinal
    # encoder knows no NaN code, and a tree isolates -1 just as well.
    return OrdinalEncoder(
        handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1, dtype=np.float64
    )


def _column_role(name: str, column: pd.Series) -> ColumnRole:
    dtype = column.dtype
    if pandas_types.is_bool_dtype(dtype) or isinstance(dtype, pd.CategoricalDtype):
        return "categorical"
    if pandas_types.is_datetime64_any_dtype(dtype) or isinstance(dtype, pd.PeriodDtype):
        raise InvalidData(f"Column {name!r} holds datetimes ({dtype}); {_DATETIME_ADVICE}.", column=name)
    if pandas_types.is_timedelta64_dtype(dtype):
        raise InvalidData(
            f"Column {name!r} holds durations ({dtype}); convert it to a number (for example seconds) first.",
            column=name,
        )
    if pandas_types.is_complex_dtype(dtype):
        raise InvalidData(f"Column {name!r} holds complex numbers ({dtype}), which models cannot take.", column=name)
    if pandas_types.is_numeric_dtype(dtype):
        return "numeric"
    if pandas_types.is_string_dtype(dtype) and not pandas_types.is_object_dtype(dtype):
        if getattr(dtype, "na_value", None) is pd.NA:
            raise InvalidData(
                f"Column {name!r} has the string dtype {dtype}, whose missing value pd.NA scikit-learn's encoders "
                f"cannot read; convert it with frame[{name!r}].astype('str').",
                column=name,
            )
        return "categorical"
    if pandas_types.is_object_dtype(dtype):
        return _object_column_role(name, column)
    raise InvalidData(
        f"Column {name!r} has the dtype {dtype}, which models cannot take; convert it to numbers or strings.",
        column=name,
    )


def _object_column_role(name: str, column: pd.Series) -> ColumnRole:
    values = column.to_numpy()
    if any(value is pd.NA for value in values):
        raise InvalidData(
            f"Column {name!r} holds pd.NA, which scikit-learn's encoders cannot read; use None or NaN for "
            "missing values.",
            column=name,
        )
    present = {type(value) for value in column.dropna().to_numpy()}
    if any(issubclass(kind, datetime.date | datetime.time | pd.Timestamp) for kind in present):
        raise InvalidData(f"Column {name!r} holds dates or times; {_DATETIME_ADVICE}.", column=name)
    strings = {kind for kind in present if issubclass(kind, str)}
    numbers_and_flags = {kind for kind in present if issubclass(kind, numbers.Number | np.bool_)}
    others = present - strings - numbers_and_flags
    if others:
        names = ", ".join(sorted(kind.__name__ for kind in others))
        raise InvalidData(
            f"Column {name!r} holds values of type {names}; a feature must hold numbers or strings.", column=name
        )
    if strings and numbers_and_flags:
        names = ", ".join(sorted(kind.__name__ for kind in present))
        raise InvalidData(
            f"Column {name!r} mixes strings with numbers ({names}); convert its values to one type, for example "
            f"with frame[{name!r}].astype('str').",
            column=name,
        )
    return "categorical"
