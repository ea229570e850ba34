"""The prediction log committed from a child process: same rows, same durability, and a dead child replaced."""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest

from driftloop.errors import InvalidState
from driftloop.serving._prediction_log import PredictionLog
from driftloop.store.tables import TableStore


def append(log: PredictionLog, first: int, count: int) -> None:
    for index in range(first, first + count):
        log.append_request(
            request_ids=[f"r{index}"], model="houses", version=1, columns={"area": [float(index)]}, predictions=[2.0]
        )


def test_the_child_commits_what_was_appended_and_closes_with_the_server(tmp_path: Path) -> None:
    log = PredictionLog(TableStore(str(tmp_path)), separate_process=True)
    log.start()
    append(log, 0, 500)
    log.append_request(
        request_ids=["b1", "b2"], model="houses", version=2, columns={"area": np.array([1.0, 2.0])}, predictions=[3, 4]
    )
    assert log.flush() == 502
    append(log, 500, 10)
    log.close()
    assert (log.stats.written, log.stats.pending, log.stats.dropped) == (512, 0, 0)
    rows = PredictionLog(TableStore(str(tmp_path))).read()
    assert rows.num_rows == 512
    assert sorted(rows.column("request_id").to_pylist())[:3] == ["b1", "b2", "r0"]


def test_a_child_that_dies_is_replaced_and_later_rows_are_written(tmp_path: Path) -> None:
    log = PredictionLog(TableStore(str(tmp_path)), separate_process=True)
    append(log, 0, 10)
    assert log.flush() == 10
    child = log._writer._child  # type: ignore[union-attr]
    assert child is not None
    child.kill()
    child.wait()
    append(log, 10, 10)
    assert log.flush() == 10  # shipped to a new child
    log.close()
    assert "died" in (log.stats.last_error or "")
    assert PredictionLog(TableStore(str(tmp_path))).read().num_rows == 20


def test_the_child_ignores_ctrl_c_and_still_commits_at_close(tmp_path: Path) -> None:
    log = PredictionLog(TableStore(str(tmp_path)), separate_process=True)
    append(log, 0, 5)
    log.flush()
    child = log._writer._child  # type: ignore[union-attr]
    assert child is not None
    child.send_signal(signal.SIGINT)
    child.send_signal(signal.SIGTERM)
    time.sleep(0.2)
    assert child.poll() is None
    append(log, 5, 5)
    log.close()
    assert PredictionLog(TableStore(str(tmp_path))).read().num_rows == 10


SERVER_DIES = textwrap.dedent(
    """
    import os, sys, time
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.store.tables import TableStore

    log = PredictionLog(TableStore(sys.argv[1]), separate_process=True, flush_interval=30)
    for index in range(300):
        log.append_request(request_ids=[f"r{index}"], model="houses", version=1, columns={"area": [1.0]},
                           predictions=[2.0])
    time.sleep(0.5)  # shipped (every 0.05 s), not committed (every 30 s)
    os._exit(1)  # the server dies without closing anything
    """
)


def test_when_the_server_dies_the_child_commits_what_it_received(tmp_path: Path) -> None:
    script = tmp_path / "server.py"
    script.write_text(SERVER_DIES)
    tables = tmp_path / "tables"
    subprocess.run([sys.executable, str(script), str(tables)], timeout=120, check=False)
    deadline = time.monotonic() + 60
    while True:  # the orphaned child sees its pipe close, commits, and exits
        if TableStore(str(tables)).latest_version("_predictions") is not None:
            break
        assert time.monotonic() < deadline, "the child did not commit after the server died"
        time.sleep(0.1)
    assert PredictionLog(TableStore(str(tables))).read().num_rows == 300


def test_a_closed_writer_starts_no_new_process(tmp_path: Path) -> None:
    log = PredictionLog(TableStore(str(tmp_path)), separate_process=True)
    append(log, 0, 3)
    log.close()
    with pytest.raises(InvalidState):
        log.flush()
    with pytest.raises(InvalidState):
        append(log, 3, 1)
    assert log._writer._child is None  # type: ignore[union-attr]
    assert log.stats.written == 3
