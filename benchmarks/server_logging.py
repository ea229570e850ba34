"""Remote metric logging: driftloop's workspace server against MLflow's tracking server, in one run (issue 8).

    make bench                       # builds .venv-bench (driftloop + MLflow 3) and runs this
    .venv-bench/bin/python benchmarks/server_logging.py [--points 200000] [--batch-sizes 1000 10000] [--rounds 3]

driftloop: ``driftloop server`` on a free loopback port, over its own workspace (SQLite) in a temporary folder; on
loopback with no users it needs no token. Each measurement creates a run with ``POST /api/v1/runs`` and sends
``points`` metric points (10 keys x points/10 steps) with httpx from this process, one batch per ``POST
/api/v1/runs/{id}/metrics``, over one kept-alive connection, one request at a time, as a remote client that
batches would. Each batch is built (a dict per point, with the client's timestamp) and encoded with orjson inside
the timed loop. Timed from the first request to the last answer; then every key's history is read back through
``GET /api/v1/runs/{id}/metrics/{key}`` and compared with what was sent, point by point. The server's own share of
the time comes from its access log (milliseconds per request, from the request to the last byte of the answer).

driftloop's client: ``driftloop.Workspace(url).start_run()``, then ``run.log_metric`` for each point in a Python loop,
as a user's training code logs; its background logger batches the points (every 0.25 s, or 100,000 points) and
sends each batch as one request; timed from the run's start to its end, when the last batch has been answered.

MLflow: ``mlflow server`` (MLflow from ``.venv-bench``, its SQLite store in the same temporary folder, one worker
like driftloop's one uvicorn process, its job runner off) receives the same points from ``MlflowClient.log_batch``
with 1,000 metrics per call (MLflow's limit), called from a ``.venv-bench/bin/python`` subprocess, timed the same
way; then the count of every key's stored history is checked.

After an untimed warm-up (20,000 points to each server, with each batch size), the rounds alternate driftloop's
batch sizes and MLflow, so that all see the same spells of the shared machine; the median of the rounds is printed
with the load average before and after, and the ratio to MLflow. The issue's goal: at least 50,000 points per second
through the server. Without ``.venv-bench`` (``make bench`` builds it), the MLflow rows are skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
from _servers import free_port, start_server, stop

REPOSITORY = Path(__file__).resolve().parents[1]
KEYS = [f"metric_{k}" for k in range(10)]
MLFLOW_BATCH = 1000
"""MLflow's limit of metrics per ``log_batch`` call."""
GOAL = 50_000
WARM_UP_POINTS = 20_000
"""Points sent to each server, with each batch size, before the timed rounds."""

MLFLOW_CLIENT = """
import json, sys, time
from mlflow.entities import Metric
from mlflow.tracking import MlflowClient

uri, points, batch_size, name = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
keys = [f"metric_{k}" for k in range(10)]
client = MlflowClient(tracking_uri=uri)
run_id = client.create_run(client.create_experiment(name)).info.run_id
started = time.perf_counter()
for start in range(0, points, batch_size):
    now = int(time.time() * 1000)
    batch = [Metric(keys[i % 10], 1.0 / (i + 1), now, i // 10) for i in range(start, min(start + batch_size, points))]
    client.log_batch(run_id, metrics=batch)
seconds = time.perf_counter() - started
stored = sum(len(client.get_metric_history(run_id, key)) for key in keys)
client.set_terminated(run_id)
print("RESULT " + json.dumps({"seconds": seconds, "stored": stored}))
"""


def start_driftloop(folder: Path, url: str, log: Path) -> subprocess.Popen[bytes]:
    """``driftloop server`` at ``url`` over a new workspace in ``folder``: open, since it is on loopback, no users."""
    root = folder / "driftloop"
    command = [sys.executable, "-m", "driftloop", "--root", str(root), "--store", f"sqlite:///{root / 'driftloop.db'}"]
    host, port = url.removeprefix("http://").split("/")[0].split(":")
    command += ["server", "--host", host, "--port", port]
    return start_server(command, f"{url}/experiments", log, folder)


def start_mlflow(folder: Path, bin_folder: Path, url: str) -> subprocess.Popen[bytes]:
    """``mlflow server`` at ``url``, one worker, its SQLite store and artifacts in ``folder``.

    Its job runner is off: it serves GenAI jobs, not tracking, and its seven huey consumer processes take a core
    of the two for the first minute after the server answers, which would slow whichever round runs then.
    """
    host, port = url.removeprefix("http://").split(":")
    command = [str(bin_folder / "mlflow"), "server", "--host", host, "--port", port, "--workers", "1"]
    command += ["--backend-store-uri", f"sqlite:///{folder / 'mlflow.db'}"]
    command += ["--default-artifact-root", str(folder / "mlflow-artifacts")]
    jobs_off = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    return start_server(command, f"{url}/health", folder / "mlflow.log", folder, jobs_off)


def bench_driftloop(client: httpx.Client, log: Path, points: int, batch_size: int) -> dict[str, float]:
    """Log ``points`` points to a new run in batches of ``batch_size``; check the histories; return the timings."""
    run_id = client.post("/runs", json={"experiment": "bench", "name": f"batches of {batch_size}"}).json()["id"]
    path = f"/runs/{run_id}/metrics"
    headers = {"content-type": "application/json"}
    log_offset = log.stat().st_size
    started = time.perf_counter()
    for start in range(0, points, batch_size):
        now = time.time()
        batch = [
            {"key": KEYS[i % 10], "value": 1.0 / (i + 1), "step": i // 10, "timestamp": now}
            for i in range(start, min(start + batch_size, points))
        ]
        answer = client.post(path, content=orjson.dumps({"points": batch}), headers=headers)
        if answer.status_code != 200:
            raise SystemExit(f"driftloop answered {answer.status_code} to a batch: {answer.text[:500]}")
    seconds = time.perf_counter() - started
    check_histories(client, run_id, points)
    client.patch(f"/runs/{run_id}", json={"status": "finished"}).raise_for_status()
    server_seconds = server_time(log, log_offset)
    return {"points": points, "seconds": seconds, "rate": points / seconds, "server_seconds": server_seconds}


def bench_client(server_url: str, client: httpx.Client, log: Path, points: int) -> dict[str, float]:
    """Log ``points`` points through driftloop's own client: ``Workspace(url).start_run()`` and ``log_metric`` for
    each point, which its background logger batches; timed from the run's start to its end (the last batch sent)."""
    import driftloop

    workspace = driftloop.Workspace(server_url)
    log_offset = log.stat().st_size
    started = time.perf_counter()
    with workspace.start_run("bench", name="driftloop client") as run:
        for i in range(points):
            run.log_metric(KEYS[i % 10], 1.0 / (i + 1), step=i // 10)
    seconds = time.perf_counter() - started
    workspace.close()
    check_histories(client, run.id, points)
    server_seconds = server_time(log, log_offset)
    return {"points": points, "seconds": seconds, "rate": points / seconds, "server_seconds": server_seconds}


def check_histories(client: httpx.Client, run_id: str, points: int) -> None:
    """Every key's history, read back through the server, holds exactly the points sent."""
    steps = points // len(KEYS)
    for k, key in enumerate(KEYS):
        history = client.get(f"/runs/{run_id}/metrics/{key}")
        history.raise_for_status()
        body = history.json()
        expected_values = [1.0 / (step * len(KEYS) + k + 1) for step in range(steps)]
        if body["steps"] != list(range(steps)) or body["values"] != expected_values:
            raise SystemExit(f"driftloop's history of {key} is not what was sent ({len(body['steps']):,} points)")


def server_time(log: Path, offset: int) -> float:
    """Seconds the server spent on metric batches, by its access log, from byte ``offset`` on."""
    total = 0.0
    with log.open("rb") as lines:
        lines.seek(offset)
        for line in lines:
            if line.startswith(b"{"):  # an access line; the others are the server's log lines
                entry = json.loads(line)
                if (entry["method"], entry["status"]) == ("POST", 200) and entry["path"].endswith("/metrics"):
                    total += entry["ms"] / 1000
    return total


def bench_mlflow(python: Path, uri: str, points: int, experiment: str) -> dict[str, float]:
    """Log ``points`` points with ``log_batch`` from a client process; return the timings it printed."""
    command = [str(python), "-c", MLFLOW_CLIENT, uri, str(points), str(MLFLOW_BATCH), experiment]
    environment = {name: value for name, value in os.environ.items() if not name.startswith("MLFLOW_")}
    finished = subprocess.run(command, capture_output=True, text=True, env=environment)
    result_lines = [line for line in finished.stdout.splitlines() if line.startswith("RESULT ")]
    if finished.returncode != 0 or not result_lines:
        raise SystemExit(f"the MLflow client failed ({finished.returncode}):\n{finished.stderr[-3000:]}")
    result = json.loads(result_lines[-1].removeprefix("RESULT "))
    if result["stored"] != points:
        raise SystemExit(f"MLflow stored {result['stored']:,} of the {points:,} points sent")
    return {"points": points, "seconds": result["seconds"], "rate": points / result["seconds"]}


def median_of(rounds: list[dict[str, float]]) -> dict[str, Any]:
    """The median rate (and server share, when measured) of the rounds, with every round's rate."""
    summary: dict[str, Any] = {"rate": statistics.median(measured["rate"] for measured in rounds)}
    summary["rates"] = [measured["rate"] for measured in rounds]
    if "server_seconds" in rounds[0]:
        shares = [measured["server_seconds"] / measured["seconds"] for measured in rounds]
        summary["server_share"] = statistics.median(shares)
    return summary


def load_average() -> str:
    return " / ".join(f"{load:.2f}" for load in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--points", type=int, default=200_000, help="points per measurement (a multiple of 10)")
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1_000, 10_000], help="driftloop's")
    parser.add_argument("--rounds", type=int, default=3, help="measurements of each; the median is printed")
    parser.add_argument("--bench-venv", type=Path, default=REPOSITORY / ".venv-bench", help="where MLflow is")
    parser.add_argument("--skip-mlflow", action="store_true")
    parser.add_argument("--json", action="store_true", help="also print the results as one JSON line")
    args = parser.parse_args()
    if args.points <= 0 or args.points % len(KEYS) or args.rounds < 1 or min(args.batch_sizes) < 1:
        parser.error("--points must be a positive multiple of 10; --rounds and --batch-sizes at least 1")
    mlflow_bin = args.bench_venv / "bin"
    mlflow_python = mlflow_bin / "python"
    with_mlflow = not args.skip_mlflow and (mlflow_bin / "mlflow").exists()
    if not with_mlflow and not args.skip_mlflow:
        print(f"MLflow is not in {args.bench_venv}; `make .venv-bench/.installed` builds it. Its rows are skipped.")

    load_before = load_average()
    with tempfile.TemporaryDirectory(prefix="driftloop-bench-") as temporary:
        folder = Path(temporary)
        ours_url, ours_log = f"http://127.0.0.1:{free_port()}/api/v1", folder / "driftloop-server.log"
        servers = [start_driftloop(folder, ours_url, ours_log)]
        try:
            theirs_url = f"http://127.0.0.1:{free_port()}"
            if with_mlflow:
                servers.append(start_mlflow(folder, mlflow_bin, theirs_url))
            ours: dict[int, list[dict[str, float]]] = {size: [] for size in args.batch_sizes}
            theirs: list[dict[str, float]] = []
            by_client: list[dict[str, float]] = []
            server_url = ours_url.removesuffix("/api/v1")
            with httpx.Client(base_url=ours_url, timeout=300) as client:
                # Untimed: the servers' first requests run code paths (and fill caches) once.
                for size in args.batch_sizes:
                    bench_driftloop(client, ours_log, WARM_UP_POINTS, min(size, WARM_UP_POINTS))
                bench_client(server_url, client, ours_log, WARM_UP_POINTS)
                if with_mlflow:
                    bench_mlflow(mlflow_python, theirs_url, WARM_UP_POINTS, "warm-up")
                for round_number in range(args.rounds):
                    for size in args.batch_sizes:
                        ours[size].append(bench_driftloop(client, ours_log, args.points, size))
                    by_client.append(bench_client(server_url, client, ours_log, args.points))
                    if with_mlflow:
                        theirs.append(bench_mlflow(mlflow_python, theirs_url, args.points, f"bench-{round_number}"))
        finally:
            for server in servers:
                stop(server)
    load_after = load_average()

    results = {size: median_of(rounds) for size, rounds in ours.items()}
    mlflow = median_of(theirs) if theirs else None
    print(f"{args.points:,} points (10 keys), median of {args.rounds} rounds; one client, one request at a time")
    for size, result in results.items():
        rounds = ", ".join(f"{rate:,.0f}" for rate in result["rates"])
        print(
            f"driftloop server  batches of {size:>6,}: {result['rate']:>9,.0f} points/s"
            f"  (rounds {rounds}; the server's share of the time {result['server_share']:.0%})"
        )
    through_client = median_of(by_client)
    rounds = ", ".join(f"{rate:,.0f}" for rate in through_client["rates"])
    print(
        f"driftloop client  log_metric per point: {through_client['rate']:>9,.0f} points/s"
        f"  (rounds {rounds}; the server's share of the time {through_client['server_share']:.0%})"
    )
    if mlflow is not None:
        rounds = ", ".join(f"{rate:,.0f}" for rate in mlflow["rates"])
        print(f"mlflow server     log_batch of {MLFLOW_BATCH:>5,}: {mlflow['rate']:>9,.0f} points/s  (rounds {rounds})")
        for size, result in results.items():
            ratio = result["rate"] / mlflow["rate"]
            print(f"ratio             driftloop (batches of {size:,}) / mlflow: {ratio:,.1f}x")
        print(f"ratio             driftloop client / mlflow: {through_client['rate'] / mlflow['rate']:,.1f}x")
    for size, result in results.items():
        met = "met" if result["rate"] >= GOAL else "NOT met"
        print(f"goal              >= {GOAL:,} points/s with batches of {size:,}: {met}")
    met = "met" if through_client["rate"] >= GOAL else "NOT met"
    print(f"goal              >= {GOAL:,} points/s through driftloop's client: {met}")
    print(f"load average      before {load_before}, after {load_after} (1 / 5 / 15 min)")
    if args.json:
        ours_json = {str(size): result for size, result in results.items()}
        print(json.dumps({"driftloop": ours_json, "driftloop_client": through_client, "mlflow": mlflow}))


if __name__ == "__main__":
    main()
