"""The demos' model server: ``driftloop serve``'s application on a loopback port, in a thread of this process,
and an HTTP client that scores rows and sends their labels as feedback, as any client of a deployment would."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import httpx
import pandas as pd

from driftloop.errors import InvalidState

if TYPE_CHECKING:
    from driftloop.workspace import Workspace

__all__ = ["DemoServer"]

BATCH = 250
"""Rows per prediction request."""
LABELS_PER_REQUEST = 1_000


class DemoServer:
    """Serves ``model`` (its champion, following the alias) with its prediction log on, for the demos.

    Args:
        workspace: The workspace whose registry and prediction log the server uses.
        model: The registered model to serve.
        features: The columns each request sends.
        id_column: The column of the rows' request ids (so that their labels can follow as feedback).
        out_of_range: The server's ``out_of_range`` setting (see :class:`~driftloop.serving.ServerSettings`).
    """

    def __init__(
        self,
        workspace: Workspace,
        model: str,
        features: Sequence[str],
        *,
        id_column: str,
        out_of_range: str = "flag",
    ) -> None:
        from driftloop.serving import ServerSettings, create_app

        self.model = model
        self.features = list(features)
        self.id_column = id_column
        self.app = create_app(
            workspace,
            ServerSettings(
                models=[model], monitor_interval=0, upkeep_interval=0, poll_interval=0.2, out_of_range=out_of_range
            ),
        )
        self.port = _free_port()
        self._thread: threading.Thread | None = None
        self._server: Any = None
        self.client = httpx.Client(base_url=f"http://127.0.0.1:{self.port}", timeout=60.0)

    def __enter__(self) -> DemoServer:
        import uvicorn

        config = uvicorn.Config(self.app, host="127.0.0.1", port=self.port, log_level="warning", access_log=False)
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="driftloop-demo-server", daemon=True)
        self._thread.start()
        _wait(lambda: bool(self._server.started), "the demo server did not start within 30 s")
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=30)

    def score(self, rows: pd.DataFrame) -> tuple[dict[str, Any], int]:
        """Score ``rows`` in requests of :data:`BATCH`: the predictions in order (None where a request failed)
        and the version that answered most, and how many requests failed."""
        predictions: list[Any] = [None] * len(rows)
        versions: list[int] = []
        failed = 0
        for start in range(0, len(rows), BATCH):
            part = rows.iloc[start : start + BATCH]
            body = {
                "columns": {name: _json_values(part[name]) for name in self.features},
                "request_ids": part[self.id_column].tolist(),
            }
            answer = self.client.post(f"/v1/models/{self.model}/predict", json=body)
            if answer.status_code != 200:
                failed += 1
                continue
            document = answer.json()
            predictions[start : start + len(part)] = document["predictions"]
            versions.append(int(document["version"]))
        version = max(set(versions), key=versions.count) if versions else 0
        return {"predictions": predictions, "version": version}, failed

    def send_labels(self, request_ids: Sequence[str] | pd.Series, labels: Sequence[Any] | pd.Series) -> None:
        """The true outcomes of earlier requests, as feedback."""
        pairs = list(zip(list(request_ids), _json_values(pd.Series(list(labels))), strict=True))
        for start in range(0, len(pairs), LABELS_PER_REQUEST):
            part = pairs[start : start + LABELS_PER_REQUEST]
            body = {"labels": [{"request_id": request_id, "label": label} for request_id, label in part]}
            self.client.post("/v1/feedback", json=body).raise_for_status()

    def flush(self) -> None:
        """Commit what the server buffered (predictions and labels), so the controller reads all of it."""
        self.app.state.prediction_log.flush()
        self.app.state.labels.flush()

    def wait_for_version(self, version: int) -> None:
        """Wait until the server answers with ``version`` (it follows the champion alias)."""

        def serving() -> bool:
            (model,) = self.client.get("/v1/models").json()["models"]
            return bool(model["version"] == version)

        _wait(serving, f"the server did not swap to version {version} within 30 s")


def _wait(condition: Callable[[], bool], message: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise InvalidState(message)
        time.sleep(0.05)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _json_values(column: pd.Series) -> list[Any]:
    values = column.astype(object).where(column.notna(), None).tolist()
    return [value.item() if hasattr(value, "item") else value for value in values]
