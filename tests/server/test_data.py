"""Datasets through the server: an uploaded file ingested as a version, read back as Parquet and as an Arrow stream,
with its profile; size limits, formats, unknown names, and grants on one dataset."""

from __future__ import annotations

import hashlib
import io
import json
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from fastapi.testclient import TestClient
from tests.server.conftest import People

from driftloop import Workspace
from driftloop.entities import Role

CSV = b"area,district,price\n50.5,north,100\n72.0,south,150\n90.25,north,210\n"


def upload(client: TestClient, headers: dict[str, str], name: str = "houses", **params: str) -> Any:
    """Ingest :data:`CSV` into ``name`` as ``houses.csv``; the answer's JSON."""
    answer = client.post(
        f"/api/v1/datasets/{name}/versions",
        content=CSV,
        params={"filename": "houses.csv", **params},
        headers={"Content-Type": "text/csv", **headers},
    )
    assert answer.status_code in (200, 201), answer.text
    return answer.json()


def test_an_uploaded_csv_becomes_a_version_that_reads_back_as_parquet_and_arrow(
    client: TestClient, people: People, sqlite_workspace: Workspace
) -> None:
    editor = people.headers("ana", Role.EDITOR)
    ingested = upload(client, editor)
    assert (ingested["created"], ingested["rows"], ingested["version"]["number"]) == (True, 3, 1)
    assert ingested["version"]["source"] == "CSV upload 'houses.csv' by ana from testclient"
    assert ingested["report"]["rows"] == 3
    stored = sqlite_workspace.datasets.get("houses", 1).to_arrow()
    assert stored.column("price").to_pylist() == [100, 150, 210]

    viewer = people.headers("vic", Role.VIEWER)
    as_parquet = client.get("/api/v1/datasets/houses/versions/1/data", headers=viewer)
    assert as_parquet.status_code == 200 and as_parquet.headers["content-type"] == "application/vnd.apache.parquet"
    assert as_parquet.headers["content-disposition"] == "attachment; filename*=UTF-8''houses-v1.parquet"
    assert pq.read_table(io.BytesIO(as_parquet.content)).equals(stored)
    as_arrow = client.get("/api/v1/datasets/houses/versions/latest/data", params={"format": "arrow"}, headers=viewer)
    assert as_arrow.headers["content-type"] == "application/vnd.apache.arrow.stream"
    assert pa.ipc.open_stream(as_arrow.content).read_all().equals(stored)

    again = client.post("/api/v1/datasets/houses/versions", content=CSV, headers={"Content-Type": "text/csv", **editor})
    assert again.status_code == 200 and again.json()["created"] is False  # identical data: no new version
    profile = client.get("/api/v1/datasets/houses/versions/latest/profile", headers=viewer).json()
    assert profile["rows"] == 3 and set(profile["columns"]) == {"area", "district", "price"}
    assert client.get("/api/v1/datasets/houses/versions/1/report", headers=viewer).json()["rows"] == 3
    versions = client.get("/api/v1/datasets/houses/versions", headers=viewer).json()
    assert [version["number"] for version in versions] == [1]
    assert [dataset["name"] for dataset in client.get("/api/v1/datasets", headers=viewer).json()] == ["houses"]
    actions = {(event.action, event.actor) for event in sqlite_workspace.events.list(object_type="dataset")}
    assert ("dataset.version", "ana") in actions


def test_a_large_version_streams_in_batches(client: TestClient, people: People, sqlite_workspace: Workspace) -> None:
    rows = 200_000
    frame = pa.table({"x": pa.array(range(rows), pa.int64()), "y": pa.array([float(i) / 3 for i in range(rows)])})
    sqlite_workspace.datasets.ingest("big", frame, batch_rows=50_000)
    viewer = people.headers("vic", Role.VIEWER)
    with client.stream("GET", "/api/v1/datasets/big/versions/1/data", headers=viewer) as answer:
        chunks = list(answer.iter_raw())
    assert len(chunks) > 1
    assert pq.read_table(io.BytesIO(b"".join(chunks))).equals(sqlite_workspace.datasets.get("big").to_arrow())


def test_a_parquet_upload_modes_and_formats(client: TestClient, people: People, sqlite_workspace: Workspace) -> None:
    editor = people.headers("ana", Role.EDITOR)
    sink = io.BytesIO()
    pq.write_table(pa.table({"area": [10.0, 20.0], "district": ["east", "west"], "price": [1, 2]}), sink)
    first = client.post(
        "/api/v1/datasets/flats/versions",
        content=sink.getvalue(),
        params={"format": "parquet"},
        headers={"Content-Type": "application/octet-stream", **editor},
    )
    assert first.status_code == 201
    assert first.json()["version"]["source"] == "Parquet upload without a file name by ana from testclient"
    replaced = upload(client, editor, "flats", mode="overwrite")
    assert (replaced["version"]["number"], replaced["version"]["total_rows"]) == (2, 3)

    unknown_type = client.post(
        "/api/v1/datasets/flats/versions", content=CSV, headers={"Content-Type": "application/json", **editor}
    )
    assert unknown_type.status_code == 415 and unknown_type.json()["error"]["code"] == "unsupported_media"
    bad_mode = client.post(
        "/api/v1/datasets/flats/versions",
        content=CSV,
        params={"mode": "merge"},
        headers={"Content-Type": "text/csv", **editor},
    )
    assert bad_mode.status_code == 422
    malformed = client.post(
        "/api/v1/datasets/flats/versions",
        content=b"not parquet at all",
        params={"format": "parquet"},
        headers=editor,
    )
    assert malformed.status_code == 422 and malformed.json()["error"]["code"] == "invalid_data"
    assert [version.number for version in sqlite_workspace.datasets.versions("flats")] == [1, 2]


def put_document(client: TestClient, headers: dict[str, str], document: bytes, name: str = "houses") -> str:
    """Upload ``document`` as a file an ingest can name; its SHA-256."""
    digest = hashlib.sha256(document).hexdigest()
    answer = client.put(f"/api/v1/datasets/{name}/files/{digest}", content=document, headers=headers)
    assert answer.status_code == 204, answer.text
    return digest


def test_an_ingest_names_an_uploaded_transform_and_schema(
    client: TestClient, people: People, sqlite_workspace: Workspace
) -> None:
    editor = people.headers("ana", Role.EDITOR)
    steps = json.dumps([{"kind": "derive", "column": "price_per_m2", "expression": "price / area"}]).encode()
    schema = {
        "columns": [
            {"name": name, "dtype": dtype, "nullable": False}
            for name, dtype in (("area", "float64"), ("district", "string"), ("price", "int64"))
        ]
        + [{"name": "price_per_m2", "dtype": "float64", "nullable": False, "maximum": 2.2, "promoted": ["range"]}]
    }
    transform, checked = put_document(client, editor, steps), put_document(client, editor, json.dumps(schema).encode())
    ingested = upload(client, editor, transform=transform, schema=checked, on_rule_failure="quarantine")
    assert (ingested["rows"], ingested["quarantined_rows"]) == (2, 1)  # 210 / 90.25 is past the promoted maximum
    stored = sqlite_workspace.datasets.get("houses")
    assert stored.to_arrow().column("price_per_m2").to_pylist() == [100 / 50.5, 150 / 72.0]
    fitted = stored.transform()
    assert fitted is not None and fitted.transform.to_dict() == json.loads(steps)
    again = upload(client, editor, "again", transform=put_document(client, editor, fitted.to_json().encode(), "again"))
    assert again["created"] and again["version"]["transform_hash"] == fitted.hash


def test_documents_an_ingest_names_are_checked_before_anything_is_stored(
    client: TestClient, people: People, sqlite_workspace: Workspace, monkeypatch: pytest.MonkeyPatch
) -> None:
    from driftloop.server import _data as server_data

    editor = people.headers("ana", Role.EDITOR)

    def refused(**params: str) -> str:
        answer = client.post(
            "/api/v1/datasets/houses/versions",
            content=CSV,
            params=params,
            headers={"Content-Type": "text/csv", **editor},
        )
        assert answer.status_code in (400, 422), answer.text  # invalid_input, or invalid_data where the data decides
        return str(answer.json()["error"]["message"])

    wrong = client.put(f"/api/v1/datasets/houses/files/{'0' * 64}", content=b"[]", headers=editor)
    assert wrong.status_code == 400 and "not the 0000" in wrong.json()["error"]["message"]
    assert "names no uploaded file" in refused(transform="a" * 64)
    assert "is not JSON" in refused(schema=put_document(client, editor, b"{not json"))
    assert "unknown" in refused(transform=put_document(client, editor, b'[{"kind": "explode"}]')).lower()
    damaged = {
        "format": 1,
        "steps": [{"kind": "impute", "columns": ["area"], "strategy": "mean"}],
        "statistics": [],
        "input_schema": {"area": "float64"},
    }
    assert "statistics" in refused(transform=put_document(client, editor, json.dumps(damaged).encode()))
    assert "no column 'x'" in refused(transform=put_document(client, editor, b'[{"kind": "select", "columns": ["x"]}]'))
    short = client.post("/api/v1/datasets/houses/versions", params={"transform": "short"}, headers=editor)
    assert short.status_code == 422  # not a SHA-256
    # A digest naming a large file (a model, another dataset's data) is refused before it is read.
    monkeypatch.setattr(server_data, "MAX_DOCUMENT_BYTES", 8)
    assert "names a file of 19 bytes; a schema document is at most 8" in refused(
        schema=put_document(client, editor, b'{"columns": [  ]}  ')
    )
    assert sqlite_workspace.datasets.list() == []


def test_an_upload_past_the_limit_answers_413_and_stores_nothing(
    client: TestClient, people: People, sqlite_workspace: Workspace
) -> None:
    editor = people.headers("ana", Role.EDITOR)
    body = b"area,price\n" + b"1.0,2\n" * 60_000  # 360 kB; the limit is 256 KiB
    declared = client.post(
        "/api/v1/datasets/huge/versions", content=body, headers={"Content-Type": "text/csv", **editor}
    )
    assert declared.status_code == 413
    assert declared.json()["error"] == {
        "code": "payload_too_large",
        "message": "The body has 360,011 bytes; the limit is 262,144.",
    }
    streamed = client.post(
        "/api/v1/datasets/huge/versions",
        content=iter([body[:200_000], body[200_000:]]),
        headers={"Content-Type": "text/csv", **editor},
    )
    assert streamed.status_code == 413
    assert sqlite_workspace.datasets.list() == []


def test_unknown_names_answer_404(client: TestClient, people: People) -> None:
    viewer = people.headers("vic", Role.VIEWER)
    for target in (
        "/api/v1/datasets/ghost/versions",
        "/api/v1/datasets/ghost/versions/1",
        "/api/v1/datasets/ghost/versions/latest/data",
        "/api/v1/datasets/ghost/versions/1/profile",
    ):
        answer = client.get(target, headers=viewer)
        assert answer.status_code == 404, (target, answer.text)
        assert answer.json()["error"]["code"] == "not_found"
    upload(client, people.headers("ana", Role.EDITOR))
    assert client.get("/api/v1/datasets/houses/versions/7", headers=viewer).status_code == 404
    assert client.get("/api/v1/datasets/houses/versions/first", headers=viewer).status_code == 422


def test_a_grant_on_one_dataset_opens_that_dataset_only(client: TestClient, people: People) -> None:
    owner = people.headers("dana", Role.EDITOR, "dataset:houses")
    assert upload(client, owner)["created"] is True
    other = client.post("/api/v1/datasets/flats/versions", content=CSV, headers={"Content-Type": "text/csv", **owner})
    assert other.status_code == 403
    assert "needs the role editor on dataset:flats; it holds no role" in other.json()["error"]["message"]
    assert client.get("/api/v1/datasets/houses/versions/1/data", headers=owner).status_code == 200
    assert client.get("/api/v1/datasets", headers=owner).status_code == 403  # listing is a workspace read
    reader = people.headers("vic", Role.VIEWER)
    refused = client.post(
        "/api/v1/datasets/houses/versions", content=CSV, headers={"Content-Type": "text/csv", **reader}
    )
    assert refused.status_code == 403


def test_a_csv_whose_columns_cannot_be_told_apart_is_refused(client: TestClient, people: People) -> None:
    # Each of these reached pyarrow or Polars unchecked and answered 500.
    editor = people.headers("ana", Role.EDITOR)
    for header, problem in (
        ("area,area", "2 are named 'area'"),
        ("area,_source_row", "'_source_row' is reserved"),
        ("area,", "column 2 has none"),
    ):
        answer = client.post(
            "/api/v1/datasets/houses/versions",
            content=f"{header}\n1.5,2\n".encode(),
            headers={"Content-Type": "text/csv", **editor},
        )
        assert answer.status_code == 422, answer.text
        assert answer.json()["error"]["code"] == "invalid_data" and problem in answer.json()["error"]["message"]


def test_an_upload_that_cannot_be_read_is_named_as_the_client_named_it(client: TestClient, people: People) -> None:
    editor = people.headers("ana", Role.EDITOR)
    for params, named in (({"filename": "sales.csv"}, "sales.csv"), ({}, "upload.csv")):
        answer = client.post(
            "/api/v1/datasets/houses/versions",
            content=b"",
            params=params,
            headers={"Content-Type": "text/csv", **editor},
        )
        assert answer.status_code == 422, answer.text
        message = answer.json()["error"]["message"]
        assert message.startswith(f"CSV file {named} is empty") and "driftloop-upload" not in message
    checked = client.post(
        "/api/v1/datasets/houses/validate", content=b"", headers={"Content-Type": "text/csv", **editor}
    )
    assert checked.status_code == 422 and "driftloop-upload" not in checked.json()["error"]["message"]
