"""The demo run by ``make demo``. Until the closed loop lands, a tracking tour on real training."""

from driftloop.demo._tour import run_tour

__all__ = ["run_tour"]
