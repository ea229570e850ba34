"""Concept drift detectors on River's synthetic streams: delay, false alarms, missed drifts, speed.

    .venv/bin/python benchmarks/monitoring_streams.py [--seeds 0,1,2,3,4] [--length 20000]

Each stream joins four concepts with River's ``ConceptDriftStream`` (SEA variants 0, 1, 2, 3 with
10% label noise; Agrawal functions 0, 2, 5, 8), the drifts centred at 25%, 50% and 75% of the
stream. "Abrupt" uses a transition width of 40 outcomes (River's sigmoid overflows ``math.exp``
with width 1 over thousands of samples), "gradual" a width of 1,000. A Hoeffding tree runs
prequentially (predict, then learn) and its 0/1 error stream goes to every detector.

Scoring: a drift starts at ``centre - width / 2``; the first detection in the 2,000 outcomes after
the start counts as its detection (delay = position - start); a drift with none is missed. Every
other detection is a false alarm, split into "outside" (no drift under way) and "repeat" (a second
alarm for a drift already detected). Numbers are totals over the seeds (misses also split by the
first, second and third drift of the streams); the delay is the mean over detected drifts. "on
falls" counts the detections at which the error rate had fallen (the 200 outcomes up to the alarm
below the 800 before them): two-sided detectors (ADWIN, Page-Hinkley) also fire when a model
re-learns. µs/update is per outcome through ``ConceptDriftMonitor.update_many``,
and for River's detectors also River's own ``update`` loop without the monitor.

After each family's table, and for all streams together, driftloop's default ("glr") is compared
with each River default on the goal of issue 6: fewer false alarms, a mean delay no longer on the
drifts both detected ("paired"), and no more missed drifts. The default's parameters were chosen on
seeds 100-119 (``--seeds 100,101,...``), never on the seeds reported by default (0-4).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

MAX_DELAY = 2_000
OURS = "glr"
FAMILIES = (("abrupt", "SEA", 40), ("gradual", "SEA", 1_000), ("abrupt", "Agrawal", 40), ("gradual", "Agrawal", 1_000))


def error_stream(kind: str, width: int, seed: int, length: int) -> tuple[np.ndarray, list[int]]:
    from river import tree
    from river.datasets import synth

    concepts: list[Any]
    if kind == "SEA":
        concepts = [synth.SEA(variant=v, noise=0.1, seed=seed + i) for i, v in enumerate([0, 1, 2, 3])]
    else:
        concepts = [synth.Agrawal(classification_function=f, seed=seed + i) for i, f in enumerate([0, 2, 5, 8])]
    centres = [length // 4, length // 2, 3 * length // 4]
    stream = concepts[-1]
    for k in range(len(centres) - 1, -1, -1):
        relative = centres[k] - (centres[k - 1] if k else 0)  # an inner stream counts from its first draw
        stream = synth.ConceptDriftStream(
            stream=concepts[k], drift_stream=stream, position=relative, width=width, seed=seed * 7 + k
        )
    model = tree.HoeffdingTreeClassifier()
    errors = np.empty(length)
    for i, (x, y) in enumerate(stream.take(length)):
        errors[i] = model.predict_one(x) != y
        model.learn_one(x, y)
    return errors, [centre - width // 2 for centre in centres]


def score(positions: list[int], starts: list[int]) -> tuple[dict[int, int], int, int, int]:
    """(delay of each detected drift, alarms outside drifts, repeat alarms, missed drifts)."""
    delays: dict[int, int] = {}
    outside = repeat = 0
    detected: set[int] = set()
    for position in positions:
        drift = next((k for k, start in enumerate(starts) if start <= position < start + MAX_DELAY), None)
        if drift is None:
            outside += 1
        elif drift in detected:
            repeat += 1
        else:
            detected.add(drift)
            delays[drift] = position - starts[drift]
    return delays, outside, repeat, len(starts) - len(detected)


def on_fall(errors: np.ndarray, position: int) -> bool:
    """Whether the error rate had fallen at an alarm: its last 200 outcomes below the 800 before them."""
    before = errors[max(0, position - 999) : max(1, position - 199)]
    return float(errors[max(0, position - 199) : position + 1].mean()) < float(before.mean())


def rate_steps(streams: list[tuple[np.ndarray, list[int]]]) -> str:
    """How much each drift moves the learner's error rate, averaged over the seeds."""
    steps = []
    for drift in range(len(streams[0][1])):
        before = np.mean([errors[starts[drift] - 1_000 : starts[drift]].mean() for errors, starts in streams])
        after = np.mean([errors[starts[drift] : starts[drift] + 1_000].mean() for errors, starts in streams])
        steps.append(f"{before:.3f} -> {after:.3f}")
    return ", ".join(steps)


@dataclass
class Tally:
    """One detector's results over a set of streams."""

    delays: dict[tuple[str, int, int], int] = field(default_factory=dict)  # (family, seed, drift) -> delay
    outside: int = 0
    repeat: int = 0
    missed_by_drift: list[int] = field(default_factory=lambda: [0, 0, 0])  # first, second, third drift
    on_falls: int = 0
    seconds: float = 0.0
    river_seconds: float = 0.0

    @property
    def false_alarms(self) -> int:
        return self.outside + self.repeat

    @property
    def missed(self) -> int:
        return sum(self.missed_by_drift)

    def missed_text(self) -> str:
        return f"{self.missed} ({'+'.join(str(count) for count in self.missed_by_drift)})"

    def add(self, other: Tally) -> None:
        self.delays.update(other.delays)
        self.outside += other.outside
        self.repeat += other.repeat
        for drift, count in enumerate(other.missed_by_drift):
            self.missed_by_drift[drift] += count
        self.on_falls += other.on_falls

    def mean_delay(self) -> str:
        return f"{np.mean(list(self.delays.values())):.0f}" if self.delays else "-"


def verdict(ours: Tally, theirs: Tally) -> str:
    """Our default against one River detector on the three parts of the goal."""
    both = sorted(set(ours.delays) & set(theirs.delays))
    false_alarms = f"false alarms {ours.false_alarms} vs {theirs.false_alarms}"
    parts = [f"{false_alarms} {'yes' if ours.false_alarms < theirs.false_alarms else 'NO'}"]
    if both:
        ours_paired = float(np.mean([ours.delays[key] for key in both]))
        theirs_paired = float(np.mean([theirs.delays[key] for key in both]))
        paired = f"paired delay {ours_paired:.0f} vs {theirs_paired:.0f} on {len(both)}"
        parts.append(f"{paired} {'yes' if ours_paired <= theirs_paired else 'NO'}")
    else:
        parts.append("paired delay: no drift detected by both")
    parts.append(f"missed {ours.missed} vs {theirs.missed} {'yes' if ours.missed <= theirs.missed else 'NO'}")
    return "  ".join(parts)


def river_factories() -> dict[str, Callable[[], Any]]:
    from river import drift
    from river.drift import binary

    return {
        "adwin": drift.ADWIN,
        "ddm": binary.DDM,
        "eddm": binary.EDDM,
        "page_hinkley": drift.PageHinkley,
        "hddm_a": binary.HDDMA,
        "hddm_w": binary.HDDMW,
    }


def river_alone_seconds(factory: Callable[[], Any], errors: np.ndarray) -> float:
    detector = factory()
    values = errors.tolist()
    started = time.perf_counter()
    for value in values:
        detector.update(value)
        _ = detector.drift_detected
    return time.perf_counter() - started


def run_family(
    name: str, family: str, streams: list[tuple[np.ndarray, list[int]]], seeds: list[int], factories: dict[str, Any]
) -> Tally:
    """Feed each stream of a family to one detector through the monitor; score and time it."""
    from driftloop.monitoring._concept import ConceptDriftMonitor

    tally = Tally()
    for seed, (errors, starts) in zip(seeds, streams, strict=True):
        monitor = ConceptDriftMonitor(name)
        begun = time.perf_counter()
        monitor.update_many(errors)
        tally.seconds += time.perf_counter() - begun
        if name in factories:
            tally.river_seconds += river_alone_seconds(factories[name], errors)
        positions = [event.position for event in monitor.detections]
        delays, outside, repeat, _ = score(positions, starts)
        tally.delays.update({(family, seed, drift): delay for drift, delay in delays.items()})
        tally.outside += outside
        tally.repeat += repeat
        for drift in range(len(starts)):
            tally.missed_by_drift[drift] += drift not in delays
        tally.on_falls += sum(on_fall(errors, starts[drift] + delay) for drift, delay in delays.items())
    return tally


def print_verdicts(tallies: dict[str, Tally]) -> None:
    print(f"{OURS} against each River default (goal: fewer false alarms, paired delay no longer, missed no more):")
    for name, tally in tallies.items():
        if name != OURS:
            print(f"  {name:<13}{verdict(tallies[OURS], tally)}")


def main() -> None:
    from driftloop.monitoring._concept import DETECTOR_NAMES

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--length", type=int, default=20_000)
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    factories = river_factories()
    overall = {name: Tally() for name in DETECTOR_NAMES}
    for label, kind, width in FAMILIES:
        family = f"{label} {kind}"
        started = time.perf_counter()
        streams = [error_stream(kind, width, seed, args.length) for seed in seeds]
        made = time.perf_counter() - started
        print(
            f"\n{family}: {len(seeds)} seeds x {args.length:,} outcomes, {3 * len(seeds)} drifts "
            f"(mean error {np.mean([s[0].mean() for s in streams]):.3f}; streams made in {made:.0f} s)"
        )
        print(f"error rate in the 1,000 outcomes before each drift -> the 1,000 from its start: {rate_steps(streams)}")
        print(
            f"{'detector':<13}{'mean delay':>11}{'false alarms':>13}{'(outside':>9}{'repeat)':>8}"
            f"{'missed (1st+2nd+3rd)':>21}{'on falls':>9}{'us/update':>10}{'River alone':>12}"
        )
        tallies = {name: run_family(name, family, streams, seeds, factories) for name in DETECTOR_NAMES}
        n = len(seeds) * args.length
        for name, tally in tallies.items():
            overall[name].add(tally)
            river_us = f"{tally.river_seconds / n * 1e6:.2f}" if name in factories else "-"
            print(
                f"{name:<13}{tally.mean_delay():>11}{tally.false_alarms:>13}{tally.outside:>9}{tally.repeat:>8}"
                f"{tally.missed_text():>21}{tally.on_falls:>9}{tally.seconds / n * 1e6:>10.2f}{river_us:>12}"
            )
        print_verdicts(tallies)
    print("\nall streams: totals; 'delay' is the mean over each detector's detected drifts")
    for name, tally in overall.items():
        print(
            f"{name:<13} delay {tally.mean_delay():>5}  false alarms {tally.false_alarms:4d} "
            f"({tally.outside} out, {tally.repeat} rep)  missed {tally.missed_text():>12}  on falls {tally.on_falls:3d}"
        )
    print_verdicts(overall)


if __name__ == "__main__":
    main()
