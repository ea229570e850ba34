"""driftloop's default concept drift detector, the windowed Bernoulli GLR, on streams with known changes."""

from __future__ import annotations

import json

import numpy as np
import pytest

from driftloop.errors import InvalidInput
from driftloop.monitoring._concept import BernoulliGLR, ConceptDriftMonitor

CHANGE = 3_000


def bernoulli(seed: int, *segments: tuple[int, float]) -> np.ndarray:
    """0/1 outcomes: for each (length, error rate) a stretch of independent draws."""
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.random(length) < rate for length, rate in segments]).astype(np.float64)


@pytest.mark.parametrize("seed", range(20))
def test_detects_jump_from_10_to_30_percent_within_300_outcomes(seed: int) -> None:
    monitor = ConceptDriftMonitor()
    events = monitor.update_many(bernoulli(seed, (CHANGE, 0.1), (2_000, 0.3)))
    assert events, "the jump was missed"
    first = events[0]
    assert CHANGE <= first.position < CHANGE + 300
    assert first.detector == "glr"
    assert first.statistic is not None and first.statistic > 9.5
    assert first.details["recent_error_rate"] > first.details["reference_error_rate"]
    assert first.details["reference_length"] in (500, 4_000)


def test_detection_summary_is_plain_json() -> None:
    monitor = ConceptDriftMonitor()
    monitor.update_many(bernoulli(5, (CHANGE, 0.1), (1_000, 0.5)))
    summary = json.loads(json.dumps(monitor.to_dict(), allow_nan=False))
    assert summary["detector"] == "glr"
    assert summary["n_detections"] == 1
    details = summary["detections"][0]["details"]
    assert set(details) == {"reference_error_rate", "recent_error_rate", "reference_length", "recent_length"}


@pytest.mark.parametrize("rate", [0.01, 0.1, 0.4])
def test_no_alarm_on_long_stationary_stream(rate: float) -> None:
    monitor = ConceptDriftMonitor()
    assert monitor.update_many(bernoulli(0, (200_000, rate))) == []
    assert monitor.n_seen == 200_000


def test_ignores_a_falling_error_rate() -> None:
    assert ConceptDriftMonitor().update_many(bernoulli(1, (4_000, 0.4), (4_000, 0.05))) == []


def test_one_mistake_after_a_perfect_run_does_not_fire() -> None:
    errors = np.zeros(10_000)
    errors[5_000] = 1.0
    assert ConceptDriftMonitor().update_many(errors) == []


def test_resets_after_an_alarm_and_learns_the_new_rate() -> None:
    # 10% -> 40% at 3,000, then steady at 40% (no second alarm once the reference is the new rate),
    # then 40% -> 80% at 8,000 (found against that new reference).
    detector = BernoulliGLR()
    detections = detector.update_many(bernoulli(2, (CHANGE, 0.1), (5_000, 0.4), (2_000, 0.8)))
    positions = [detection[0] for detection in detections]
    assert len(positions) == 2, positions
    assert CHANGE <= positions[0] < CHANGE + 300
    assert 8_000 <= positions[1] < 8_000 + 300
    assert detections[1][2] == pytest.approx(0.4, abs=0.06)  # the second reference is the rate after the reset
    assert detector.n_seen == 10_000 - 1 - positions[1]  # counted since the last alarm
    detector.reset()
    assert (detector.n_seen, detector.statistic, detector.drift_detected) == (0, 0.0, False)


def test_first_test_waits_for_the_shortest_reference_and_recent_windows() -> None:
    errors = np.concatenate([np.zeros(500), np.ones(100)])
    positions = [detection[0] for detection in BernoulliGLR().update_many(errors)]
    assert positions == [543]  # the first check: 500 + 32 outcomes seen, rounded up to a multiple of 16
    short = BernoulliGLR(reference_lengths=(100,), recent_lengths=(16,), check_every=1)
    assert next(detection[0] for detection in short.update_many(errors)) < 520


def test_batch_update_equals_one_by_one_update() -> None:
    errors = bernoulli(3, (CHANGE, 0.1), (6_000, 0.35), (20_000, 0.05), (6_000, 0.25), (5_000, 0.6))
    one_by_one = BernoulliGLR()
    expected = [position for position, error in enumerate(errors) if one_by_one.update(error).drift_detected]
    assert len(expected) >= 3, expected
    whole = ConceptDriftMonitor()
    whole.update_many(errors)  # longer than the detector's internal chunk
    assert [event.position for event in whole.detections] == expected
    for size in (1_000, 4_099, 33_000):
        batched = ConceptDriftMonitor()
        for start in range(0, len(errors), size):
            batched.update_many(errors[start : start + size])
        assert [event.position for event in batched.detections] == expected, size
    single = ConceptDriftMonitor()
    found = [single.update(bool(error)) for error in errors[:5_000]]
    assert [event.position for event in found if event] == [p for p in expected if p < 5_000]


def test_booleans_and_integers_are_outcomes_too() -> None:
    errors = bernoulli(4, (CHANGE, 0.1), (1_000, 0.5))
    as_floats = [event.position for event in ConceptDriftMonitor().update_many(errors)]
    as_booleans = [event.position for event in ConceptDriftMonitor().update_many(errors.astype(bool))]
    as_integers = [event.position for event in ConceptDriftMonitor().update_many(errors.astype(np.int8).tolist())]
    assert as_floats and as_floats == as_booleans == as_integers


@pytest.mark.parametrize("bad", [[0.0, 0.5], [0, 2], [1, -1]])
def test_only_zero_or_one_accepted(bad: list[float]) -> None:
    monitor = ConceptDriftMonitor()
    monitor.update_many([0, 1, 0])
    with pytest.raises(InvalidInput, match=r"0 or 1.*position 4"):
        monitor.update_many(bad)
    assert monitor.n_seen == 3
    with pytest.raises(InvalidInput, match=r"0 or 1.*index 1 of the batch"):
        BernoulliGLR().update_many(bad)


@pytest.mark.parametrize(
    "params",
    [
        {"threshold": 0},
        {"threshold": -1.0},
        {"threshold": float("nan")},
        {"threshold": float("inf")},
        {"threshold": "9"},
        {"threshold": True},
        {"reference_lengths": ()},
        {"reference_lengths": (0, 500)},
        {"reference_lengths": (500.0,)},
        {"reference_lengths": "500"},
        {"reference_lengths": 500},
        {"recent_lengths": (-32,)},
        {"recent_lengths": (True, 64)},
        {"check_every": 0},
        {"check_every": 1.5},
    ],
)
def test_bad_parameters_refused(params: dict[str, object]) -> None:
    with pytest.raises(InvalidInput, match=f"The '{next(iter(params))}' of glr"):
        BernoulliGLR(**params)  # type: ignore[arg-type]
    with pytest.raises(InvalidInput, match="Invalid parameters"):
        ConceptDriftMonitor("glr", **params)


def test_unknown_parameter_refused() -> None:
    with pytest.raises(InvalidInput, match="colour"):
        ConceptDriftMonitor("glr", colour="red")
