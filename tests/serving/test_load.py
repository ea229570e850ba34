"""Under load, a real ``driftloop serve --workers 2``: alias moves swap versions with no failed request.

wrk (Debian's package; ``.ci/run`` installs it) sends single-row ``POST /invocations`` requests on 8
connections for the whole test, while the test moves the served alias ten times, between two versions, and
checks each move reaches the answers within two seconds. Every answer must be a 2xx, at 1,000 requests a
second or more, and the prediction log must hold every answered row.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from sklearn.datasets import load_breast_cancer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from tests.conftest import IN_CI
from tests.serving.test_server import free_port, wait_until_ready

from driftloop import Workspace
from driftloop.serving._prediction_log import PredictionLog
from driftloop.store.tables import TableStore

pytestmark = pytest.mark.slow

WRK_SCRIPT = """
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.body = io.open("{body}"):read("*a")
done = function(summary, latency, requests)
  io.write(string.format('\\nRESULT {{"requests": %d, "seconds": %f, "non2xx": %d, "socket_errors": %d}}\\n',
    summary.requests, summary.duration / 1e6, summary.errors.status,
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.timeout))
end
"""


def _wrk() -> str:
    path = shutil.which("wrk")
    if path is None:
        message = "wrk is not installed (Debian: apt-get install wrk)"
        if IN_CI:
            pytest.fail(f"{message}; .ci/run installs it, and CI must run the load test.")
        pytest.skip(f"{message}; install it to run the load test.")
    return path


def _served_version(client: httpx.Client, row: list[float], columns: list[str]) -> int:
    answer = client.post(
        "/v1/models/cancer/predict", json={"columns": {c: [v] for c, v in zip(columns, row, strict=True)}}
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["version"])


def test_alias_moves_under_load_fail_no_request(sqlite_workspace: Workspace, tmp_path: Path) -> None:
    wrk = _wrk()
    data = load_breast_cancer(as_frame=True)
    frame = data.data.rename(columns=lambda name: name.replace(" ", "_"))
    labelled = frame.assign(target=data.target)
    ws = sqlite_workspace
    for c in (1.0, 0.01):
        model = Pipeline([("scale", StandardScaler()), ("logistic", LogisticRegression(C=c, max_iter=5000))])
        ws.models.register("cancer", model.fit(frame, data.target), target="target", holdout=labelled.tail(100))
    ws.models.promote("cancer/1")
    columns, row = list(frame.columns), frame.iloc[0].tolist()
    body = tmp_path / "body.json"
    body.write_text(json.dumps({"dataframe_split": {"columns": columns, "data": [row]}}))
    script = tmp_path / "post.lua"
    script.write_text(WRK_SCRIPT.format(body=body))

    port = free_port()
    env = {**os.environ, "DRIFTLOOP_ROOT": ws.settings.root}
    command = [sys.executable, "-m", "driftloop", "serve", "cancer", "--port", str(port), "--workers", "2"]
    server_log = (tmp_path / "server.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=server_log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    polled = 0
    try:
        wait_until_ready(base, server, (tmp_path / "server.log").read_text)
        time.sleep(1)  # both workers up
        load = subprocess.Popen(
            [wrk, "-t1", "-c8", "-d16s", "-s", str(script), f"{base}/invocations"], stdout=subprocess.PIPE, text=True
        )
        time.sleep(1)
        with httpx.Client(base_url=base, timeout=10) as client:
            for move in range(10):
                expected = 2 if move % 2 == 0 else 1
                ws.models.set_alias("cancer", "champion", expected)
                moved = time.monotonic()
                # Each worker follows within two seconds: ten answers in a row (spread over both) show it.
                in_a_row = 0
                while in_a_row < 10:
                    polled += 1
                    in_a_row = in_a_row + 1 if _served_version(client, row, columns) == expected else 0
                    assert time.monotonic() - moved < 2.0 + 0.5, f"move {move} to version {expected} not followed"
                time.sleep(max(0.0, 1.2 - (time.monotonic() - moved)))
        output, _ = load.communicate(timeout=60)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=60)
        server_log.close()
    match = re.search(r"RESULT (\{.*\})", output)
    assert match is not None, output
    result = json.loads(match.group(1))
    assert result["non2xx"] == 0 and result["socket_errors"] == 0, result
    rate = result["requests"] / result["seconds"]
    assert rate >= 1_000, f"{rate:.0f} requests/s: the load was too light to test the swaps"
    # Every answered row is logged (SIGTERM loses none); wrk does not count the few in flight when it stopped.
    logged = PredictionLog(TableStore(ws.settings.tables_url)).read(model="cancer")
    answered = result["requests"] + polled
    assert answered <= logged.num_rows <= answered + 8, (logged.num_rows, answered)
    assert set(logged.column("version").to_pylist()) == {1, 2}
