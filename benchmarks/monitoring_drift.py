"""Per-feature data drift: driftloop's ``compare`` against Evidently's ``DataDriftPreset``, speed and memory.

    .venv-bench/bin/python benchmarks/monitoring_drift.py [--sizes 100000 1000000] [--skip-evidently]
        [--rows-streamed 10000000] [--chunk-rows 500000]

For each size, generates (seeded) a reference and a current window of that many rows each, with 20 numerical
columns (normal, each with its own mean and spread) and 5 categorical ones (strings, 3 to 20 categories with
uneven shares); in the current window the first 5 numerical columns are shifted by half their standard
deviation, nothing else changes. Both windows are written once as Parquet. Then each tool runs in a fresh
subprocess that loads the two frames (polars for driftloop, pandas for Evidently, which needs ``pandas<3``),
runs the drift computation with the tool's defaults, and prints its wall and CPU time and the columns it
flagged. Only the drift computation is timed: for Evidently ``Report([DataDriftPreset()],
include_tests=True).run(...)``, whose per-column tests carry Evidently's own drifted/not-drifted decision
(the tests add a few comparisons to the run); for driftloop ``compare(reference, current)``.

Memory: the peak resident memory of the drift computation above what the process held with the frames
loaded. After loading, the child resets the kernel's peak-RSS mark (writing 5 to ``/proc/self/clear_refs``)
and reads ``VmHWM`` from ``/proc/self/status`` before and after; if the reset is refused, the increase is
``VmHWM`` after minus ``VmRSS`` before, which hides a computation peak lower than the loading peak.

Goals (issue 6), at 1,000,000 rows: driftloop ≥ 50x faster than Evidently; its peak-memory increase
≤ 1/5 of Evidently's; both flag the same columns. driftloop's default tests at these sizes (Wasserstein-1
over the reference standard deviation for numbers, Jensen-Shannon distance for categories) are computed
exactly, not from bins or sketches; at the largest size the script checks that against scipy
(``scipy.stats.wasserstein_distance`` / ``numpy.std`` and ``scipy.spatial.distance.jensenshannon``, base 2).
Evidently picks the same tests and thresholds at these sizes, but its Jensen-Shannon distance is in natural
log (scipy's default base), so its values are driftloop's times sqrt(ln 2), about 0.83; the script prints the
largest score difference per test, and for Jensen-Shannon also after that conversion.

The sketch path, at each size: a third subprocess reads the two Parquet files with pyarrow, builds the
reference's profile (``driftloop.data.profiles.Profile``) and stores it (bytes and back), resets the peak-RSS
mark, then times profiling the current window and ``compare_profiles(reference, current)``, and reports the
columns flagged and the peak-memory increase. Its statistics are approximations (KLL quantile sketches for
numbers, frequent-items sketches for categories): the script prints, per statistic, the largest deviation from
the exact value (normalised Wasserstein and Jensen-Shannon: the exact ``compare`` above; KS: ``scipy.stats.ks_2samp``)
next to the error bound ``driftloop.monitoring._sketch_drift`` states for that column.

Streamed (``--rows-streamed``, 10,000,000 by default, 0 to skip): a subprocess generates a reference and a
current window of that many rows each, with the same columns and shift, ``--chunk-rows`` rows at a time (never
holding a window), updates one profile per window chunk by chunk, and compares the two profiles. It prints the wall
time (generation, profiling and comparison apart), the peak-RSS increase after the first chunk and at the end (the
latter must not grow with the rows), the profiles' stored size, the columns flagged (which must be the five
shifted ones) and their statistics (the shifted columns' normalised Wasserstein is 0.5 in the population).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

NUMERICAL, CATEGORICAL, SHIFTED = 20, 5, 5
CATEGORY_COUNTS = (3, 5, 8, 12, 20)
EXACT_TOLERANCE = 1e-6

CHILD = """
import gc, json, os, sys, time
tool, folder = sys.argv[1], sys.argv[2]

def memory(field):
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field + " is not in /proc/self/status")

extra = {}
if tool == "driftloop":
    import polars as pl
    from driftloop.monitoring import compare
    reference = pl.read_parquet(folder + "/reference.parquet")
    current = pl.read_parquet(folder + "/current.parquet")
elif tool == "sketch":
    import pyarrow.parquet as pq
    from driftloop.data.profiles import Profile
    from driftloop.monitoring._sketch_drift import compare_profiles
    current, reference_table = pq.read_table(folder + "/current.parquet"), pq.read_table(folder + "/reference.parquet")
    started = time.perf_counter()
    stored = Profile.empty().update(reference_table).to_bytes()
    extra["reference_profile_seconds"] = time.perf_counter() - started
    del reference_table
    reference = Profile.from_bytes(stored)
    extra["profile_bytes"] = len(stored)
else:
    import pandas as pd
    from evidently import Report
    from evidently.presets import DataDriftPreset
    reference = pd.read_parquet(folder + "/reference.parquet")
    current = pd.read_parquet(folder + "/current.parquet")
gc.collect()
try:
    with open("/proc/self/clear_refs", "w") as clear:
        clear.write("5")  # resets VmHWM to the current RSS: the peak of the loading is forgotten
    peak_reset = True
except OSError:
    peak_reset = False
loaded = memory("VmHWM") if peak_reset else memory("VmRSS")
started, cpu = time.perf_counter(), time.process_time()
if tool == "driftloop":
    report = compare(reference, current)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = memory("VmHWM")
    flagged = list(report.drifted_columns)
    scores = {f.column: [f.method, f.statistic] for f in report.features}
elif tool == "sketch":
    profiled = Profile.empty().update(current)
    extra["profile_seconds"], extra["profile_cpu_seconds"] = time.perf_counter() - started, time.process_time() - cpu
    compared = time.perf_counter()
    report = compare_profiles(reference, profiled)
    extra["compare_seconds"] = time.perf_counter() - compared
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = memory("VmHWM")
    flagged = list(report.drifted_columns)
    scores = {f.column: [f.method, f.statistic] for f in report.features}
    numbers = [f.column for f in report.features if f.kind == "numerical"]
    extra["ks"] = {f.column: f.statistic for f in compare_profiles(reference, profiled, methods="ks").features}
    bounds = {}
    for name in numbers:
        left, right = reference.columns[name], profiled.columns[name]
        spread = left.rank_error * (left.max - left.min) + right.rank_error * (right.max - right.min)
        bounds[name] = {"ks": left.rank_error + right.rank_error, "wasserstein": spread / left.std}
    for name in scores:
        if name not in numbers:
            errors = reference.columns[name].maximum_error, profiled.columns[name].maximum_error
            bounds[name] = {"jensenshannon": 0.0 if errors == (0, 0) else None}
    extra["bounds"] = bounds
else:
    snapshot = Report([DataDriftPreset()], include_tests=True).run(current_data=current, reference_data=reference)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    peak = memory("VmHWM")
    result = snapshot.dict()
    scores, flagged = {}, []
    for metric in result["metrics"]:
        if metric["config"]["type"].endswith(":ValueDrift"):
            scores[metric["config"]["column"]] = [metric["config"]["method"], metric["value"]]
    for test in result["tests"]:
        params = test["metric_config"]["params"]
        if params["type"].endswith(":ValueDrift") and test["status"] == "FAIL":
            flagged.append(params["column"])
print(json.dumps({
    "seconds": seconds, "cpu_seconds": cpu, "peak_increase": peak - loaded, "peak_reset": peak_reset,
    "flagged": sorted(flagged), "scores": scores, **extra,
}))
"""


def generate(rows: int, seed: int = 0) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, list[str]]]:
    """The reference and current columns (categories as integer codes) and each categorical column's labels."""
    rng = np.random.default_rng(seed)
    means, spreads = rng.uniform(-10.0, 10.0, NUMERICAL), rng.uniform(0.5, 20.0, NUMERICAL)
    shift = np.zeros(NUMERICAL)
    shift[:SHIFTED] = 0.5 * spreads[:SHIFTED]
    reference: dict[str, np.ndarray] = {}
    current: dict[str, np.ndarray] = {}
    for window, offset in ((reference, np.zeros(NUMERICAL)), (current, shift)):
        values = rng.normal(means + offset, spreads, size=(rows, NUMERICAL))
        for index in range(NUMERICAL):
            window[f"x{index}"] = np.ascontiguousarray(values[:, index])
    labels: dict[str, list[str]] = {}
    for index, count in enumerate(CATEGORY_COUNTS):
        name = f"c{index}"
        labels[name] = [f"{name}_value{code:02d}" for code in range(count)]
        shares = rng.dirichlet(np.full(count, 2.0))
        for window in (reference, current):
            window[name] = rng.choice(count, size=rows, p=shares).astype(np.int32)
    return reference, current, labels


def write(path: Path, columns: dict[str, np.ndarray], labels: dict[str, list[str]]) -> None:
    arrays = {
        name: (
            pa.DictionaryArray.from_arrays(pa.array(values), pa.array(labels[name])).cast(pa.string())
            if name in labels
            else pa.array(values)
        )
        for name, values in columns.items()
    }
    pq.write_table(pa.table(arrays), path)


def measure(tool: str, folder: Path) -> dict[str, Any]:
    environment = {**os.environ, "DO_NOT_TRACK": "1"}  # Evidently's usage telemetry
    completed = subprocess.run(
        [sys.executable, "-c", CHILD, tool, str(folder)], capture_output=True, text=True, env=environment
    )
    if completed.returncode != 0:
        raise SystemExit(f"The {tool} run failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def exact_deviation(
    reference: dict[str, np.ndarray], current: dict[str, np.ndarray], scores: dict[str, list[Any]]
) -> dict[str, float]:
    """The largest absolute difference of driftloop's default statistics from scipy's, per method."""
    from scipy.spatial.distance import jensenshannon
    from scipy.stats import wasserstein_distance

    worst: dict[str, float] = {}
    for name, (method, statistic) in scores.items():
        if method == "wasserstein":
            exact = wasserstein_distance(reference[name], current[name]) / np.std(reference[name])
        elif method == "jensenshannon":
            size = int(max(reference[name].max(), current[name].max())) + 1
            left = np.bincount(reference[name], minlength=size)
            right = np.bincount(current[name], minlength=size)
            exact = jensenshannon(left / left.sum(), right / right.sum(), base=2.0)
        else:
            continue
        worst[method] = max(worst.get(method, 0.0), abs(float(statistic) - float(exact)))
    return worst


def report(rows: int, results: dict[str, dict[str, Any]], expected: list[str]) -> None:
    print(f"\n{rows:,} rows per window ({NUMERICAL} numerical, {CATEGORICAL} categorical; shifted: {expected})")
    print(f"{'tool':<10} {'seconds':>9} {'CPU s':>9} {'peak +MiB':>10}  flagged")
    for tool, result in results.items():
        mib = result["peak_increase"] / 2**20
        flagged = ", ".join(result["flagged"]) or "(none)"
        print(f"{tool:<10} {result['seconds']:>9.3f} {result['cpu_seconds']:>9.3f} {mib:>10.1f}  {flagged}")
    for tool, result in results.items():
        if not result["peak_reset"]:
            print(f"  ({tool}: /proc/self/clear_refs refused; its memory is VmHWM after minus VmRSS before)")
    ours = results["driftloop"]
    if ours["flagged"] != expected:
        print(f"  driftloop flags {ours['flagged']}, not the shifted columns {expected}")
    if "evidently" not in results:
        return
    theirs = results["evidently"]
    speed = theirs["seconds"] / ours["seconds"]
    memory = ours["peak_increase"] / theirs["peak_increase"] if theirs["peak_increase"] > 0 else float("nan")
    same = ours["flagged"] == theirs["flagged"]
    print(f"  time Evidently / driftloop: {speed:.1f}x (CPU time: {theirs['cpu_seconds'] / ours['cpu_seconds']:.1f}x)")
    print(f"  peak memory increase driftloop / Evidently: {memory:.3f}")
    print(f"  same flagged columns: {'yes' if same else 'NO'}")
    if not same:
        only_ours = sorted(set(ours["flagged"]) - set(theirs["flagged"]))
        only_theirs = sorted(set(theirs["flagged"]) - set(ours["flagged"]))
        print(f"    only driftloop: {only_ours}; only Evidently: {only_theirs}")
    gaps: dict[str, float] = {}
    for name, (method, statistic) in ours["scores"].items():
        other_method, other = theirs["scores"].get(name, [None, None])
        if statistic is not None and other is not None:
            pair = f"{method} / {other_method}"
            gaps[pair] = max(gaps.get(pair, 0.0), abs(statistic - other))
    for pair, gap in sorted(gaps.items()):
        print(f"  largest |driftloop - Evidently| score, {pair}: {gap:.2e}")
    # Evidently's Jensen-Shannon distance uses scipy's default natural logarithm, driftloop's base 2.
    natural = [
        abs(statistic * np.sqrt(np.log(2.0)) - theirs["scores"][name][1])
        for name, (method, statistic) in ours["scores"].items()
        if method == "jensenshannon" and theirs["scores"].get(name, [None, None])[1] is not None
    ]
    if natural:
        print(f"  the same, driftloop's Jensen-Shannon converted to natural log: {max(natural):.2e}")
    if rows >= 1_000_000:
        met = speed >= 50 and memory <= 0.2 and same
        print(f"  goals at 1,000,000 rows (>= 50x faster, <= 1/5 memory, same columns): {'met' if met else 'NOT met'}")


def sketch_deviation(
    reference: dict[str, np.ndarray],
    current: dict[str, np.ndarray],
    exact: dict[str, list[Any]],
    sketch: dict[str, Any],
) -> dict[str, tuple[float, str, float | None]]:
    """Per statistic: the sketch path's largest deviation from the exact value, its column, and that column's bound.

    The exact normalised Wasserstein and Jensen-Shannon are ``compare``'s (checked against scipy above), the exact
    KS statistic scipy's ``ks_2samp``.
    """
    from scipy.stats import ks_2samp

    worst: dict[str, tuple[float, str, float | None]] = {}

    def record(statistic: str, column: str, deviation: float) -> None:
        if statistic not in worst or deviation > worst[statistic][0]:
            worst[statistic] = (deviation, column, sketch["bounds"][column].get(statistic))

    for column, (method, value) in sketch["scores"].items():
        record(method, column, abs(float(value) - float(exact[column][1])))
    for column, value in sketch["ks"].items():
        record("ks", column, abs(float(value) - float(ks_2samp(reference[column], current[column]).statistic)))
    return worst


def report_sketch(rows: int, sketch: dict[str, Any], worst: dict[str, tuple[float, str, float | None]]) -> None:
    expected = sorted(f"x{index}" for index in range(SHIFTED))
    flagged = ", ".join(sketch["flagged"]) or "(none)"
    print(f"  sketch path at {rows:,} rows (profiles; driftloop.monitoring._sketch_drift.compare_profiles):")
    print(
        f"    profile the current window {sketch['profile_seconds']:.3f} s (CPU {sketch['profile_cpu_seconds']:.3f} s; "
        f"the reference's took {sketch['reference_profile_seconds']:.3f} s), compare_profiles "
        f"{sketch['compare_seconds'] * 1000:.1f} ms, peak +{sketch['peak_increase'] / 2**20:.1f} MiB, "
        f"stored profile {sketch['profile_bytes'] / 1024:.0f} KiB"
    )
    print(f"    flagged: {flagged}" + ("" if sketch["flagged"] == expected else f" (NOT the shifted {expected})"))
    for statistic, (deviation, column, bound) in sorted(worst.items()):
        stated = "exact (no sketch error)" if bound == 0.0 else f"stated bound there {bound:.2e}"
        print(f"    largest deviation from the exact {statistic}: {deviation:.2e} ({column}; {stated})")


def stream_parameters(seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
    """The streamed windows' means and spreads (drawn as ``generate`` draws them) and category shares."""
    rng = np.random.default_rng(seed)
    means, spreads = rng.uniform(-10.0, 10.0, NUMERICAL), rng.uniform(0.5, 20.0, NUMERICAL)
    return means, spreads, [rng.dirichlet(np.full(count, 2.0)) for count in CATEGORY_COUNTS]


def stream_chunk(
    window: str, index: int, rows: int, parameters: tuple[np.ndarray, np.ndarray, list[np.ndarray]]
) -> pa.RecordBatch:
    """Chunk ``index`` of a streamed window: the current one has x0-x4 shifted by half their spread."""
    means, spreads, shares = parameters
    rng = np.random.default_rng([0 if window == "reference" else 1, index])
    shift = np.zeros(NUMERICAL)
    if window == "current":
        shift[:SHIFTED] = 0.5 * spreads[:SHIFTED]
    columns: dict[str, pa.Array] = {
        f"x{column}": pa.array(rng.normal(means[column] + shift[column], spreads[column], rows))
        for column in range(NUMERICAL)
    }
    for column, (count, share) in enumerate(zip(CATEGORY_COUNTS, shares, strict=True)):
        labels = pa.array([f"c{column}_value{code:02d}" for code in range(count)])
        codes = pa.array(rng.choice(count, size=rows, p=share).astype(np.int32))
        columns[f"c{column}"] = pa.DictionaryArray.from_arrays(codes, labels)
    return pa.record_batch(columns)


def process_memory(field: str) -> int:
    """A field of /proc/self/status (VmHWM, VmRSS) in bytes."""
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(field + " is not in /proc/self/status")


def streamed_child(rows: int, chunk_rows: int) -> None:
    """Profile both windows chunk by chunk, compare the profiles, print one JSON line (run in a subprocess)."""
    import gc
    import time

    from driftloop.data.profiles import Profile
    from driftloop.monitoring._sketch_drift import compare_profiles

    parameters = stream_parameters()
    gc.collect()
    try:
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")
        peak_reset = True
    except OSError:
        peak_reset = False
    loaded = process_memory("VmHWM") if peak_reset else process_memory("VmRSS")
    started, cpu = time.perf_counter(), time.process_time()
    generating, profiling, profiling_cpu, first_chunk_peak = 0.0, {}, {}, None
    profiles = {}
    for window in ("reference", "current"):
        profile, profiling[window], profiling_cpu[window] = Profile.empty(), 0.0, 0.0
        for index, start in enumerate(range(0, rows, chunk_rows)):
            moment = time.perf_counter()
            batch = stream_chunk(window, index, min(chunk_rows, rows - start), parameters)
            generating += time.perf_counter() - moment
            moment, moment_cpu = time.perf_counter(), time.process_time()
            profile.update(batch)
            profiling[window] += time.perf_counter() - moment
            profiling_cpu[window] += time.process_time() - moment_cpu
            del batch
            if first_chunk_peak is None:
                first_chunk_peak = process_memory("VmHWM") - loaded
        profiles[window] = profile
    moment = time.perf_counter()
    report = compare_profiles(profiles["reference"], profiles["current"])
    comparing = time.perf_counter() - moment
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    result = {
        "rows": rows,
        "chunk_rows": chunk_rows,
        "seconds": seconds,
        "cpu_seconds": cpu,
        "generate_seconds": generating,
        "profile_seconds": profiling,
        "profile_cpu_seconds": profiling_cpu,
        "compare_seconds": comparing,
        "peak_after_first_chunk": first_chunk_peak,
        "peak_increase": process_memory("VmHWM") - loaded,
        "peak_reset": peak_reset,
        "profile_bytes": {window: len(profile.to_bytes()) for window, profile in profiles.items()},
        "flagged": sorted(report.drifted_columns),
        "scores": {f.column: [f.method, f.statistic] for f in report.features},
    }
    print(json.dumps(result))


def measure_streamed(rows: int, chunk_rows: int) -> dict[str, Any]:
    command = [
        sys.executable,
        __file__,
        "--streamed-child",
        "--rows-streamed",
        str(rows),
        "--chunk-rows",
        str(chunk_rows),
    ]
    completed = subprocess.run(command, capture_output=True, text=True)
    if completed.returncode != 0:
        raise SystemExit(f"The streamed run failed:\n{completed.stderr}")
    result: dict[str, Any] = json.loads(completed.stdout.strip().splitlines()[-1])
    return result


def report_streamed(result: dict[str, Any]) -> None:
    expected = sorted(f"x{index}" for index in range(SHIFTED))
    print(
        f"\n{result['rows']:,} rows per window streamed in chunks of {result['chunk_rows']:,} "
        "(profiles updated chunk by chunk, then compare_profiles)"
    )
    wall, cpu = result["profile_seconds"], result["profile_cpu_seconds"]
    print(
        f"  wall {result['seconds']:.1f} s (CPU {result['cpu_seconds']:.1f} s): generating the data "
        f"{result['generate_seconds']:.1f} s, profiling the reference {wall['reference']:.1f} s "
        f"(CPU {cpu['reference']:.1f} s) and the current window {wall['current']:.1f} s (CPU {cpu['current']:.1f} s), "
        f"compare_profiles {result['compare_seconds'] * 1000:.1f} ms"
    )
    print(
        f"  peak RSS increase: {result['peak_after_first_chunk'] / 2**20:.1f} MiB after the first chunk, "
        f"{result['peak_increase'] / 2**20:.1f} MiB at the end; stored profiles "
        + ", ".join(f"{window} {size / 1024:.0f} KiB" for window, size in result["profile_bytes"].items())
    )
    if not result["peak_reset"]:
        print("  (/proc/self/clear_refs refused; the memory is VmHWM after minus VmRSS before)")
    flagged = ", ".join(result["flagged"]) or "(none)"
    verdict = "the shifted columns" if result["flagged"] == expected else f"NOT the shifted columns {expected}"
    print(f"  flagged: {flagged} ({verdict})")
    shifted = [result["scores"][name][1] for name in expected]
    others = [score for name, (_method, score) in result["scores"].items() if name not in expected]
    print(
        f"  normalised Wasserstein of the shifted columns {min(shifted):.4f}-{max(shifted):.4f} (0.5 in the "
        f"population); largest statistic of the others {max(others):.4f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--skip-evidently", action="store_true")
    parser.add_argument("--rows-streamed", type=int, default=10_000_000, help="0 skips the streamed part")
    parser.add_argument("--chunk-rows", type=int, default=500_000)
    parser.add_argument("--streamed-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.streamed_child:
        streamed_child(args.rows_streamed, args.chunk_rows)
        return
    tools = ["driftloop"] if args.skip_evidently else ["driftloop", "evidently"]
    expected = sorted(f"x{index}" for index in range(SHIFTED))
    with open("/proc/loadavg") as loadavg:
        print(f"load average at start: {' '.join(loadavg.read().split()[:3])}")
    for rows in args.sizes:
        reference, current, labels = generate(rows)
        with tempfile.TemporaryDirectory() as folder:
            write(Path(folder) / "reference.parquet", reference, labels)
            write(Path(folder) / "current.parquet", current, labels)
            results = {tool: measure(tool, Path(folder)) for tool in tools}
            sketch = measure("sketch", Path(folder))
        report(rows, results, expected)
        if rows == max(args.sizes):
            worst = exact_deviation(reference, current, results["driftloop"]["scores"])
            for method, deviation in sorted(worst.items()):
                verdict = "exact" if deviation <= EXACT_TOLERANCE else "NOT exact"
                print(f"  driftloop default {method} vs scipy, largest deviation: {deviation:.2e} ({verdict})")
        report_sketch(rows, sketch, sketch_deviation(reference, current, results["driftloop"]["scores"], sketch))
    if args.rows_streamed > 0:
        report_streamed(measure_streamed(args.rows_streamed, args.chunk_rows))
    with open("/proc/loadavg") as loadavg:
        print(f"\nload average at end: {' '.join(loadavg.read().split()[:3])}")


if __name__ == "__main__":
    main()
