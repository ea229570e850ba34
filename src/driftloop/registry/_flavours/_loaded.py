"""A loaded model: the native estimator behind one predict interface for every flavour."""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from driftloop.errors import InvalidData, InvalidInput, InvalidState
from driftloop.registry._flavours._onnx import OnnxCopy
from driftloop.registry._flavours._river import predict_proba_rows, predict_rows, river_classes

__all__ = ["LoadedModel"]


class LoadedModel:
    """A model read back from its parts, ready to predict on data frames.

    Args:
        flavour: ``"sklearn"``, ``"lightgbm"``, ``"xgboost"`` or ``"river"``.
        estimator: The native object: the scikit-learn Pipeline or estimator, the LightGBM/XGBoost
            scikit-learn wrapper (inside its Pipeline when it had one), or the river model.
        task: ``"binary"``, ``"multiclass"``, ``"regression"`` or ``None``.
        classes: The class labels of a classifier, in the order of :meth:`predict_proba`'s columns.
        feature_names: The columns the model takes, in order; empty when unknown (all columns are passed).
        onnx: The ONNX copy, when the manifest kept one.
        onnx_info: The manifest's ``onnx`` entry (why there is no copy, or how well it matched).

    Attributes:
        classes_: The class labels as an array, or ``None`` for regressors (and river classifiers that
            named no class when packaged).
    """

    def __init__(
        self,
        *,
        flavour: str,
        estimator: Any,
        task: str | None,
        classes: npt.NDArray[Any] | None,
        feature_names: list[str],
        onnx: OnnxCopy | None = None,
        onnx_info: dict[str, Any] | None = None,
    ) -> None:
        self.flavour = flavour
        self.estimator = estimator
        self.task = task
        self.classes_ = classes
        self.feature_names = feature_names
        self.onnx_info = onnx_info
        self._onnx = onnx
        self._takes_names = flavour == "river" or _fitted_with_feature_names(estimator)

    def __repr__(self) -> str:
        return f"LoadedModel(flavour={self.flavour!r}, estimator={type(self.estimator).__name__}, task={self.task!r})"

    @property
    def is_classifier(self) -> bool:
        """Whether the model predicts classes (and so has :meth:`predict_proba`)."""
        return self.task in ("binary", "multiclass") or (self.task is None and self.classes_ is not None)

    @property
    def has_onnx(self) -> bool:
        """Whether an ONNX copy was kept and can serve :meth:`predict_onnx`."""
        return self._onnx is not None

    @property
    def onnx(self) -> OnnxCopy | None:
        """The validated ONNX copy (bytes, input layout, session), or None when none was kept."""
        return self._onnx

    @property
    def onnx_session(self) -> Any:
        """The onnxruntime ``InferenceSession`` of the ONNX copy, created on first use."""
        return self._require_onnx().session

    def predict(self, frame: pd.DataFrame) -> npt.NDArray[Any]:
        """Return the model's predictions (class labels or values), one per row of ``frame``."""
        features = self._features(frame)
        if self.flavour == "river":
            return predict_rows(self.estimator, features)
        return np.asarray(self._call("predict", features))

    def predict_proba(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Return class probabilities, one row per row of ``frame``, columns in the order of ``classes_``.

        Raises:
            InvalidInput: The model is not a classifier, or has no probabilities.
        """
        if not self.is_classifier:
            raise InvalidInput(f"Only classifiers have predict_proba; this {self.flavour} model's task is {self.task}.")
        features = self._features(frame)
        if self.flavour == "river":
            known = self.classes_
            classes = list(known) if known is not None else river_classes(self.estimator, features) or []
            return predict_proba_rows(self.estimator, features, classes)
        if not hasattr(self.estimator, "predict_proba"):
            name = type(self.estimator).__name__
            raise InvalidInput(f"The {name} classifier gives no probabilities (it has no predict_proba).")
        return np.asarray(self._call("predict_proba", features), dtype=np.float64)

    def predict_onnx(self, frame: pd.DataFrame) -> npt.NDArray[Any]:
        """Like :meth:`predict`, computed by the ONNX copy on onnxruntime.

        Raises:
            InvalidState: No ONNX copy was kept; the message says why.
        """
        copy = self._require_onnx()
        output = copy.run(self._features(frame))
        if copy.classifier and self.classes_ is not None:
            return np.asarray(self.classes_[np.argmax(output, axis=1)])
        return output

    def predict_proba_onnx(self, frame: pd.DataFrame) -> npt.NDArray[np.float64]:
        """Like :meth:`predict_proba`, computed by the ONNX copy on onnxruntime."""
        copy = self._require_onnx()
        if not copy.classifier:
            raise InvalidInput(f"Only classifiers have predict_proba; this {self.flavour} model's task is {self.task}.")
        return copy.run(self._features(frame))

    def _require_onnx(self) -> OnnxCopy:
        if self._onnx is None:
            reason = (self.onnx_info or {}).get("reason", "it was packaged without one")
            raise InvalidState(f"This {self.flavour} model has no ONNX copy: {reason}.")
        return self._onnx

    def _features(self, frame: pd.DataFrame) -> pd.DataFrame:
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInput(f"A model predicts on a pandas DataFrame; got {type(frame).__name__}.")
        if not self.feature_names:
            return frame
        missing = [name for name in self.feature_names if name not in frame.columns]
        if missing:
            raise InvalidData(
                f"The frame lacks the column(s) {', '.join(map(repr, missing))} the model takes; "
                f"it has {len(frame.columns)} column(s): {', '.join(map(repr, list(frame.columns)[:20]))}."
            )
        if list(frame.columns) == self.feature_names:
            return frame
        return frame[self.feature_names]

    def _call(self, method: str, features: pd.DataFrame) -> Any:
        # A model fitted on an unnamed matrix warns when given names; it gets the bare values instead.
        data = features if self._takes_names else features.to_numpy()
        try:
            return getattr(self.estimator, method)(data)
        except (ValueError, TypeError, KeyError) as error:
            raise InvalidData(f"The {self.flavour} model could not {method} on the frame: {error}") from error


def _fitted_with_feature_names(estimator: Any) -> bool:
    try:
        return getattr(estimator, "feature_names_in_", None) is not None
    except Exception:  # wrappers raise their own "not fitted with names" errors from the property
        return False
