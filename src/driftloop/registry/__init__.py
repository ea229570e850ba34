"""The model registry: versions, aliases with their history, safe model files.

A model version is immutable: a manifest listing its files (scikit-learn parts saved with skops, LightGBM
and XGBoost boosters in their native formats, River state signed with the workspace's key, an ONNX copy
where it matches the native model) with their SHA-256 digests, checked on every load. Aliases
(``champion``, ``challenger``, any name) move, and every move is an event with who, when, why and the
evidence. Reach it as ``ws.models``.
"""

from driftloop.registry._flavours import LoadedModel, Manifest, ModelPart
from driftloop.registry._references import ModelReference, parse_reference
from driftloop.registry._registry import ModelRegistry
from driftloop.registry._signature import Signature

__all__ = [
    "LoadedModel",
    "Manifest",
    "ModelPart",
    "ModelReference",
    "ModelRegistry",
    "Signature",
    "parse_reference",
]
