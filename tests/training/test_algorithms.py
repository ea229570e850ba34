"""Every algorithm behind one interface: raw rows in, sensible predictions out, params checked, threads pinned."""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterator
from typing import Any

import numpy as np
import pandas as pd
import pytest
import threadpoolctl
from sklearn.ensemble import RandomForestClassifier, VotingClassifier
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.metrics import accuracy_score, r2_score
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from driftloop.errors import InvalidInput
from driftloop.training._algorithms import (
    ALGORITHMS,
    TASKS,
    Task,
    build_model,
    core_estimator,
    default_search_space,
    is_river_model,
)
from driftloop.training._fitting import fit_model
from driftloop.training._preprocessing import column_roles
from driftloop.training._river import river_predict, river_predict_proba

CASES = [(name, task) for name, spec in ALGORITHMS.items() for task in TASKS if task in spec.tasks]


def make_data(rows: int, seed: int, task: Task) -> tuple[pd.DataFrame, pd.Series]:
    """An easy problem in raw form: NaN in numbers, None in strings, booleans, a nullable integer column."""
    rng = np.random.default_rng(seed)
    area, age = rng.normal(size=(2, rows))
    district = rng.choice(["north", "south", "east"], size=rows)
    new = rng.random(rows) < 0.5
    signal = 2 * area - age + np.select([district == "north", district == "south"], [1.5, -1.5], 0.0) + 0.5 * new
    frame = pd.DataFrame(
        {
            "area": area,
            "age": age,
            "district": pd.Series(district, dtype=object),
            "kind": pd.Series(rng.choice(["flat", "house"], size=rows), dtype="str"),
            "new": new,
            "rooms": pd.array(rng.integers(1, 6, rows), dtype="Int64"),
        }
    )
    frame.loc[rng.random(rows) < 0.1, "area"] = np.nan
    frame.loc[rng.random(rows) < 0.1, "district"] = None
    frame.loc[rng.random(rows) < 0.1, "kind"] = np.nan
    frame.loc[rng.random(rows) < 0.05, "rooms"] = pd.NA
    if task == "regression":
        target = signal + rng.normal(scale=0.3, size=rows)
    elif task == "binary":
        target = np.where(signal > 0, "yes", "no")
    else:
        target = np.select([signal < -1, signal > 1], ["low", "high"], "mid")
    return frame, pd.Series(target, name="target")


@pytest.fixture(autouse=True, scope="module")
def one_thread() -> Iterator[None]:
    """OpenMP code (histogram gradient boosting) crawls on a shared two-core machine unless held to one thread."""
    with threadpoolctl.threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="module")
def data() -> dict[Task, tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]]:
    return {task: split(task, 600) for task in TASKS}


@functools.cache
def split(task: Task, rows: int) -> tuple[pd.DataFrame, pd.Series, pd.DataFrame, pd.Series]:
    X, y = make_data(rows, 0, task)
    X_test, y_test = make_data(300, 1, task)
    X_test.loc[:9, "district"] = "west"  # a category never seen in training
    return X, y, X_test, y_test


@pytest.mark.parametrize(("name", "task"), CASES)
def test_every_algorithm_learns_every_task_it_supports(name: str, task: Task) -> None:
    spec = ALGORITHMS[name]
    # Online learners see each row once, so they get more rows; a smaller forest keeps River's pure Python quick.
    X, y, X_test, y_test = split(task, 1500 if spec.library == "river" else 600)
    params = {"n_models": 4} if name == "river_arf" else None
    model = build_model(name, task, X, params, seed=0, threads=1)
    assert fit_model(model, X, y, threads=1) is model
    predicted = river_predict(model, X_test) if spec.library == "river" else model.predict(X_test)
    assert len(predicted) == len(X_test)
    if task == "regression":
        assert r2_score(y_test, predicted) > 0.6
        return
    chance = y_test.value_counts(normalize=True).max()
    assert accuracy_score(y_test, predicted) > chance + 0.15
    classes = np.unique(y)
    assert set(predicted) <= set(classes)  # string labels come back as they went in
    probabilities = river_predict_proba(model, X_test, classes) if spec.library == "river" else None
    if probabilities is None:
        assert list(model.classes_) == list(classes)
        probabilities = model.predict_proba(X_test)
    assert probabilities.shape == (len(X_test), len(classes))
    assert np.allclose(probabilities.sum(axis=1), 1.0)


def test_registry_metadata() -> None:
    classification = {name for name, spec in ALGORITHMS.items() if "binary" in spec.tasks}
    regression = {name for name, spec in ALGORITHMS.items() if "regression" in spec.tasks}
    assert {"logistic_regression", "random_forest", "extra_trees", "hist_gradient_boosting", "mlp", "lightgbm"} | {
        "xgboost",
        "knn",
        "river_logistic_regression",
        "river_hoeffding_tree",
    } <= classification
    assert {"ridge", "linear_regression", "random_forest", "extra_trees", "hist_gradient_boosting", "mlp"} | {
        "lightgbm",
        "xgboost",
        "river_linear_regression",
        "river_hoeffding_tree",
        "river_arf",
    } <= regression
    assert {name for name, spec in ALGORITHMS.items() if spec.iterative} == {"mlp", "lightgbm", "xgboost"}
    for spec in ALGORITHMS.values():
        assert spec.tasks and set(spec.tasks) <= set(TASKS)
        assert (spec.library == "river") == (spec.preprocessing is None)
        if spec.library == "river":
            assert not spec.onnx and not spec.iterative
        assert (spec.classifier is not None) == ("binary" in spec.tasks)
        assert (spec.regressor is not None) == ("regression" in spec.tasks)


def test_river_algorithms_build_river_pipelines(data: dict[Task, Any]) -> None:
    X = data["binary"][0]
    model = build_model("river_hoeffding_tree", "binary", X)
    assert type(model).__module__ == "river.compose.pipeline" and type(model).__name__ == "Pipeline"
    assert is_river_model(model)
    assert not is_river_model(build_model("ridge", "regression", X))


def test_unknown_algorithms_list_the_names_for_the_task(data: dict[Task, Any]) -> None:
    X = data["binary"][0]
    with pytest.raises(
        InvalidInput, match="Unknown algorithm 'catboost'; for task 'regression' choose one of: "
    ) as caught:
        build_model("catboost", "regression", X)
    assert "ridge" in str(caught.value) and "logistic_regression" not in str(caught.value)
    with pytest.raises(InvalidInput, match=r"'ridge' does not support task 'binary'; choose one of: .*lightgbm"):
        build_model("ridge", "binary", X)
    with pytest.raises(InvalidInput, match="The 'task' must be one of binary, multiclass, regression; got 'ranking'"):
        build_model("ridge", "ranking", X)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="Unknown algorithm 'catboost'"):
        default_search_space("catboost", "binary")


@pytest.mark.parametrize(
    ("name", "params", "expected"),
    [
        ("random_forest", {"n_trees": 10, "depth": 3}, "does not take the params 'depth', 'n_trees'; it takes: "),
        ("lightgbm", {"leaves": 8}, "does not take the params 'leaves'"),
        ("xgboost", {"callbacks": []}, "does not take the params 'callbacks'"),
        ("river_arf", {"n_estimators": 5}, "does not take the params 'n_estimators'; it takes: delta, grace_period"),
        ("lightgbm", {"random_state": 3}, "'random_state' are set by seed= and threads="),
        ("random_forest", {"n_jobs": 4}, "'n_jobs' are set by seed= and threads="),
        ("logistic_regression", {"C": -1.0}, "The 'C' parameter of LogisticRegression must be a float"),
        ("mlp", {"n_layers": 0}, "The MLP's 'n_layers' must be an integer >= 1; got 0"),
        ("mlp", {"hidden_layer_sizes": (8,), "n_layers": 2}, "either 'hidden_layer_sizes' or 'n_layers'"),
        ("river_hoeffding_tree", {"max_depth": 0}, "The 'max_depth' must be an integer >= 1 or None; got 0"),
        ("river_logistic_regression", {"learning_rate": -0.1}, "The 'learning_rate' must be a number > 0"),
    ],
)
def test_bad_params_are_named(name: str, params: dict[str, Any], expected: str, data: dict[Task, Any]) -> None:
    with pytest.raises(InvalidInput, match=expected):
        build_model(name, "binary", data["binary"][0], params)


@pytest.mark.parametrize(("seed", "threads"), [(-1, 1), (0, 0), (1.5, 1), (0, True)])
def test_seed_and_threads_are_checked(seed: Any, threads: Any, data: dict[Task, Any]) -> None:
    with pytest.raises(InvalidInput, match="must be an integer"):
        build_model("ridge", "regression", data["regression"][0], seed=seed, threads=threads)


def test_mlp_architecture_comes_from_flat_params(data: dict[Task, Any]) -> None:
    X = data["binary"][0]
    assert core_estimator(build_model("mlp", "binary", X, {"n_layers": 3, "layer_size": 16})).hidden_layer_sizes == (
        16,
        16,
        16,
    )
    assert core_estimator(build_model("mlp", "binary", X, {"n_layers": 2})).hidden_layer_sizes == (64, 64)
    assert core_estimator(build_model("mlp", "binary", X, {"hidden_layer_sizes": (7, 5)})).hidden_layer_sizes == (7, 5)


@pytest.mark.parametrize("name", ["random_forest", "extra_trees", "knn", "lightgbm", "xgboost"])
@pytest.mark.parametrize("task", ["binary", "regression"])
def test_threads_and_seed_are_pinned(name: str, task: Task, data: dict[Task, Any]) -> None:
    model = build_model(name, task, data[task][0], seed=11, threads=2)
    estimator = core_estimator(model)
    assert estimator.n_jobs == 2
    if name != "knn":
        assert estimator.random_state == 11
    if name == "lightgbm":
        assert estimator.get_params()["verbose"] == -1


@pytest.mark.parametrize(
    "name", ["random_forest", "extra_trees", "hist_gradient_boosting", "mlp", "lightgbm", "xgboost", "river_arf"]
)
def test_the_same_seed_gives_the_same_model(name: str, data: dict[Task, Any]) -> None:
    X, y, X_test, _ = data["binary"]
    smaller = {"random_forest": {"n_estimators": 30}, "extra_trees": {"n_estimators": 30}, "river_arf": {"n_models": 3}}
    params = smaller.get(name)

    def probabilities(seed: int) -> np.ndarray:
        model = fit_model(build_model(name, "binary", X, params, seed=seed), X, y, threads=1)
        if is_river_model(model):
            return river_predict_proba(model, X_test, ["no", "yes"])
        return np.asarray(model.predict_proba(X_test))

    assert np.array_equal(probabilities(3), probabilities(3))


def test_xgboost_classifiers_take_string_labels(data: dict[Task, Any]) -> None:
    X, y, X_test, _ = data["multiclass"]
    model = fit_model(build_model("xgboost", "multiclass", X), X, y)
    wrapper = model[-1]
    assert isinstance(wrapper, VotingClassifier)
    assert type(core_estimator(model)).__name__ == "XGBClassifier"
    assert list(model.classes_) == ["high", "low", "mid"]
    assert np.allclose(model.predict_proba(X_test), core_estimator(model).predict_proba(model[0].transform(X_test)))


def test_xgboost_missing_gives_an_install_hint(monkeypatch: pytest.MonkeyPatch, data: dict[Task, Any]) -> None:
    monkeypatch.setitem(sys.modules, "xgboost", None)  # makes `import xgboost` fail
    with pytest.raises(InvalidInput, match=r"XGBoost is an optional extra: pip install 'driftloop\[xgboost\]'"):
        build_model("xgboost", "binary", data["binary"][0])


def test_a_users_estimator_gets_preprocessing_and_the_seed(data: dict[Task, Any]) -> None:
    X, y, X_test, y_test = data["binary"]
    forest = RandomForestClassifier(n_estimators=20)
    model = build_model(forest, "binary", X, {"max_depth": 4}, seed=5)
    assert [name for name, _ in model.steps] == ["preprocess", "estimator"]
    assert model[-1] is not forest and forest.random_state is None and forest.max_depth is None
    assert model[-1].random_state == 5 and model[-1].max_depth == 4
    fit_model(model, X, y)
    assert accuracy_score(y_test, model.predict(X_test)) > 0.7


def test_a_users_pipeline_is_used_as_it_is(data: dict[Task, Any]) -> None:
    X = data["regression"][0][["age"]]
    pipeline = make_pipeline(StandardScaler(), Ridge())
    model = build_model(pipeline, "regression", X, {"ridge__alpha": 3.0})
    assert isinstance(model, Pipeline) and model is not pipeline
    assert [name for name, _ in model.steps] == ["standardscaler", "ridge"]
    assert model[-1].alpha == 3.0 and pipeline[-1].alpha == 1.0


def test_a_users_estimator_must_suit_the_task(data: dict[Task, Any]) -> None:
    X = data["binary"][0]
    with pytest.raises(InvalidInput, match="The task 'regression' needs a regressor; got LogisticRegression"):
        build_model(LogisticRegression(), "regression", X)
    with pytest.raises(InvalidInput, match="The task 'binary' needs a classifier; got Ridge"):
        build_model(Ridge(), "binary", X)
    with pytest.raises(InvalidInput, match="does not take the params 'gamma'"):
        build_model(Ridge(), "regression", X, {"gamma": 1})
    with pytest.raises(InvalidInput, match="a name in ALGORITHMS or a scikit-learn estimator; got int"):
        build_model(3, "regression", X)


def _corners(space: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The lowest and highest value of every param, and each categorical choice."""
    corners: list[dict[str, Any]] = []
    for end in ("low", "high"):
        corners.append(
            {name: spec[end] if spec["type"] != "categorical" else spec["choices"][0] for name, spec in space.items()}
        )
    for name, spec in space.items():
        if spec["type"] == "categorical":
            corners += [{name: choice} for choice in spec["choices"]]
    return corners


@pytest.mark.parametrize(("name", "task"), CASES)
def test_default_search_spaces_hold_only_params_build_model_takes(name: str, task: Task) -> None:
    space = default_search_space(name, task)
    for param, spec in space.items():
        assert spec["type"] in ("float", "int", "categorical"), param
        if spec["type"] == "categorical":
            assert spec["choices"]
        else:
            assert spec["low"] < spec["high"] and set(spec) <= {"type", "low", "high", "log"}
            assert isinstance(spec["low"], int if spec["type"] == "int" else float)
    X, y = make_data(120, 2, task)
    for params in _corners(space):
        model = build_model(name, task, X, params)
        if ALGORITHMS[name].library in ("lightgbm", "xgboost", "river"):  # their values are checked only by fitting
            fit_model(model, X, y)


def test_default_search_space_is_a_copy() -> None:
    default_search_space("lightgbm", "binary")["num_leaves"]["high"] = 4
    assert default_search_space("lightgbm", "binary")["num_leaves"]["high"] == 128


# Classification for every classifier; regression where it takes another converter (or is all there is).
ONNX_CASES = [(name, "multiclass") for name, spec in ALGORITHMS.items() if spec.onnx and "multiclass" in spec.tasks] + [
    (name, "regression")
    for name, spec in ALGORITHMS.items()
    if spec.onnx and "regression" in spec.tasks and (spec.library != "scikit-learn" or "binary" not in spec.tasks)
]


@pytest.mark.parametrize(("name", "task"), ONNX_CASES)
def test_onnx_convertible_models_convert_and_agree(name: str, task: Task) -> None:
    onnxruntime = pytest.importorskip("onnxruntime")
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType, StringTensorType

    register_boosting_converters()
    X, y, X_test, _ = split(task, 600)
    small = {"n_estimators": 20} if name in ("random_forest", "extra_trees") else None  # converting is per tree
    model = fit_model(build_model(name, task, X, small), X, y)
    roles = column_roles(X)
    inputs = [
        (column, FloatTensorType([None, 1]) if role == "numeric" else StringTensorType([None, 1]))
        for column, role in roles.items()
    ]
    options = {id(model[-1]): {"zipmap": False}} if task != "regression" else None
    converted = convert_sklearn(model, initial_types=inputs, target_opset={"": 17, "ai.onnx.ml": 3}, options=options)
    session = onnxruntime.InferenceSession(converted.SerializeToString())
    # Numbers as floats, categories as str(value): "None", "nan", "True" and unseen ones meet the learned categories.
    feed = {
        column: X_test[[column]].astype("float64").to_numpy(np.float32)
        if role == "numeric"
        else np.array([[str(value)] for value in X_test[column].to_numpy(dtype=object)], dtype=object)
        for column, role in roles.items()
    }
    outputs = session.run(None, feed)
    if task == "regression":
        assert np.allclose(outputs[0].ravel(), model.predict(X_test), atol=1e-4)
    else:
        probabilities = model.predict_proba(X_test)
        assert np.allclose(outputs[1], probabilities, atol=1e-5)
        top_two = np.sort(probabilities, axis=1)[:, -2:]
        clear = top_two[:, 1] - top_two[:, 0] > 1e-4  # a tie may break either way in float32
        assert np.array_equal(outputs[0][clear], model.predict(X_test)[clear])


@functools.cache
def register_boosting_converters() -> None:
    """What the registry does before converting: teach skl2onnx the LightGBM and XGBoost converters."""
    from lightgbm import LGBMClassifier, LGBMRegressor
    from onnxmltools.convert.lightgbm.operator_converters.LightGbm import convert_lightgbm
    from onnxmltools.convert.xgboost.operator_converters.XGBoost import convert_xgboost
    from skl2onnx import update_registered_converter
    from skl2onnx.common.shape_calculator import (
        calculate_linear_classifier_output_shapes,
        calculate_linear_regressor_output_shapes,
    )
    from xgboost import XGBClassifier, XGBRegressor

    classifier_options = {"nocl": [True, False], "zipmap": [True, False, "columns"]}
    for model, alias, convert in [
        (LGBMClassifier, "LightGbmLGBMClassifier", convert_lightgbm),
        (XGBClassifier, "XGBoostXGBClassifier", convert_xgboost),
    ]:
        shapes = calculate_linear_classifier_output_shapes
        update_registered_converter(model, alias, shapes, convert, options=classifier_options)
    for model, alias, convert in [
        (LGBMRegressor, "LightGbmLGBMRegressor", convert_lightgbm),
        (XGBRegressor, "XGBoostXGBRegressor", convert_xgboost),
    ]:
        update_registered_converter(model, alias, calculate_linear_regressor_output_shapes, convert)
