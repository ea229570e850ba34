"""Safe model files: every flavour round-trips, and altered or untrusted files are refused."""

from __future__ import annotations

import dataclasses
import hashlib
import pickle
from collections.abc import Callable, Iterator
from typing import Any

import lightgbm
import numpy as np
import pandas as pd
import pytest
import xgboost
from river import compose, linear_model, preprocessing, tree
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
    RandomForestRegressor,
)
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import FunctionTransformer, OneHotEncoder, OrdinalEncoder, StandardScaler
from threadpoolctl import threadpool_limits

from driftloop.errors import BlobIntegrityError, InvalidData, InvalidInput, InvalidState, PermissionDenied
from driftloop.registry._flavours import (
    FORMAT_VERSION,
    LoadedModel,
    Manifest,
    ModelPart,
    flavour_of,
    load_model,
    package_model,
)
from driftloop.registry._flavours._skops import types_needing_trust

KEY = b"workspace-key-0123456789abcdef"
OTHER_KEY = b"another-workspace-key-987654321"
NUMERIC = ["a", "b"]
CATEGORICAL = ["c", "d"]


class Blobs:
    """A dict-backed blob store: ``put`` keys bytes by their SHA-256, ``get`` is a plain lookup."""

    def __init__(self) -> None:
        self.data: dict[str, bytes] = {}

    def put(self, data: bytes) -> str:
        digest = hashlib.sha256(data).hexdigest()
        self.data[digest] = data
        return digest

    def get(self, digest: str) -> bytes:
        return self.data[digest]


@pytest.fixture
def blobs() -> Blobs:
    return Blobs()


@pytest.fixture(autouse=True)
def one_thread() -> Iterator[None]:
    # The models here are tiny; OpenMP threads only contend with parallel test workers on a small machine.
    with threadpool_limits(limits=1):
        yield


def _frame(rows: int = 300, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame(
        {
            "a": rng.normal(size=rows),
            "b": rng.normal(size=rows) * 10,
            "c": rng.choice(["red", "green", "blue"], rows).astype(object),
            "d": rng.choice(["p", "q"], rows).astype(object),
        }
    )
    frame.loc[::7, "a"] = np.nan
    frame.loc[::11, "c"] = np.nan
    return frame


def _labels(frame: pd.DataFrame) -> np.ndarray:
    score = frame["a"].fillna(0) + (frame["c"] == "red") - 0.3
    return np.where(score > 0, "churn", "stay")


def _target(frame: pd.DataFrame) -> pd.Series:
    return frame["b"] * 2 + frame["a"].fillna(0) + (frame["d"] == "p") * 3


def _preprocessing(encoder: str) -> ColumnTransformer:
    encode = (
        OneHotEncoder(handle_unknown="ignore")
        if encoder == "one-hot"
        else OrdinalEncoder(handle_unknown="use_encoded_value", unknown_value=-1)
    )
    return ColumnTransformer(
        [
            ("numeric", Pipeline([("impute", SimpleImputer()), ("scale", StandardScaler())]), NUMERIC),
            (
                "categorical",
                Pipeline([("impute", SimpleImputer(strategy="most_frequent")), ("encode", encode)]),
                CATEGORICAL,
            ),
        ]
    )


def _round_trip(model: object, blobs: Blobs, sample: pd.DataFrame | None = None, **options: Any) -> LoadedModel:
    manifest = package_model(model, put=blobs.put, sample=sample, signing_key=KEY, **options)
    return load_model(Manifest.from_json(manifest.to_json()), get=blobs.get, signing_key=KEY)


def _assert_predicts_like(loaded: LoadedModel, model: Any, frame: pd.DataFrame) -> None:
    expected = model.predict(frame)
    if loaded.task == "regression":
        np.testing.assert_allclose(loaded.predict(frame), expected)
    else:
        np.testing.assert_array_equal(loaded.predict(frame), expected)
        np.testing.assert_allclose(loaded.predict_proba(frame), model.predict_proba(frame))


# The final estimators of the pipelines driftloop trains, each small so the whole file stays fast.
SHIPPED_ESTIMATORS: list[tuple[str, Callable[[], Any], bool]] = [
    ("logistic-regression", lambda: LogisticRegression(max_iter=200), True),
    ("ridge", lambda: Ridge(), False),
    ("random-forest-classifier", lambda: RandomForestClassifier(n_estimators=5, max_depth=4, random_state=0), True),
    ("random-forest-regressor", lambda: RandomForestRegressor(n_estimators=5, max_depth=4, random_state=0), False),
    ("hist-gradient-boosting-classifier", lambda: HistGradientBoostingClassifier(max_iter=5, random_state=0), True),
    ("hist-gradient-boosting-regressor", lambda: HistGradientBoostingRegressor(max_iter=5, random_state=0), False),
    ("mlp-classifier", lambda: MLPClassifier(hidden_layer_sizes=(8,), max_iter=30, random_state=0), True),
    ("mlp-regressor", lambda: MLPRegressor(hidden_layer_sizes=(8,), max_iter=30, random_state=0), False),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("encoder", ["one-hot", "ordinal"])
@pytest.mark.parametrize(
    ("name", "make_estimator", "classifier"), SHIPPED_ESTIMATORS, ids=[e[0] for e in SHIPPED_ESTIMATORS]
)
def test_shipped_pipelines_need_no_trust_beyond_the_allow_list(
    blobs: Blobs, encoder: str, name: str, make_estimator: Callable[[], Any], classifier: bool
) -> None:
    frame = _frame()
    model = Pipeline([("preprocess", _preprocessing(encoder)), ("model", make_estimator())])
    model.fit(frame, _labels(frame) if classifier else _target(frame))

    manifest = package_model(model, put=blobs.put, signing_key=KEY, onnx=False)

    assert manifest.flavour == "sklearn"
    assert manifest.task == ("binary" if classifier else "regression")
    assert manifest.details["needs_trust"] == []
    assert types_needing_trust(blobs.get(manifest.part("estimator").digest)) == []
    loaded = load_model(manifest, get=blobs.get, signing_key=KEY, trusted=())
    assert isinstance(loaded.estimator, Pipeline)
    _assert_predicts_like(loaded, model, _frame(seed=1))


def test_a_knn_imputer_pipeline_round_trips(blobs: Blobs) -> None:
    frame = _frame()[NUMERIC]
    model = make_pipeline(KNNImputer(n_neighbors=3), StandardScaler(), Ridge()).fit(frame, _target(_frame()))

    loaded = _round_trip(model, blobs)

    assert loaded.feature_names == NUMERIC
    _assert_predicts_like(loaded, model, _frame(seed=2)[NUMERIC])


def test_types_outside_the_allow_list_are_refused_until_the_caller_trusts_them(blobs: Blobs) -> None:
    frame = _frame()[NUMERIC].fillna(0)
    model = KNeighborsClassifier(n_neighbors=3, algorithm="kd_tree").fit(frame, _labels(_frame()))
    manifest = package_model(model, put=blobs.put, signing_key=KEY, onnx=False)
    needed = manifest.details["needs_trust"]
    assert "sklearn.neighbors._kd_tree.KDTree" in needed

    with pytest.raises(PermissionDenied, match=r"KDTree.*trusted=\["):
        load_model(manifest, get=blobs.get, signing_key=KEY)

    loaded = load_model(manifest, get=blobs.get, signing_key=KEY, trusted=needed)
    _assert_predicts_like(loaded, model, frame)


@pytest.mark.parametrize("labels", ["binary", "multiclass"])
@pytest.mark.parametrize("in_pipeline", [False, True], ids=["alone", "in-pipeline"])
def test_lightgbm_classifiers_round_trip_with_string_labels(blobs: Blobs, labels: str, in_pipeline: bool) -> None:
    frame = _frame()
    target = _labels(frame) if labels == "binary" else frame["c"].fillna("none").to_numpy()
    booster = lightgbm.LGBMClassifier(n_estimators=8, num_leaves=7, verbose=-1, random_state=0, n_jobs=1)
    model: Any = Pipeline([("preprocess", _preprocessing("one-hot")), ("booster", booster)]) if in_pipeline else booster
    features = frame if in_pipeline else frame[NUMERIC]
    model.fit(features, target)

    loaded = _round_trip(model, blobs, onnx=False)

    assert loaded.flavour == "lightgbm"
    assert loaded.task == labels
    wrapper = loaded.estimator.steps[-1][1] if in_pipeline else loaded.estimator
    assert isinstance(wrapper, lightgbm.LGBMClassifier)
    np.testing.assert_array_equal(loaded.classes_, np.unique(target))
    test_frame = _frame(seed=3)
    _assert_predicts_like(loaded, model, test_frame if in_pipeline else test_frame[NUMERIC])


def test_a_lightgbm_regressor_round_trips_with_its_parts(blobs: Blobs) -> None:
    frame = _frame()
    model = Pipeline(
        [
            ("preprocess", _preprocessing("ordinal")),
            ("booster", lightgbm.LGBMRegressor(n_estimators=8, verbose=-1, n_jobs=1)),
        ]
    ).fit(frame, _target(frame))

    manifest = package_model(model, put=blobs.put, signing_key=KEY, onnx=False)
    loaded = load_model(manifest, get=blobs.get, signing_key=KEY)

    assert [(part.name, part.format) for part in manifest.parts] == [
        ("preprocessing", "skops"),
        ("booster", "lightgbm-text"),
    ]
    assert manifest.details["params"] == {"n_estimators": 8, "n_jobs": 1, "verbose": -1}
    assert manifest.task == "regression" and manifest.classes is None
    _assert_predicts_like(loaded, model, _frame(seed=4))


@pytest.mark.parametrize("kind", ["binary", "multiclass", "regression"])
@pytest.mark.parametrize("in_pipeline", [False, True], ids=["alone", "in-pipeline"])
def test_xgboost_models_round_trip(blobs: Blobs, kind: str, in_pipeline: bool) -> None:
    frame = _frame()
    if kind == "regression":
        booster: Any = xgboost.XGBRegressor(n_estimators=8, max_depth=3, n_jobs=1)
        target: Any = _target(frame)
    else:
        booster = xgboost.XGBClassifier(n_estimators=8, max_depth=3, n_jobs=1)
        target = (
            (_labels(frame) == "churn").astype(int)
            if kind == "binary"
            else frame["d"].eq("p").astype(int) + frame["b"].gt(0).astype(int)
        )
    model: Any = Pipeline([("preprocess", _preprocessing("one-hot")), ("booster", booster)]) if in_pipeline else booster
    features = frame if in_pipeline else frame[NUMERIC]
    model.fit(features, target)

    manifest = package_model(model, put=blobs.put, signing_key=KEY, onnx=False)
    loaded = load_model(manifest, get=blobs.get, signing_key=KEY)

    assert manifest.part("booster").format == "xgboost-ubj"
    assert manifest.task == kind
    wrapper = loaded.estimator.steps[-1][1] if in_pipeline else loaded.estimator
    assert type(wrapper) is type(booster)
    test_frame = _frame(seed=5)
    _assert_predicts_like(loaded, model, test_frame if in_pipeline else test_frame[NUMERIC])


def _river_stream(rows: int = 300) -> pd.DataFrame:
    return _frame(rows)[NUMERIC].fillna(0.0)


def test_a_river_pipeline_classifier_round_trips_and_orders_probabilities_by_class(blobs: Blobs) -> None:
    frame = _river_stream()
    model = compose.Pipeline(preprocessing.StandardScaler(), linear_model.LogisticRegression())
    for row, label in zip(frame.to_dict(orient="records"), frame["a"] > 0, strict=True):
        model.learn_one(row, bool(label))

    manifest = package_model(model, put=blobs.put, sample=frame, signing_key=KEY)
    loaded = load_model(Manifest.from_json(manifest.to_json()), get=blobs.get, signing_key=KEY)

    assert manifest.flavour == "river" and manifest.task == "binary"
    assert manifest.classes == [False, True]
    assert manifest.onnx == {"kept": False, "reason": "river models have no ONNX converter"}
    rows = frame.head(20).to_dict(orient="records")
    np.testing.assert_array_equal(loaded.predict(frame.head(20)), [model.predict_one(row) for row in rows])
    expected = [[model.predict_proba_one(row)[False], model.predict_proba_one(row)[True]] for row in rows]
    np.testing.assert_allclose(loaded.predict_proba(frame.head(20)), expected)


def test_river_multiclass_and_regression_models_round_trip(blobs: Blobs) -> None:
    frame = _river_stream()
    classifier = tree.HoeffdingTreeClassifier(grace_period=50)
    regressor = compose.Pipeline(preprocessing.StandardScaler(), linear_model.LinearRegression())
    for row in frame.to_dict(orient="records"):
        classifier.learn_one(row, "high" if row["b"] > 5 else "low" if row["b"] < -5 else "mid")
        regressor.learn_one(row, 2 * row["a"] - row["b"])

    loaded_classifier = _round_trip(classifier, blobs, sample=frame)
    loaded_regressor = _round_trip(regressor, blobs)

    assert loaded_classifier.task == "multiclass"
    assert list(loaded_classifier.classes_) == ["high", "low", "mid"]
    rows = frame.head(10).to_dict(orient="records")
    probabilities = loaded_classifier.predict_proba(frame.head(10))
    for row, got in zip(rows, probabilities, strict=True):
        expected = classifier.predict_proba_one(row)
        np.testing.assert_allclose(got, [expected.get(label, 0.0) for label in ["high", "low", "mid"]])
    assert loaded_regressor.task == "regression"
    np.testing.assert_allclose(loaded_regressor.predict(frame.head(10)), [regressor.predict_one(row) for row in rows])
    with pytest.raises(InvalidInput, match="Only classifiers"):
        loaded_regressor.predict_proba(frame)


def test_a_river_model_from_another_workspace_is_not_unpickled(blobs: Blobs) -> None:
    model = linear_model.LinearRegression()
    model.learn_one({"a": 1.0}, 2.0)
    manifest = package_model(model, put=blobs.put, signing_key=KEY)

    with pytest.raises(PermissionDenied, match="another workspace's key"):
        load_model(manifest, get=blobs.get, signing_key=OTHER_KEY)


def test_a_river_pickle_swapped_under_a_resigned_manifest_is_still_refused(blobs: Blobs) -> None:
    # Even a manifest signed again (by a holder of the key who swapped the pickle) keeps the old state HMAC.
    model = linear_model.LinearRegression()
    manifest = package_model(model, put=blobs.put, signing_key=KEY)
    other = pickle.dumps(linear_model.LinearRegression(intercept_lr=0.5))
    swapped = ModelPart("state", blobs.put(other), len(other), "river-signed-pickle")
    tampered = dataclasses.replace(manifest, parts=(swapped,)).signed(KEY)

    with pytest.raises(PermissionDenied, match="not signed by this workspace's key"):
        load_model(tampered, get=blobs.get, signing_key=KEY)


def test_altered_bytes_are_refused_naming_the_part(blobs: Blobs) -> None:
    frame = _frame()
    model = Pipeline(
        [
            ("preprocess", _preprocessing("ordinal")),
            ("booster", lightgbm.LGBMRegressor(n_estimators=4, verbose=-1, n_jobs=1)),
        ]
    ).fit(frame, _target(frame))
    manifest = package_model(model, put=blobs.put, signing_key=KEY, onnx=False)
    booster = manifest.part("booster").digest
    blobs.data[booster] = blobs.data[booster].replace(b"tree", b"TREE", 1)

    with pytest.raises(BlobIntegrityError, match="part 'booster'"):
        load_model(manifest, get=blobs.get, signing_key=KEY)


def test_a_store_integrity_error_is_reraised_naming_the_part(blobs: Blobs) -> None:
    manifest = package_model(Ridge().fit([[0.0], [1.0]], [0.0, 1.0]), put=blobs.put, signing_key=KEY)

    def damaged(digest: str) -> bytes:
        raise BlobIntegrityError(f"The blob {digest} was altered.")

    with pytest.raises(BlobIntegrityError, match="part 'estimator' is damaged"):
        load_model(manifest, get=damaged, signing_key=KEY)


def test_a_manifest_pointing_at_other_bytes_is_refused(blobs: Blobs) -> None:
    first = Ridge().fit([[0.0], [1.0]], [0.0, 1.0])
    second = Ridge(alpha=5.0).fit([[0.0], [1.0]], [1.0, 0.0])
    manifest = package_model(first, put=blobs.put, signing_key=KEY)
    other_part = package_model(second, put=blobs.put, signing_key=KEY).part("estimator")
    pointed_elsewhere = dataclasses.replace(manifest, parts=(other_part,))
    relabelled = dataclasses.replace(manifest, task="binary")

    for altered in (pointed_elsewhere, relabelled):
        with pytest.raises(PermissionDenied, match="changed after packaging"):
            load_model(Manifest.from_json(altered.to_json()), get=blobs.get, signing_key=KEY)


def test_unsupported_models_are_named_in_the_error(blobs: Blobs) -> None:
    class HandMadeModel:
        def predict(self, frame: pd.DataFrame) -> np.ndarray:
            return np.zeros(len(frame))

    with pytest.raises(InvalidInput, match=r"cannot store a .*HandMadeModel"):
        flavour_of(HandMadeModel())
    with pytest.raises(InvalidInput, match=r"cannot store a builtins\.dict"):
        package_model({"weights": [1, 2]}, put=blobs.put, signing_key=KEY)


def test_flavours_are_recognised_also_inside_pipelines() -> None:
    assert flavour_of(Ridge()) == "sklearn"
    assert flavour_of(make_pipeline(StandardScaler(), lightgbm.LGBMRegressor())) == "lightgbm"
    assert flavour_of(make_pipeline(StandardScaler(), xgboost.XGBClassifier())) == "xgboost"
    assert flavour_of(compose.Pipeline(preprocessing.StandardScaler(), linear_model.LinearRegression())) == "river"


def test_packaging_refuses_unfitted_models_bad_keys_and_contradicting_tasks(blobs: Blobs) -> None:
    fitted = Ridge().fit([[0.0], [1.0]], [0.0, 1.0])
    with pytest.raises(InvalidInput, match="must be fitted"):
        package_model(Ridge(), put=blobs.put, signing_key=KEY)
    with pytest.raises(InvalidInput, match="must be fitted"):
        package_model(lightgbm.LGBMRegressor(), put=blobs.put, signing_key=KEY)
    with pytest.raises(InvalidInput, match="at least 16"):
        package_model(fitted, put=blobs.put, signing_key=b"short")
    with pytest.raises(InvalidInput, match="contradicts"):
        package_model(fitted, put=blobs.put, signing_key=KEY, task="binary")
    with pytest.raises(InvalidInput, match="'task' must be one of"):
        package_model(fitted, put=blobs.put, signing_key=KEY, task="ranking")


def test_onnx_is_kept_for_an_all_numeric_sklearn_pipeline(blobs: Blobs) -> None:
    frame = _frame(500)[NUMERIC]
    model = make_pipeline(SimpleImputer(), StandardScaler(), LogisticRegression()).fit(frame, _labels(_frame(500)))

    manifest = package_model(model, put=blobs.put, sample=frame, signing_key=KEY)
    loaded = load_model(Manifest.from_json(manifest.to_json()), get=blobs.get, signing_key=KEY)

    assert manifest.onnx is not None and manifest.onnx["kept"] is True
    assert manifest.onnx["part"] == "onnx" and manifest.part("onnx").format == "onnx"
    assert manifest.onnx["match_rate"] >= 0.999
    assert manifest.onnx["max_abs_diff"] <= 1e-4
    assert manifest.onnx["class_flip_rate"] == 0.0
    test_frame = _frame(200, seed=6)[NUMERIC]
    np.testing.assert_allclose(loaded.predict_proba_onnx(test_frame), model.predict_proba(test_frame), atol=1e-4)
    np.testing.assert_array_equal(loaded.predict_onnx(test_frame), model.predict(test_frame))


def test_onnx_is_kept_for_a_lightgbm_regressor_on_numeric_input(blobs: Blobs) -> None:
    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(600, 5)), columns=[f"x{i}" for i in range(5)])
    target = frame["x0"] * 3 - frame["x1"] ** 2 + rng.normal(scale=0.1, size=600)
    model = lightgbm.LGBMRegressor(n_estimators=20, num_leaves=15, verbose=-1, n_jobs=1).fit(frame, target)

    manifest = package_model(model, put=blobs.put, sample=frame, signing_key=KEY)
    loaded = load_model(manifest, get=blobs.get, signing_key=KEY)

    assert manifest.onnx is not None and manifest.onnx["kept"] is True
    assert manifest.onnx["match_rate"] >= 0.999
    assert manifest.onnx["class_flip_rate"] is None
    assert loaded.has_onnx
    np.testing.assert_allclose(loaded.predict_onnx(frame), model.predict(frame), rtol=1e-4, atol=1e-4)


def test_the_onnx_copy_is_checked_on_gaps_when_the_model_takes_them(blobs: Blobs) -> None:
    from driftloop.registry._flavours._onnx import GAP_ROWS

    rng = np.random.default_rng(7)
    frame = pd.DataFrame(rng.normal(size=(300, 3)), columns=["x0", "x1", "x2"])
    target = frame["x0"] * 3 - frame["x1"] + rng.normal(scale=0.1, size=300)
    booster = lightgbm.LGBMRegressor(n_estimators=20, verbose=-1, n_jobs=1).fit(frame, target)
    ridge = Ridge().fit(frame, target)  # refuses a missing number: checked on the sample as it is

    takes_gaps = package_model(booster, put=blobs.put, sample=frame, signing_key=KEY).onnx
    refuses_gaps = package_model(ridge, put=blobs.put, sample=frame, signing_key=KEY).onnx

    assert takes_gaps is not None and takes_gaps["kept"] and takes_gaps["rows"] == 300 + 3 * GAP_ROWS
    assert refuses_gaps is not None and refuses_gaps["kept"] and refuses_gaps["rows"] == 300
    loaded = load_model(package_model(booster, put=blobs.put, sample=frame, signing_key=KEY), get=blobs.get,
                        signing_key=KEY)  # fmt: skip
    gappy = frame.head(50).assign(x0=np.nan)
    np.testing.assert_allclose(loaded.predict_onnx(gappy), booster.predict(gappy), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("final", ["logistic-regression", "xgboost"])
def test_onnx_is_kept_for_a_mixed_type_pipeline_with_missing_values(blobs: Blobs, final: str) -> None:
    frame = _frame(500)
    estimator: Any = (
        LogisticRegression() if final == "logistic-regression" else xgboost.XGBClassifier(n_estimators=10, n_jobs=1)
    )
    target = _labels(frame) if final == "logistic-regression" else (_labels(frame) == "churn").astype(int)
    model = Pipeline([("preprocess", _preprocessing("one-hot")), ("model", estimator)]).fit(frame, target)

    manifest = package_model(model, put=blobs.put, sample=frame, signing_key=KEY)
    loaded = load_model(manifest, get=blobs.get, signing_key=KEY)

    assert manifest.onnx is not None and manifest.onnx["kept"] is True, manifest.onnx
    assert manifest.onnx["match_rate"] == 1.0
    assert manifest.onnx["inputs"]["types"] == ["double", "double", "string", "string"]
    test_frame = _frame(200, seed=8)
    np.testing.assert_allclose(loaded.predict_proba_onnx(test_frame), model.predict_proba(test_frame), atol=1e-4)
    np.testing.assert_array_equal(loaded.predict_onnx(test_frame), model.predict(test_frame))


def test_a_model_without_an_onnx_converter_is_still_packaged(blobs: Blobs) -> None:
    frame = _frame()[NUMERIC].fillna(0)
    model = make_pipeline(FunctionTransformer(np.abs), Ridge()).fit(frame, _target(_frame()))

    manifest = package_model(model, put=blobs.put, sample=frame, signing_key=KEY)

    assert manifest.onnx is not None and manifest.onnx["kept"] is False
    assert "FunctionTransformer" in manifest.onnx["reason"]
    _assert_predicts_like(load_model(manifest, get=blobs.get, signing_key=KEY), model, frame)


def test_onnx_needs_a_sample_and_says_why_it_is_missing(blobs: Blobs) -> None:
    frame = _frame()[NUMERIC].fillna(0)
    model = Ridge().fit(frame, _target(_frame()))

    manifest = package_model(model, put=blobs.put, signing_key=KEY)
    loaded = load_model(manifest, get=blobs.get, signing_key=KEY)

    assert manifest.onnx == {"kept": False, "reason": "no sample was given to check an ONNX copy against the model"}
    assert not manifest.has_part("onnx")
    with pytest.raises(InvalidState, match="no sample was given"):
        loaded.predict_onnx(frame)


def test_predicting_checks_the_frame(blobs: Blobs) -> None:
    frame = _frame()[NUMERIC].fillna(0)
    loaded = _round_trip(Ridge().fit(frame, _target(_frame())), blobs)

    with pytest.raises(InvalidData, match="lacks the column"):
        loaded.predict(frame[["a"]])
    with pytest.raises(InvalidInput, match="pandas DataFrame"):
        loaded.predict(frame.to_numpy())  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="Only classifiers"):
        loaded.predict_proba(frame)
    reordered = frame[["b", "a"]].assign(extra=1)
    np.testing.assert_allclose(loaded.predict(reordered), loaded.predict(frame))


def test_the_manifest_round_trips_through_json_and_stays_verifiable(blobs: Blobs) -> None:
    frame = _frame()
    model = Pipeline([("preprocess", _preprocessing("one-hot")), ("model", LogisticRegression())])
    model.fit(frame, _labels(frame))
    manifest = package_model(model, put=blobs.put, sample=frame, signing_key=KEY, onnx=False)

    restored = Manifest.from_json(manifest.to_json())

    assert restored == manifest
    assert restored.to_json() == manifest.to_json()
    assert restored.format_version == FORMAT_VERSION == 1
    assert restored.classes == ["churn", "stay"] and restored.feature_names == ["a", "b", "c", "d"]
    restored.verify(KEY)
    with pytest.raises(PermissionDenied):
        restored.verify(OTHER_KEY)


@pytest.mark.parametrize(
    ("document", "message"),
    [
        (b"not json", "must be JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"flavour": "sklearn"}', "lacks the field"),
    ],
)
def test_a_malformed_manifest_is_invalid_input(document: bytes, message: str) -> None:
    with pytest.raises(InvalidInput, match=message):
        Manifest.from_json(document)


def test_a_manifest_from_a_newer_driftloop_is_refused_with_a_hint(blobs: Blobs) -> None:
    manifest = package_model(Ridge().fit([[0.0], [1.0]], [0.0, 1.0]), put=blobs.put, signing_key=KEY)
    newer = manifest.to_json().replace(b'"format_version":1', b'"format_version":2')

    with pytest.raises(InvalidInput, match="Upgrade driftloop"):
        Manifest.from_json(newer)
