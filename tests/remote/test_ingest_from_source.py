"""An ingest the server fetches itself (``POST /datasets/{name}/versions/from-source``, ``ingest_url``): remote URLs
only, never the server's own files, and no private address unless the server allows it."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from tests.conftest import remote_workspace, stores_of

from driftloop.errors import InvalidInput, PermissionDenied
from driftloop.remote import RemoteDatasets
from driftloop.server import WorkspaceServerSettings

CSV = b"area,district\n50.0,a\n72.5,b\n90.0,a\n"


@pytest.fixture
def csv_url() -> Iterator[str]:
    """A CSV file on a local HTTP server (a private address: loopback)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "text/csv")
            self.send_header("Content-Length", str(len(CSV)))
            self.end_headers()
            self.wfile.write(CSV)

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/sales.csv"
    server.shutdown()
    server.server_close()


def test_a_private_address_is_refused_unless_the_server_allows_it(tmp_path: Path, csv_url: str) -> None:
    with remote_workspace(tmp_path / "closed") as ws:
        datasets = ws.datasets
        assert isinstance(datasets, RemoteDatasets)
        with pytest.raises(PermissionDenied, match=r"private address \(127\.0\.0\.1\)"):
            datasets.ingest_url("sales", csv_url)
        assert stores_of(ws).datasets.list() == []
    with remote_workspace(tmp_path / "open", settings=WorkspaceServerSettings(private_sources=True)) as ws:
        datasets = ws.datasets
        assert isinstance(datasets, RemoteDatasets)
        result = datasets.ingest_url("sales", csv_url)
        assert (result.created, result.rows) == (True, 3)
        assert datasets.ingest_url("sales", csv_url).created is False
        (version,) = stores_of(ws).datasets.versions("sales")
        assert csv_url in version.source


@pytest.mark.parametrize("url", ["file:///etc/passwd", "/etc/passwd", "../ws/driftloop.db", "ftp://host/a.csv"])
def test_the_server_never_reads_its_own_files(tmp_path: Path, url: str) -> None:
    settings = WorkspaceServerSettings(private_sources=True)
    with remote_workspace(tmp_path, settings=settings) as ws:
        datasets = ws.datasets
        assert isinstance(datasets, RemoteDatasets)
        with pytest.raises(InvalidInput, match="Upload a local file instead"):
            datasets.ingest_url("sales", url)
