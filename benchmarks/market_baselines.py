"""Calibration of the demo's generated housing market: is it learnable, and does a frozen model decay?

    .venv/bin/python benchmarks/market_baselines.py [--seed 0]

Generates the default market (:func:`driftloop.demo._market.generate_market`) and scores three LightGBM
regressors (``n_estimators=300, learning_rate=0.05, num_leaves=31``, the district as a pandas category) on each
month 6 to 23, by the mean absolute percentage error (MAPE) of the price:

- frozen: trained once on months 0-5, never again;
- retrained, all: retrained every month m on every row of months 0 to m-2 (labels arrive a month late);
- retrained, recent: the same on the last 4 labelled months only, m-5 to m-2.

Every model reads the delivered features, incident rows included as they are (missing or square-feet areas).
The script prints the MAPE per month, with the events that start that month, then the mean over months 6-23 and
the time it took. What to expect: a fresh model around 8-12% (the price noise alone, log-normal with sigma 0.10,
costs about 8%); the frozen model well above the retrained ones, and the events visible in its monthly MAPE.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import pandas as pd
from lightgbm import LGBMRegressor

from driftloop.demo._market import FEATURES, TARGET, MarketParameters, generate_market, market_events

FIRST_SCORED_MONTH = 6
RECENT_MONTHS = 4


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0, help="the market's seed")
    arguments = parser.parse_args()
    started = time.perf_counter()
    parameters = MarketParameters()
    market = generate_market(parameters, seed=arguments.seed)
    districts = [district.name for district in (*parameters.districts, parameters.new_district)]
    # One category list for every frame, so a district means the same code in training and in prediction.
    market["district"] = pd.Categorical(market["district"], categories=districts)
    generated = time.perf_counter() - started
    print(
        f"market: {len(market):,} sales over {parameters.months} months, seed {arguments.seed}, generated in "
        f"{generated:.2f} s"
    )

    starts: dict[int, list[str]] = {}
    for event in market_events(parameters):
        starts.setdefault(event.month, []).append(event.name)
    frozen = fit(market[market["month"] < FIRST_SCORED_MONTH])
    scores: dict[str, list[float]] = {"frozen": [], "retrained, all": [], "retrained, recent": []}
    print(f"\n{'month':>5}  {'rows':>5}  {'frozen':>7}  {'all':>7}  {'recent':>7}  events starting")
    for month in range(FIRST_SCORED_MONTH, parameters.months):
        current = market[market["month"] == month]
        labelled = market["month"] <= month - 2
        models = {
            "frozen": frozen,
            "retrained, all": fit(market[labelled]),
            # The last RECENT_MONTHS labelled months: m-5 to m-2 for 4.
            "retrained, recent": fit(market[labelled & (market["month"] >= month - 1 - RECENT_MONTHS)]),
        }
        for name, model in models.items():
            scores[name].append(mape(current[TARGET].to_numpy(), model.predict(current[list(FEATURES)])))
        print(
            f"{month:>5}  {len(current):>5}  "
            + "  ".join(f"{scores[name][-1]:>7.2%}" for name in scores)
            + f"  {', '.join(starts.get(month, []))}"
        )
    print(f"\nmean MAPE over months {FIRST_SCORED_MONTH}-{parameters.months - 1}:")
    for name, values in scores.items():
        print(f"  {name:<18} {np.mean(values):.2%}")
    print(f"\ntook {time.perf_counter() - started:.1f} s")


def fit(rows: pd.DataFrame) -> LGBMRegressor:
    """A LightGBM regressor of the price, trained on the delivered features of ``rows``."""
    model = LGBMRegressor(n_estimators=300, learning_rate=0.05, num_leaves=31, verbose=-1)
    return model.fit(rows[list(FEATURES)], rows[TARGET])


def mape(truth: np.ndarray, predicted: np.ndarray) -> float:
    """The mean absolute percentage error, as a fraction."""
    return float(np.mean(np.abs(predicted - truth) / truth))


if __name__ == "__main__":
    main()
