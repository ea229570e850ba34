"""Active learning: the strategies on known arrays, selection, the daily budget, scoring served models, and the
goal: at an equal label budget, choosing by margin or entropy beats choosing at random."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from lightgbm import LGBMRegressor
from sklearn.datasets import make_classification
from sklearn.ensemble import BaggingRegressor, RandomForestRegressor
from sklearn.linear_model import LinearRegression, LogisticRegression
from tests.serving.test_app import classifier, houses
from tests.serving.test_label_queue import COLUMNS, send

from driftloop import Workspace
from driftloop.errors import InvalidInput, NotFound
from driftloop.loop._active import (
    DAY,
    ensemble_spread,
    entropy,
    margin,
    quantile_spread,
    random_scores,
    request_labels,
    score_predictions,
    select,
    uncertainty,
)
from driftloop.serving import ServerSettings, create_app

PROBABILITIES = np.array([[0.7, 0.2, 0.1], [0.4, 0.4, 0.2], [1.0, 0.0, 0.0], [0.5, 0.3, 0.2]])


# -- strategies and selection ----------------------------------------------------------------------------------


def test_classifier_strategies_on_known_probabilities() -> None:
    np.testing.assert_allclose(uncertainty(PROBABILITIES), [0.3, 0.6, 0.0, 0.5])
    np.testing.assert_allclose(margin(PROBABILITIES), [0.5, 1.0, 0.0, 0.8])
    expected = [
        -(0.7 * np.log(0.7) + 0.2 * np.log(0.2) + 0.1 * np.log(0.1)),
        -(2 * 0.4 * np.log(0.4) + 0.2 * np.log(0.2)),
    ]
    np.testing.assert_allclose(entropy(PROBABILITIES)[:2], expected)
    assert entropy(PROBABILITIES)[2] == 0.0 and entropy([[0.5, 0.5]])[0] == pytest.approx(np.log(2))
    assert margin([[1.0]]).tolist() == [0.0]  # a single known class: nothing to be confused with
    with pytest.raises(InvalidInput, match="one row per prediction"):
        margin([0.2, 0.8])


def test_regressor_strategies_on_known_predictions() -> None:
    members = np.array([[1.0, 10.0, 5.0], [3.0, 10.0, 7.0], [2.0, 10.0, 9.0]])
    np.testing.assert_allclose(ensemble_spread(members), [np.sqrt(2 / 3), 0.0, np.sqrt(8 / 3)])
    np.testing.assert_allclose(quantile_spread([1.0, 5.0, 2.0], [4.0, 5.5, 1.0]), [3.0, 0.5, 1.0])
    with pytest.raises(InvalidInput, match="at least 2 members"):
        ensemble_spread([[1.0, 2.0]])
    with pytest.raises(InvalidInput, match="one lower and one upper"):
        quantile_spread([1.0, 2.0], [1.0])
    assert random_scores(5, seed=3).tolist() == random_scores(5, seed=3).tolist()


def test_select_takes_the_top_scores_not_requested_ties_to_the_earlier_row() -> None:
    scores = np.array([0.2, 0.9, 0.5, 0.9, np.nan, 0.7])
    assert select(scores, 3).tolist() == [1, 3, 5]
    assert select(scores, 3, already_requested=[False, True, False, False, False, False]).tolist() == [3, 5, 2]
    assert select(scores, 10).tolist() == [1, 3, 5, 2, 0]  # NaN is never chosen
    assert select(scores, 0).tolist() == [] and select(np.array([]), 5).tolist() == []
    with pytest.raises(InvalidInput, match="budget"):
        select(scores, -1)
    with pytest.raises(InvalidInput, match="one flag per score"):
        select(scores, 2, already_requested=[True])


# -- the goal ----------------------------------------------------------------------------------------------------


def accuracy_after_labelling(seed: int, strategy: str, *, days: int = 6, per_day: int = 20) -> float:
    """A stream of 300 predictions a day; each day ``per_day`` of them are labelled, chosen by ``strategy`` among
    every unlabelled prediction so far, and the model is retrained on every label; accuracy on held-out rows."""
    initial, day_rows, held_out = 20, 300, 2_000
    features, classes = make_classification(
        n_samples=held_out + initial + days * day_rows,
        n_features=10,
        n_informative=5,
        n_redundant=0,
        n_classes=3,
        n_clusters_per_class=1,
        class_sep=1.5,
        random_state=seed,
    )
    requested = np.zeros(len(features), dtype=bool)
    requested[held_out : held_out + initial] = True
    model = LogisticRegression(max_iter=1_000).fit(features[requested], classes[requested])
    seen = held_out + initial
    for day in range(days):
        seen += day_rows
        window = np.arange(held_out, seen)
        probabilities = model.predict_proba(features[window])
        scores = {
            "margin": margin(probabilities),
            "entropy": entropy(probabilities),
            "random": random_scores(len(window), seed=seed * 100 + day),
        }[strategy]
        chosen = select(scores, per_day, already_requested=requested[window])
        requested[window[chosen]] = True
        model = LogisticRegression(max_iter=1_000).fit(features[requested], classes[requested])
    assert requested.sum() == initial + days * per_day  # an equal label budget for every strategy
    return float(model.score(features[:held_out], classes[:held_out]))


def test_margin_and_entropy_beat_random_selection_at_an_equal_label_budget() -> None:
    seeds = range(6)
    accuracy = {
        strategy: [accuracy_after_labelling(seed, strategy) for seed in seeds]
        for strategy in ("margin", "entropy", "random")
    }
    means = {strategy: float(np.mean(values)) for strategy, values in accuracy.items()}
    report = ", ".join(f"{s}: {m:.4f} {np.round(accuracy[s], 3).tolist()}" for s, m in means.items())
    assert means["margin"] > means["random"] and means["entropy"] > means["random"], report
    wins = sum(a > r for a, r in zip(accuracy["margin"], accuracy["random"], strict=True))
    assert wins >= 4, f"margin beat random on {wins} of 6 seeds; {report}"


# -- the service: a served model's log --------------------------------------------------------------------------


@pytest.fixture
def served_classifier(sqlite_workspace: Workspace) -> Iterator[tuple[Workspace, list[str]]]:
    frame = houses(300)
    sqlite_workspace.models.register("houses", classifier(frame.head(40)), target="expensive", holdout=frame.tail(60))
    sqlite_workspace.models.promote("houses/1")
    app = create_app(sqlite_workspace, ServerSettings(models=["houses"], monitor_interval=0, upkeep_interval=0))
    with TestClient(app) as client:
        yield sqlite_workspace, send(client, houses(200, seed=7))


def test_request_labels_queues_the_top_scores_within_the_daily_budget(
    served_classifier: tuple[Workspace, list[str]],
) -> None:
    ws, ids = served_classifier
    now = ws.metadata.label_requests.clock()
    first = request_labels(ws, "houses", strategy="entropy", budget_per_day=20, now=now)
    assert (first.version, first.candidates, first.spent, len(first.queued), first.note) == (1, 200, 0, 20, None)
    scores = [request.score for request in first.queued]
    assert scores == sorted(scores, reverse=True) and {r.strategy for r in first.queued} == {"entropy"}
    model = ws.models.load("houses/1")
    frame = pd.DataFrame(houses(200, seed=7)[COLUMNS])
    expected = select(entropy(model.predict_proba(frame)), 20)
    assert [request.request_id for request in first.queued] == [ids[index] for index in expected]
    spent = request_labels(ws, "houses", strategy="entropy", budget_per_day=20, now=now + 60)
    assert spent.queued == () and "daily budget of 20 is spent" in str(spent.note)
    more = request_labels(ws, "houses", strategy="entropy", budget_per_day=30, now=now + 120)
    assert (more.spent, more.candidates, len(more.queued)) == (20, 180, 10)
    tomorrow = request_labels(ws, "houses", strategy="margin", budget_per_day=30, now=now + DAY + 200, window=2 * DAY)
    assert len(tomorrow.queued) == 30
    every = [r.request_id for outcome in (first, more, tomorrow) for r in outcome.queued]
    assert len(set(every)) == 60  # a prediction is never queued twice
    assert tomorrow.to_dict()["queued"][0]["request_id"] == tomorrow.queued[0].request_id
    stale = request_labels(ws, "houses", strategy="margin", budget_per_day=500, now=now + 3 * DAY + 300)
    assert stale.queued == () and "no unlabelled predictions in the last 86400 s" in str(stale.note)


def test_request_labels_refuses_what_cannot_work(served_classifier: tuple[Workspace, list[str]]) -> None:
    ws, _ = served_classifier
    with pytest.raises(InvalidInput, match=r"is a classifier; ensemble_spread is for regressors.*margin, entropy"):
        request_labels(ws, "houses", strategy="ensemble_spread", budget_per_day=5)
    with pytest.raises(InvalidInput, match="Unknown active-learning strategy 'smart'"):
        request_labels(ws, "houses", strategy="smart", budget_per_day=5)
    for budget in (0, 2.5, True):
        with pytest.raises(InvalidInput, match="budget_per_day"):
            request_labels(ws, "houses", strategy="margin", budget_per_day=budget)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="window"):
        request_labels(ws, "houses", strategy="margin", budget_per_day=5, window=0)
    with pytest.raises(NotFound):
        request_labels(ws, "flats", strategy="margin", budget_per_day=5)
    assert ws.metadata.label_requests.pending() == []


# -- regressors --------------------------------------------------------------------------------------------------


def register(ws: Workspace, name: str, model: object, frame: pd.DataFrame) -> str:
    ws.models.register(name, model, target="price", holdout=frame.tail(50))
    ws.models.promote(f"{name}/1")
    return f"{name}/1"


def prices(rows: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frame = pd.DataFrame({"area": rng.uniform(30, 200, rows), "rooms": rng.integers(1, 6, rows).astype(float)})
    return frame.assign(price=frame["area"] * 3.0 + rng.normal(0, 10, rows))


def test_regressor_strategies_read_the_members_of_a_forest_or_the_companions(sqlite_workspace: Workspace) -> None:
    ws = sqlite_workspace
    frame = prices(300, 0)
    features, target = frame[["area", "rooms"]], frame["price"]
    forest = RandomForestRegressor(n_estimators=12, random_state=0).fit(features, target)
    bagging = BaggingRegressor(LinearRegression(), n_estimators=5, max_features=1, random_state=0).fit(features, target)
    boosted = LGBMRegressor(n_estimators=20, verbose=-1).fit(features, target)
    low = LGBMRegressor(objective="quantile", alpha=0.1, n_estimators=20, verbose=-1).fit(features, target)
    high = LGBMRegressor(objective="quantile", alpha=0.9, n_estimators=20, verbose=-1).fit(features, target)
    for name, model in (("forest", forest), ("bagging", bagging), ("boosted", boosted), ("low", low), ("high", high)):
        register(ws, name, model, frame)
    rows = prices(40, 1)[["area", "rooms"]]
    by_trees = score_predictions(ws.models.load("forest/1"), rows, "ensemble_spread")
    trees = np.vstack([tree.predict(rows.to_numpy(dtype=np.float32)) for tree in forest.estimators_])
    np.testing.assert_allclose(by_trees, trees.std(axis=0))
    by_bags = score_predictions(ws.models.load("bagging/1"), rows, "ensemble_spread")
    assert by_bags.shape == (40,) and (by_bags > 0).all()
    loaded = ws.models.load("boosted/1")
    with pytest.raises(InvalidInput, match=r"LGBMRegressor, not a forest or bagging ensemble.*quantile_spread"):
        score_predictions(loaded, rows, "ensemble_spread", name="boosted/1")
    with pytest.raises(InvalidInput, match=r"is a regressor; margin is for classifiers.*ensemble_spread"):
        score_predictions(loaded, rows, "margin")
    quantiles = [ws.models.load("low/1"), ws.models.load("high/1")]
    widths = score_predictions(loaded, rows, "quantile_spread", companions=quantiles)
    np.testing.assert_allclose(widths, np.abs(high.predict(rows) - low.predict(rows)))
    with pytest.raises(InvalidInput, match="exactly two companion models"):
        score_predictions(loaded, rows, "quantile_spread", companions=quantiles[:1])
    spread = score_predictions(loaded, rows, "ensemble_spread", companions=[ws.models.load("forest/1")])
    np.testing.assert_allclose(spread, np.abs(boosted.predict(rows) - forest.predict(rows)) / 2)
