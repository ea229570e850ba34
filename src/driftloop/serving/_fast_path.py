"""The fast path: a version's validated ONNX copy, fed straight from the checked input columns.

When the registry kept an ONNX copy of a version (its predictions matched the native model's on a holdout
sample; see :mod:`driftloop.registry._flavours._onnx`), requests are scored by onnxruntime from the NumPy
columns the input checker produced, with no pandas DataFrame built on the way. The session is created when
the version loads, off the request path.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from driftloop.registry import LoadedModel
from driftloop.registry._flavours._onnx_imputer import MISSING_TEXT

__all__ = ["OnnxScorer", "onnx_scorer"]


class OnnxScorer:
    """Scores checked input columns with a version's ONNX copy."""

    def __init__(self, model: LoadedModel) -> None:
        copy = model.onnx
        if copy is None:
            raise ValueError("The model has no ONNX copy.")
        self.session = copy.session  # created now, while the version loads
        self.inputs = copy.inputs
        self.classifier = copy.classifier
        self.classes = model.classes_
        self._columns: list[str] = list(self.inputs["columns"])
        self._types: list[str] = list(self.inputs["types"])
        self._matrix_dtype = np.dtype(np.float64 if self._types[0] == "double" else np.float32)

    def score(
        self,
        columns: Mapping[str, npt.NDArray[Any]],
        *,
        matrix: npt.NDArray[Any] | None = None,
        matrix_columns: list[str] | None = None,
    ) -> tuple[npt.NDArray[Any], npt.NDArray[np.float64] | None]:
        """Predicted values (or labels) and, for classifiers, class probabilities.

        Args:
            columns: The checked input columns by name.
            matrix: The same values as one rows x columns array, when the checker built one; fed as it is when
                the model takes one matrix of that type with the columns in that order.
            matrix_columns: The columns of ``matrix``, in order.
        """
        if (
            matrix is not None
            and self.inputs["layout"] == "matrix"
            and matrix.dtype == self._matrix_dtype
            and matrix_columns == self._columns
        ):
            feeds = {"input": matrix}
        else:
            feeds = self._feeds(columns)
        outputs = self.session.run(None, feeds)
        if self.classifier:
            probabilities = np.asarray(outputs[1], dtype=np.float64)
            labels = probabilities.argmax(axis=1)
            predictions = self.classes[labels] if self.classes is not None else labels
            return np.asarray(predictions), probabilities
        values = np.asarray(outputs[0], dtype=np.float64)
        return (values.ravel() if values.ndim == 2 and values.shape[1] == 1 else values), None

    def _feeds(self, columns: Mapping[str, npt.NDArray[Any]]) -> dict[str, npt.NDArray[Any]]:
        if self.inputs["layout"] == "matrix":
            first = columns[self._columns[0]]
            matrix = np.empty((len(first), len(self._columns)), dtype=self._matrix_dtype)
            for index, name in enumerate(self._columns):  # cheaper than np.column_stack for a few rows
                matrix[:, index] = columns[name]
            return {"input": matrix}
        feeds = {}
        for name, kind in zip(self._columns, self._types, strict=True):
            values = columns[name]
            if kind == "string":
                text = np.array([MISSING_TEXT if value is None else str(value) for value in values], dtype=object)
                feeds[name] = text.reshape(-1, 1)
            else:
                feeds[name] = np.asarray(values, dtype=np.float64 if kind == "double" else np.float32).reshape(-1, 1)
        return feeds


def onnx_scorer(model: LoadedModel) -> OnnxScorer | None:
    """The fast path of ``model``, or None when it has no validated ONNX copy."""
    return OnnxScorer(model) if model.has_onnx else None
