"""Packaging a model into signed, content-addressed parts and loading it back: the flavours' front door."""

from __future__ import annotations

import importlib.metadata
from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd

from driftloop.errors import InvalidInput
from driftloop.registry._flavours._boosters import booster_flavour, load_booster, package_booster
from driftloop.registry._flavours._json_values import NotJson, labels_array, labels_to_json
from driftloop.registry._flavours._loaded import LoadedModel
from driftloop.registry._flavours._manifest import FORMAT_VERSION, TASKS, Manifest, validate_signing_key
from driftloop.registry._flavours._onnx import OnnxCopy, export_onnx
from driftloop.registry._flavours._parts import Get, Put, read_part, store_part
from driftloop.registry._flavours._river import (
    is_river_model,
    load_river,
    load_river_from_server,
    package_river,
    river_classes,
    river_task,
)
from driftloop.registry._flavours._sklearn import load_sklearn, package_sklearn

__all__ = ["flavour_of", "load_model", "package_model"]

_LIBRARIES = {
    "sklearn": ("scikit-learn",),
    "lightgbm": ("lightgbm", "scikit-learn"),
    "xgboost": ("xgboost", "scikit-learn"),
    "river": ("river",),
}


def flavour_of(model: object) -> str:
    """Return the flavour that stores ``model``: ``"sklearn"``, ``"lightgbm"``, ``"xgboost"`` or ``"river"``.

    A LightGBM or XGBoost wrapper is its library's flavour also as the last step of a scikit-learn Pipeline.

    >>> from sklearn.linear_model import Ridge
    >>> flavour_of(Ridge())
    'sklearn'

    Raises:
        InvalidInput: No flavour stores models of this type; the message names the type.
    """
    flavour = booster_flavour(model)
    if flavour is not None:
        return flavour
    if is_river_model(model):
        return "river"
    from sklearn.base import BaseEstimator

    if isinstance(model, BaseEstimator):
        return "sklearn"
    raise InvalidInput(
        f"driftloop cannot store a {type(model).__module__}.{type(model).__qualname__}: a model must be a "
        "scikit-learn estimator or Pipeline, a LightGBM or XGBoost scikit-learn wrapper (alone or ending a "
        "Pipeline), or a river model."
    )


def package_model(
    model: object,
    *,
    put: Put,
    sample: pd.DataFrame | None = None,
    signing_key: bytes,
    task: str | None = None,
    onnx: bool = True,
) -> Manifest:
    """Store a fitted model as parts with ``put`` and return its signed manifest.

    Args:
        model: A fitted model of a supported flavour (see :func:`flavour_of`).
        put: Stores bytes, returns their SHA-256 (a blob store's ``put``).
        sample: Some input rows: they check the ONNX copy and name the features (and a river classifier's
            classes) when the model does not. Without a sample no ONNX copy is kept.
        signing_key: The workspace's secret key (at least 16 bytes); it signs the manifest.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``; inferred from the model when ``None``.
        onnx: Whether to try an ONNX copy.

    Returns:
        The manifest, signed; store it with :meth:`Manifest.to_json`.

    Raises:
        InvalidInput: The model is of no supported flavour, not fitted, cannot be saved, or ``task``
            contradicts it.
    """
    flavour = flavour_of(model)
    key = validate_signing_key(signing_key)
    if sample is not None and not isinstance(sample, pd.DataFrame):
        raise InvalidInput(f"The 'sample' must be a pandas DataFrame or None; got {type(sample).__name__}.")
    if task is not None and task not in TASKS:
        raise InvalidInput(f"The 'task' must be one of {', '.join(TASKS)} or None; got {task!r}.")
    details: dict[str, Any] = {"versions": _versions(flavour)}
    if flavour == "river":
        inferred, classifier = river_task(model)
        labels = river_classes(model, sample) if classifier else None
        if classifier and labels is not None:
            inferred = "binary" if len(labels) <= 2 else "multiclass"
        classes, classes_dtype = _labels(labels)
        parts, flavour_details = package_river(model, put, key)
        feature_names = [str(name) for name in sample.columns] if sample is not None else []
    else:
        _check_fitted(model)
        inferred, classifier, labels = _sklearn_task(model)
        classes, classes_dtype = _labels(labels)
        if flavour == "sklearn":
            parts, flavour_details = package_sklearn(model, put)
        else:
            parts, flavour_details = package_booster(model, flavour, put)
        feature_names = _feature_names(model, sample)
    details.update(flavour_details)
    if classes_dtype is not None:
        details["classes_dtype"] = classes_dtype
    task = _settle_task(task, inferred, classifier=classifier, flavour=flavour)
    loaded = LoadedModel(
        flavour=flavour,
        estimator=model,
        task=task,
        classes=None if labels is None else labels_array(classes or [], classes_dtype),
        feature_names=feature_names,
    )
    onnx_entry: dict[str, Any] | None
    if flavour == "river":
        onnx_entry = {"kept": False, "reason": "river models have no ONNX converter"}
    elif not onnx:
        onnx_entry = {"kept": False, "reason": "ONNX export was turned off (onnx=False)"}
    else:
        onnx_bytes, onnx_entry = export_onnx(
            model,
            sample=sample,
            feature_names=feature_names,
            classifier=loaded.is_classifier,
            regressor=task == "regression",
            native=loaded.predict_proba if loaded.is_classifier else loaded.predict,
        )
        if onnx_bytes is not None:
            parts.append(store_part(put, "onnx", onnx_bytes, "onnx"))
            onnx_entry = {"part": "onnx", **onnx_entry}
    manifest = Manifest(
        flavour=flavour,
        format_version=FORMAT_VERSION,
        parts=tuple(parts),
        task=task,
        classes=classes,
        feature_names=feature_names,
        onnx=onnx_entry,
        details=details,
    )
    return manifest.signed(key)


def load_model(
    manifest: Manifest, *, get: Get, signing_key: bytes, trusted: Sequence[str] = (), onnx: bool = True
) -> LoadedModel:
    """Load the model of ``manifest``, checking its signature and every part's digest first.

    Args:
        manifest: A manifest returned by :func:`package_model` (or read with :meth:`Manifest.from_json`).
        get: Returns the bytes stored under a digest (a blob store's ``get``).
        signing_key: The workspace's secret key the manifest was signed with.
        trusted: skops type names to trust beyond driftloop's list (see the PermissionDenied message).
        onnx: Whether to read the ONNX copy, when there is one.

    Raises:
        PermissionDenied: The manifest (or a river pickle) is not signed with ``signing_key``, or a skops
            part holds types nobody trusted.
        BlobIntegrityError: A part's bytes do not match its digest; the message names the part.
    """
    if not isinstance(manifest, Manifest):
        raise InvalidInput(f"The 'manifest' must be a Manifest; got {type(manifest).__name__}.")
    if isinstance(trusted, str):
        raise InvalidInput(f"The 'trusted' must be a list of type names; got the single string {trusted!r}.")
    key = validate_signing_key(signing_key)
    manifest.verify(key)
    return _load(manifest, get, key, trusted, onnx)


def load_checked_model(manifest: Manifest, *, get: Get, trusted: Sequence[str] = (), onnx: bool = True) -> LoadedModel:
    """Load the model of a manifest whose signature the workspace server that sent it has checked.

    Every part's digest is checked here (``get`` does). A River model's state, a pickle whose HMAC only the
    workspace key checks, is unpickled once its bytes match the digest of the manifest the server checked.
    """
    if not isinstance(manifest, Manifest):
        raise InvalidInput(f"The 'manifest' must be a Manifest; got {type(manifest).__name__}.")
    return _load(manifest, get, None, trusted, onnx)


def _load(manifest: Manifest, get: Get, key: bytes | None, trusted: Sequence[str], onnx: bool) -> LoadedModel:
    if isinstance(trusted, str):
        raise InvalidInput(f"The 'trusted' must be a list of type names; got the single string {trusted!r}.")
    if manifest.flavour == "river":
        estimator = load_river_from_server(manifest, get) if key is None else load_river(manifest, get, key)
    elif manifest.flavour == "sklearn":
        estimator = load_sklearn(manifest, get, trusted)
    else:
        estimator = load_booster(manifest, get, trusted)
    classes = None
    if manifest.classes is not None:
        classes = getattr(estimator, "classes_", None) if manifest.flavour != "river" else None
        if classes is None:
            classes = labels_array(manifest.classes, manifest.details.get("classes_dtype"))
    onnx_copy = None
    if onnx and manifest.onnx is not None and manifest.has_part("onnx"):
        onnx_copy = OnnxCopy(
            read_part(manifest, "onnx", get, format="onnx"),
            manifest.onnx["inputs"],
            classifier=manifest.classes is not None,
        )
    return LoadedModel(
        flavour=manifest.flavour,
        estimator=estimator,
        task=manifest.task,
        classes=None if classes is None else np.asarray(classes),
        feature_names=list(manifest.feature_names),
        onnx=onnx_copy,
        onnx_info=manifest.onnx,
    )


def _check_fitted(model: Any) -> None:
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    try:
        check_is_fitted(model)
    except NotFittedError:
        raise InvalidInput(f"The {type(model).__name__} must be fitted before it is packaged.") from None


def _sklearn_task(model: Any) -> tuple[str | None, bool, Any]:
    from sklearn.base import is_classifier, is_regressor

    if is_classifier(model):
        labels = getattr(model, "classes_", None)
        if isinstance(labels, np.ndarray) and labels.ndim == 1:
            return ("binary" if len(labels) <= 2 else "multiclass"), True, labels
        return None, True, None  # multi-output classifiers keep a list of label arrays
    if is_regressor(model):
        return "regression", False, None
    return None, False, None


def _labels(labels: Any) -> tuple[list[Any] | None, str | None]:
    if labels is None:
        return None, None
    try:
        return labels_to_json(labels)
    except NotJson as error:
        raise InvalidInput(f"A model's class labels must be text, numbers or booleans; {error}.") from None


def _settle_task(given: str | None, inferred: str | None, *, classifier: bool, flavour: str) -> str | None:
    if given is None:
        return inferred
    if inferred is not None:
        if given != inferred:
            raise InvalidInput(f"The 'task' {given!r} contradicts the {flavour} model, whose task is {inferred!r}.")
    elif not classifier:
        raise InvalidInput(f"The 'task' {given!r} does not fit the {flavour} model: not a classifier or regressor.")
    elif given == "regression":
        raise InvalidInput(f"The 'task' 'regression' contradicts the {flavour} model, which is a classifier.")
    return given


def _feature_names(model: Any, sample: pd.DataFrame | None) -> list[str]:
    try:
        names = getattr(model, "feature_names_in_", None)
    except Exception:  # LightGBM's property raises when fitted on an unnamed matrix
        names = None
    if names is not None:
        return [str(name) for name in names]
    if sample is not None:
        return [str(name) for name in sample.columns]
    return []


def _versions(flavour: str) -> dict[str, str]:
    versions = {}
    for library in _LIBRARIES[flavour]:
        try:
            versions[library] = importlib.metadata.version(library)
        except importlib.metadata.PackageNotFoundError:
            continue  # xgboost-cpu installs the module under another distribution name
    if flavour == "xgboost" and "xgboost" not in versions:
        import xgboost

        versions["xgboost"] = xgboost.__version__
    return versions
