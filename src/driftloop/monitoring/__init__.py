"""Monitoring: data drift, concept drift and estimated performance of served models.

- :func:`compare` tests two windows of data (any two DataFrames, no workspace needed) for drift, feature by
  feature, as a whole and, optionally, jointly (a domain classifier); :func:`compare_profiles` does it from two
  stored profiles (sketches: memory bounded by the sketch size, with stated error bounds), and
  :func:`compare_versions` for two versions of a dataset (``driftloop monitor versions``);
- :class:`ConceptDriftMonitor` watches a model's error stream as labels arrive;
- :func:`check_window_performance` compares a labelled window's metrics with the validation ones;
- :class:`PerformanceEstimator` estimates performance before labels arrive (covariate shift only);
- :func:`check_quality` measures a window's data quality (missing-rate jumps, ranges, unseen categories,
  schema) and :func:`quality_from_flags` counts the input checker's flags in the prediction log;
- :class:`AlertEngine` turns monitor outputs into alerts by rules (consecutive windows, cooldown,
  acknowledge, resolve) and notifies channels (webhook, Slack, email, log file) with retries;
- :func:`render_report` writes a self-contained HTML drift report (Plotly inlined, opens offline);
- :func:`check_live_drift` compares a served model's latest logged traffic with its version's holdout
  (``driftloop monitor check``);
- :func:`run_monitors` checks every served champion, records the findings (which servers export as Prometheus
  gauges), sums the server's health and runs alert rules (``driftloop monitor run``, and the server's monitor).
"""

from driftloop.monitoring._alerts import AlertConfig, AlertEngine, AlertRule
from driftloop.monitoring._channels import EmailChannel, LogFileChannel, RetryPolicy, SlackChannel, WebhookChannel
from driftloop.monitoring._concept import ConceptDriftEvent, ConceptDriftMonitor
from driftloop.monitoring._dataset_drift import compare_versions
from driftloop.monitoring._drift import DriftReport, FeatureDrift, compare
from driftloop.monitoring._estimation import PerformanceEstimate, PerformanceEstimator
from driftloop.monitoring._live import LiveCheck, LogWindow, check_live_drift, read_window
from driftloop.monitoring._multivariate import MultivariateDrift
from driftloop.monitoring._quality import ColumnQuality, QualityReport, QualityThresholds, check_quality
from driftloop.monitoring._quality_flags import FlagCount, FlagSummary, quality_from_flags
from driftloop.monitoring._report import render_report, report_json, write_report
from driftloop.monitoring._scheduled import ModelMonitor, MonitorPass, run_monitors
from driftloop.monitoring._sketch_drift import compare_profiles
from driftloop.monitoring._window_performance import MetricCheck, PerformanceCheck, check_window_performance

__all__ = [
    "AlertConfig",
    "AlertEngine",
    "AlertRule",
    "ColumnQuality",
    "ConceptDriftEvent",
    "ConceptDriftMonitor",
    "DriftReport",
    "EmailChannel",
    "FeatureDrift",
    "FlagCount",
    "FlagSummary",
    "LiveCheck",
    "LogFileChannel",
    "LogWindow",
    "MetricCheck",
    "ModelMonitor",
    "MonitorPass",
    "MultivariateDrift",
    "PerformanceCheck",
    "PerformanceEstimate",
    "PerformanceEstimator",
    "QualityReport",
    "QualityThresholds",
    "RetryPolicy",
    "SlackChannel",
    "WebhookChannel",
    "check_live_drift",
    "check_quality",
    "check_window_performance",
    "compare",
    "compare_profiles",
    "compare_versions",
    "quality_from_flags",
    "read_window",
    "render_report",
    "report_json",
    "run_monitors",
    "write_report",
]
