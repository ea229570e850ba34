"""The demo run by ``make demo``. Until the closed loop lands: a tracking tour on real training, then the
training path from a dataset version to a registered, promoted champion."""

from driftloop.demo._tour import run_tour
from driftloop.demo._training_tour import run_training_tour

__all__ = ["run_tour", "run_training_tour"]
