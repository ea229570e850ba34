"""Ingest speed: driftloop's full ingest against the floor of pyarrow alone streaming CSV into Delta.

    .venv/bin/python benchmarks/ingest.py [--rows 1000000]

Generates a CSV of ``rows`` rows with 15 numeric and 5 string columns (about 2% of values missing),
then, each in a fresh subprocess so that peak memory is its own:
- floor: ``pyarrow.csv.open_csv`` streamed into ``deltalake.write_deltalake`` (no validation, no profile);
- driftloop: ``Workspace.datasets.ingest`` — schema inference, validation, profile, a new version.
Prints both wall times, their ratio, and each process's peak resident memory. Goal: within 2x the floor.
"""

from __future__ import annotations

import argparse
import json
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
started = time.perf_counter()
reader = csv.open_csv(sys.argv[1], read_options=csv.ReadOptions(block_size=8 << 20))
write_deltalake(sys.argv[2], reader, mode="overwrite")
print(json.dumps({"seconds": time.perf_counter() - started, "peak_mb": peak_mb()}))
"""
)

OURS = (
    PEAK
    + """
import json, sys, time
from driftloop import Workspace
ws = Workspace(sys.argv[2])
ws.open()
started = time.perf_counter()
result = ws.datasets.ingest("bench", sys.argv[1])
elapsed = time.perf_counter() - started
assert result.created, result
print(json.dumps({"seconds": elapsed, "rows": result.rows, "peak_mb": peak_mb()}))
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
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="driftloop-ingest-") as temporary:
        folder = Path(temporary)
        csv_path = folder / "data.csv"
        started = time.perf_counter()
        generate(csv_path, args.rows)
        size_mb = csv_path.stat().st_size / 2**20
        print(f"generated {args.rows:,} rows, {size_mb:,.0f} MiB in {time.perf_counter() - started:.1f} s")
        floor = run(FLOOR, str(csv_path), str(folder / "floor-table"))
        ours = run(OURS, str(csv_path), str(folder / "workspace"))
        for label, result in (
            ("floor      open_csv -> write_deltalake", floor),
            ("driftloop  ingest + validate + profile", ours),
        ):
            print(f"{label:42} {result['seconds']:7.2f} s  peak {result['peak_mb']:7.0f} MiB")
        ratio = ours["seconds"] / floor["seconds"]
        print(f"ratio      driftloop / floor: {ratio:.2f}x (goal <= 2x: {'met' if ratio <= 2 else 'NOT met'})")


if __name__ == "__main__":
    main()
