"""Safe model files: a model as signed, content-addressed parts, in a format chosen by its library (flavour).

- ``sklearn``: any scikit-learn estimator or Pipeline, as skops (no pickle); loading trusts skops' defaults,
  a short list of internal scikit-learn types, and what the caller opts into with ``trusted=``.
- ``lightgbm`` / ``xgboost``: the booster in the library's own format, preceding Pipeline steps as skops.
- ``river``: a pickle, unpickled only when its HMAC under the workspace key verifies.
- ``onnx`` (not a flavour, a part): an ONNX copy for fast inference, kept when it predicts like the model.

Every part is checked against its SHA-256 when loaded, and the manifest against its signature.
"""

from driftloop.registry._flavours._loaded import LoadedModel
from driftloop.registry._flavours._manifest import FLAVOURS, FORMAT_VERSION, Manifest, ModelPart
from driftloop.registry._flavours._packaging import flavour_of, load_checked_model, load_model, package_model
from driftloop.registry._flavours._skops import TRUSTED_TYPE_PATHS, trusted_type_names

__all__ = [
    "FLAVOURS",
    "FORMAT_VERSION",
    "TRUSTED_TYPE_PATHS",
    "LoadedModel",
    "Manifest",
    "ModelPart",
    "flavour_of",
    "load_checked_model",
    "load_model",
    "package_model",
    "trusted_type_names",
]
