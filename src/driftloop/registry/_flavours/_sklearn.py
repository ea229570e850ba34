"""The sklearn flavour: any scikit-learn estimator or Pipeline, stored as one skops part."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from driftloop.registry._flavours._manifest import Manifest, ModelPart
from driftloop.registry._flavours._parts import Get, Put, read_part, store_part
from driftloop.registry._flavours._skops import dump_skops, load_skops, types_needing_trust

__all__ = ["load_sklearn", "package_sklearn"]


def package_sklearn(model: Any, put: Put) -> tuple[list[ModelPart], dict[str, Any]]:
    """Store a fitted scikit-learn model as the part ``"estimator"``.

    Returns:
        The parts and the details for the manifest: the estimator's class and, under ``needs_trust``, the
        types a loader must trust explicitly (empty for the pipelines driftloop trains).
    """
    data = dump_skops(model, what=f"{type(model).__name__} model")
    details = {"estimator_class": f"{type(model).__module__}.{type(model).__qualname__}"}
    return [store_part(put, "estimator", data, "skops")], {**details, "needs_trust": types_needing_trust(data)}


def load_sklearn(manifest: Manifest, get: Get, trusted: Sequence[str]) -> Any:
    """Rebuild the scikit-learn model of ``manifest``; raise PermissionDenied for types nobody trusted."""
    data = read_part(manifest, "estimator", get, format="skops")
    return load_skops(data, what="sklearn model", trusted=trusted)
