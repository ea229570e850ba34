"""A SimpleImputer converter for the two cases skl2onnx's own refuses, registered in its place.

skl2onnx converts an imputer of missing text only when ``missing_values`` is a string, but scikit-learn's
categorical imputers look for NaN; and onnxruntime's ``Imputer`` operator takes no float64 input. This
converter handles both and passes every other case to skl2onnx's own:

- text whose ``missing_values`` is NaN: an ONNX string tensor cannot hold NaN, so the feeds spell a
  missing text as :data:`MISSING_TEXT` and the imputer replaces that;
- float64 input whose ``missing_values`` is NaN: ``Where(IsNaN(x), statistics, x)`` in float64.
"""

from __future__ import annotations

import copy
import functools
import math
from typing import Any, Final

import numpy as np

__all__ = ["MISSING_TEXT", "register_imputer_converter"]

MISSING_TEXT: Final = ""
"""How ONNX feeds spell a missing text value (a string tensor has no NaN)."""


@functools.cache
def register_imputer_converter() -> None:
    """Put :func:`_convert_imputer` in place of skl2onnx's SimpleImputer converter, once per process."""
    from skl2onnx.common._registration import register_converter

    register_converter("SklearnSimpleImputer", _convert_imputer, overwrite=True)


def _convert_imputer(scope: Any, operator: Any, container: Any) -> None:
    from skl2onnx.common.data_types import DoubleTensorType, StringTensorType
    from skl2onnx.operator_converters.imputer_op import convert_sklearn_imputer

    imputer = operator.raw_operator
    input_type = operator.inputs[0].type
    looks_for_nan = isinstance(imputer.missing_values, float) and math.isnan(imputer.missing_values)
    if looks_for_nan and isinstance(input_type, StringTensorType):
        stand_in = copy.copy(imputer)
        stand_in.missing_values = MISSING_TEXT
        operator.raw_operator = stand_in
        try:
            convert_sklearn_imputer(scope, operator, container)
        finally:
            operator.raw_operator = imputer
        return
    statistics = np.asarray(getattr(imputer, "statistics_", []), dtype=object)
    numeric_statistics = all(isinstance(value, int | float | np.number) for value in statistics)
    if (
        looks_for_nan
        and isinstance(input_type, DoubleTensorType)
        and numeric_statistics
        and not getattr(imputer, "add_indicator", False)
    ):
        _convert_double_imputer(scope, operator, container, statistics.astype(np.float64))
        return
    convert_sklearn_imputer(scope, operator, container)


def _convert_double_imputer(scope: Any, operator: Any, container: Any, statistics: np.ndarray[Any, Any]) -> None:
    from skl2onnx.operator_converters.common import concatenate_variables
    from skl2onnx.proto import onnx_proto

    values = concatenate_variables(scope, operator.inputs, container)
    fill = scope.get_unique_variable_name("imputed_values")
    container.add_initializer(fill, onnx_proto.TensorProto.DOUBLE, [1, len(statistics)], statistics.tolist())
    missing = scope.get_unique_variable_name("is_missing")
    container.add_node("IsNaN", [values], [missing], name=scope.get_unique_operator_name("IsNaN"))
    container.add_node(
        "Where", [missing, fill, values], [operator.outputs[0].full_name], name=scope.get_unique_operator_name("Where")
    )
