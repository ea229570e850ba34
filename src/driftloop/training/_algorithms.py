"""The training algorithms driftloop offers, behind one interface.

:data:`ALGORITHMS` names every algorithm with what it supports; :func:`build_model` turns a name (or a user's
scikit-learn estimator) into an unfitted model that takes raw rows; :func:`default_search_space` says what a
tuner may vary; ``fit_model`` (in ``_fitting``) fits it, reporting validation scores as it goes for the
iterative learners.

A scikit-learn, LightGBM or XGBoost model is a :class:`sklearn.pipeline.Pipeline` of two steps,
``"preprocess"`` (see ``_preprocessing``) and ``"estimator"``. A River model is River's own
``river.compose.Pipeline`` (see ``_river``), kept as the River object so the registry stores it as one.

XGBoost classifiers only learn labels 0..k-1, so the ``"estimator"`` of an XGBoost classifier is a
:class:`~sklearn.ensemble.VotingClassifier` holding that one classifier: it label-encodes ``y`` on fit and
decodes predictions, its probabilities are the classifier's own, and it is a plain scikit-learn type that skops
trusts and skl2onnx converts. :func:`core_estimator` reaches the classifier inside.

Every model is deterministic for a given ``seed`` (and, for LightGBM, thread count); forests, k-NN, LightGBM
and XGBoost use exactly ``threads`` threads.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

import pandas as pd
from sklearn.base import clone, is_classifier, is_regressor
from sklearn.ensemble import VotingClassifier
from sklearn.pipeline import Pipeline

from driftloop.errors import InvalidInput
from driftloop.training._preprocessing import PreprocessingKind, build_preprocessing, column_roles

__all__ = [
    "ALGORITHMS",
    "ESTIMATOR_STEP",
    "PREPROCESS_STEP",
    "TASKS",
    "Algorithm",
    "Library",
    "Task",
    "build_model",
    "core_estimator",
    "default_search_space",
    "is_river_model",
]

Task = Literal["binary", "multiclass", "regression"]
TASKS: tuple[Task, ...] = ("binary", "multiclass", "regression")
Library = Literal["scikit-learn", "lightgbm", "xgboost", "river"]

PREPROCESS_STEP = "preprocess"
ESTIMATOR_STEP = "estimator"

XGBOOST_HINT = "XGBoost is an optional extra: pip install 'driftloop[xgboost]'"

_CLASSIFICATION: frozenset[Task] = frozenset({"binary", "multiclass"})
_REGRESSION: frozenset[Task] = frozenset({"regression"})
_EVERY_TASK: frozenset[Task] = _CLASSIFICATION | _REGRESSION

# Set through seed= and threads=, so that one run's models never differ in them by accident.
_RESERVED_PARAMS = frozenset({"random_state", "n_jobs"})
# Flat MLP params that build_model turns into hidden_layer_sizes.
_MLP_SHAPE_PARAMS = frozenset({"n_layers", "layer_size"})


@dataclass(frozen=True)
class Algorithm:
    """What driftloop knows about one algorithm.

    Attributes:
        name: The key in :data:`ALGORITHMS`.
        summary: One line for listings.
        tasks: The tasks it supports.
        library: The library that fits it.
        classifier: ``"module:Class"`` of the estimator for binary and multiclass tasks, if supported.
        regressor: ``"module:Class"`` of the estimator for regression, if supported.
        preprocessing: The kind of :func:`build_preprocessing` in front of it; None for River, whose pipeline
            has its own.
        iterative: ``fit_model`` reports validation scores while fitting, so a tuner can prune it.
        onnx: A fitted model converts to ONNX (skl2onnx, with onnxmltools for LightGBM and XGBoost).
        threaded: Its thread count is pinned to ``threads``.
        defaults: Flat params :func:`build_model` uses unless given; the library's defaults hold for the rest.
        search_space: What :func:`default_search_space` returns.
    """

    name: str
    summary: str
    tasks: frozenset[Task]
    library: Library
    classifier: str | None
    regressor: str | None
    preprocessing: PreprocessingKind | None
    iterative: bool = False
    onnx: bool = True
    threaded: bool = False
    defaults: Mapping[str, Any] = field(default_factory=dict)
    search_space: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)


def _float(low: float, high: float, *, log: bool = False) -> dict[str, Any]:
    return _range("float", low, high, log)


def _int(low: int, high: int, *, log: bool = False) -> dict[str, Any]:
    return _range("int", low, high, log)


def _range(kind: str, low: float, high: float, log: bool) -> dict[str, Any]:
    space: dict[str, Any] = {"type": kind, "low": low, "high": high}
    if log:
        space["log"] = True
    return space


def _categorical(*choices: Any) -> dict[str, Any]:
    return {"type": "categorical", "choices": list(choices)}


_TREE_ENSEMBLE_SPACE = {
    "n_estimators": _int(50, 400, log=True),
    "min_samples_leaf": _int(1, 32, log=True),
    "max_features": _float(0.2, 1.0),
}
_RIVER_TREE_SPACE = {
    "grace_period": _int(20, 300, log=True),
    "delta": _float(1e-9, 1e-2, log=True),
    "max_depth": _int(3, 30),
}

_ALGORITHM_LIST = [
    Algorithm(
        name="logistic_regression",
        summary="L2-regularised logistic regression (scikit-learn)",
        tasks=_CLASSIFICATION,
        library="scikit-learn",
        classifier="sklearn.linear_model:LogisticRegression",
        regressor=None,
        preprocessing="onehot",
        defaults={"C": 1.0, "max_iter": 1000},
        search_space={"C": _float(1e-3, 1e2, log=True)},
    ),
    Algorithm(
        name="linear_regression",
        summary="Ordinary least squares (scikit-learn)",
        tasks=_REGRESSION,
        library="scikit-learn",
        classifier=None,
        regressor="sklearn.linear_model:LinearRegression",
        preprocessing="onehot",
    ),
    Algorithm(
        name="ridge",
        summary="L2-regularised least squares (scikit-learn)",
        tasks=_REGRESSION,
        library="scikit-learn",
        classifier=None,
        regressor="sklearn.linear_model:Ridge",
        preprocessing="onehot",
        defaults={"alpha": 1.0},
        search_space={"alpha": _float(1e-3, 1e3, log=True)},
    ),
    Algorithm(
        name="knn",
        summary="k nearest neighbours on scaled features (scikit-learn)",
        tasks=_EVERY_TASK,
        library="scikit-learn",
        classifier="sklearn.neighbors:KNeighborsClassifier",
        regressor="sklearn.neighbors:KNeighborsRegressor",
        preprocessing="onehot",
        threaded=True,
        defaults={"n_neighbors": 10},
        # Not weights="distance": skl2onnx 1.20 converts it to a model that disagrees with scikit-learn.
        search_space={"n_neighbors": _int(3, 64, log=True)},
    ),
    Algorithm(
        name="random_forest",
        summary="Random forest (scikit-learn)",
        tasks=_EVERY_TASK,
        library="scikit-learn",
        classifier="sklearn.ensemble:RandomForestClassifier",
        regressor="sklearn.ensemble:RandomForestRegressor",
        preprocessing="ordinal",
        threaded=True,
        defaults={"n_estimators": 200},
        search_space=_TREE_ENSEMBLE_SPACE,
    ),
    Algorithm(
        name="extra_trees",
        summary="Extremely randomised trees (scikit-learn)",
        tasks=_EVERY_TASK,
        library="scikit-learn",
        classifier="sklearn.ensemble:ExtraTreesClassifier",
        regressor="sklearn.ensemble:ExtraTreesRegressor",
        preprocessing="ordinal",
        threaded=True,
        defaults={"n_estimators": 200},
        search_space=_TREE_ENSEMBLE_SPACE,
    ),
    Algorithm(
        name="hist_gradient_boosting",
        summary="Histogram gradient boosting (scikit-learn)",
        tasks=_EVERY_TASK,
        library="scikit-learn",
        classifier="sklearn.ensemble:HistGradientBoostingClassifier",
        regressor="sklearn.ensemble:HistGradientBoostingRegressor",
        preprocessing="native",
        # skl2onnx 1.20 fails on scikit-learn 1.9's histogram trees (it builds a node with boolean attributes).
        onnx=False,
        defaults={"max_iter": 200, "learning_rate": 0.1},
        search_space={
            "learning_rate": _float(0.01, 0.3, log=True),
            "max_leaf_nodes": _int(8, 128, log=True),
            "min_samples_leaf": _int(5, 100, log=True),
            "l2_regularization": _float(1e-8, 10.0, log=True),
        },
    ),
    Algorithm(
        name="mlp",
        summary="Multi-layer perceptron (scikit-learn), early-stopped",
        tasks=_EVERY_TASK,
        library="scikit-learn",
        classifier="sklearn.neural_network:MLPClassifier",
        regressor="sklearn.neural_network:MLPRegressor",
        preprocessing="onehot",
        iterative=True,
        defaults={
            "n_layers": 1,
            "layer_size": 64,
            "alpha": 1e-4,
            "learning_rate_init": 1e-3,
            "max_iter": 200,
            "early_stopping": True,
            "n_iter_no_change": 20,
        },
        search_space={
            "n_layers": _int(1, 3),
            "layer_size": _int(16, 256, log=True),
            "alpha": _float(1e-6, 1e-1, log=True),
            "learning_rate_init": _float(1e-4, 1e-2, log=True),
            "activation": _categorical("relu", "tanh"),
        },
    ),
    Algorithm(
        name="lightgbm",
        summary="Gradient-boosted trees (LightGBM)",
        tasks=_EVERY_TASK,
        library="lightgbm",
        classifier="lightgbm:LGBMClassifier",
        regressor="lightgbm:LGBMRegressor",
        preprocessing="native",
        iterative=True,
        threaded=True,
        defaults={
            "n_estimators": 200,
            "learning_rate": 0.05,
            "num_leaves": 31,
            "min_child_samples": 20,
            # Without subsample_freq LightGBM ignores subsample, so tuning it would do nothing.
            "subsample_freq": 1,
        },
        search_space={
            "learning_rate": _float(0.01, 0.3, log=True),
            "num_leaves": _int(8, 128, log=True),
            "min_child_samples": _int(5, 100, log=True),
            "subsample": _float(0.5, 1.0),
            "colsample_bytree": _float(0.5, 1.0),
            "reg_lambda": _float(1e-8, 10.0, log=True),
        },
    ),
    Algorithm(
        name="xgboost",
        summary="Gradient-boosted trees (XGBoost, an optional extra)",
        tasks=_EVERY_TASK,
        library="xgboost",
        classifier="xgboost:XGBClassifier",
        regressor="xgboost:XGBRegressor",
        preprocessing="native",
        iterative=True,
        threaded=True,
        defaults={"n_estimators": 200, "learning_rate": 0.1, "max_depth": 6, "tree_method": "hist"},
        search_space={
            "learning_rate": _float(0.01, 0.3, log=True),
            "max_depth": _int(2, 10),
            "min_child_weight": _float(1e-2, 10.0, log=True),
            "subsample": _float(0.5, 1.0),
            "colsample_bytree": _float(0.5, 1.0),
            "reg_lambda": _float(1e-8, 10.0, log=True),
        },
    ),
    Algorithm(
        name="river_logistic_regression",
        summary="Online logistic regression, one-vs-rest (River)",
        tasks=_CLASSIFICATION,
        library="river",
        classifier="river.linear_model:LogisticRegression",
        regressor=None,
        preprocessing=None,
        onnx=False,
        defaults={"learning_rate": 0.05, "l2": 0.0},
        search_space={"learning_rate": _float(1e-3, 0.5, log=True), "l2": _float(1e-8, 1e-1, log=True)},
    ),
    Algorithm(
        name="river_linear_regression",
        summary="Online linear regression on a standardised target (River)",
        tasks=_REGRESSION,
        library="river",
        classifier=None,
        regressor="river.linear_model:LinearRegression",
        preprocessing=None,
        onnx=False,
        defaults={"learning_rate": 0.01, "l2": 0.0},
        search_space={"learning_rate": _float(1e-3, 0.2, log=True), "l2": _float(1e-8, 1e-1, log=True)},
    ),
    Algorithm(
        name="river_hoeffding_tree",
        summary="Hoeffding tree, grown online (River)",
        tasks=_EVERY_TASK,
        library="river",
        classifier="river.tree:HoeffdingTreeClassifier",
        regressor="river.tree:HoeffdingTreeRegressor",
        preprocessing=None,
        onnx=False,
        # Bolder than River's defaults (grace_period=200, delta=1e-7), so a tree grows within a few hundred rows.
        defaults={"grace_period": 50, "delta": 1e-4, "max_depth": None},
        search_space=_RIVER_TREE_SPACE,
    ),
    Algorithm(
        name="river_arf",
        summary="Adaptive random forest, grown online (River)",
        tasks=_EVERY_TASK,
        library="river",
        classifier="river.forest:ARFClassifier",
        regressor="river.forest:ARFRegressor",
        preprocessing=None,
        onnx=False,
        defaults={"n_models": 10, "grace_period": 50, "delta": 0.01, "max_depth": None},
        search_space={"n_models": _int(3, 20), **_RIVER_TREE_SPACE},
    ),
]

ALGORITHMS: Mapping[str, Algorithm] = MappingProxyType({algorithm.name: algorithm for algorithm in _ALGORITHM_LIST})
"""Every algorithm by name. Some names (``random_forest``...) serve classification and regression alike."""


def build_model(
    algorithm: str | Any,
    task: Task,
    sample: pd.DataFrame,
    params: Mapping[str, Any] | None = None,
    *,
    seed: int = 0,
    threads: int = 1,
) -> Any:
    """An unfitted model for ``task`` that takes raw frames shaped like ``sample``.

    Args:
        algorithm: A name in :data:`ALGORITHMS`, or a scikit-learn estimator: a :class:`Pipeline` is used as it
            is (cloned; it must take raw rows itself); any other estimator is cloned and put behind one-hot
            preprocessing, with ``random_state=seed`` where it has one left unset.
        task: ``"binary"``, ``"multiclass"`` or ``"regression"``.
        sample: Rows of the features (the training frame itself serves); only its columns and dtypes are read.
        params: Hyperparameters by flat name, overriding the algorithm's defaults. For ``"mlp"``, ``n_layers``
            and ``layer_size`` stand for ``hidden_layer_sizes=(layer_size,) * n_layers``.
        seed: Seeds every random choice of the model.
        threads: Threads the estimator may use, where it takes a thread count.

    Returns:
        A :class:`Pipeline` (``"preprocess"`` then ``"estimator"``), or for a River algorithm River's own
        ``compose.Pipeline``.

    Raises:
        InvalidInput: An unknown algorithm or task, params the estimator does not take or a value it refuses,
            or XGBoost asked for but not installed.
        InvalidData: ``sample`` has a column no model can take (see ``_preprocessing``).

    >>> frame = pd.DataFrame({"area": [52.0, 80.0], "district": ["Ba Dinh", "Tay Ho"]})
    >>> model = build_model("random_forest", "regression", frame, {"n_estimators": 50}, seed=7, threads=2)
    >>> [name for name, _ in model.steps], model[-1].n_estimators, model[-1].random_state, model[-1].n_jobs
    (['preprocess', 'estimator'], 50, 7, 2)
    """
    _check_arguments(task, seed, threads)
    given = dict(params or {})
    if not isinstance(algorithm, str):
        return _build_from_estimator(algorithm, task, sample, given, seed)
    spec = _lookup(algorithm, task)
    if spec.library == "river":
        from driftloop.training._river import build_river_pipeline

        return build_river_pipeline(spec.name, task, column_roles(sample), _river_params(spec, given), seed=seed)
    assert spec.preprocessing is not None
    preprocess = build_preprocessing(sample, kind=spec.preprocessing)
    estimator = _build_estimator(spec, task, given, seed, threads)
    return Pipeline([(PREPROCESS_STEP, preprocess), (ESTIMATOR_STEP, estimator)])


def default_search_space(algorithm: str, task: Task) -> dict[str, dict[str, Any]]:
    """Where a tuner should look: flat param name to ``{"type": "float" | "int", "low", "high"[, "log": True]}``
    or ``{"type": "categorical", "choices": [...]}``; every name is a param :func:`build_model` accepts.

    >>> default_search_space("mlp", "binary")["n_layers"]
    {'type': 'int', 'low': 1, 'high': 3}
    """
    _check_task(task)
    return copy.deepcopy({name: dict(space) for name, space in _lookup(algorithm, task).search_space.items()})


def is_river_model(model: Any) -> bool:
    """Whether ``model`` is a River estimator (which learns one row at a time) rather than a scikit-learn one."""
    return type(model).__module__.split(".")[0] == "river"


def core_estimator(model: Any) -> Any:
    """The estimator doing the learning in a scikit-learn model: its last step, seen through the label-encoding
    wrapper of an XGBoost classifier (the unfitted template before fitting, the fitted one after)."""
    estimator = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if _is_xgboost_wrapper(estimator):
        fitted = getattr(estimator, "estimators_", None)
        return fitted[0] if fitted else estimator.estimators[0][1]
    return estimator


def _is_xgboost_wrapper(estimator: Any) -> bool:
    return (
        isinstance(estimator, VotingClassifier)
        and len(estimator.estimators) == 1
        and type(estimator.estimators[0][1]).__module__.startswith("xgboost")
    )


def _check_task(task: Any) -> None:
    if task not in TASKS:
        raise InvalidInput(f"The 'task' must be one of {', '.join(TASKS)}; got {task!r}.")


def _check_arguments(task: Any, seed: Any, threads: Any) -> None:
    _check_task(task)
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise InvalidInput(f"The 'seed' must be an integer >= 0; got {seed!r}.")
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 1:
        raise InvalidInput(f"The 'threads' must be an integer >= 1; got {threads!r}.")


def _lookup(name: Any, task: Task) -> Algorithm:
    spec = ALGORITHMS.get(name) if isinstance(name, str) else None
    choices = ", ".join(sorted(known.name for known in ALGORITHMS.values() if task in known.tasks))
    if spec is None:
        raise InvalidInput(f"Unknown algorithm {name!r}; for task {task!r} choose one of: {choices}.")
    if task not in spec.tasks:
        raise InvalidInput(f"The algorithm {name!r} does not support task {task!r}; choose one of: {choices}.")
    return spec


def _build_estimator(spec: Algorithm, task: Task, given: dict[str, Any], seed: int, threads: int) -> Any:
    reserved = sorted(_RESERVED_PARAMS & given.keys())
    if reserved:
        raise InvalidInput(
            f"The params {', '.join(map(repr, reserved))} are set by seed= and threads=; leave them out of params."
        )
    location = spec.regressor if task == "regression" else spec.classifier
    assert location is not None
    estimator_class = _import_estimator(location)
    pinned = _pinned_params(spec, estimator_class, seed, threads)
    accepted = set(estimator_class(**pinned).get_params(deep=False)) - _RESERVED_PARAMS - {"callbacks"}
    if spec.name == "mlp":
        accepted |= _MLP_SHAPE_PARAMS
    unknown = sorted(set(given) - accepted)
    if unknown:
        raise InvalidInput(
            f"The algorithm {spec.name!r} does not take the params {', '.join(map(repr, unknown))}; "
            f"it takes: {', '.join(sorted(accepted))}."
        )
    defaults = dict(spec.defaults)
    if "hidden_layer_sizes" in given:
        for name in _MLP_SHAPE_PARAMS:
            defaults.pop(name, None)
    merged = {**defaults, **given}
    if spec.name == "mlp":
        merged = _mlp_params(merged)
    estimator = estimator_class(**{**pinned, **merged})
    _validate_values(estimator)
    if spec.library == "xgboost" and task != "regression":
        # flatten_transform=False: skl2onnx converts only that form of a soft-voting ensemble.
        return VotingClassifier([("xgboost", estimator)], voting="soft", flatten_transform=False)
    return estimator


def _import_estimator(location: str) -> Any:
    module_name, class_name = location.split(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        if module_name == "xgboost":
            raise InvalidInput(XGBOOST_HINT) from error
        raise
    return getattr(module, class_name)


def _pinned_params(spec: Algorithm, estimator_class: Any, seed: int, threads: int) -> dict[str, Any]:
    pinned: dict[str, Any] = {}
    if "random_state" in estimator_class().get_params(deep=False):
        pinned["random_state"] = seed
    if spec.threaded:
        pinned["n_jobs"] = threads
    if spec.library == "lightgbm":
        # LightGBM is reproducible only with deterministic=True and a fixed histogram layout.
        pinned.update(verbose=-1, deterministic=True, force_col_wise=True)
    return pinned


def _mlp_params(params: dict[str, Any]) -> dict[str, Any]:
    if "hidden_layer_sizes" in params and _MLP_SHAPE_PARAMS & params.keys():
        raise InvalidInput("Give the MLP either 'hidden_layer_sizes' or 'n_layers' and 'layer_size', not both.")
    params = dict(params)
    layers = params.pop("n_layers", None)
    size = params.pop("layer_size", None)
    if layers is None and size is None:
        return params
    for name, value in (("n_layers", layers), ("layer_size", size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidInput(f"The MLP's {name!r} must be an integer >= 1; got {value!r}.")
    assert isinstance(layers, int) and isinstance(size, int)
    params["hidden_layer_sizes"] = (size,) * layers
    return params


def _validate_values(estimator: Any) -> None:
    # scikit-learn checks values only on fit; checking now reports a bad value where it was given.
    if not hasattr(estimator, "_parameter_constraints"):
        return  # not a scikit-learn estimator; its library checks values when fitting
    try:
        estimator._validate_params()
    except (ValueError, TypeError) as error:
        raise InvalidInput(str(error)) from error


def _river_params(spec: Algorithm, given: dict[str, Any]) -> dict[str, Any]:
    unknown = sorted(set(given) - set(spec.defaults))
    if unknown:
        raise InvalidInput(
            f"The algorithm {spec.name!r} does not take the params {', '.join(map(repr, unknown))}; "
            f"it takes: {', '.join(sorted(spec.defaults))}."
        )
    return {**spec.defaults, **given}


def _build_from_estimator(estimator: Any, task: Task, sample: pd.DataFrame, given: dict[str, Any], seed: int) -> Any:
    if not (hasattr(estimator, "fit") and hasattr(estimator, "get_params")):
        raise InvalidInput(
            f"The 'algorithm' must be a name in ALGORITHMS or a scikit-learn estimator; got {type(estimator).__name__}."
        )
    wants_classifier = task != "regression"
    if (wants_classifier and is_regressor(estimator)) or (not wants_classifier and is_classifier(estimator)):
        kind = "a classifier" if wants_classifier else "a regressor"
        raise InvalidInput(f"The task {task!r} needs {kind}; got {type(estimator).__name__}.")
    model = clone(estimator)
    unknown = sorted(set(given) - set(model.get_params(deep=True)))
    if unknown:
        raise InvalidInput(
            f"The estimator {type(model).__name__} does not take the params {', '.join(map(repr, unknown))}."
        )
    model.set_params(**given)
    if isinstance(model, Pipeline):
        return model
    if model.get_params(deep=False).get("random_state", 0) is None:
        model.set_params(random_state=seed)
    _validate_values(model)
    if wants_classifier and type(model).__module__.startswith("xgboost"):
        model = VotingClassifier([("xgboost", model)], voting="soft", flatten_transform=False)
    return Pipeline([(PREPROCESS_STEP, build_preprocessing(sample, kind="onehot")), (ESTIMATOR_STEP, model)])
