"""Files over http(s) and paginated web APIs, against a real HTTP server on 127.0.0.1."""

from __future__ import annotations

import gzip
import json
import socket
import threading
import urllib.parse
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from driftloop.data.sources import FileSource, WebApiSource, open_source
from driftloop.errors import InvalidData, InvalidInput, SourceError

RECORDS = [{"id": i, "district": f"district {i % 4}", "price": i * 1.5} for i in range(1, 26)]
PAGE = 10
SECRET = "Bearer top-secret-token"
CSV = "id,district,price\n" + "".join(f"{r['id']},{r['district']},{r['price']}\n" for r in RECORDS)


class Api(BaseHTTPRequestHandler):
    """Routes of the test server; ``server.calls`` counts requests by path (query excluded)."""

    server: Server

    def log_message(self, format: str, *args: Any) -> None:
        pass  # keep test output clean

    def do_GET(self) -> None:
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query))
        calls = self.server.count(url.path)
        route = url.path.strip("/").replace("/", "_").replace("-", "_").replace(".", "_")
        handler = getattr(self, f"route_{route}", None)
        if handler is None:
            self.reply(404, {"error": "no such route"})
            return
        handler(query, calls)

    def reply(self, status: int, body: object, headers: dict[str, str] | None = None) -> None:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def base(self) -> str:
        return f"http://{self.headers['Host']}"

    # files
    def route_files_houses_csv(self, query: dict[str, str], calls: int) -> None:
        self.reply(200, CSV.encode())

    def route_files_houses_csv_gz(self, query: dict[str, str], calls: int) -> None:
        self.reply(200, gzip.compress(CSV.encode()))

    def route_files_houses_parquet(self, query: dict[str, str], calls: int) -> None:
        self.reply(200, self.server.parquet)

    def route_files_private_csv(self, query: dict[str, str], calls: int) -> None:
        if self.headers.get("Authorization") != SECRET:
            self.reply(401, {"error": "unauthorised"})
        else:
            self.reply(200, CSV.encode())

    # pagination styles
    def route_api_next(self, query: dict[str, str], calls: int) -> None:
        cursor = int(query.get("cursor", "0"))
        more = cursor + PAGE < len(RECORDS)
        self.reply(
            200,
            {"data": RECORDS[cursor : cursor + PAGE], "next": f"/api/next?cursor={cursor + PAGE}" if more else None},
        )

    def route_api_links_next(self, query: dict[str, str], calls: int) -> None:
        cursor = int(query.get("cursor", "0"))
        more = cursor + PAGE < len(RECORDS)
        link = f"{self.base()}/api/links-next?cursor={cursor + PAGE}" if more else None
        self.reply(
            200, {"meta": {"total": 25}, "result": {"items": RECORDS[cursor : cursor + PAGE]}, "links": {"next": link}}
        )

    def route_api_next_page(self, query: dict[str, str], calls: int) -> None:
        cursor = int(query.get("cursor", "0"))
        more = cursor + PAGE < len(RECORDS)
        link = f"?cursor={cursor + PAGE}" if more else None
        self.reply(200, {"results": RECORDS[cursor : cursor + PAGE], "next_page": link, "count": 25})

    def route_api_link_header(self, query: dict[str, str], calls: int) -> None:
        cursor = int(query.get("cursor", "0"))
        headers = {}
        if cursor + PAGE < len(RECORDS):
            headers["Link"] = (
                f'<{self.base()}/api/link-header?cursor={cursor + PAGE}>; rel="next", </api/x>; rel="last"'
            )
        self.reply(200, RECORDS[cursor : cursor + PAGE], headers)

    def route_api_pages(self, query: dict[str, str], calls: int) -> None:
        size = int(query.get("limit", PAGE))
        start = (int(query["page"]) - 1) * size
        self.reply(200, {"data": RECORDS[start : start + size]})

    def route_api_offsets(self, query: dict[str, str], calls: int) -> None:
        offset, limit = int(query["offset"]), int(query.get("limit", PAGE))
        self.reply(200, RECORDS[offset : offset + min(limit, 7)])  # the server caps pages at 7

    def route_api_single(self, query: dict[str, str], calls: int) -> None:
        self.reply(200, {"houses": RECORDS[:3]})

    # failures
    def route_api_flaky(self, query: dict[str, str], calls: int) -> None:
        if calls <= 2:
            self.reply(503, {"error": "warming up"})
        else:
            self.reply(200, RECORDS[:3])

    def route_api_busy(self, query: dict[str, str], calls: int) -> None:
        if calls == 1:
            self.reply(429, {"error": "slow down"}, {"Retry-After": "0"})
        else:
            self.reply(200, RECORDS[:3])

    def route_api_down(self, query: dict[str, str], calls: int) -> None:
        self.reply(500, {"error": "broken"})

    def route_api_private(self, query: dict[str, str], calls: int) -> None:
        if self.headers.get("Authorization") != SECRET:
            self.reply(403, {"error": "forbidden"})
        else:
            self.reply(200, RECORDS[:2])

    def route_api_not_json(self, query: dict[str, str], calls: int) -> None:
        self.reply(200, b"<html>maintenance</html>")

    def route_api_conflict(self, query: dict[str, str], calls: int) -> None:
        page = int(query["page"])
        body = {1: [{"id": 1, "size": 10}, {"id": 2, "size": 20}], 2: [{"id": 3, "size": "large"}], 3: []}
        self.reply(200, body[page])

    def route_api_late_type(self, query: dict[str, str], calls: int) -> None:
        page = int(query["page"])
        body = {1: [{"id": 1, "note": None}], 2: [{"id": 2, "note": "new", "extra": True}], 3: []}
        self.reply(200, body[page])

    def route_api_loop(self, query: dict[str, str], calls: int) -> None:
        self.reply(200, {"data": RECORDS[:1], "next": "/api/loop"})

    def route_api_stuck(self, query: dict[str, str], calls: int) -> None:
        self.reply(200, RECORDS[:2])  # ignores ?page=


class Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, parquet: bytes) -> None:
        super().__init__(("127.0.0.1", 0), Api)
        self.parquet = parquet
        self._calls: Counter[str] = Counter()
        self._lock = threading.Lock()

    def count(self, path: str) -> int:
        with self._lock:
            self._calls[path] += 1
            return self._calls[path]

    def calls(self, path: str) -> int:
        with self._lock:
            return self._calls[path]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    parquet_path = tmp_path / "houses.parquet"
    pq.write_table(pa.Table.from_pylist(RECORDS), parquet_path, row_group_size=10)
    http_server = Server(parquet_path.read_bytes())
    thread = threading.Thread(target=http_server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    try:
        yield http_server
    finally:
        http_server.shutdown()
        http_server.server_close()
        thread.join()


def base_url(server: Server) -> str:
    host, port = server.server_address[:2]
    return f"http://{host!s}:{port}"


def read(source: Any) -> list[dict[str, Any]]:
    return pa.Table.from_batches(list(source.batches())).to_pylist()


# --- files over http -------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["houses.csv", "houses.csv.gz", "houses.parquet"])
def test_files_over_http(server: Server, name: str) -> None:
    source = open_source(f"{base_url(server)}/files/{name}", batch_rows=10)
    assert isinstance(source, FileSource)
    batches = list(source.batches())
    assert all(batch.num_rows <= 10 for batch in batches)
    assert pa.Table.from_batches(batches).to_pylist() == RECORDS


def test_a_file_behind_authorisation_keeps_its_header_secret(server: Server) -> None:
    url = f"{base_url(server)}/files/private.csv"
    with pytest.raises(SourceError) as caught:
        read(FileSource(url, headers={"Authorization": "Bearer wrong-token"}))
    assert str(caught.value) == f"GET {url} answered HTTP 401 Unauthorized."
    assert "wrong-token" not in repr(caught.value)
    assert read(FileSource(url, headers={"Authorization": SECRET})) == RECORDS


def test_a_missing_file_over_http(server: Server) -> None:
    url = f"{base_url(server)}/files/missing.csv?api_key=abc123"
    with pytest.raises(SourceError) as caught:
        read(open_source(url))
    assert str(caught.value) == f"GET {base_url(server)}/files/missing.csv?api_key=*** answered HTTP 404 Not Found."


# --- pagination styles -----------------------------------------------------------------------------


@pytest.mark.parametrize("route", ["next", "links-next", "next-page", "link-header"])
@pytest.mark.parametrize("pagination", ["auto", "next_link"])
def test_next_links(server: Server, route: str, pagination: str) -> None:
    source = WebApiSource(
        f"{base_url(server)}/api/{route}",
        pagination=pagination,  # type: ignore[arg-type]
        records_path="result.items" if route == "links-next" else None,
        batch_rows=4,
    )
    batches = list(source.batches())
    assert all(0 < batch.num_rows <= 4 for batch in batches)
    assert pa.Table.from_batches(batches).to_pylist() == RECORDS
    assert server.calls(f"/api/{route}") == 3


def test_page_numbers_until_an_empty_page(server: Server) -> None:
    assert read(WebApiSource(f"{base_url(server)}/api/pages", pagination="page")) == RECORDS
    assert server.calls("/api/pages") == 4
    assert read(WebApiSource(f"{base_url(server)}/api/pages", pagination="page", page_size=20)) == RECORDS
    assert read(WebApiSource(f"{base_url(server)}/api/pages?page=2")) == RECORDS[PAGE:]


def test_offsets_advance_by_the_records_received(server: Server) -> None:
    assert read(WebApiSource(f"{base_url(server)}/api/offsets", pagination="offset", page_size=10)) == RECORDS
    assert server.calls("/api/offsets") == 5  # 7 + 7 + 7 + 4, then an empty page
    assert read(WebApiSource(f"{base_url(server)}/api/offsets?offset=20")) == RECORDS[20:]


def test_a_single_page(server: Server) -> None:
    source = open_source(f"{base_url(server)}/api/single", format="api")
    assert isinstance(source, WebApiSource)
    assert read(source) == RECORDS[:3]


# --- retries and failures --------------------------------------------------------------------------


def test_a_flaky_endpoint_is_retried(server: Server) -> None:
    assert read(WebApiSource(f"{base_url(server)}/api/flaky", backoff=0.01)) == RECORDS[:3]
    assert server.calls("/api/flaky") == 3


def test_too_many_requests_honours_retry_after(server: Server) -> None:
    assert read(WebApiSource(f"{base_url(server)}/api/busy", backoff=30)) == RECORDS[:3]
    assert server.calls("/api/busy") == 2


def test_exhausted_retries(server: Server) -> None:
    url = f"{base_url(server)}/api/down"
    with pytest.raises(SourceError) as caught:
        read(WebApiSource(url, retries=2, backoff=0.01))
    assert str(caught.value) == f"GET {url} failed after 3 attempts; the last: HTTP 500 Internal Server Error."
    assert server.calls("/api/down") == 3


def test_a_client_error_is_not_retried_and_hides_headers(server: Server) -> None:
    url = f"{base_url(server)}/api/private"
    source = WebApiSource(url, headers={"Authorization": "Bearer wrong-token"})
    with pytest.raises(SourceError) as caught:
        read(source)
    assert str(caught.value) == f"GET {url} answered HTTP 403 Forbidden."
    assert server.calls("/api/private") == 1
    assert "wrong-token" not in repr(source) + repr(source._http) + str(caught.value)
    assert read(WebApiSource(url, headers={"Authorization": SECRET})) == RECORDS[:2]


def test_an_unreachable_server() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/api"
    with pytest.raises(SourceError, match=rf"GET {url} failed after 2 attempts; the last: ConnectError"):
        read(WebApiSource(url, retries=1, backoff=0.01))


def test_a_page_that_is_not_json(server: Server) -> None:
    url = f"{base_url(server)}/api/not-json"
    with pytest.raises(InvalidData, match=rf"Web API {url}: page 1 \({url}\) is not JSON"):
        read(WebApiSource(url))


def test_a_type_conflict_between_pages_names_page_and_column(server: Server) -> None:
    url = f"{base_url(server)}/api/conflict"
    with pytest.raises(InvalidData) as caught:
        read(WebApiSource(url, pagination="page"))
    assert str(caught.value) == (
        f"Web API {url}: column 'size' holds int64 values in earlier rows, but row 3 (record 1 of page 2) "
        "has 'large' (str)."
    )
    assert (caught.value.row, caught.value.column) == (3, "size")


def test_a_column_null_so_far_takes_the_later_type(server: Server) -> None:
    batches = list(WebApiSource(f"{base_url(server)}/api/late-type", pagination="page").batches())
    assert [batch.schema.names for batch in batches] == [["id", "note"], ["id", "note", "extra"]]
    assert batches[1].schema.field("note").type == pa.string()
    table = pa.concat_tables([pa.Table.from_batches([batch]) for batch in batches], promote_options="default")
    assert table.to_pylist() == [{"id": 1, "note": None, "extra": None}, {"id": 2, "note": "new", "extra": True}]


def test_pages_that_loop_or_repeat(server: Server) -> None:
    with pytest.raises(SourceError, match=r"page 1 .* links back to .*/api/loop, read before; the pages loop."):
        read(WebApiSource(f"{base_url(server)}/api/loop"))
    with pytest.raises(SourceError, match=r"page 2 .* repeats the page before it; the API seems to ignore 'page'."):
        read(WebApiSource(f"{base_url(server)}/api/stuck", pagination="page"))
    with pytest.raises(SourceError, match=r"has more than max_pages=2 pages; raise max_pages"):
        read(WebApiSource(f"{base_url(server)}/api/next", max_pages=2))


def test_a_records_path_that_is_not_there(server: Server) -> None:
    with pytest.raises(InvalidData, match=r"page 1 \(.*\) has no field 'data.items'; check records_path."):
        read(WebApiSource(f"{base_url(server)}/api/single", records_path="data.items"))


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        ({"url": "ftp://example.com/x"}, "The web API URL must start with http:// or https://"),
        ({"url": "https://x.org", "pagination": "cursor"}, "pagination must be one of 'auto', 'next_link'"),
        ({"url": "https://x.org", "page_size": 0}, "page_size must be a positive integer; got 0."),
        ({"url": "https://x.org", "retries": -1}, "retries must be a whole number >= 0"),
        ({"url": "https://x.org", "backoff": "fast"}, "backoff must be a number of seconds >= 0"),
        ({"url": "https://x.org", "page_param": ""}, "page_param must be a non-empty query parameter name"),
    ],
)
def test_bad_web_api_arguments(arguments: dict[str, Any], message: str) -> None:
    url = arguments.pop("url")
    with pytest.raises(InvalidInput, match=message):
        WebApiSource(url, **arguments)
