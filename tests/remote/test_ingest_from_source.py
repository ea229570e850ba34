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


def test_a_bucket_is_read_only_under_the_prefixes_the_server_allows(
    tmp_path: Path, s3_bucket: str, moto_endpoint: str
) -> None:
    from tests.conftest import s3_client

    s3_client(moto_endpoint).put_object(Bucket=s3_bucket, Key="incoming/sales.csv", Body=CSV)
    s3_client(moto_endpoint).put_object(Bucket=s3_bucket, Key="private/salaries.csv", Body=CSV)
    allowed, elsewhere = f"s3://{s3_bucket}/incoming/sales.csv", f"s3://{s3_bucket}/private/salaries.csv"
    with remote_workspace(tmp_path / "closed") as ws:
        datasets = ws.datasets
        assert isinstance(datasets, RemoteDatasets)
        # The server reads buckets with its own credentials: none is open to an editor by default.
        with pytest.raises(PermissionDenied, match=r"only under the bucket prefixes its admin allows \(now: none\)"):
            datasets.ingest_url("sales", allowed)
    settings = WorkspaceServerSettings(source_buckets=(f"s3://{s3_bucket}/incoming/",))
    with remote_workspace(tmp_path / "open", settings=settings) as ws:
        datasets = ws.datasets
        assert isinstance(datasets, RemoteDatasets)
        assert datasets.ingest_url("sales", allowed).rows == 3
        for url in (elsewhere, f"s3://{s3_bucket}/incoming-old/sales.csv", f"s3://{s3_bucket}/incoming/../private/a"):
            with pytest.raises((PermissionDenied, InvalidInput)):
                datasets.ingest_url("sales", url)
        assert [v.number for v in stores_of(ws).datasets.versions("sales")] == [1]


def test_the_workspace_storage_is_never_a_source_and_bad_prefixes_stop_the_server() -> None:
    from driftloop.errors import InvalidSettings
    from driftloop.server._data import check_source_url

    with pytest.raises(PermissionDenied, match="inside the workspace's own storage"):
        check_source_url(
            "s3://team/ws/artifacts/blobs/sha256/ab/cd",
            allow_private=False,
            buckets=("s3://team",),
            own_storage=("s3://team/ws/artifacts", "s3://team/ws/tables"),
        )
    for wrong in ("https://data.example/", "s3://", "s3://bucket/a/../b", "/srv/data", "s3://bucket/?x=1"):
        with pytest.raises(InvalidSettings):
            WorkspaceServerSettings(source_buckets=(wrong,))
    with pytest.raises(InvalidSettings, match="a list of bucket URLs"):
        WorkspaceServerSettings(source_buckets="s3://bucket")  # type: ignore[arg-type]
