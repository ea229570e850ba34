"""A file bigger than the memory a read may take streams through FileSource batch by batch.

The reading runs in a child process, which reports its peak resident memory (``ru_maxrss``) before
and after: the growth must stay well below the file's size.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

FILE_BYTES = 200_000_000
MEBIBYTE = 1 << 20

CHILD = textwrap.dedent(
    """
    import json, resource, sys
    from driftloop.data.sources import FileSource

    def peak_bytes():
        # VmHWM is this process's own peak; ru_maxrss in a subprocess may report the parent's.
        try:
            with open("/proc/self/status") as status:
                return next(int(line.split()[1]) * 1024 for line in status if line.startswith("VmHWM:"))
        except OSError:
            return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # KiB on Linux

    source = FileSource(sys.argv[1], batch_rows=50_000)
    baseline = peak_bytes()
    rows = batches = largest = 0
    for batch in source.batches():
        rows += batch.num_rows
        batches += 1
        largest = max(largest, batch.num_rows)
    report = {"baseline": baseline, "peak": peak_bytes(), "rows": rows, "batches": batches, "largest": largest}
    print(json.dumps(report))
    """
)


def write_big_csv(path: Path) -> int:
    """Write about FILE_BYTES of CSV in chunks, never holding more than one chunk; return the row count."""
    rows = 0
    with open(path, "w", encoding="utf-8") as file:
        file.write("id,price,rooms,area,district,note\n")
        while file.tell() < FILE_BYTES:
            chunk = "".join(
                f"{i},{i * 0.37:.2f},{i % 7},{i % 211 + 20.5},district {i % 30},listing number {i}\n"
                for i in range(rows, rows + 50_000)
            )
            file.write(chunk)
            rows += 50_000
    return rows


@pytest.mark.slow
def test_a_big_csv_streams_in_bounded_memory(tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    rows = write_big_csv(path)
    size = path.stat().st_size
    finished = subprocess.run(
        [sys.executable, "-c", CHILD, str(path)], capture_output=True, text=True, timeout=120, check=False
    )
    assert finished.returncode == 0, finished.stderr
    report = json.loads(finished.stdout)
    growth = report["peak"] - report["baseline"]
    assert report["rows"] == rows
    assert report["largest"] <= 50_000
    assert report["batches"] >= rows // 50_000
    message = (
        f"reading {size / MEBIBYTE:.0f} MiB grew the peak from {report['baseline'] / MEBIBYTE:.0f} MiB "
        f"to {report['peak'] / MEBIBYTE:.0f} MiB"
    )
    assert growth < 0.6 * size, message
    assert growth < 200 * MEBIBYTE, message
