"""The server's Prometheus metrics: counted in bulk exactly as prometheus_client counts one value at a time."""

from __future__ import annotations

import numpy as np

from driftloop.serving._metrics import ServingMetrics


def _samples(metrics: ServingMetrics, name: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in metrics.registry.collect()
        if family.name == name
        for sample in family.samples
        if not sample.name.endswith("_created")
    }


def test_a_batch_of_values_fills_the_histogram_as_one_observe_per_value_would() -> None:
    rng = np.random.default_rng(0)
    values = np.concatenate([rng.normal(0, 300, 2_000), [0.0, 1.0, 1e3, -1e6, 1e9, np.inf, np.nan]])
    bulk, single = ServingMetrics(), ServingMetrics()
    bulk.observe_predictions("houses", 1, values, 0, classifier=False)
    histogram = single.predicted_value.labels("houses", "1")
    for value in values[~np.isnan(values)].tolist():
        histogram.observe(value)
    assert _samples(bulk, "driftloop_predicted_value") == _samples(single, "driftloop_predicted_value")


def test_a_classifier_counts_classes_even_when_they_are_numbers() -> None:
    metrics = ServingMetrics()
    metrics.observe_predictions("cancer", 2, np.array([0, 1, 1, 1]), 1, classifier=True)
    metrics.observe_predictions("cancer", 2, np.array([1]), 0, classifier=True)
    counted = _samples(metrics, "driftloop_predicted_class")
    assert counted[("driftloop_predicted_class_total", (("class", "1"), ("model", "cancer"), ("version", "2")))] == 4
    assert counted[("driftloop_predicted_class_total", (("class", "0"), ("model", "cancer"), ("version", "2")))] == 1
    assert _samples(metrics, "driftloop_predicted_value") == {}  # classes are not values
