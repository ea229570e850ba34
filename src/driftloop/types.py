"""Type aliases shared across packages."""

from __future__ import annotations

__all__ = ["MetricRow"]

MetricRow = tuple[str, float, int, float]
"""A metric point as it travels from ``log_metric`` to the store: (key, value, step, timestamp)."""
