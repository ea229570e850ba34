"""Fitting a model from ``build_model``, with validation scores reported along the way for pruning.

With ``validation`` data, the iterative learners fit step by step and report a score at each step:

* LightGBM and XGBoost: after every ``report_every`` boosting rounds, and after the last one; the step is the
  number of rounds so far.
* MLP: after every epoch (one ``partial_fit`` pass over the training rows); the step is the epoch. When the MLP
  asks for early stopping, it stops once the validation loss has not improved by ``tol`` for
  ``n_iter_no_change`` epochs and keeps the weights of its best epoch; the held-out ``validation`` replaces
  the internal split it makes otherwise.

The score is the validation loss unless ``metric`` says otherwise: log loss for classifiers, mean squared error
for regressors, so lower is better. The preprocessing is fitted on the training rows only, then applied to the
validation rows. Other algorithms just fit; River models learn the rows one at a time (``river_learn``).

**Features that may be missing when served** (``may_be_missing``, from the dataset schema's nullable columns):
a gradient-boosting model (LightGBM, XGBoost, scikit-learn's histogram boosting) learns where a missing value
goes only from missing values it was trained on. Fitted on rows where such a feature is never missing, it sends
a missing value down a default branch, as if the value were 0 (LightGBM) or the most common one, and a flat
whose area goes missing is priced as the smallest. So for each such feature with no missing value in ``X``,
the booster also fits on copies of :data:`MISSING_EXAMPLES` of the rows (drawn with ``seed``, targets kept)
with that feature missing, and learns to answer from the other features. The other algorithms impute missing
values in their preprocessing and fit on ``X`` as it is. Measured on the demo's housing market
(``benchmarks/incident_rows.py``, LightGBM on 5,000 rows, seeds 0-4): rows with the area missing 52-55% MAPE
without the copies, 20-23% with them, complete rows 8.7-9.2% either way.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import is_classifier
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import log_loss, mean_squared_error
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline

from driftloop.errors import InvalidData, InvalidInput
from driftloop.training._algorithms import core_estimator, is_river_model
from driftloop.training._river import river_learn

__all__ = ["MISSING_EXAMPLES", "StepCallback", "StepMetric", "fit_model"]

MISSING_EXAMPLES = 0.05
"""The share of the rows copied, per feature that may be missing, with that feature missing (see the notes)."""

StepCallback = Callable[[int, float], None]
"""Called as ``on_step(step, score)``; it may raise (``optuna.TrialPruned``) to stop fitting."""

StepMetric = Callable[[np.ndarray, np.ndarray], float]
"""Called as ``metric(y_validation, predicted)``: ``predicted`` holds class probabilities (one column per class,
in sorted label order, as in ``model.classes_``) for a classifier and predicted values for a regressor."""


def fit_model(
    model: Any,
    X: pd.DataFrame,
    y: Any,
    *,
    validation: tuple[pd.DataFrame, Any] | None = None,
    on_step: StepCallback | None = None,
    metric: StepMetric | None = None,
    report_every: int = 10,
    threads: int | None = None,
    may_be_missing: Sequence[str] = (),
    seed: int = 0,
) -> Any:
    """Fit ``model`` (from ``build_model``) on raw rows ``X`` and targets ``y``; returns the fitted model.

    Args:
        model: The unfitted model; it is fitted in place.
        X: Raw feature rows.
        y: Targets, one per row.
        validation: Held-out ``(X, y)`` scored at each step of an iterative learner (see the module notes).
        on_step: Told every score as it comes; an exception it raises stops the fit and propagates.
        metric: The score to report instead of the validation loss (see :data:`StepMetric`).
        report_every: Boosting rounds between two reports.
        threads: Cap on the OpenMP and BLAS threads used while fitting (histogram gradient boosting, linear
            algebra); None leaves them alone. Thread counts of forests, LightGBM and XGBoost are set by
            ``build_model``.
        may_be_missing: Features that may be missing when the model is served (see the module notes).
        seed: Draws the rows copied for ``may_be_missing``.

    Raises:
        InvalidInput: ``on_step`` or ``metric`` without ``validation``, a bad ``report_every`` or ``threads``.
        InvalidData: Rows and targets of different lengths.
    """
    if (on_step is not None or metric is not None) and validation is None:
        raise InvalidInput("The 'on_step' and 'metric' score validation rows; pass validation=(X_val, y_val).")
    for name, value in (("report_every", report_every), ("threads", threads)):
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
            raise InvalidInput(f"The {name!r} must be an integer >= 1; got {value!r}.")
    _check_lengths(X, y, "training")
    if validation is not None:
        _check_lengths(validation[0], validation[1], "validation")
    with _thread_limit(threads):
        if is_river_model(model):
            return river_learn(model, X, y)
        if not isinstance(model, Pipeline):
            raise InvalidInput(f"The 'model' must come from build_model; got {type(model).__name__}.")
        X, y = _with_missing_examples(model, X, y, may_be_missing, seed)
        if validation is not None:
            stepper = _stepper(core_estimator(model))
            if stepper is not None:
                classes = np.unique(np.asarray(y)) if _is_classifier(model) else None
                reporter = _Reporter(validation[1], classes, on_step, metric)
                stepper(model, X, y, validation[0], reporter, report_every)
                return model
        with warnings.catch_warnings():
            # An MLP that stops at max_iter warns; its early stopping makes that an expected outcome.
            if isinstance(core_estimator(model), MLPClassifier | MLPRegressor):
                warnings.filterwarnings("ignore", category=ConvergenceWarning)
            model.fit(X, y)
        return model


def _with_missing_examples(
    model: Pipeline, X: pd.DataFrame, y: Any, may_be_missing: Sequence[str], seed: int
) -> tuple[pd.DataFrame, Any]:
    """``X`` and ``y`` with, for a booster, copies of some rows for each feature of ``may_be_missing`` that ``X``
    never misses, that feature missing in them (see the module notes)."""
    if isinstance(may_be_missing, str):
        raise InvalidInput(f"The 'may_be_missing' takes a list of feature names; got the string {may_be_missing!r}.")
    unknown = [name for name in may_be_missing if name not in X.columns]
    if unknown:
        raise InvalidInput(f"The 'may_be_missing' names columns the rows lack: {', '.join(map(repr, unknown))}.")
    never_missing = [name for name in dict.fromkeys(may_be_missing) if not X[name].isna().any()]
    if not never_missing or not len(X) or not _routes_missing_values(core_estimator(model)):
        return X, y
    rng = np.random.default_rng(seed)
    count = max(1, round(MISSING_EXAMPLES * len(X)))
    targets = np.asarray(y)
    chosen = [rng.choice(len(X), size=count, replace=False) for _ in never_missing]
    copies = []
    for name, rows in zip(never_missing, chosen, strict=True):
        copy = X.iloc[rows]
        copies.append(copy.assign(**{name: copy[name].where(np.zeros(len(copy), dtype=bool))}))
    frame = pd.concat([X, *copies], ignore_index=True)
    return frame, np.concatenate([targets, *(targets[rows] for rows in chosen)])


def _routes_missing_values(estimator: Any) -> bool:
    """Whether the estimator takes missing values as they are and learns where they go (gradient boosting)."""
    from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

    module = type(estimator).__module__
    return module.startswith(("lightgbm", "xgboost")) or isinstance(
        estimator, HistGradientBoostingClassifier | HistGradientBoostingRegressor
    )


class _Reporter:
    """Turns predictions on the validation rows into a score and tells ``on_step``."""

    def __init__(
        self, y: Any, classes: np.ndarray | None, on_step: StepCallback | None, metric: StepMetric | None
    ) -> None:
        self.y = np.asarray(y)
        # The training labels, sorted: every library orders its class columns so.
        self.classes = classes
        self.classify = classes is not None
        self.on_step = on_step
        self.metric = metric
        if classes is not None:
            unknown = sorted(map(str, set(np.unique(self.y)) - set(classes)))
            if unknown:
                raise InvalidData(f"The validation rows have labels the training rows lack: {', '.join(unknown)}.")

    @property
    def listening(self) -> bool:
        return self.on_step is not None

    def loss(self, predicted: np.ndarray) -> float:
        if self.classify:
            return float(log_loss(self.y, predicted, labels=self.classes))
        return float(mean_squared_error(self.y, predicted))

    def report(self, step: int, predicted: np.ndarray, loss: float | None = None) -> None:
        if self.on_step is None:
            return
        if self.metric is not None:
            score = float(self.metric(self.y, predicted))
        else:
            score = self.loss(predicted) if loss is None else loss
        self.on_step(step, score)


_Stepper = Callable[[Pipeline, pd.DataFrame, Any, pd.DataFrame, _Reporter, int], None]


def _stepper(estimator: Any) -> _Stepper | None:
    module = type(estimator).__module__
    if module.startswith("lightgbm"):
        return _fit_lightgbm
    if module.startswith("xgboost"):
        return _fit_xgboost
    if isinstance(estimator, MLPClassifier | MLPRegressor) and hasattr(estimator, "partial_fit"):
        return _fit_mlp
    return None


def _fit_lightgbm(
    model: Pipeline, X: pd.DataFrame, y: Any, X_validation: pd.DataFrame, reporter: _Reporter, every: int
) -> None:
    features, validation_features = _preprocess(model, X, y, X_validation)
    # Booster.predict ignores the training params; without num_threads it takes every core.
    threads = {"num_threads": model.steps[-1][1].n_jobs} if model.steps[-1][1].n_jobs else {}

    def report(env: Any) -> None:
        rounds = env.iteration + 1
        if reporter.listening and (rounds % every == 0 or rounds == env.end_iteration):
            raw = env.model.predict(validation_features, num_iteration=rounds, **threads)
            reporter.report(rounds, _as_probabilities(raw, reporter))

    model.steps[-1][1].fit(features, y, callbacks=[report])


def _fit_xgboost(
    model: Pipeline, X: pd.DataFrame, y: Any, X_validation: pd.DataFrame, reporter: _Reporter, every: int
) -> None:
    from xgboost.callback import TrainingCallback

    features, validation_features = _preprocess(model, X, y, X_validation)
    estimator = model.steps[-1][1]
    booster_template = core_estimator(model)  # the unfitted XGBoost estimator, inside its wrapper or not
    total = booster_template.get_params()["n_estimators"]

    class Report(TrainingCallback):
        def after_iteration(self, booster: Any, epoch: int, evals_log: Any) -> bool:
            rounds = epoch + 1
            if reporter.listening and (rounds % every == 0 or rounds == total):
                raw = booster.inplace_predict(validation_features, iteration_range=(0, rounds))
                reporter.report(rounds, _as_probabilities(raw, reporter))
            return False

        def __deepcopy__(self, memo: dict[int, Any]) -> Report:
            # scikit-learn clones params by deep copy; this callback holds on_step, which must stay itself.
            return self

    booster_template.set_params(callbacks=[Report()])
    try:
        estimator.fit(features, y)
    finally:
        # A fitted model must not keep the callback: it holds the caller's on_step and the validation rows.
        booster_template.set_params(callbacks=None)
        core_estimator(model).set_params(callbacks=None)


def _fit_mlp(
    model: Pipeline, X: pd.DataFrame, y: Any, X_validation: pd.DataFrame, reporter: _Reporter, every: int
) -> None:
    features, validation_features = _preprocess(model, X, y, X_validation)
    network = model.steps[-1][1]
    classify = isinstance(network, MLPClassifier)
    targets = np.asarray(y)
    early_stopping = bool(network.early_stopping)
    best_loss, best_weights, stale_epochs = np.inf, None, 0
    # partial_fit refuses early_stopping=True; this loop does the stopping on the held-out rows instead.
    network.set_params(early_stopping=False)
    try:
        for epoch in range(1, network.max_iter + 1):
            if classify:
                network.partial_fit(features, targets, classes=np.unique(targets) if epoch == 1 else None)
                predicted = network.predict_proba(validation_features)
            else:
                network.partial_fit(features, targets)
                predicted = network.predict(validation_features)
            loss = reporter.loss(predicted)
            reporter.report(epoch, predicted, loss)
            if not early_stopping:
                continue
            if loss < best_loss - network.tol:
                best_loss, stale_epochs = loss, 0
                best_weights = ([array.copy() for array in network.coefs_], [b.copy() for b in network.intercepts_])
            else:
                stale_epochs += 1
                if stale_epochs >= network.n_iter_no_change:
                    break
        if best_weights is not None:
            network.coefs_, network.intercepts_ = best_weights
        network.n_iter_ = epoch  # partial_fit counts only its own single epoch
    finally:
        network.set_params(early_stopping=early_stopping)


def _preprocess(model: Pipeline, X: pd.DataFrame, y: Any, X_validation: pd.DataFrame) -> tuple[Any, Any]:
    preprocess = model[:-1]  # shares its steps with model, so fitting it fits them
    return preprocess.fit_transform(X, y), preprocess.transform(X_validation)


def _as_probabilities(raw: Any, reporter: _Reporter) -> np.ndarray:
    predicted = np.asarray(raw, dtype=np.float64)
    if not reporter.classify:
        return predicted
    if predicted.ndim == 1:
        # Binary boosters give the probability of the second class only.
        return np.column_stack([1.0 - predicted, predicted])
    # XGBoost's float32 probabilities sum to 1 only to float32 precision, which log_loss warns about.
    return np.asarray(predicted / predicted.sum(axis=1, keepdims=True))


def _is_classifier(model: Pipeline) -> bool:
    return bool(is_classifier(model.steps[-1][1]))


def _check_lengths(X: Any, y: Any, name: str) -> None:
    if len(X) != len(y):
        raise InvalidData(f"The {name} rows and targets must match one to one; got {len(X)} rows and {len(y)} targets.")


@contextlib.contextmanager
def _thread_limit(threads: int | None) -> Iterator[None]:
    if threads is None:
        yield
        return
    import threadpoolctl

    with threadpoolctl.threadpool_limits(limits=threads):
        yield
