"""Concept drift: streaming change detectors on a model's error stream.

As feedback labels arrive, each prediction becomes an outcome (1 for a mistake, 0 for a hit, or a
loss in [0, 1]); a :class:`ConceptDriftMonitor` feeds that stream to one detector and records a
:class:`ConceptDriftEvent` for every detection (and every entry into a warning zone, for the
detectors that have one).

Detectors, by name: ``"cusum"`` (driftloop's default, :class:`BernoulliCUSUM`), and River's
implementations with River's default parameters: ``"adwin"``, ``"ddm"``, ``"eddm"``,
``"page_hinkley"``, ``"hddm_a"``, ``"hddm_w"``. The River-backed ones are thin wrappers: they fire
at exactly the positions River's detector fires when fed the same stream.

>>> import numpy as np
>>> rng = np.random.default_rng(7)
>>> errors = np.concatenate([rng.random(2_000) < 0.1, rng.random(1_000) < 0.5])
>>> monitor = ConceptDriftMonitor()
>>> events = monitor.update_many(errors)
>>> [event.position for event in events]  # the error rate went from 10% to 50% at 2,000
[2046]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import numpy as np
import numpy.typing as npt

from driftloop.errors import InvalidInput

__all__ = [
    "DETECTOR_NAMES",
    "BernoulliCUSUM",
    "ConceptDriftEvent",
    "ConceptDriftMonitor",
]

DETECTOR_NAMES: Final = ("cusum", "adwin", "ddm", "eddm", "page_hinkley", "hddm_a", "hddm_w")

# Detectors whose statistic assumes outcomes in [0, 1]; ADWIN and Page-Hinkley take any real value.
_BOUNDED = frozenset({"cusum", "ddm", "eddm", "hddm_a", "hddm_w"})
_CHUNK = 8_192


@dataclass(frozen=True)
class ConceptDriftEvent:
    """One detection (``kind="drift"``) or entry into a warning zone (``kind="warning"``).

    ``position`` is the 0-based index, in the stream fed to the monitor since it was built or last
    reset, of the outcome at which the detector fired.
    """

    position: int
    detector: str
    kind: Literal["drift", "warning"] = "drift"
    statistic: float | None = None
    details: Mapping[str, float | int | None] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "position": self.position,
            "detector": self.detector,
            "kind": self.kind,
            "statistic": _json_float(self.statistic),
            "details": {key: _json_float(value) for key, value in self.details.items()},
        }


class BernoulliCUSUM:
    """A one-sided CUSUM on the error rate, vectorised over batches; driftloop's default detector.

    The reference error rate ``p0`` is the running mean of the outcomes seen since the last reset
    (Laplace-smoothed, clipped to [0.01, 0.9] so one mistake of a near-perfect model cannot fire
    alone). Each outcome ``x`` adds the log-likelihood ratio of "rate ``p1``" against "rate ``p0``",
    ``x ln(p1/p0) + (1 - x) ln((1 - p1)/(1 - p0))``, with ``p1 = p0 + max(min_shift,
    relative_shift * p0)``; the statistic is the running sum floored at 0, and a drift is declared
    when it exceeds ``threshold``. The detector then resets and learns the new reference.

    Only increases of the error rate are detected: for a monitor, a model getting better is not
    an alarm. Defaults: ``min_shift=0.05`` and ``relative_shift=0.25`` (the smallest degradation
    worth an alarm: 5 points of error rate, or a quarter of the current rate when that is larger);
    ``threshold=8`` (by Wald's bound, at least ``e**8``, about 3,000, outcomes between false alarms
    when ``p0`` is known); ``warm_up=100`` outcomes after each reset before testing, so the
    reference is learnt first. These were chosen on River's SEA and Agrawal streams with seeds
    other than those of ``benchmarks/monitoring_streams.py``.

    >>> detector = BernoulliCUSUM()
    >>> for position, outcome in enumerate([0] * 300 + [1] * 30):
    ...     if detector.update(outcome).drift_detected:
    ...         break
    >>> position, round(detector.statistic, 2)
    (304, 8.35)
    """

    def __init__(
        self,
        min_shift: float = 0.05,
        relative_shift: float = 0.25,
        threshold: float = 8.0,
        warm_up: int = 100,
    ) -> None:
        self.min_shift = min_shift
        self.relative_shift = relative_shift
        self.threshold = threshold
        self.warm_up = warm_up
        _check_positive("min_shift", min_shift)
        _check_positive("threshold", threshold)
        if not (isinstance(relative_shift, int | float) and relative_shift >= 0):
            raise InvalidInput(f"The 'relative_shift' of cusum must be a number >= 0; got {relative_shift!r}.")
        if not (isinstance(warm_up, int) and warm_up >= 0):
            raise InvalidInput(f"The 'warm_up' of cusum must be an integer >= 0; got {warm_up!r}.")
        self.reset()

    def reset(self) -> None:
        self.n_seen = 0
        self.error_sum = 0.0
        self.statistic = 0.0
        self.reference_rate = 0.5
        self.drift_detected = False

    def update(self, x: float) -> BernoulliCUSUM:
        """Add one outcome in [0, 1]; ``drift_detected`` tells whether it fired (then state resets)."""
        if self.drift_detected:
            self.reset()
        p0 = min(max((self.error_sum + 1.0) / (self.n_seen + 2.0), 0.01), 0.9)
        self.reference_rate = p0
        if self.n_seen >= self.warm_up:
            p1 = min(p0 + max(self.min_shift, self.relative_shift * p0), 0.99)
            ratio = x * math.log(p1 / p0) + (1.0 - x) * math.log((1.0 - p1) / (1.0 - p0))
            self.statistic = max(0.0, self.statistic + ratio)
        self.n_seen += 1
        self.error_sum += x
        self.drift_detected = self.statistic > self.threshold
        return self

    def update_many(self, outcomes: npt.NDArray[np.float64]) -> list[tuple[int, float, float]]:
        """Add a batch; return ``(index in batch, statistic, reference rate)`` for each detection.

        Equivalent to calling :meth:`update` on each outcome, computed with array operations: the
        CUSUM recursion ``S_t = max(0, S_(t-1) + l_t)`` unrolls to ``L_t - min(-S_0, min_(s<=t) L_s)``
        with ``L`` the cumulative sum of the ratios ``l``.
        """
        detections: list[tuple[int, float, float]] = []
        start, total = 0, len(outcomes)
        while start < total:
            if self.drift_detected:
                self.reset()
            chunk = outcomes[start : start + _CHUNK]
            seen = self.n_seen + np.arange(len(chunk))
            earlier = self.error_sum + np.cumsum(chunk) - chunk
            p0 = np.clip((earlier + 1.0) / (seen + 2.0), 0.01, 0.9)
            p1 = np.minimum(p0 + np.maximum(self.min_shift, self.relative_shift * p0), 0.99)
            ratios = chunk * np.log(p1 / p0) + (1.0 - chunk) * np.log((1.0 - p1) / (1.0 - p0))
            ratios[seen < self.warm_up] = 0.0
            cumulative = np.cumsum(ratios)
            stats = cumulative - np.minimum(np.minimum.accumulate(cumulative), -self.statistic)
            fired = np.flatnonzero(stats > self.threshold)
            end = int(fired[0]) + 1 if len(fired) else len(chunk)
            self.n_seen += end
            self.error_sum += float(chunk[:end].sum())
            self.statistic = float(stats[end - 1])
            self.reference_rate = float(p0[end - 1])
            self.drift_detected = bool(len(fired))
            if self.drift_detected:
                detections.append((start + end - 1, self.statistic, self.reference_rate))
            start += end
        return detections


class ConceptDriftMonitor:
    """Feed outcomes (1 = mistake, 0 = hit) to one streaming detector and record what it finds.

    ``detector`` is one of :data:`DETECTOR_NAMES` (default ``"cusum"``); ``params`` go unchanged to
    that detector's constructor (River's parameter names for River's detectors). Warnings are
    recorded once per entry into the warning zone, not once per outcome inside it.

    >>> monitor = ConceptDriftMonitor("adwin")
    >>> monitor.update(0) is None
    True
    >>> monitor.to_dict()["n_seen"]
    1
    """

    def __init__(self, detector: str = "cusum", **params: Any) -> None:
        if detector not in DETECTOR_NAMES:
            raise InvalidInput(
                f"The concept drift detector must be one of {', '.join(DETECTOR_NAMES)}; got {detector!r}."
            )
        self.detector = detector
        self.params = params
        self._factory = _detector_factory(detector)
        self.reset()

    def reset(self) -> None:
        """Forget every outcome and event; the detector starts afresh."""
        try:
            self._state: Any = self._factory(**self.params)
        except (TypeError, ValueError) as error:
            raise InvalidInput(f"Invalid parameters {self.params!r} for detector {self.detector!r}: {error}") from error
        self.n_seen = 0
        self._in_warning = False
        self._detections: list[ConceptDriftEvent] = []
        self._warnings: list[ConceptDriftEvent] = []

    @property
    def detections(self) -> tuple[ConceptDriftEvent, ...]:
        return tuple(self._detections)

    @property
    def warnings(self) -> tuple[ConceptDriftEvent, ...]:
        return tuple(self._warnings)

    def update(self, error: float | bool) -> ConceptDriftEvent | None:
        """Add one outcome; return the drift event it triggered, if any."""
        events = self.update_many([error])
        return events[0] if events else None

    def update_many(self, errors: Sequence[float | bool] | npt.ArrayLike) -> list[ConceptDriftEvent]:
        """Add outcomes in order; return the drift events they triggered (warnings go to ``warnings``)."""
        values = self._validate(errors)
        offset = self.n_seen
        if isinstance(self._state, BernoulliCUSUM):
            found = [
                ConceptDriftEvent(offset + index, "cusum", statistic=stat, details={"reference_error_rate": rate})
                for index, stat, rate in self._state.update_many(values)
            ]
        else:
            found = self._update_river(values.tolist(), offset)
        self.n_seen += len(values)
        self._detections.extend(found)
        return found

    def to_dict(self) -> dict[str, Any]:
        return {
            "detector": self.detector,
            "params": dict(self.params),
            "n_seen": self.n_seen,
            "n_detections": len(self._detections),
            "detections": [event.to_dict() for event in self._detections],
            "warnings": [event.to_dict() for event in self._warnings],
        }

    def _update_river(self, values: list[float], offset: int) -> list[ConceptDriftEvent]:
        state, name = self._state, self.detector
        update = state.update
        has_warning = hasattr(state, "warning_detected")
        in_warning = self._in_warning
        found: list[ConceptDriftEvent] = []
        for index, value in enumerate(values):
            update(value)
            if state.drift_detected:
                found.append(ConceptDriftEvent(offset + index, name, details=_river_details(state)))
                in_warning = False
            elif has_warning:
                warning = state.warning_detected
                if warning and not in_warning:
                    self._warnings.append(ConceptDriftEvent(offset + index, name, kind="warning"))
                in_warning = warning
        self._in_warning = in_warning
        return found

    def _validate(self, errors: Sequence[float | bool] | npt.ArrayLike) -> npt.NDArray[np.float64]:
        try:
            values = np.asarray(errors, dtype=np.float64)
        except (TypeError, ValueError) as error:
            raise InvalidInput(
                f"Concept drift outcomes must be numbers or booleans (1 = mistake, 0 = hit): {error}"
            ) from error
        if values.ndim == 0:
            values = values.reshape(1)
        if values.ndim != 1:
            raise InvalidInput(f"Concept drift outcomes must be a flat sequence; got shape {values.shape}.")
        if values.size == 0:
            raise InvalidInput("No outcomes given: the error stream to monitor is empty.")
        bad = np.flatnonzero(~np.isfinite(values))
        if bad.size:
            position = self.n_seen + int(bad[0])
            raise InvalidInput(
                f"Concept drift outcomes must be finite; got {values[bad[0]]} at position {position} "
                f"({bad.size} non-finite in total)."
            )
        if self.detector in _BOUNDED:
            outside = np.flatnonzero((values < 0.0) | (values > 1.0))
            if outside.size:
                position = self.n_seen + int(outside[0])
                raise InvalidInput(
                    f"Detector {self.detector!r} takes outcomes in [0, 1] (1 = mistake); "
                    f"got {values[outside[0]]} at position {position}."
                )
        return values


def _detector_factory(name: str) -> Callable[..., Any]:
    if name == "cusum":
        return BernoulliCUSUM
    # River is imported only when one of its detectors is asked for.
    from river import drift
    from river.drift import binary

    factories: dict[str, Callable[..., Any]] = {
        "adwin": drift.ADWIN,
        "page_hinkley": drift.PageHinkley,
        "ddm": binary.DDM,
        "eddm": binary.EDDM,
        "hddm_a": binary.HDDMA,
        "hddm_w": binary.HDDMW,
    }
    return factories[name]


def _river_details(state: Any) -> dict[str, float | int | None]:
    if hasattr(state, "estimation") and hasattr(state, "width"):  # ADWIN: the window kept after the cut
        return {"window_mean": float(state.estimation), "window_width": int(state.width)}
    return {}


def _check_positive(name: str, value: object) -> None:
    if not (isinstance(value, int | float) and value > 0):
        raise InvalidInput(f"The {name!r} of cusum must be a number > 0; got {value!r}.")


def _json_float(value: float | int | None) -> float | int | None:
    if value is None or isinstance(value, int):
        return value
    return float(value) if math.isfinite(value) else None
