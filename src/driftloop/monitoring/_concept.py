"""Concept drift: streaming change detectors on a model's error stream.

As feedback labels arrive, each prediction becomes an outcome (1 for a mistake, 0 for a hit); a
:class:`ConceptDriftMonitor` feeds that stream to one detector and records a
:class:`ConceptDriftEvent` for every detection (and every entry into a warning zone, for the
detectors that have one).

Detectors, by name: ``"glr"`` (driftloop's default, :class:`BernoulliGLR`, which takes 0/1
outcomes only), and River's implementations with River's default parameters: ``"adwin"``,
``"ddm"``, ``"eddm"``, ``"page_hinkley"``, ``"hddm_a"``, ``"hddm_w"`` (these also take a loss in
[0, 1], ADWIN and Page-Hinkley any real number). The River-backed ones are thin wrappers: they
fire at exactly the positions River's detector fires when fed the same stream.

>>> import numpy as np
>>> rng = np.random.default_rng(7)
>>> errors = np.concatenate([rng.random(2_000) < 0.1, rng.random(1_000) < 0.5])
>>> monitor = ConceptDriftMonitor()
>>> events = monitor.update_many(errors)
>>> [event.position for event in events]  # the error rate went from 10% to 50% at 2,000
[2031]
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
    "BernoulliGLR",
    "ConceptDriftEvent",
    "ConceptDriftMonitor",
]

DETECTOR_NAMES: Final = ("glr", "adwin", "ddm", "eddm", "page_hinkley", "hddm_a", "hddm_w")

# Detectors whose statistic assumes outcomes in [0, 1]; ADWIN and Page-Hinkley take any real value.
_BOUNDED = frozenset({"ddm", "eddm", "hddm_a", "hddm_w"})
# Outcomes fed to the default detector at once: its arrays hold (chunk / check_every) x pairs values.
_CHUNK = 32_768


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


class BernoulliGLR:
    """A windowed likelihood-ratio test for a rise of the error rate; driftloop's default detector.

    Every ``check_every`` outcomes it asks whether the error rate of the latest ``m`` outcomes is
    higher than that of the ``r`` outcomes just before them, for every ``m`` in ``recent_lengths``
    and ``r`` in ``reference_lengths`` (a pair is tested once ``m + r`` outcomes have been seen since
    the last reset). Both rates are unknown; the statistic is the generalised log-likelihood ratio
    of "two Bernoulli rates, split ``m`` outcomes ago" against "one rate", in nats:
    ``k1 ln(k1/r) + (r - k1) ln(1 - k1/r) + k2 ln(k2/m) + (m - k2) ln(1 - k2/m) - k ln(k/n) -
    (n - k) ln(1 - k/n)`` with ``k1``, ``k2`` the mistakes before and after the split, ``k = k1 + k2``
    and ``n = r + m``, taken only where the recent rate is the higher. A drift is declared when its
    largest value over the pairs exceeds ``threshold``; the detector then resets, so the reference
    of the next test is learnt from outcomes after the alarm (a model re-learning after a drift has
    a falling error rate, which a stale reference would misread).

    Why this shape: the pre-change rate is estimated, not assumed, so one threshold keeps the same
    false-alarm rate whatever the model's error rate (with the defaults, about one alarm per
    200,000 to 2,000,000 outcomes of a stationary stream, at error rates from 0.001 to 0.8); the
    several recent lengths catch a large jump within tens of outcomes and a rise of a few points
    over a thousand or two; the short reference follows a model whose error has just fallen, the
    long one gives a steady estimate. Only rises are detected: for a monitor, a model getting
    better is not an alarm. One mistake alone cannot fire: after a perfect reference its ratio is
    at most ``ln(1 + r/m)``, 4.8 with the defaults.

    Defaults (``threshold=9.5``, ``reference_lengths=(500, 4000)``, ``recent_lengths=(32, 64,
    ..., 2048)``, ``check_every=16``) were chosen on River's SEA and Agrawal streams with seeds
    100-119, not those ``benchmarks/monitoring_streams.py`` reports (0-4). Nothing is tested
    before 532 outcomes since the start or the last alarm (the first check is at 544, a multiple
    of 16). Outcomes must be 0 or 1.

    >>> import numpy as np
    >>> rng = np.random.default_rng(6)
    >>> errors = np.concatenate([rng.random(3_000) < 0.1, rng.random(1_000) < 0.3])
    >>> [(index, round(statistic, 1), reference_rate, round(recent_rate, 3), reference_length, recent_length)
    ...  for index, statistic, reference_rate, recent_rate, reference_length, recent_length
    ...  in BernoulliGLR().update_many(errors)]  # the error rate went from 10% to 30% at 3,000
    [(3071, 11.0, 0.118, 0.469, 500, 32)]
    """

    def __init__(
        self,
        threshold: float = 9.5,
        reference_lengths: Sequence[int] = (500, 4_000),
        recent_lengths: Sequence[int] = (32, 64, 128, 256, 512, 1_024, 2_048),
        check_every: int = 16,
    ) -> None:
        self.threshold = threshold
        self.reference_lengths = reference_lengths
        self.recent_lengths = recent_lengths
        self.check_every = check_every
        if isinstance(threshold, bool) or not (isinstance(threshold, int | float) and 0 < threshold < math.inf):
            raise InvalidInput(f"The 'threshold' of glr must be a finite number > 0; got {threshold!r}.")
        reference = _lengths("reference_lengths", reference_lengths)
        recent = _lengths("recent_lengths", recent_lengths)
        if isinstance(check_every, bool) or not (isinstance(check_every, int) and check_every > 0):
            raise InvalidInput(f"The 'check_every' of glr must be an integer > 0; got {check_every!r}.")
        recent_grid, reference_grid = np.meshgrid(recent, reference, indexing="ij")
        self._recent = recent_grid.ravel()
        self._reference = reference_grid.ravel()
        self._span = int(reference.max() + recent.max())
        self._first_check = int(reference.min() + recent.min())
        counts = np.arange(self._span + 1, dtype=np.float64)
        # j ln j for every count a window can hold: the log-likelihoods become table look-ups.
        self._xlogx = counts * np.log(np.maximum(counts, 1.0))
        xlogx = self._xlogx
        self._pair_constant = xlogx[self._recent + self._reference] - xlogx[self._recent] - xlogx[self._reference]
        self.reset()

    def reset(self) -> None:
        """Forget every outcome: the next test waits for a fresh reference."""
        self.n_seen = 0
        self.statistic = 0.0
        self.drift_detected = False
        # Mistakes counted since the reset, at positions n_seen - len + 1 ... n_seen (the last ``span``).
        self._cumulative = np.zeros(1, dtype=np.int64)

    def update(self, x: float) -> BernoulliGLR:
        """Add one outcome, 0 or 1; ``drift_detected`` tells whether it fired (then the state resets)."""
        self.update_many(np.asarray([x], dtype=np.float64))
        return self

    def update_many(self, outcomes: npt.ArrayLike) -> list[tuple[int, float, float, float, int, int]]:
        """Add a batch of 0/1 outcomes; return one tuple per detection.

        Each is ``(index in batch, statistic, reference error rate, recent error rate, reference
        length, recent length)`` for the pair with the largest ratio. The same detections as feeding
        the outcomes one at a time: tests happen at fixed counts since the last reset, and the counts
        they read are integers. ``drift_detected`` tells whether the batch's last outcome fired.
        """
        given = np.asarray(outcomes).reshape(-1)
        not_binary = np.flatnonzero((given != 0) & (given != 1))
        if not_binary.size:
            raise InvalidInput(
                f"Detector 'glr' takes outcomes 0 or 1 (or booleans; 1 = mistake); "
                f"got {given[not_binary[0]].item()!r} at index {not_binary[0]} of the batch."
            )
        values = given.astype(np.int64)
        detections: list[tuple[int, float, float, float, int, int]] = []
        start, total = 0, len(values)
        while start < total:
            chunk = values[start : start + _CHUNK]
            found = self._first_detection(chunk)
            if found is None:
                start += len(chunk)
                continue
            end, statistic, reference_rate, recent_rate, reference_length, recent_length = found
            self.reset()
            self.statistic = statistic
            detections.append(
                (start + end - 1, statistic, reference_rate, recent_rate, reference_length, recent_length)
            )
            start += end
        self.drift_detected = bool(detections) and detections[-1][0] == total - 1
        return detections

    def _first_detection(self, chunk: npt.NDArray[np.int64]) -> tuple[int, float, float, float, int, int] | None:
        """Test the chunk's check points; return the first detection (outcomes used, statistic, rates, lengths).

        Without a detection the state moves past the whole chunk; with one, the caller resets it.
        """
        cumulative = np.concatenate([self._cumulative, self._cumulative[-1] + np.cumsum(chunk)])
        origin = self.n_seen - (len(self._cumulative) - 1)  # the position since reset of cumulative[0]
        first = max(self._first_check, self.n_seen + 1)
        first += -first % self.check_every
        checks = np.arange(first, self.n_seen + len(chunk) + 1, self.check_every)
        if len(checks):
            recent, reference = self._recent, self._reference
            split = checks[:, None] - recent
            oldest = split - reference
            tested = oldest >= 0  # the pair's whole reference has been seen since the reset
            at_check = cumulative[checks - origin][:, None]
            # Untested pairs may reach before the reset: read any count there, their ratio is dropped.
            at_split = cumulative[np.maximum(split - origin, 0)]
            at_oldest = cumulative[np.maximum(oldest - origin, 0)]
            recent_errors, reference_errors = at_check - at_split, at_split - at_oldest
            errors = recent_errors + reference_errors
            xlogx = self._xlogx
            ratio = (
                xlogx[reference_errors]
                + xlogx[reference - reference_errors]
                + xlogx[recent_errors]
                + xlogx[recent - recent_errors]
                - xlogx[errors]
                - xlogx[recent + reference - errors]
                + self._pair_constant
            )
            rose = recent_errors * reference > reference_errors * recent
            ratio = np.where(tested & rose, ratio, 0.0)
            statistics = ratio.max(axis=1)
            fired = np.flatnonzero(statistics > self.threshold)
            if len(fired):
                row = int(fired[0])
                pair = int(np.argmax(ratio[row]))
                return (
                    int(checks[row]) - self.n_seen,
                    float(statistics[row]),
                    float(reference_errors[row, pair] / reference[pair]),
                    float(recent_errors[row, pair] / recent[pair]),
                    int(reference[pair]),
                    int(recent[pair]),
                )
            self.statistic = float(statistics[-1])
        self.n_seen += len(chunk)
        self._cumulative = cumulative[-(self._span + 1) :]
        return None


class ConceptDriftMonitor:
    """Feed outcomes (1 = mistake, 0 = hit) to one streaming detector and record what it finds.

    ``detector`` is one of :data:`DETECTOR_NAMES` (default ``"glr"``); ``params`` go unchanged to
    that detector's constructor (River's parameter names for River's detectors). Warnings are
    recorded once per entry into the warning zone, not once per outcome inside it.

    >>> monitor = ConceptDriftMonitor("adwin")
    >>> monitor.update(0) is None
    True
    >>> monitor.to_dict()["n_seen"]
    1
    """

    def __init__(self, detector: str = "glr", **params: Any) -> None:
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
        if isinstance(self._state, BernoulliGLR):
            found = [
                ConceptDriftEvent(
                    offset + index,
                    "glr",
                    statistic=statistic,
                    details={
                        "reference_error_rate": reference_rate,
                        "recent_error_rate": recent_rate,
                        "reference_length": reference_length,
                        "recent_length": recent_length,
                    },
                )
                for index, statistic, reference_rate, recent_rate, reference_length, recent_length in (
                    self._state.update_many(values)
                )
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
        if self.detector == "glr":
            not_binary = np.flatnonzero((values != 0.0) & (values != 1.0))
            if not_binary.size:
                position = self.n_seen + int(not_binary[0])
                raise InvalidInput(
                    f"Detector 'glr' takes outcomes 0 or 1 (or booleans; 1 = mistake); "
                    f"got {values[not_binary[0]]} at position {position}."
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
    if name == "glr":
        return BernoulliGLR
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


def _lengths(name: str, value: object) -> npt.NDArray[np.int64]:
    """The window lengths of :class:`BernoulliGLR`, checked: a non-empty sequence of integers > 0."""
    if not (
        isinstance(value, Sequence)
        and not isinstance(value, str)
        and value
        and all(isinstance(length, int) and not isinstance(length, bool) and length > 0 for length in value)
    ):
        raise InvalidInput(f"The {name!r} of glr must be a non-empty sequence of integers > 0; got {value!r}.")
    return np.unique(np.asarray(value, dtype=np.int64))


def _json_float(value: float | int | None) -> float | int | None:
    if value is None or isinstance(value, int):
        return value
    return float(value) if math.isfinite(value) else None
