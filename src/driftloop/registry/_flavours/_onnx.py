"""An ONNX copy of a model for fast inference, kept only when it predicts like the model on a sample.

Conversion is best effort and never fails packaging: skl2onnx converts scikit-learn models, onnxmltools'
converters (registered with skl2onnx) convert LightGBM and XGBoost wrappers, also as a Pipeline's last step.
The copy runs on onnxruntime over the sample (its first :data:`MAX_CHECK_ROWS` rows) and is kept when at
least :data:`MIN_MATCH_RATE` of rows agree within :data:`TOLERANCE` (probabilities for classifiers, values for
regressors, relative above 1). Otherwise the manifest says why it was not kept. When the model takes missing
numbers, the sample also holds :data:`GAP_ROWS` of its rows with each float column missing in turn: a gap
reaches the copy (a nullable feature, or an out-of-range value a server scores as missing), so the copy must
agree on gaps too.

Inputs follow the skl2onnx convention for data frames: a model starting with a ColumnTransformer takes one
``[n, 1]`` input per column (strings for text columns, numbers otherwise); any other model one numeric
``[n, features]`` matrix called ``"input"``.

Two conversions are tried, in order:

1. numbers as float64 and a cast to float32 just before the final estimator (pipelines only): preprocessing
   then computes in float64 as scikit-learn does, and trees compare float32 values with float32
   thresholds as scikit-learn, LightGBM and XGBoost do, so split decisions agree exactly;
2. numbers as float32 throughout, the common form (onnxruntime's Imputer, for one, takes no float64).
   Scaling in float32 moves values across split thresholds now and then, which the check measures.
"""

from __future__ import annotations

import copy
import functools
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import numpy as np
import numpy.typing as npt
import pandas as pd

from driftloop.errors import DriftloopError
from driftloop.registry._flavours._boosters import booster_flavour, final_estimator
from driftloop.registry._flavours._onnx_imputer import MISSING_TEXT, register_imputer_converter

__all__ = ["MAX_CHECK_ROWS", "MIN_MATCH_RATE", "TOLERANCE", "OnnxCopy", "export_onnx"]

MAX_CHECK_ROWS: Final = 10_000
GAP_ROWS: Final = 20
"""Rows of the sample copied with each float column missing, to check the copy on gaps (see the notes)."""
MIN_MATCH_RATE: Final = 0.999
TOLERANCE: Final = 1e-4
_ML_OPSET: Final = 3  # onnxmltools' LightGBM and XGBoost converters write ai.onnx.ml version 3


@dataclass(frozen=True)
class _Attempt:
    name: str
    numbers: str  # "double" or "float"
    cast_before_final: bool


_ATTEMPTS: Final = (
    _Attempt("float64 preprocessing, float32 final estimator", "double", cast_before_final=True),
    _Attempt("float32 throughout", "float", cast_before_final=False),
)


class OnnxCopy:
    """ONNX bytes and how to feed them; the onnxruntime session is created on first use.

    Args:
        model_bytes: The serialized ONNX model.
        inputs: ``{"layout": "columns" | "matrix", "columns": [...], "types": [...]}`` as in the manifest.
        classifier: Whether the model's second output holds class probabilities.
    """

    def __init__(self, model_bytes: bytes, inputs: dict[str, Any], *, classifier: bool) -> None:
        self.model_bytes = model_bytes
        self.inputs = inputs
        self.classifier = classifier
        self._session: Any = None

    @property
    def session(self) -> Any:
        """The ``onnxruntime.InferenceSession`` (CPU), created once."""
        if self._session is None:
            import onnxruntime

            options = onnxruntime.SessionOptions()
            options.log_severity_level = 3  # errors only: onnxruntime logs to stderr, not to Python warnings
            self._session = onnxruntime.InferenceSession(self.model_bytes, options, providers=["CPUExecutionProvider"])
        return self._session

    def run(self, frame: pd.DataFrame) -> npt.NDArray[Any]:
        """Return class probabilities (classifiers) or predicted values (regressors) for ``frame``."""
        outputs = self.session.run(None, _feeds(frame, self.inputs))
        if self.classifier:
            return np.asarray(outputs[1], dtype=np.float64)
        values = np.asarray(outputs[0], dtype=np.float64)
        return values.ravel() if values.ndim == 2 and values.shape[1] == 1 else values


def export_onnx(
    model: Any,
    *,
    sample: pd.DataFrame | None,
    feature_names: list[str],
    classifier: bool,
    regressor: bool,
    native: Callable[[pd.DataFrame], npt.NDArray[Any]],
) -> tuple[bytes | None, dict[str, Any]]:
    """Convert ``model`` to ONNX and keep the copy if it predicts like ``native`` on ``sample``.

    Args:
        model: A scikit-learn model or a LightGBM/XGBoost wrapper (or Pipeline ending in one).
        sample: Rows to compare on; without them no copy is kept.
        feature_names: The columns of ``sample`` the model takes, in order.
        classifier: Compare class probabilities.
        regressor: Compare predicted values.
        native: The model's own probabilities (classifiers) or values (regressors) for a frame.

    Returns:
        The ONNX bytes or ``None``, and the manifest's ``onnx`` entry without its ``"part"``.
    """
    if not (classifier or regressor):
        return None, _not_kept("only classifiers and regressors get an ONNX copy")
    if sample is None or len(sample) == 0:
        return None, _not_kept("no sample was given to check an ONNX copy against the model")
    rows = sample.head(MAX_CHECK_ROWS)
    try:
        if feature_names:
            rows = rows[feature_names]
        expected = np.asarray(native(rows), dtype=np.float64)
    except (DriftloopError, KeyError, ValueError, TypeError) as error:
        return None, _not_kept(f"the model could not predict on the sample: {_first_line(error)}")
    rows, expected = _with_gaps(rows, expected, native)
    per_column = _starts_with_column_transformer(model)
    if not per_column and not all(pd.api.types.is_numeric_dtype(dtype) for dtype in rows.dtypes):
        text_columns = [str(name) for name, dtype in rows.dtypes.items() if not pd.api.types.is_numeric_dtype(dtype)]
        return None, _not_kept(
            f"the text column(s) {', '.join(text_columns)} need a ColumnTransformer as the model's first step "
            "to become ONNX inputs"
        )
    reasons = []
    for attempt in _ATTEMPTS:
        if attempt.cast_before_final and not _is_pipeline(model):
            continue
        inputs = _input_spec(rows, per_column=per_column, numbers=attempt.numbers)
        try:
            model_bytes = _convert(model, inputs, attempt, classifier=classifier)
            copy = OnnxCopy(model_bytes, inputs, classifier=classifier)
            got = copy.run(rows)
        except Exception as error:  # converters and onnxruntime raise anything for what they do not support
            reasons.append(f"{attempt.name}: {type(error).__name__}: {_first_line(error)}")
            continue
        comparison = _compare(expected, got, classifier=classifier)
        if comparison["match_rate"] >= MIN_MATCH_RATE:
            return model_bytes, {"kept": True, **comparison, "conversion": attempt.name, "inputs": inputs}
        reasons.append(
            f"{attempt.name}: predictions agree on {comparison['match_rate']:.2%} of {comparison['rows']} sample "
            f"rows, below {MIN_MATCH_RATE:.1%} (largest difference {comparison['max_abs_diff']})"
        )
    return None, _not_kept("; ".join(reasons))


def _with_gaps(
    rows: pd.DataFrame, expected: npt.NDArray[np.float64], native: Callable[[pd.DataFrame], npt.NDArray[Any]]
) -> tuple[pd.DataFrame, npt.NDArray[np.float64]]:
    """``rows`` and the model's answers, with :data:`GAP_ROWS` rows more per float column, that column missing in
    them, when the model answers them (one that refuses missing numbers is checked on ``rows`` as they are)."""
    floats = [name for name in rows.columns if pd.api.types.is_float_dtype(rows[name].dtype)]
    few = rows.head(GAP_ROWS)
    if not floats or few.empty:
        return rows, expected
    gaps = pd.concat([few.assign(**{name: np.nan}) for name in floats], ignore_index=True)
    try:
        answered = np.asarray(native(gaps), dtype=np.float64)
    except (DriftloopError, KeyError, ValueError, TypeError):
        return rows, expected
    return pd.concat([rows, gaps], ignore_index=True), np.concatenate([expected, answered])


def _not_kept(reason: str) -> dict[str, Any]:
    return {"kept": False, "reason": reason}


def _is_pipeline(model: Any) -> bool:
    from sklearn.pipeline import Pipeline

    return isinstance(model, Pipeline) and len(model.steps) > 1


def _starts_with_column_transformer(model: Any) -> bool:
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    first = model
    while isinstance(first, Pipeline) and first.steps:
        first = first.steps[0][1]
    return isinstance(first, ColumnTransformer)


def _input_spec(rows: pd.DataFrame, *, per_column: bool, numbers: str) -> dict[str, Any]:
    if not per_column:
        return {"layout": "matrix", "columns": [str(name) for name in rows.columns], "types": [numbers]}
    types = ["number" if pd.api.types.is_numeric_dtype(dtype) else "string" for dtype in rows.dtypes]
    return {
        "layout": "columns",
        "columns": [str(name) for name in rows.columns],
        "types": [numbers if kind == "number" else kind for kind in types],
    }


def _feeds(frame: pd.DataFrame, inputs: dict[str, Any]) -> dict[str, npt.NDArray[Any]]:
    columns: list[str] = inputs["columns"]
    if inputs["layout"] == "matrix":
        dtype = np.float64 if inputs["types"][0] == "double" else np.float32
        return {"input": frame[columns].to_numpy(dtype=dtype, na_value=np.nan)}
    feeds = {}
    for name, kind in zip(columns, inputs["types"], strict=True):
        series = frame[name]
        if kind == "string":
            values = np.array([MISSING_TEXT if pd.isna(value) else str(value) for value in series], dtype=object)
        else:
            values = series.to_numpy(dtype=np.float64 if kind == "double" else np.float32, na_value=np.nan)
        feeds[name] = values.reshape(-1, 1)
    return feeds


def _convert(model: Any, inputs: dict[str, Any], attempt: _Attempt, *, classifier: bool) -> bytes:
    import skl2onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType, StringTensorType

    register_imputer_converter()
    flavour = booster_flavour(model)
    if flavour is not None:
        _register_booster_converters(flavour)
    estimator = final_estimator(model)
    if flavour == "xgboost":
        estimator = _xgboost_without_feature_names(estimator)
    target = estimator
    if _is_pipeline(model):
        from skl2onnx.sklapi import CastTransformer
        from sklearn.pipeline import Pipeline

        cast = [("float32", CastTransformer(dtype=np.float32))] if attempt.cast_before_final else []
        target = Pipeline([*model.steps[:-1], *cast, (model.steps[-1][0], estimator)])
    tensor_types = {"double": DoubleTensorType, "float": FloatTensorType, "string": StringTensorType}
    if inputs["layout"] == "matrix":
        initial_types = [("input", tensor_types[inputs["types"][0]]([None, len(inputs["columns"])]))]
    else:
        initial_types = [
            (name, tensor_types[kind]([None, 1])) for name, kind in zip(inputs["columns"], inputs["types"], strict=True)
        ]
    options = {id(estimator): {"zipmap": False}} if classifier else None
    opset = {"": skl2onnx.get_latest_tested_opset_version(), "ai.onnx.ml": _ML_OPSET}
    with warnings.catch_warnings():
        # Converters warn about opsets and deprecated numpy aliases while they work; the check below decides.
        warnings.simplefilter("ignore", category=DeprecationWarning)
        warnings.simplefilter("ignore", category=FutureWarning)
        warnings.simplefilter("ignore", category=UserWarning)
        converted = skl2onnx.to_onnx(target, initial_types=initial_types, options=options, target_opset=opset)
    return bytes(converted.SerializeToString())


def _xgboost_without_feature_names(wrapper: Any) -> Any:
    """Return a stand-in of an XGBoost wrapper whose booster has no feature names.

    onnxmltools reads features as ``f0, f1…`` only; names from a data frame make it fail. The inputs are
    positional anyway, so a copy without names converts to the same trees.
    """
    booster = wrapper.get_booster()
    if booster.feature_names is None:
        return wrapper
    renamed = booster.copy()
    renamed.feature_names = None
    stand_in = copy.copy(wrapper)
    stand_in._Booster = renamed
    return stand_in


@functools.cache
def _register_booster_converters(flavour: str) -> None:
    """Teach skl2onnx a library's wrappers (onnxmltools' converters), once per process and library."""
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )

    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    if flavour == "lightgbm":
        import lightgbm
        from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm

        update_registered_converter(
            lightgbm.LGBMClassifier,
            "LightGbmLGBMClassifier",
            calculate_linear_classifier_output_shapes,
            convert_lightgbm,
            options=classifier_options,
        )
        update_registered_converter(
            lightgbm.LGBMRegressor,
            "LightGbmLGBMRegressor",
            calculate_linear_regressor_output_shapes,
            convert_lightgbm,
            options={"split": None},
        )
    else:
        import xgboost
        from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost

        update_registered_converter(
            xgboost.XGBClassifier,
            "XGBoostXGBClassifier",
            calculate_linear_classifier_output_shapes,
            convert_xgboost,
            options=classifier_options,
        )
        update_registered_converter(
            xgboost.XGBRegressor, "XGBoostXGBRegressor", calculate_linear_regressor_output_shapes, convert_xgboost
        )


def _compare(expected: npt.NDArray[np.float64], got: npt.NDArray[np.float64], *, classifier: bool) -> dict[str, Any]:
    if got.shape != expected.shape:
        raise ValueError(f"the ONNX copy returns shape {got.shape}, the model {expected.shape}")
    difference = np.abs(got - expected)
    if classifier:
        row_difference = difference.max(axis=1) if difference.ndim == 2 else difference
        matches = row_difference <= TOLERANCE
        flips = float(np.mean(np.argmax(got, axis=1) != np.argmax(expected, axis=1))) if got.ndim == 2 else 0.0
    else:
        allowed = TOLERANCE * np.maximum(1.0, np.abs(expected))
        within = difference <= allowed
        matches = within.all(axis=1) if within.ndim == 2 else within
        flips = None
    largest = float(np.max(np.nan_to_num(difference, nan=np.inf))) if difference.size else 0.0
    return {
        "rows": len(expected),
        "max_abs_diff": largest if math.isfinite(largest) else None,  # None: some prediction was NaN or infinite
        "match_rate": float(np.mean(matches)),
        "class_flip_rate": flips,
    }


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    line = text[0] if text else ""
    return line if len(line) <= 200 else line[:197] + "..."
