"""The river flavour: an online model as a pickle, loaded only when the workspace's own signature matches.

River models have no safe file format, so the part ``"state"`` is ``pickle.dumps(model)``. Unpickling runs
code chosen by whoever wrote the bytes, so the manifest records an HMAC-SHA256 of them under the workspace
key, and loading checks it before ``pickle.loads`` sees a byte: a pickle written elsewhere, or altered,
is refused with PermissionDenied.
"""

from __future__ import annotations

import dataclasses
import hmac
import pickle
import sys
from typing import Any

import numpy as np
import numpy.typing as npt
import pandas as pd

from driftloop.errors import InvalidData, InvalidInput, PermissionDenied
from driftloop.registry._flavours._manifest import Manifest, ModelPart, keyed_digest
from driftloop.registry._flavours._parts import Get, Put, read_part, store_part

__all__ = [
    "is_river_model",
    "load_river",
    "package_river",
    "predict_proba_rows",
    "predict_rows",
    "river_classes",
    "river_task",
]


def is_river_model(model: object) -> bool:
    """Tell whether ``model`` is a river estimator (a river compose.Pipeline included)."""
    river = sys.modules.get("river")
    return river is not None and isinstance(model, river.base.Estimator)


def river_task(model: Any) -> tuple[str | None, bool]:
    """Return the task a river model learns (``"regression"`` or ``None`` for classifiers) and whether it classifies."""
    last = _final_step(model)
    from river import base

    if isinstance(last, base.Classifier):
        return None, True
    if isinstance(last, base.Regressor):
        return "regression", False
    return None, False


def river_classes(model: Any, sample: pd.DataFrame | None) -> list[Any] | None:
    """Return the classes a river classifier knows: its ``classes`` if kept, and those it names on ``sample``."""
    seen = getattr(_final_step(model), "classes", None)
    found: list[Any] = list(seen) if isinstance(seen, set | list | tuple) else []
    if sample is not None:
        for row in _rows(sample):
            for label in model.predict_proba_one(row):
                if label not in found:
                    found.append(label)
    return _ordered(found) or None


def package_river(model: Any, put: Put, signing_key: bytes) -> tuple[list[ModelPart], dict[str, Any]]:
    """Store a river model as a pickle, with the HMAC that lets this workspace load it again."""
    try:
        state = pickle.dumps(model, protocol=pickle.HIGHEST_PROTOCOL)
    except (pickle.PicklingError, TypeError, AttributeError) as error:
        raise InvalidInput(f"The river {type(model).__name__} cannot be pickled: {error}") from error
    details = {
        "model_class": f"{type(model).__module__}.{type(model).__qualname__}",
        "state_hmac": keyed_digest(signing_key, state),
    }
    return [store_part(put, "state", state, "river-signed-pickle")], details


def load_river(manifest: Manifest, get: Get, signing_key: bytes) -> Any:
    """Unpickle the river model of ``manifest`` once its HMAC verifies under ``signing_key``."""
    state = read_part(manifest, "state", get, format="river-signed-pickle")
    recorded = manifest.details.get("state_hmac")
    if not isinstance(recorded, str) or not hmac.compare_digest(keyed_digest(signing_key, state), recorded):
        raise PermissionDenied(
            "The river model's pickle is not signed by this workspace's key (it was packaged elsewhere or "
            "altered); driftloop does not unpickle it."
        )
    return pickle.loads(state)  # safe only because the bytes carry this workspace's signature


def load_river_from_server(manifest: Manifest, get: Get) -> Any:
    """Unpickle the river model of a manifest a workspace server sent, once its state matches the manifest's digest.

    The server checked the manifest's signature, which covers the state's digest and HMAC, before answering it;
    ``get`` checks the bytes against that digest. So the bytes are the ones the workspace signed, as far as the
    server that answered is the one the client meant to reach (HTTPS in production).
    """
    state = read_part(manifest, "state", get, format="river-signed-pickle")
    return pickle.loads(state)  # the bytes the workspace signed, by the digest its checked manifest records


def resign_river(manifest: Manifest, state: bytes, signing_key: bytes) -> Manifest:
    """The manifest of a river model packaged elsewhere, its state's HMAC computed with this workspace's key."""
    return dataclasses.replace(manifest, details={**manifest.details, "state_hmac": keyed_digest(signing_key, state)})


def predict_rows(model: Any, frame: pd.DataFrame) -> npt.NDArray[Any]:
    """Return ``predict_one`` of every row of ``frame``."""
    predictions = [model.predict_one(row) for row in _rows(frame)]
    if predictions and all(value is not None for value in predictions):
        return np.asarray(predictions)
    array = np.empty(len(predictions), dtype=object)  # a model that learnt nothing yet predicts None
    array[:] = predictions
    return array


def predict_proba_rows(model: Any, frame: pd.DataFrame, classes: list[Any]) -> npt.NDArray[np.float64]:
    """Return ``predict_proba_one`` of every row as a matrix whose columns follow ``classes``.

    Raises:
        InvalidData: The model names a class outside ``classes`` with a non-zero probability.
    """
    column = {label: index for index, label in enumerate(classes)}
    result = np.zeros((len(frame), len(classes)), dtype=np.float64)
    for row_index, row in enumerate(_rows(frame)):
        for label, probability in model.predict_proba_one(row).items():
            if label in column:
                result[row_index, column[label]] = probability
            elif probability > 0:
                raise InvalidData(
                    f"The river model gave the class {label!r}, which it did not know when packaged "
                    f"(classes {classes}), a probability of {probability}.",
                    row=row_index,
                )
    return result


def _final_step(model: Any) -> Any:
    from river import compose

    while isinstance(model, compose.Pipeline):
        model = model._last_step
    return model


def _rows(frame: pd.DataFrame) -> list[dict[Any, Any]]:
    # The very conversion the trainer learned with: numbers as floats, other values as text, missing as None
    # (the trainer's pipelines impute None with a running mean; dropping the key would break their selectors).
    from driftloop.training._river import river_rows

    return river_rows(frame)


def _ordered(labels: list[Any]) -> list[Any]:
    try:
        return sorted(labels)
    except TypeError:  # labels of mixed types keep the order they were seen in
        return labels
