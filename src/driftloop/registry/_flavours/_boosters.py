"""The lightgbm and xgboost flavours: a booster in its library's own format, preceding steps with skops.

A model is an ``LGBMClassifier``/``LGBMRegressor`` or ``XGBClassifier``/``XGBRegressor``, alone or as the
last step of a scikit-learn Pipeline. The parts are:

- ``"booster"``: LightGBM's text model (``model_to_string``) or XGBoost's UBJSON (``save_raw("ubj")``);
- ``"preprocessing"`` (pipelines only): the Pipeline with its last step set to ``"passthrough"``, via skops.

An XGBoost classifier trained on text labels reaches here inside scikit-learn's ``VotingClassifier`` with that
one estimator (XGBoost takes only the labels 0..k-1; the voting wrapper encodes and decodes them): the booster
is stored the same way and the wrapper is rebuilt around it on load, with its label encoder.

Loading rebuilds the library's own scikit-learn wrapper around the booster, so the loaded estimator is the
same kind of object that was packaged (it predicts, and can continue training with ``init_model``).
XGBoost restores its wrapper itself (``load_model``). LightGBM has no such call: the wrapper is built with
the recorded parameters and given the attributes ``fit`` would set (booster, objective, feature counts and,
for classifiers, the label encoder of its classes, so string labels come back as they went in).
"""

from __future__ import annotations

import copy
import sys
from collections.abc import Sequence
from typing import Any

from driftloop.errors import InvalidInput
from driftloop.registry._flavours._json_values import changed_params, labels_array, labels_to_json
from driftloop.registry._flavours._manifest import Manifest, ModelPart
from driftloop.registry._flavours._parts import Get, Put, read_part, store_part
from driftloop.registry._flavours._skops import dump_skops, load_skops, types_needing_trust

__all__ = ["booster_flavour", "final_estimator", "load_booster", "package_booster"]

_WRAPPERS = {
    "lightgbm": ("LGBMClassifier", "LGBMRegressor"),
    "xgboost": ("XGBClassifier", "XGBRegressor"),
}


def final_estimator(model: Any) -> Any:
    """Return the last step of a scikit-learn Pipeline, or ``model`` itself."""
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline) and model.steps:
        return model.steps[-1][1]
    return model


def _voted(estimator: Any) -> Any:
    """The one estimator inside a single-estimator ``VotingClassifier``, else ``estimator`` itself."""
    from sklearn.ensemble import VotingClassifier

    if isinstance(estimator, VotingClassifier) and len(getattr(estimator, "estimators_", ())) == 1:
        return estimator.estimators_[0]
    return estimator


def booster_flavour(model: Any) -> str | None:
    """Return ``"lightgbm"`` or ``"xgboost"`` when ``model`` (or its Pipeline's last step) is such a wrapper.

    Only libraries already imported are checked: a model of a library never imported cannot exist.
    """
    estimator = _voted(final_estimator(model))
    for flavour, wrappers in _WRAPPERS.items():
        library = sys.modules.get(flavour)
        if library is not None and isinstance(estimator, tuple(getattr(library, name) for name in wrappers)):
            return flavour
    return None


def package_booster(model: Any, flavour: str, put: Put) -> tuple[list[ModelPart], dict[str, Any]]:
    """Store a LightGBM or XGBoost model (alone or ending a Pipeline) as its parts.

    Returns:
        The parts and the details for the manifest: the wrapper class, its non-default parameters, and
        for a pipeline the name of the booster's step.

    Raises:
        InvalidInput: The wrapper is a subclass driftloop cannot rebuild, or uses a custom objective.
    """
    last_step = final_estimator(model)
    wrapper = _voted(last_step)
    wrapper_class = type(wrapper).__name__
    if wrapper_class not in _WRAPPERS[flavour] or type(wrapper).__module__.split(".")[0] != flavour:
        raise InvalidInput(
            f"A {flavour} model must be one of {', '.join(_WRAPPERS[flavour])} (alone or as a Pipeline's last "
            f"step); got a {type(wrapper).__module__}.{type(wrapper).__qualname__}."
        )
    params, dropped = changed_params(wrapper)
    details: dict[str, Any] = {"wrapper": wrapper_class, "params": params, "dropped_params": dropped}
    if last_step is not wrapper:
        labels, dtype = labels_to_json(last_step.classes_)
        details["voting"] = {"name": last_step.estimators[0][0], "classes": labels, "classes_dtype": dtype}
    parts: list[ModelPart] = []
    if last_step is not model:
        step_name = model.steps[-1][0]
        preprocessing = copy.copy(model)
        preprocessing.steps = [*model.steps[:-1], (step_name, "passthrough")]
        data = dump_skops(preprocessing, what=f"preprocessing of the {flavour} pipeline")
        parts.append(store_part(put, "preprocessing", data, "skops"))
        details.update(pipeline_step=step_name, needs_trust=types_needing_trust(data))
    if flavour == "lightgbm":
        booster, extra = _lightgbm_booster(wrapper)
        parts.append(store_part(put, "booster", booster, "lightgbm-text"))
    else:
        booster, extra = _xgboost_booster(wrapper)
        parts.append(store_part(put, "booster", booster, "xgboost-ubj"))
    return parts, {**details, **extra}


def load_booster(manifest: Manifest, get: Get, trusted: Sequence[str]) -> Any:
    """Rebuild the wrapper (inside its Pipeline when there was one) from the parts of ``manifest``."""
    details = manifest.details
    if manifest.flavour == "lightgbm":
        text = read_part(manifest, "booster", get, format="lightgbm-text")
        wrapper = _lightgbm_wrapper(text, details, manifest.classes)
    else:
        raw = read_part(manifest, "booster", get, format="xgboost-ubj")
        wrapper = _xgboost_wrapper(raw, details)
    if "voting" in details:
        wrapper = _voting_wrapper(wrapper, details["voting"])
    if not manifest.has_part("preprocessing"):
        return wrapper
    data = read_part(manifest, "preprocessing", get, format="skops")
    pipeline = load_skops(data, what=f"preprocessing of the {manifest.flavour} pipeline", trusted=trusted)
    pipeline.steps[-1] = (details["pipeline_step"], wrapper)
    return pipeline


def _lightgbm_booster(wrapper: Any) -> tuple[bytes, dict[str, Any]]:
    if not wrapper.__sklearn_is_fitted__():
        raise InvalidInput(f"The {type(wrapper).__name__} must be fitted before it is packaged.")
    if not isinstance(wrapper._objective, str):
        raise InvalidInput(
            f"The {type(wrapper).__name__} uses a custom objective function, which cannot be stored safely; "
            "train it with a built-in objective to package it."
        )
    extra = {
        "objective": wrapper._objective,
        "n_features_in": int(wrapper._n_features_in),
        "fitted_with_feature_names": bool(wrapper._fitted_with_feature_names),
        "best_iteration": int(wrapper._best_iteration),
    }
    return wrapper.booster_.model_to_string().encode(), extra


def _lightgbm_wrapper(text: bytes, details: dict[str, Any], classes: list[Any] | None) -> Any:
    import lightgbm

    wrapper_class = _wrapper_class(lightgbm, "lightgbm", details)
    wrapper = wrapper_class(**details["params"])
    booster = lightgbm.Booster(model_str=text.decode())
    # The attributes LGBMModel.fit sets (lightgbm 4.x); predict needs no others.
    wrapper._Booster = booster
    wrapper._n_features = booster.num_feature()
    wrapper._n_features_in = details["n_features_in"]
    wrapper._fitted_with_feature_names = details["fitted_with_feature_names"]
    wrapper._objective = details["objective"]
    wrapper._best_iteration = details["best_iteration"]
    if wrapper_class is lightgbm.LGBMClassifier:
        if classes is None:
            raise InvalidInput("The manifest of a LightGBM classifier must list its classes; it lists none.")
        from sklearn.preprocessing import LabelEncoder

        labels = labels_array(classes, details.get("classes_dtype"))
        encoder = LabelEncoder()
        encoder.classes_ = labels
        wrapper._le = encoder
        wrapper._classes = labels
        wrapper._n_classes = len(labels)
        wrapper._class_map = {label: index for index, label in enumerate(labels)}
    wrapper.fitted_ = True
    return wrapper


def _xgboost_booster(wrapper: Any) -> tuple[bytes, dict[str, Any]]:
    if not wrapper.__sklearn_is_fitted__():
        raise InvalidInput(f"The {type(wrapper).__name__} must be fitted before it is packaged.")
    return bytes(wrapper.get_booster().save_raw(raw_format="ubj")), {}


def _xgboost_wrapper(raw: bytes, details: dict[str, Any]) -> Any:
    import xgboost

    wrapper = _wrapper_class(xgboost, "xgboost", details)(**details["params"])
    # load_model restores the objective, classes and feature names from the booster's own config.
    wrapper.load_model(bytearray(raw))
    return wrapper


def _voting_wrapper(estimator: Any, voting: dict[str, Any]) -> Any:
    """A fitted single-estimator ``VotingClassifier`` around ``estimator``: the attributes its ``fit`` sets."""
    from sklearn.ensemble import VotingClassifier
    from sklearn.preprocessing import LabelEncoder
    from sklearn.utils import Bunch

    name = str(voting["name"])
    wrapper = VotingClassifier(estimators=[(name, estimator)], voting="soft", flatten_transform=False)
    encoder = LabelEncoder()
    encoder.classes_ = labels_array(voting["classes"], voting.get("classes_dtype"))
    wrapper.estimators_ = [estimator]
    wrapper.named_estimators_ = Bunch(**{name: estimator})
    wrapper.le_ = encoder
    wrapper.classes_ = encoder.classes_
    return wrapper


def _wrapper_class(library: Any, flavour: str, details: dict[str, Any]) -> Any:
    name = details.get("wrapper")
    if name not in _WRAPPERS[flavour]:
        allowed = ", ".join(_WRAPPERS[flavour])
        raise InvalidInput(f"A {flavour} manifest's wrapper must be one of {allowed}; got {name!r}.")
    params = details.get("params")
    if not isinstance(params, dict):
        raise InvalidInput(f"A {flavour} manifest's 'params' must be an object; got {type(params).__name__}.")
    return getattr(library, name)
