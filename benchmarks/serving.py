"""Serving throughput and latency: driftloop serve, a bare FastAPI + ONNX floor, and ``mlflow models serve``.

    .venv-bench/bin/python benchmarks/serving.py [--seconds 10] [--connections 8 32] [--skip-mlflow]

The same model for all three: a scikit-learn pipeline (standard scaling, logistic regression) on scikit-learn's
breast_cancer data (30 features). driftloop serves its registered version with input checking, the prediction
log, metrics and the JSON access log on; the floor is a FastAPI app that parses the same ``dataframe_split``
body with orjson and calls the same ONNX model (driftloop's validated copy) with no checks and no logging;
MLflow 3 serves the same fitted pipeline logged with ``mlflow.sklearn`` (``--env-manager local``). One uvicorn
worker each on loopback; ``wrk -t1`` sends single-row ``POST /invocations`` requests at each connection count
(a Lua script sets the body and reports the percentiles as JSON). The floor and driftloop run side by side and
wrk alternates between them for ``--rounds`` rounds (the machine's speed drifts; both see the same spells);
the medians are compared. MLflow runs afterwards.

Printed per connection count: requests per second, p50 and p99 latency, non-2xx answers, and the ratios the
serving issue sets (driftloop ≥ 0.75× the floor's throughput; driftloop's p99 ≤ 1/20 of MLflow's). After the
runs, driftloop is stopped with SIGTERM and its prediction table must hold exactly as many rows as its
``/metrics`` counted 2xx answers for the model. Then, report-only rows: 1,000-row batches (the round trip on
loopback, and the server's own time from its access log, from the request to the last byte of the answer)
and a LightGBM pipeline with a categorical input (one-hot district, the demo's kind of model) under the same
wrk load.

Needs ``wrk`` (Debian's package) on PATH. Without MLflow installed (``make bench`` installs it), its rows are
skipped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from _servers import free_port, stop, wait_ready

FLOOR_APP = '''
"""The floor: FastAPI + orjson + onnxruntime, no checks, no logging."""
import numpy as np, onnxruntime, orjson
from fastapi import FastAPI, Request
from fastapi.responses import Response

options = onnxruntime.SessionOptions()
options.log_severity_level = 3
session = onnxruntime.InferenceSession(open("{model}", "rb").read(),
                                       options, providers=["CPUExecutionProvider"])
input_name = session.get_inputs()[0].name
dtype = np.float64 if "double" in session.get_inputs()[0].type else np.float32
app = FastAPI()

@app.post("/invocations")
async def invocations(request: Request) -> Response:
    body = orjson.loads(await request.body())
    matrix = np.asarray(body["dataframe_split"]["data"], dtype=dtype)
    labels = session.run(None, {{input_name: matrix}})[0]
    return Response(orjson.dumps({{"predictions": labels.tolist()}}), media_type="application/json")
'''

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}"):read("*a")
done = function(summary, latency, requests)
  io.write(string.format(
    '\\nRESULT {{"requests": %d, "seconds": %f, "non2xx": %d, "socket_errors": %d, "p50_ms": %f, "p99_ms": %f}}\\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000))
end
"""


def run_wrk(port: int, body: Path, seconds: int, connections: int, root: Path) -> dict[str, Any]:
    script = root / "post.lua"
    script.write_text(WRK_SCRIPT.format(body=body))
    command = [
        "wrk",
        "-t1",
        f"-c{connections}",
        f"-d{seconds}s",
        "-s",
        str(script),
        f"http://127.0.0.1:{port}/invocations",
    ]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    match = re.search(r"RESULT (\{.*\})", output)
    if match is None:
        raise SystemExit(f"wrk printed no result:\n{output}")
    result: dict[str, Any] = json.loads(match.group(1))
    result["rps"] = result["requests"] / result["seconds"]
    return result


def breast_cancer_model() -> tuple[Any, pd.DataFrame, pd.Series]:
    from sklearn.datasets import load_breast_cancer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    data = load_breast_cancer(as_frame=True)
    frame = data.data.rename(columns=lambda name: name.replace(" ", "_"))
    model = Pipeline([("scale", StandardScaler()), ("logistic", LogisticRegression(max_iter=5000))])
    return model.fit(frame, data.target), frame, data.target


def lightgbm_pipeline(rows: int = 5_000) -> tuple[Any, pd.DataFrame]:
    import lightgbm
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import OneHotEncoder

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "area": rng.uniform(25, 200, rows),
            "rooms": rng.integers(1, 6, rows).astype(float),
            "age": rng.uniform(0, 60, rows),
            "distance": rng.uniform(0.5, 25, rows),
            "district": rng.choice(["d1", "d2", "d3", "d4", "d5", "d6"], rows),
        }
    )
    price = 2_000 * frame["area"] - 30 * frame["age"] - 500 * frame["distance"] + rng.normal(0, 5_000, rows)
    prepare = ColumnTransformer(
        [("district", OneHotEncoder(handle_unknown="ignore"), ["district"])], remainder="passthrough"
    )
    model = Pipeline([("prepare", prepare), ("boost", lightgbm.LGBMRegressor(n_estimators=100, verbose=-1, n_jobs=1))])
    return model.fit(frame, price), frame


def start_driftloop(root: Path, model: str, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "DRIFTLOOP_ROOT": str(root / "ws")}
    driftloop = Path(sys.executable).with_name("driftloop")
    command = [str(driftloop), "serve", model, "--port", str(port)]
    log = (root / f"driftloop-{model}.log").open("wb")
    return subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)


def served_2xx(port: int, model: str) -> int:
    import httpx

    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10).text
    total = 0
    for line in text.splitlines():
        if line.startswith("driftloop_requests_total{") and f'model="{model}"' in line and 'status="2' in line:
            total += int(float(line.rsplit(" ", 1)[1]))
    return total


def row(name: str, result: dict[str, Any]) -> str:
    return (
        f"  {name:<22} {result['rps']:>9,.0f} req/s   p50 {result['p50_ms']:7.2f} ms   p99 {result['p99_ms']:7.2f} ms"
        f"   non-2xx {result['non2xx']}  socket errors {result['socket_errors']}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=10, help="Seconds of load per server and connection count.")
    parser.add_argument("--connections", type=int, nargs="+", default=[8, 32])
    parser.add_argument("--rounds", type=int, default=3, help="Alternating floor/driftloop runs per count.")
    parser.add_argument("--skip-mlflow", action="store_true")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk is not on PATH (Debian: apt-get install wrk)")
    try:
        import mlflow  # noqa: F401

        with_mlflow = not args.skip_mlflow
    except ImportError:
        with_mlflow = False
        print("MLflow is not installed here: its rows are skipped (make bench installs it).")

    from driftloop import Workspace
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.store.tables import TableStore

    with tempfile.TemporaryDirectory(prefix="driftloop-bench-serving-") as folder:
        root = Path(folder)
        model, frame, target = breast_cancer_model()
        ws = Workspace(str(root / "ws"))
        holdout = frame.assign(target=target).sample(100, random_state=0)
        ws.models.register("cancer", model, target="target", holdout=holdout, training_data=frame.assign(target=target))
        ws.models.promote("cancer/1")
        loaded = ws.models.load("cancer/1")
        if loaded.onnx is None:
            raise SystemExit("the registry kept no ONNX copy of the model; the floor needs one")
        (root / "model.onnx").write_bytes(loaded.onnx.model_bytes)
        boost, houses = lightgbm_pipeline()
        ws.models.register("houses", boost, training_data=houses.assign(price=0.0), target="price")
        ws.models.promote("houses/1")
        ws.close()

        single = root / "single.json"
        single.write_bytes(
            json.dumps(
                {"dataframe_split": {"columns": list(frame.columns), "data": frame.iloc[[0]].to_numpy().tolist()}}
            ).encode()
        )
        floor_file = root / "floor_app.py"
        floor_file.write_text(FLOOR_APP.format(model=root / "model.onnx"))

        results: dict[str, dict[int, dict[str, Any]]] = {}

        def measure(name: str, port: int) -> None:
            run_wrk(port, single, 2, max(args.connections), root)  # warm-up, not counted
            results[name] = {}
            for connections in args.connections:
                results[name][connections] = run_wrk(port, single, args.seconds, connections, root)
                print(row(f"{name} c={connections}", results[name][connections]), flush=True)

        # The floor and driftloop (input checking, prediction log, metrics and access log on) run side by side;
        # wrk alternates between them, round after round, so a slow spell of the machine hits both.
        floor_port, port = free_port(), free_port()
        floor = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "floor_app:app", "--port", str(floor_port), "--log-level", "warning"],
            cwd=root,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        server = start_driftloop(root, "cancer", port)
        try:
            wait_ready(f"http://127.0.0.1:{floor_port}/docs", floor)
            wait_ready(f"http://127.0.0.1:{port}/readyz", server, log=root / "driftloop-cancer.log")
            for warm in (floor_port, port):
                run_wrk(warm, single, 2, max(args.connections), root)  # warm-up, not counted
            rounds: dict[int, list[tuple[dict[str, Any], dict[str, Any]]]] = {}
            for connections in args.connections:
                rounds[connections] = []
                for number in range(args.rounds):
                    pair = (
                        run_wrk(floor_port, single, args.seconds, connections, root),
                        run_wrk(port, single, args.seconds, connections, root),
                    )
                    rounds[connections].append(pair)
                    print(row(f"floor c={connections} #{number + 1}", pair[0]), flush=True)
                    print(row(f"driftloop c={connections} #{number + 1}", pair[1]), flush=True)
            batch = _batch_round_trip(port, frame)
            answered = served_2xx(port, "cancer")
        finally:
            stop(floor)
            stop(server)
        for connections, pairs in rounds.items():
            results.setdefault("floor (FastAPI+ONNX)", {})[connections] = _median_result([f for f, _ in pairs])
            results.setdefault("driftloop", {})[connections] = _median_result([d for _, d in pairs])
            ratios = sorted(d["rps"] / f["rps"] for f, d in pairs)
            print(
                f"  c={connections}: driftloop / floor throughput by round: "
                + ", ".join(f"{ratio:.2f}" for ratio in ratios)
                + f" (median {statistics.median(ratios):.2f})",
                flush=True,
            )
        server_ms = _server_milliseconds(root / "driftloop-cancer.log", len(batch))[5:]
        # Every answer scored one row, but the batches: 1,000 rows each.
        expected = answered - len(batch) + 1_000 * len(batch)
        logged = PredictionLog(TableStore(str(root / "ws" / "tables"))).read(model="cancer").num_rows
        print(f"  prediction table: {logged:,} rows; the 2xx answers /metrics counted scored {expected:,}", flush=True)
        if logged != expected:
            print("  MISMATCH: the prediction table and the 2xx answers differ")

        # MLflow.
        if with_mlflow:
            _mlflow(root, model, frame, measure)

        # Report-only: the LightGBM pipeline with a categorical input.
        port = free_port()
        houses_body = root / "houses.json"
        houses_body.write_bytes(
            json.dumps(
                {"dataframe_split": {"columns": list(houses.columns), "data": [houses.iloc[0].tolist()]}}
            ).encode()
        )
        server = start_driftloop(root, "houses", port)
        try:
            wait_ready(f"http://127.0.0.1:{port}/readyz", server, log=root / "driftloop-houses.log")
            run_wrk(port, houses_body, 2, max(args.connections), root)
            for connections in args.connections:
                print(
                    row(
                        f"LightGBM+one-hot c={connections}", run_wrk(port, houses_body, args.seconds, connections, root)
                    )
                )
        finally:
            stop(server)

        print()
        for label, times in (("round trip, loopback", batch[5:]), ("server time, access log", server_ms)):
            kept = sorted(times)  # the first five requests warmed up
            print(
                f"  1,000-row batch, {label}: median {statistics.median(kept):.2f} ms, "
                f"p90 {kept[int(0.9 * len(kept))]:.2f} ms"
            )
        for connections in args.connections:
            ours, floor_result = results["driftloop"][connections], results["floor (FastAPI+ONNX)"][connections]
            paired = statistics.median(d["rps"] / f["rps"] for f, d in rounds[connections])
            line = (
                f"  c={connections}: driftloop / floor throughput {paired:.2f}x (median of the rounds' ratios; "
                f"ratio of the medians {ours['rps'] / floor_result['rps']:.2f}x)"
            )
            if "mlflow" in results:
                theirs = results["mlflow"][connections]
                line += (
                    f"; driftloop / MLflow throughput {ours['rps'] / theirs['rps']:.1f}x"
                    f"; driftloop p99 / MLflow p99 {ours['p99_ms'] / theirs['p99_ms']:.3f}"
                )
            print(line)


def _batch_round_trip(port: int, frame: pd.DataFrame, repeat: int = 50) -> list[float]:
    """Milliseconds of each 1,000-row request, sent one after the other (five more than ``repeat``)."""
    import httpx

    rows = frame.sample(1_000, replace=True, random_state=1)
    body = json.dumps({"dataframe_split": {"columns": list(rows.columns), "data": rows.to_numpy().tolist()}}).encode()
    times = []
    with httpx.Client(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(repeat + 5):
            started = time.perf_counter()
            answer = client.post("/invocations", content=body, headers={"Content-Type": "application/json"})
            times.append((time.perf_counter() - started) * 1000)
            answer.raise_for_status()
    return times


def _median_result(results: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of each figure over rounds (requests per second, latency percentiles, errors summed)."""
    median = {key: statistics.median(result[key] for result in results) for key in ("rps", "p50_ms", "p99_ms")}
    median.update({key: sum(result[key] for result in results) for key in ("non2xx", "socket_errors")})
    return median


def _server_milliseconds(log: Path, last: int) -> list[float]:
    """The server's own time (its access log's ``ms``) of the ``last`` requests to ``/invocations``."""
    times = []
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("{") and '"/invocations"' in line:
            times.append(float(json.loads(line)["ms"]))
    return times[-last:]


def _mlflow(root: Path, model: Any, frame: pd.DataFrame, measure: Any) -> None:
    """Log the model to an MLflow store, serve it with ``mlflow models serve`` and measure it as ``mlflow``."""
    import warnings

    import mlflow
    import mlflow.sklearn

    warnings.filterwarnings("ignore")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    mlflow.set_tracking_uri(uri)
    experiment = mlflow.create_experiment("serving", artifact_location=(root / "mlartifacts").as_uri())
    with mlflow.start_run(experiment_id=experiment):
        mlflow.sklearn.log_model(model, name="model", registered_model_name="cancer", input_example=frame.head(2))
    port = free_port()
    # MLflow starts ``uvicorn`` by name: the environment's scripts must be on PATH.
    scripts = str(Path(sys.executable).parent)
    env = {**os.environ, "MLFLOW_TRACKING_URI": uri, "PATH": scripts + os.pathsep + os.environ.get("PATH", "")}
    command = [
        str(Path(sys.executable).with_name("mlflow")),
        "models",
        "serve",
        "-m",
        "models:/cancer/1",
        "--env-manager",
        "local",
        "-p",
        str(port),
        "-w",
        "1",
    ]
    log = (root / "mlflow.log").open("wb")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wait_ready(f"http://127.0.0.1:{port}/ping", server, log=root / "mlflow.log")
        measure("mlflow", port)
    finally:
        stop(server)


if __name__ == "__main__":
    main()
