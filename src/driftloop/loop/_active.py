"""Active learning: ask people to label the logged predictions a model would learn most from, within a daily budget.

**Strategies** score rows, higher meaning more informative; each is a vectorised function over NumPy arrays:

- classifiers, from the class probabilities: :func:`uncertainty` (1 - the top probability), :func:`margin`
  (1 - the gap between the top two, so the smallest gap comes first) and :func:`entropy`;
- regressors, from several predictions of each row: :func:`ensemble_spread` (the standard deviation over the trees
  of a forest or bagging model, or over several models) and :func:`quantile_spread` (the width between a lower and
  an upper quantile model, e.g. LightGBM's ``objective="quantile"``);
- ``random``: the baseline every strategy must beat at an equal budget.

:func:`select` keeps the top ``budget`` rows not already queued or labelled. :func:`request_labels` runs it on the
champion's unlabelled logged predictions and queues the winners in the metadata store (the ``label_requests``
table), at most ``budget_per_day`` in any 24 hours. People answer the queue with ``GET /v1/labels/pending`` and
``POST /v1/labels`` or ``driftloop labels``; :func:`driftloop.serving._label_queue.answer_labels` records the
answers in the labels table that feedback fills, so they reach the next retrain like any label.

>>> import numpy as np
>>> probabilities = np.array([[0.9, 0.1], [0.55, 0.45], [0.7, 0.3]])
>>> margin(probabilities).round(2).tolist()
[0.2, 0.9, 0.6]
>>> select(margin(probabilities), 2, already_requested=np.array([False, True, False])).tolist()
[2, 0]
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final, cast

import numpy as np
import numpy.typing as npt
import orjson

from driftloop.entities import LabelRequest  # at run time: a remote client decodes an outcome holding them
from driftloop.errors import InvalidInput
from driftloop.names import validate_name

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from driftloop.registry import LoadedModel
    from driftloop.workspace import Workspace

__all__ = [
    "CLASSIFIER_STRATEGIES",
    "REGRESSOR_STRATEGIES",
    "STRATEGIES",
    "LabelRequestOutcome",
    "ensemble_spread",
    "entropy",
    "margin",
    "quantile_spread",
    "random_scores",
    "request_labels",
    "score_predictions",
    "select",
    "uncertainty",
]

Scores = npt.NDArray[np.float64]

CLASSIFIER_STRATEGIES: Final = ("margin", "entropy", "uncertainty", "random")
REGRESSOR_STRATEGIES: Final = ("ensemble_spread", "quantile_spread", "random")
STRATEGIES: Final = ("margin", "entropy", "uncertainty", "ensemble_spread", "quantile_spread", "random")
DAY: Final = 86_400.0
"""The budget's period, in seconds: requests queued in the last 24 hours count against ``budget_per_day``."""


# -- strategies ------------------------------------------------------------------------------------------------


def uncertainty(probabilities: npt.ArrayLike) -> Scores:
    """1 - the top class probability of each row (rows × classes): 0 when the model is sure."""
    matrix = _probabilities(probabilities)
    return cast(Scores, 1.0 - matrix.max(axis=1))


def margin(probabilities: npt.ArrayLike) -> Scores:
    """1 - (top probability - second probability) of each row: the rows the model can barely tell apart first."""
    matrix = _probabilities(probabilities)
    if matrix.shape[1] == 1:  # one known class: no second to be confused with
        return np.zeros(matrix.shape[0])
    top_two = np.partition(matrix, matrix.shape[1] - 2, axis=1)[:, -2:]
    return 1.0 - (top_two[:, 1] - top_two[:, 0])


def entropy(probabilities: npt.ArrayLike) -> Scores:
    """The Shannon entropy of each row's class probabilities, in nats (0 log 0 counts as 0)."""
    matrix = _probabilities(probabilities)
    logs = np.log(np.where(matrix > 0.0, matrix, 1.0))
    return cast(Scores, -(matrix * logs).sum(axis=1) + 0.0)  # + 0.0: no -0.0 for sure rows


def ensemble_spread(predictions: npt.ArrayLike) -> Scores:
    """The standard deviation of each row's predictions over the members of an ensemble (members × rows)."""
    matrix = np.asarray(predictions, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[0] < 2:
        raise InvalidInput(
            f"ensemble_spread needs the predictions of at least 2 members, one row each (members × rows); "
            f"got an array of shape {matrix.shape}."
        )
    return cast(Scores, matrix.std(axis=0))


def quantile_spread(lower: npt.ArrayLike, upper: npt.ArrayLike) -> Scores:
    """The width between a lower and an upper quantile model's predictions of each row (crossings count too)."""
    low, high = np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    if low.ndim != 1 or low.shape != high.shape:
        raise InvalidInput(
            f"quantile_spread needs one lower and one upper prediction per row; got shapes {low.shape} and "
            f"{high.shape}."
        )
    return cast(Scores, np.abs(high - low))


def random_scores(rows: int, seed: int = 0) -> Scores:
    """Uniform scores in [0, 1): choosing by them is random selection, the baseline of every strategy."""
    return np.random.default_rng(seed).random(rows)


def select(scores: npt.ArrayLike, budget: int, already_requested: npt.ArrayLike | None = None) -> npt.NDArray[np.int64]:
    """The indices of the ``budget`` highest scores, skipping rows already queued or labelled, best first.

    Ties go to the earlier row, so a selection is deterministic. Rows whose score is NaN (nothing could be said
    of them) are never chosen.

    Args:
        scores: One score per row, higher meaning more informative.
        budget: How many rows to choose at most.
        already_requested: One flag per row: True where the row is queued or labelled already.
    """
    values = np.asarray(scores, dtype=np.float64)
    if values.ndim != 1:
        raise InvalidInput(f"The scores must be one number per row; got an array of shape {values.shape}.")
    if isinstance(budget, bool) or not isinstance(budget, int | np.integer) or budget < 0:
        raise InvalidInput(f"The budget must be a whole number of rows >= 0; got {budget!r}.")
    available = ~np.isnan(values)
    if already_requested is not None:
        requested = np.asarray(already_requested, dtype=bool)
        if requested.shape != values.shape:
            raise InvalidInput(
                f"already_requested needs one flag per score ({values.shape[0]}); got shape {requested.shape}."
            )
        available &= ~requested
    candidates = np.flatnonzero(available)
    order = np.lexsort((candidates, -values[candidates]))  # the last key sorts first: score down, then index up
    return candidates[order[: int(budget)]].astype(np.int64)


def score_predictions(
    model: LoadedModel,
    inputs: pd.DataFrame,
    strategy: str,
    *,
    companions: Sequence[LoadedModel] = (),
    seed: int = 0,
    name: str = "the model",
) -> Scores:
    """Score each row of ``inputs`` for ``model`` by ``strategy`` (see the module notes).

    Args:
        model: The model whose predictions are to be labelled.
        inputs: The rows, with the model's columns.
        strategy: One of :data:`STRATEGIES` that fits the model: a classifier's or a regressor's.
        companions: For ``ensemble_spread``, further models whose predictions join the model's in the spread
            (without them the model must be a forest or bagging ensemble); for ``quantile_spread``, exactly two
            models: the lower and the upper quantile.
        seed: Seeds ``random``.
        name: How messages name the model (``houses/3``).

    Raises:
        InvalidInput: The strategy does not apply to the model (the message names those that do).
    """
    if strategy not in STRATEGIES:
        raise InvalidInput(f"Unknown active-learning strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    rows = len(inputs)
    if strategy == "random":
        return random_scores(rows, seed)
    if model.is_classifier:
        if strategy not in CLASSIFIER_STRATEGIES:
            raise InvalidInput(
                f"{name} is a classifier; {strategy} is for regressors. Strategies for a classifier: "
                f"{', '.join(CLASSIFIER_STRATEGIES)}."
            )
        probabilities = model.predict_proba(inputs)
        return {"margin": margin, "entropy": entropy, "uncertainty": uncertainty}[strategy](probabilities)
    if strategy not in REGRESSOR_STRATEGIES:
        raise InvalidInput(
            f"{name} is a regressor; {strategy} is for classifiers. Strategies for a regressor: "
            f"{', '.join(REGRESSOR_STRATEGIES)}."
        )
    if strategy == "quantile_spread":
        if len(companions) != 2:
            raise InvalidInput(
                f"quantile_spread needs exactly two companion models, the lower and the upper quantile (e.g. "
                f"LightGBM with objective='quantile'); got {len(companions)}."
            )
        lower, upper = companions
        return quantile_spread(lower.predict(inputs), upper.predict(inputs))
    if companions:
        members = [model.predict(inputs), *(companion.predict(inputs) for companion in companions)]
        return ensemble_spread(np.vstack([np.asarray(member, dtype=np.float64) for member in members]))
    return ensemble_spread(_member_predictions(model, inputs, name))


def _member_predictions(model: LoadedModel, inputs: pd.DataFrame, name: str) -> npt.NDArray[np.float64]:
    """The predictions of each member of the model's forest or bagging ensemble (members × rows).

    A pipeline's last step may be the ensemble: the steps before it prepare the rows, as they do in ``predict``.
    """
    from sklearn.ensemble import BaggingRegressor, ExtraTreesRegressor, RandomForestRegressor
    from sklearn.pipeline import Pipeline

    estimator = model.estimator
    final = estimator[-1] if isinstance(estimator, Pipeline) else estimator
    if not isinstance(final, RandomForestRegressor | ExtraTreesRegressor | BaggingRegressor):
        raise InvalidInput(
            f"{name} is a {type(final).__name__}, not a forest or bagging ensemble, so ensemble_spread has no members "
            "to compare. Strategies for this regressor: ensemble_spread with companion models (several models of "
            "the same target), quantile_spread with a lower and an upper quantile model, or random."
        )
    features = inputs[model.feature_names] if model.feature_names else inputs
    data: Any = features if getattr(estimator, "feature_names_in_", None) is not None else features.to_numpy()
    prepared = estimator[:-1].transform(data) if isinstance(estimator, Pipeline) else data
    matrix = np.asarray(prepared.toarray() if hasattr(prepared, "toarray") else prepared, dtype=np.float64)
    if isinstance(final, BaggingRegressor):
        columns = final.estimators_features_
        return np.vstack(
            [member.predict(matrix[:, kept]) for member, kept in zip(final.estimators_, columns, strict=True)]
        )
    # The trees of a forest were fitted on float32 arrays without column names.
    return np.vstack([tree.predict(matrix.astype(np.float32)) for tree in final.estimators_])


def _probabilities(probabilities: npt.ArrayLike) -> npt.NDArray[np.float64]:
    matrix = np.asarray(probabilities, dtype=np.float64)
    if matrix.ndim != 2 or matrix.shape[1] < 1:
        raise InvalidInput(
            f"Class probabilities are one row per prediction (rows × classes); got shape {matrix.shape}."
        )
    return matrix


# -- the queue ---------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelRequestOutcome:
    """What :func:`request_labels` did: how many rows it scored, what the budget allowed, what it queued."""

    model: str
    version: int
    strategy: str
    budget_per_day: int
    spent: int
    """Requests of the model queued in the 24 hours before this call."""
    candidates: int
    """Unlabelled, not yet queued predictions of the champion in the window."""
    queued: tuple[LabelRequest, ...] = ()
    note: str | None = None
    """Why nothing was queued, when nothing was."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "version": self.version,
            "strategy": self.strategy,
            "budget_per_day": self.budget_per_day,
            "spent": self.spent,
            "candidates": self.candidates,
            "queued": [
                {"request_id": request.request_id, "score": request.score, "prediction": request.prediction}
                for request in self.queued
            ],
            "note": self.note,
        }


def request_labels(
    workspace: Workspace,
    model: str,
    *,
    strategy: str,
    budget_per_day: int,
    window: float = DAY,
    companions: Sequence[str] = (),
    now: float | None = None,
    seed: int = 0,
    actor: str = "loop",
) -> LabelRequestOutcome:
    """Queue the champion's most informative unlabelled predictions for labelling, within a daily budget.

    Args:
        workspace: The workspace whose registry, prediction log, labels and label queue to use.
        model: The model's name; its champion's predictions (shadow ones left out) are the candidates.
        strategy: One of :data:`STRATEGIES` that fits the champion (see :func:`score_predictions`).
        budget_per_day: The most requests queued for the model in any 24 hours (those of earlier calls count).
        window: Only predictions made in the last ``window`` seconds before ``now``.
        companions: References of the models :func:`score_predictions` takes as companions.
        now: Seconds since the epoch (the current time by default).
        seed: Seeds ``random``.
        actor: Who asked, in the event log.

    Raises:
        NotFound: The model has no champion.
        InvalidInput: An argument is not acceptable, or the strategy does not fit the champion.
    """
    from driftloop.monitoring._live import _decoded_objects
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.store.metadata import NewLabelRequest
    from driftloop.store.tables import TableStore

    name = validate_name("model", model)
    if strategy not in STRATEGIES:
        raise InvalidInput(f"Unknown active-learning strategy {strategy!r}; choose one of {', '.join(STRATEGIES)}.")
    if isinstance(budget_per_day, bool) or not isinstance(budget_per_day, int) or budget_per_day < 1:
        raise InvalidInput(f"The budget_per_day must be a whole number of labels >= 1; got {budget_per_day!r}.")
    if isinstance(window, bool) or not isinstance(window, int | float) or not 0 < window < math.inf:
        raise InvalidInput(f"The window must be a positive number of seconds; got {window!r}.")
    moment = time.time() if now is None else float(now)
    version = workspace.models.get(f"{name}@champion")
    loaded = workspace.models.load(version.reference)
    helpers = [workspace.models.load(reference) for reference in companions]
    queue = workspace.metadata.label_requests
    spent = queue.count_requested(name, since=moment - DAY)
    outcome = LabelRequestOutcome(name, version.number, strategy, budget_per_day, spent, candidates=0)
    if spent >= budget_per_day:
        return _with(outcome, f"The daily budget of {budget_per_day} is spent ({spent} requested in the last 24 h).")
    log = PredictionLog(TableStore(workspace.settings.tables_url))
    since = datetime.fromtimestamp(moment - window, UTC)
    rows = _unlabelled(log.joined(name, since=since, version=version.number))
    if rows.num_rows == 0:
        return _with(outcome, f"{version.reference} has no unlabelled predictions in the last {window:g} s.")
    request_ids = rows.column("request_id").to_pylist()
    known = queue.find(request_ids)
    requested = np.array([request_id in known for request_id in request_ids], dtype=bool)
    outcome = _with(outcome, None, candidates=int((~requested).sum()))
    if requested.all():
        return _with(outcome, f"Every unlabelled prediction of {version.reference} in the window is queued already.")
    inputs = _decoded_objects(rows.column("inputs")).to_pandas()
    scores = score_predictions(loaded, inputs, strategy, companions=helpers, seed=seed, name=version.reference)
    chosen = select(scores, budget_per_day - spent, requested)
    texts, predictions = rows.column("inputs").to_pylist(), rows.column("prediction").to_pylist()
    items = [
        NewLabelRequest(
            request_id=request_ids[index],
            score=float(scores[index]),
            strategy=strategy,
            version=version.number,
            inputs=orjson.loads(texts[index]),
            prediction=orjson.loads(predictions[index]),
        )
        for index in chosen.tolist()
    ]
    queued = queue.request(name, items, actor=actor, at=moment)
    note = None if queued else "Nothing was queued: no score could be computed, or another selection came first."
    return _with(outcome, note, queued=tuple(queued))


def _with(outcome: LabelRequestOutcome, note: str | None, **changes: Any) -> LabelRequestOutcome:
    return dataclasses.replace(outcome, note=note, **changes)


def _unlabelled(joined: pa.Table) -> pa.Table:
    """The rows of a joined log without a label, shadow predictions left out (they answered no one)."""
    import pyarrow.compute as pc

    keep = pc.and_(pc.is_null(joined.column("label")), pc.not_equal(joined.column("served_by"), "shadow"))
    return joined.filter(keep)
