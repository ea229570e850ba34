"""What a broken feed costs a served model, with and without the two remedies (issue 7's data-quality months).

    .venv/bin/python benchmarks/incident_rows.py               # seeds 0 1 2 3 4, a few seconds each

On the demo's market (``driftloop.demo._market``), a LightGBM with the demo's parameters is fitted on the latest
5,000 complete sales of months 10-16, as the loop's champion would be. It then prices three kinds of rows:

- complete rows of month 17;
- month 17's rows whose area is missing (the ``area_missing`` incident);
- month 20's rows whose area came in square feet (the ``area_square_feet`` incident), sent as they are, and
  scored as missing (what a server with ``out_of_range="missing"`` does with a value outside the training range).

Two fits: plain, and with ``fit_model(may_be_missing=["area"])`` (copies of 5% of the rows without the area).
Printed: the mean absolute percentage error of each kind of row, per seed.
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd

from driftloop.demo._loop_demo import PARAMS
from driftloop.demo._market import FEATURES, TARGET, MarketParameters, generate_market
from driftloop.training import build_model, fit_model


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    args = parser.parse_args()
    print("MAPE by kind of row: complete | area missing | square feet as sent | square feet scored as missing")
    for seed in args.seeds:
        market = generate_market(MarketParameters(), seed=seed)
        training = market[market["month"].between(10, 16) & (market["incident"] == "")].tail(5_000)
        month_17, month_20 = market[market["month"] == 17], market[market["month"] == 20]
        rows = {
            "complete": month_17[month_17["incident"] == ""],
            "missing": month_17[month_17["incident"] == "area_missing"],
            "feet": month_20[month_20["incident"] == "area_square_feet"],
        }
        low, high = training["area"].min(), training["area"].max()
        feet_as_missing = rows["feet"].assign(area=rows["feet"]["area"].where(rows["feet"]["area"].between(low, high)))
        for label, may_be_missing in (("plain", []), ("may_be_missing", ["area"])):
            features = training[list(FEATURES)]
            model = build_model("lightgbm", "regression", features, PARAMS, seed=seed)
            model = fit_model(model, features, training[TARGET].to_numpy(), may_be_missing=may_be_missing, seed=seed)
            errors = [
                _mape(model, frame) for frame in (rows["complete"], rows["missing"], rows["feet"], feet_as_missing)
            ]
            print(f"seed {seed} {label:>14}: " + " | ".join(f"{error:6.1%}" for error in errors), flush=True)


def _mape(model: object, rows: pd.DataFrame) -> float:
    truth = rows[TARGET].to_numpy()
    predicted = np.asarray(model.predict(rows[list(FEATURES)]))  # type: ignore[attr-defined]
    return float(np.mean(np.abs(predicted - truth) / truth))


if __name__ == "__main__":
    main()
