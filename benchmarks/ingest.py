"""Ingest speed: driftloop's full ingest against the floor of pyarrow alone streaming CSV into Delta.

    .venv/bin/python benchmarks/ingest.py [--rows 1000000] [--runs 1]

Generates a CSV of ``rows`` rows with 15 numeric and 5 string columns (about 2% of values missing),
then, ``runs`` times, each in a fresh subprocess so that peak memory is its own:
- floor: ``pyarrow.csv.open_csv`` streamed into ``deltalake.write_deltalake`` (no validation, no profile);
- driftloop: ``Workspace.datasets.ingest`` — schema inference, validation, profile, a new version.
Prints, per run, both wall times, their ratio, each process's CPU time (all its threads) and peak resident
memory, and the machine's load average; then the median ratio. Goal: within 2x the floor. Both clocks start
after the imports (the floor's of pyarrow.csv and deltalake, driftloop's of ``driftloop.data`` and deltalake);
driftloop's import time is printed too, with the ratio it would give if counted.

On a shared machine the wall times move with the load; floor and driftloop alternate within each run so
that both see about the same load, and the CPU times show how much work each did whatever the load.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np

# Peak memory is read from /proc/self/status (VmHWM): getrusage's ru_maxrss in a child started by
# subprocess can report the parent's peak instead of the child's own.
PEAK = """
def peak_mb():
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return float("nan")
"""

FLOOR = (
    PEAK
    + """
import json, sys, time
import pyarrow.csv as csv
from deltalake import write_deltalake
started, cpu = time.perf_counter(), time.process_time()
reader = csv.open_csv(sys.argv[1], read_options=csv.ReadOptions(block_size=8 << 20))
write_deltalake(sys.argv[2], reader, mode="overwrite")
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_mb": peak_mb()}))
"""
)

OURS = (
    PEAK
    + """
import json, sys, time
from driftloop import Workspace
ws = Workspace(sys.argv[2])
ws.open()
# The floor imports pyarrow.csv and deltalake before its clock starts; so does driftloop (ws.datasets imports
# driftloop.data, Polars and the sources), and the import time is reported on its own.
imported = time.perf_counter()
datasets = ws.datasets
import deltalake
imports = time.perf_counter() - imported
started, cpu = time.perf_counter(), time.process_time()
result = datasets.ingest("bench", sys.argv[1])
elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
assert result.created, result
figures = {"seconds": elapsed, "cpu_seconds": cpu, "imports": imports, "rows": result.rows, "peak_mb": peak_mb()}
print(json.dumps(figures))
ws.close()
"""
)


def generate(path: Path, rows: int, seed: int = 7) -> None:
    rng = np.random.default_rng(seed)
    chunk = 100_000
    with path.open("w") as file:
        header = [f"x{i}" for i in range(15)] + [f"s{i}" for i in range(5)]
        file.write(",".join(header) + "\n")
        words = np.array(["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"])
        for start in range(0, rows, chunk):
            n = min(chunk, rows - start)
            numbers = rng.normal(100, 25, size=(n, 15)).round(3).astype(str)
            numbers[rng.random((n, 15)) < 0.02] = ""
            strings = words[rng.integers(0, len(words), size=(n, 5))]
            strings[rng.random((n, 5)) < 0.02] = ""
            lines = [",".join(row) for row in np.concatenate([numbers, strings], axis=1)]
            file.write("\n".join(lines) + "\n")


def run(script: str, *args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"benchmark step failed:\n{done.stderr}")
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=1, help="floor and driftloop pairs to time, one after the other")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="driftloop-ingest-") as temporary:
        folder = Path(temporary)
        csv_path = folder / "data.csv"
        started = time.perf_counter()
        generate(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 2**20
        print(f"generated {args.rows:,} rows, {size_mb:,.0f} MiB in {time.perf_counter() - started:.1f} s")
        ratios = []
        for run_number in range(1, args.runs + 1):
            load = os.getloadavg()[0]
            floor = run(FLOOR, str(csv_path), str(folder / f"floor-table-{run_number}"))
            ours = run(OURS, str(csv_path), str(folder / f"workspace-{run_number}"))
            print(f"run {run_number} (load average {load:.2f} at start, {os.getloadavg()[0]:.2f} at end)")
            for label, result in (
                ("floor      open_csv -> write_deltalake", floor),
                ("driftloop  ingest + validate + profile", ours),
            ):
                print(
                    f"  {label:42} {result['seconds']:7.2f} s  cpu {result['cpu_seconds']:6.2f} s  "
                    f"peak {result['peak_mb']:7.0f} MiB"
                )
            ratio = ours["seconds"] / floor["seconds"]
            ratios.append(ratio)
            with_imports = (ours["seconds"] + ours["imports"]) / floor["seconds"]
            print(
                f"  ratio      driftloop / floor: {ratio:.2f}x (goal <= 2x: {'met' if ratio <= 2 else 'NOT met'}); "
                f"{with_imports:.2f}x counting driftloop's {ours['imports']:.2f} s of imports"
            )
        if len(ratios) > 1:
            listed = ", ".join(f"{ratio:.2f}x" for ratio in ratios)
            met = sum(ratio <= 2 for ratio in ratios)
            print(f"ratios {listed}; median {statistics.median(ratios):.2f}x; goal met in {met} of {len(ratios)} runs")


if __name__ == "__main__":
    main()
