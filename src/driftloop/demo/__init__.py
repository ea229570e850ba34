"""The demo run by ``make demo``: a tracking tour on real training, the training path from a dataset version to a
registered, promoted champion, and the generated housing market the closed loop replays (:mod:`._market`)."""

from driftloop.demo._market import (
    FEATURES,
    SQUARE_FEET_PER_SQUARE_METRE,
    TARGET,
    District,
    MarketEvent,
    MarketParameters,
    generate_market,
    market_events,
)
from driftloop.demo._tour import run_tour
from driftloop.demo._training_tour import run_training_tour

__all__ = [
    "FEATURES",
    "SQUARE_FEET_PER_SQUARE_METRE",
    "TARGET",
    "District",
    "MarketEvent",
    "MarketParameters",
    "generate_market",
    "market_events",
    "run_tour",
    "run_training_tour",
]
