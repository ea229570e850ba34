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
alarm for a drift already detected). Numbers are totals over the seeds; the delay is the mean over
detected drifts. µs/update is per outcome through ``ConceptDriftMonitor.update_many``, and for
River's detectors also River's own ``update`` loop without the monitor.

driftloop's default ("cusum") was tuned on seeds 100-104, not the default seeds here.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

MAX_DELAY = 2_000


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


def main() -> None:
    from driftloop.monitoring._concept import DETECTOR_NAMES, ConceptDriftMonitor

    parser = argparse.ArgumentParser()
    parser.add_argument("--seeds", default="0,1,2,3,4")
    parser.add_argument("--length", type=int, default=20_000)
    args = parser.parse_args()
    seeds = [int(seed) for seed in args.seeds.split(",")]
    factories = river_factories()
    overall: dict[str, list[Any]] = {name: [{}, 0, 0, 0] for name in DETECTOR_NAMES}
    for kind in ("SEA", "Agrawal"):
        for label, width in (("abrupt", 40), ("gradual", 1_000)):
            started = time.perf_counter()
            streams = [error_stream(kind, width, seed, args.length) for seed in seeds]
            made = time.perf_counter() - started
            print(
                f"\n{label} {kind}: {len(seeds)} seeds x {args.length:,} outcomes, {3 * len(seeds)} drifts "
                f"(mean error {np.mean([s[0].mean() for s in streams]):.3f}; streams made in {made:.0f} s)"
            )
            print(
                f"{'detector':<13}{'mean delay':>11}{'false alarms':>13}{'(outside':>9}{'repeat)':>8}"
                f"{'missed':>7}{'us/update':>10}{'River alone':>12}"
            )
            for name in DETECTOR_NAMES:
                delays: dict[tuple[str, int, int], int] = {}
                outside = repeat = missed = 0
                seconds = alone = 0.0
                for seed, (errors, starts) in zip(seeds, streams, strict=True):
                    monitor = ConceptDriftMonitor(name)
                    begun = time.perf_counter()
                    monitor.update_many(errors)
                    seconds += time.perf_counter() - begun
                    if name in factories:
                        alone += river_alone_seconds(factories[name], errors)
                    found = score([event.position for event in monitor.detections], starts)
                    delays.update({(f"{label} {kind}", seed, drift): delay for drift, delay in found[0].items()})
                    outside, repeat, missed = outside + found[1], repeat + found[2], missed + found[3]
                total = overall[name]
                total[0].update(delays)
                total[1], total[2], total[3] = total[1] + outside, total[2] + repeat, total[3] + missed
                n = len(seeds) * args.length
                mean_delay = f"{np.mean(list(delays.values())):.0f}" if delays else "-"
                river_us = f"{alone / n * 1e6:.2f}" if name in factories else "-"
                print(
                    f"{name:<13}{mean_delay:>11}{outside + repeat:>13}{outside:>9}{repeat:>8}{missed:>7}"
                    f"{seconds / n * 1e6:>10.2f}{river_us:>12}"
                )
    print("\nall streams: totals; 'delay' is the mean over each detector's detected drifts, 'paired' the")
    print("mean delays of cusum and of that detector over the drifts both detected (the fair comparison)")
    ours = overall["cusum"]
    for name in DETECTOR_NAMES:
        delays, outside, repeat, missed = overall[name]
        verdict = ""
        if name != "cusum":
            both = sorted(set(ours[0]) & set(delays))
            paired_ours = float(np.mean([ours[0][key] for key in both]))
            paired_theirs = float(np.mean([delays[key] for key in both]))
            checks = [
                ("fewer false alarms", ours[1] + ours[2] < outside + repeat),
                (f"paired {paired_ours:.0f} vs {paired_theirs:.0f} on {len(both)}", paired_ours <= paired_theirs),
                ("missed <=", ours[3] <= missed),
            ]
            verdict = "  cusum: " + ", ".join(f"{text} {'yes' if ok else 'NO'}" for text, ok in checks)
        print(
            f"{name:<13} delay {np.mean(list(delays.values())):5.0f}  false alarms {outside + repeat:4d} "
            f"({outside} out, {repeat} rep)  missed {missed:3d}{verdict}"
        )


if __name__ == "__main__":
    main()
