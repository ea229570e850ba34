"""Delta tables on S3-compatible storage, against moto's S3 server, and the same checks on a local folder.

moto runs in a child process (its ``ThreadedMotoServer`` on a free port): some deltalake calls hold the
GIL while they wait on the network, which would starve a server thread inside the test process. The
S3 tests skip with a message where moto is not installed (``pip install 'moto[server]'``); in CI
(``CI=true``) they fail instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from tests.conftest import AWS_VARIABLES, require_module, s3_client

from driftloop.errors import Conflict, InvalidSettings, StoreError
from driftloop.store.tables import TableStore


@dataclass
class Backend:
    store: TableStore
    files: Callable[[str], set[str]]  # every stored file of a table, relative to the table's folder


@pytest.fixture(params=["local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "local":
        root = tmp_path / "tables"

        def local_files(table: str) -> set[str]:
            folder = root / table
            return {str(path.relative_to(folder)) for path in folder.rglob("*") if path.is_file()}

        return Backend(TableStore(str(root)), local_files)
    bucket = request.getfixturevalue("s3_bucket")
    client = s3_client(request.getfixturevalue("moto_endpoint"))

    def s3_files(table: str) -> set[str]:
        prefix = f"tables/{table}/"
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        # pyarrow leaves a zero-byte "folder/" marker where it deleted a folder's last file
        return {item["Key"].removeprefix(prefix) for item in listed if not item["Key"].endswith("/")}

    return Backend(TableStore(f"s3://{bucket}/tables"), s3_files)


def frame(rows: int, seed: int, offset: int = 0) -> pa.Table:
    generator = np.random.default_rng(seed)
    return pa.table(
        {
            "id": pa.array(range(offset, offset + rows), pa.int64()),
            "value": generator.normal(size=rows),
            "district": pa.array(generator.choice(["a", "b", "c"], size=rows)),
        }
    )


def write(store: TableStore, table: str, data: pa.Table, mode: str = "append") -> int:
    staged = store.stage(table, data.to_batches(max_chunksize=4_000), fallback_schema=data.schema)
    return store.commit(staged, mode=mode, properties={"driftloop.mode": mode})  # type: ignore[arg-type]


def data_files(files: set[str]) -> set[str]:
    return {name for name in files if not name.startswith("_delta_log/")}


# -- versions ------------------------------------------------------------------------------------------


def test_two_versions_read_back_equal(backend: Backend) -> None:
    store = backend.store
    first, second = frame(10_000, seed=1), frame(2_500, seed=2, offset=10_000)
    assert write(store, "houses", first, mode="overwrite") == 0
    assert write(store, "houses", second) == 1
    assert store.read("houses", 0).equals(first)
    assert store.read("houses", 1).equals(pa.concat_tables([first, second]))
    assert pa.Table.from_batches(list(store.batches("houses", 1, batch_size=3_000))).equals(
        pa.concat_tables([first, second])
    )
    assert store.latest_version("houses") == 1 and store.exists("houses")
    assert [entry["driftloop.mode"] for entry in store.history("houses")] == ["append", "overwrite"]
    assert len(data_files(backend.files("houses"))) == 2


def test_discard_leaves_no_visible_version(backend: Backend) -> None:
    store = backend.store
    staged = store.stage("houses", frame(500, seed=3).to_batches(), fallback_schema=frame(1, seed=0).schema)
    assert len(staged.files) == 1 and backend.files("houses") == {staged.files[0][0]}
    store.discard(staged)
    assert store.latest_version("houses") is None and not store.exists("houses")
    assert backend.files("houses") == set()

    write(store, "houses", frame(100, seed=4), mode="overwrite")
    kept = backend.files("houses")
    store.discard(store.stage("houses", frame(200, seed=5).to_batches(), fallback_schema=frame(1, seed=0).schema))
    assert store.latest_version("houses") == 0 and backend.files("houses") == kept
    assert store.read("houses", 0).num_rows == 100


def test_a_failing_source_stages_nothing(backend: Backend) -> None:
    def failing() -> Iterator[pa.RecordBatch]:
        yield from frame(300, seed=6).to_batches()
        raise RuntimeError("the source went away")

    with pytest.raises(RuntimeError, match="went away"):
        backend.store.stage("houses", failing(), fallback_schema=frame(1, seed=0).schema)
    assert backend.files("houses") == set()


@pytest.mark.parametrize("table_exists", [True, False], ids=["existing-table", "new-table"])
def test_concurrent_commits_become_separate_versions(backend: Backend, table_exists: bool) -> None:
    """Both commits land as their own versions, or one fails cleanly; the table stays readable."""
    store = backend.store
    base = frame(1_000, seed=7)
    if table_exists:
        write(store, "shared", base, mode="overwrite")
    parts = {writer: frame(2_000, seed=10 + writer, offset=100_000 * (writer + 1)) for writer in (0, 1)}
    staged = {
        writer: store.stage("shared", parts[writer].to_batches(), fallback_schema=base.schema) for writer in (0, 1)
    }
    start = threading.Barrier(2)
    outcomes: dict[int, int | BaseException] = {}

    def commit(writer: int) -> None:
        start.wait()
        try:
            outcomes[writer] = store.commit(staged[writer], mode="append", properties={})
        except BaseException as error:
            outcomes[writer] = error

    threads = [threading.Thread(target=commit, args=(writer,)) for writer in (0, 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    versions = {writer: outcome for writer, outcome in outcomes.items() if isinstance(outcome, int)}
    failures = [outcome for outcome in outcomes.values() if not isinstance(outcome, int)]
    assert versions, f"neither commit landed: {failures}"
    assert all(isinstance(failure, Conflict | StoreError) for failure in failures), failures
    assert len(set(versions.values())) == len(versions)
    for writer, version in versions.items():  # each returned version holds that writer's rows
        ids = set(store.read("shared", version).column("id").to_pylist())
        assert set(parts[writer].column("id").to_pylist()) <= ids
    latest = store.read("shared", store.latest_version("shared") or 0)
    expected = (base.num_rows if table_exists else 0) + sum(parts[writer].num_rows for writer in versions)
    assert latest.num_rows == expected and len(set(latest.column("id").to_pylist())) == expected


def test_vacuum_removes_only_unreferenced_staged_files(backend: Backend) -> None:
    store = backend.store
    first, second = frame(300, seed=20), frame(200, seed=21, offset=300)
    write(store, "houses", first, mode="overwrite")
    write(store, "houses", second, mode="overwrite")  # the first version's file is removed, not gone
    crashed = store.stage("houses", frame(100, seed=22).to_batches(), fallback_schema=first.schema)
    orphan = crashed.files[0][0]

    assert store.vacuum_staged("houses") == []  # younger than the grace period
    assert store.vacuum_staged("houses", older_than=0) == [orphan]
    assert orphan not in backend.files("houses") and len(data_files(backend.files("houses"))) == 2
    assert store.read("houses", 0).equals(first) and store.read("houses", 1).equals(second)
    assert store.vacuum_staged("no-such-table", older_than=0) == []


# -- settings and credentials --------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["ftp://files.example.com/tables", "gs://bucket/tables", "http://example.com/t"])
def test_unknown_schemes_are_refused(url: str) -> None:
    with pytest.raises(InvalidSettings, match=url.replace(".", r"\.")):
        TableStore(url)


def test_urls_with_credentials_or_without_a_bucket_are_refused() -> None:
    with pytest.raises(InvalidSettings) as refused:
        TableStore("ftp://me:hunter2@files.example.com/tables")
    assert "hunter2" not in str(refused.value) and "files.example.com" in str(refused.value)
    with pytest.raises(InvalidSettings, match="carries credentials"):
        TableStore("s3://key:secret@bucket/tables")
    with pytest.raises(InvalidSettings, match="s3://bucket/prefix"):
        TableStore("s3://")


def test_building_an_s3_store_does_no_io_and_plain_http_must_be_allowed(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    store = TableStore("s3://nowhere/tables/")  # nothing listens on port 9: no request may be made
    assert store.url == "s3://nowhere/tables" and store.uri("houses") == "s3://nowhere/tables/houses"
    with pytest.raises(InvalidSettings, match="AWS_ALLOW_HTTP=true"):
        store.latest_version("houses")


def test_storage_options_override_the_environment_and_secrets_stay_out_of_errors(
    s3_bucket: str, moto_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    secret = "very-secret-value-0123456789"
    for name in AWS_VARIABLES:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # wrong on purpose: the options win
    options = {
        "aws_access_key_id": "test",
        "AWS_SECRET_ACCESS_KEY": secret,
        "endpoint": moto_endpoint,  # deltalake's short spelling counts too
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "true",
    }
    store = TableStore(f"s3://{s3_bucket}/explicit", storage_options=options)
    data = frame(1_000, seed=30)
    assert write(store, "houses", data, mode="overwrite") == 0 and store.read("houses", 0).equals(data)
    assert secret not in repr(store)

    missing = TableStore("s3://no-such-bucket-here/tables", storage_options=options)
    with pytest.raises(StoreError) as failed:
        missing.latest_version("houses")
    assert "s3://no-such-bucket-here/tables" in str(failed.value) and "NoSuchBucket" in str(failed.value)
    assert secret not in str(failed.value)
    with pytest.raises(StoreError) as failed:
        missing.stage("houses", data.to_batches(), fallback_schema=data.schema)
    assert secret not in str(failed.value)


# -- through the workspace -----------------------------------------------------------------------------


def test_a_workspace_with_s3_artifacts_ingests_and_reads_back(
    s3_bucket: str, moto_endpoint: str, tmp_path: Path
) -> None:
    require_module("s3fs", "'driftloop[s3]'")
    from driftloop import Workspace

    houses = pd.DataFrame({"area": np.linspace(30.0, 120.0, 500), "district": ["a", "b", "c", "d", "e"] * 100})
    with Workspace(tmp_path / "ws", artifacts=f"s3://{s3_bucket}/lake", actor="tester") as ws:
        result = ws.datasets.ingest("houses", houses)
        assert result.created and result.version.number == 1
        assert ws.datasets.ingest("houses", houses).created is False
        pd.testing.assert_frame_equal(ws.datasets.get("houses").to_pandas(), houses)
    keys = {item["Key"] for item in s3_client(moto_endpoint).list_objects_v2(Bucket=s3_bucket)["Contents"]}
    assert any(key.startswith("lake/tables/houses/_delta_log/") for key in keys)
    assert any(key.startswith("lake/blobs/") for key in keys)
