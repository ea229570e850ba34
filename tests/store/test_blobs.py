"""Conformance suite for the blob store port: every backend must pass every test here."""

from __future__ import annotations

import hashlib
import os
import random
import time
import tracemalloc
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import fsspec
import pytest
from fsspec.core import url_to_fs
from fsspec.registry import _registry as registered_filesystems
from fsspec.registry import known_implementations
from hypothesis import given, settings
from hypothesis import strategies as st

import driftloop.store.blobs as blobs_package
from driftloop.errors import BlobIntegrityError, InvalidInput, NotFound, StoreUnavailable
from driftloop.store.blobs import BlobInfo, BlobStore, FsspecBlobStore, open_blob_store

BACKENDS = ["local", "memory"]
MISSING = hashlib.sha256(b"never stored").hexdigest()
MALFORMED = [
    "",
    "abc",
    MISSING.upper(),
    MISSING[:-1] + "g",
    MISSING + "0",
    "../" + MISSING[3:],
    "sha256:" + MISSING,
]


def _new_url(backend: str, folder: Path) -> str:
    if backend == "local":
        return str(folder / f"blobs-{uuid.uuid4().hex}")
    return f"memory://driftloop-tests-{uuid.uuid4().hex}"


def _discard(url: str) -> None:
    filesystem, root = url_to_fs(url)
    if filesystem.exists(root):
        filesystem.rm(root, recursive=True)


@pytest.fixture(params=BACKENDS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    url = _new_url(request.param, tmp_path)
    yield open_blob_store(url)
    _discard(url)


def _location(store: BlobStore, digest: str) -> tuple[Any, str]:
    """The filesystem and path of a blob's file, to tamper with it behind the store's back."""
    filesystem, root = url_to_fs(store.url)
    return filesystem, f"{root.rstrip('/')}/sha256/{digest[:2]}/{digest[2:]}"


def _stored_files(store: BlobStore) -> list[str]:
    filesystem, root = url_to_fs(store.url)
    folder = f"{root.rstrip('/')}/sha256"
    return list(filesystem.find(folder)) if filesystem.exists(folder) else []


def _is_local(store: BlobStore) -> bool:
    return not store.url.startswith("memory://")


def test_exports() -> None:
    assert sorted(blobs_package.__all__) == ["BlobInfo", "BlobStore", "FsspecBlobStore", "open_blob_store"]


def test_store_implements_the_port(store: BlobStore) -> None:
    assert isinstance(store, BlobStore)


@pytest.mark.parametrize("data", [b"", b"hello", bytes(range(256)) * 1000])
def test_put_then_get_round_trip(store: BlobStore, data: bytes) -> None:
    digest = store.put(data)

    assert digest == hashlib.sha256(data).hexdigest()
    assert store.get(digest) == data


@pytest.mark.parametrize("backend", BACKENDS)
@settings(max_examples=50, deadline=None)
@given(data=st.binary(max_size=4096))
def test_digest_is_sha256_of_bytes_and_get_returns_them(
    backend: str, data: bytes, tmp_path_factory: pytest.TempPathFactory
) -> None:
    url = _new_url(backend, tmp_path_factory.mktemp("property"))
    store = open_blob_store(url)
    try:
        digest = store.put(data)

        assert digest == hashlib.sha256(data).hexdigest()
        assert store.get(digest) == data
    finally:
        _discard(url)


def test_identical_content_is_stored_once(store: BlobStore) -> None:
    first = store.put(b"same bytes")
    second = store.put(b"same bytes")

    assert first == second
    assert len(_stored_files(store)) == 1


def test_put_file_and_get_file_round_trip_a_large_file(store: BlobStore, tmp_path: Path) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(random.Random(7).randbytes(5 * 1024 * 1024))
    destination = tmp_path / "out" / "model.bin"

    digest = store.put_file(source)
    store.get_file(digest, destination)

    assert digest == hashlib.sha256(source.read_bytes()).hexdigest()
    assert destination.read_bytes() == source.read_bytes()
    assert store.put_file(str(source)) == digest
    assert os.listdir(destination.parent) == ["model.bin"]


def test_put_file_and_get_file_stream_in_chunks(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path / "blobs"))
    source = tmp_path / "model.bin"
    source.write_bytes(random.Random(8).randbytes(5 * 1024 * 1024))

    tracemalloc.start()
    try:
        digest = store.put_file(source)
        store.get_file(digest, tmp_path / "copy.bin")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()

    assert peak < 3 * 1024 * 1024


def test_put_file_of_a_missing_file_or_a_folder_is_refused(store: BlobStore, tmp_path: Path) -> None:
    with pytest.raises(NotFound, match=r"absent\.bin"):
        store.put_file(tmp_path / "absent.bin")
    with pytest.raises(InvalidInput, match="folder"):
        store.put_file(tmp_path)


def test_open_streams_the_blob(store: BlobStore) -> None:
    data = random.Random(9).randbytes(3 * 1024 * 1024 + 17)
    digest = store.put(data)

    with store.open(digest) as reader:
        pieces = list(iter(lambda: reader.read(100_000), b""))

    assert b"".join(pieces) == data
    assert reader.closed


def test_exists_info_iter_digests_and_delete(store: BlobStore) -> None:
    before = time.time()
    digests = {store.put(b"one"), store.put(b"two"), store.put(b"three")}
    digest = hashlib.sha256(b"two").hexdigest()

    assert store.exists(digest)
    assert not store.exists(MISSING)
    info = store.info(digest)
    assert info == BlobInfo(digest=digest, size=3, modified=info.modified)
    assert info.modified is not None and before - 2 <= info.modified <= time.time() + 2
    assert set(store.iter_digests()) == digests

    store.delete(digest)

    assert not store.exists(digest)
    assert set(store.iter_digests()) == digests - {digest}
    with pytest.raises(NotFound):
        store.get(digest)
    with pytest.raises(NotFound):
        store.delete(digest)


def test_iter_digests_of_an_empty_store_yields_nothing(store: BlobStore) -> None:
    assert list(store.iter_digests()) == []


def _alter(store: BlobStore, digest: str) -> None:
    filesystem, path = _location(store, digest)
    data = bytearray(filesystem.cat_file(path))
    data[len(data) // 2] ^= 0xFF
    filesystem.pipe_file(path, bytes(data))


def _truncate(store: BlobStore, digest: str) -> None:
    filesystem, path = _location(store, digest)
    filesystem.pipe_file(path, filesystem.cat_file(path)[:-10])


def _read(store: BlobStore, how: str, digest: str, destination: Path) -> None:
    if how == "get":
        store.get(digest)
    elif how == "get_file":
        store.get_file(digest, destination)
    else:
        with store.open(digest) as reader:
            reader.read()


@pytest.mark.parametrize("read", ["get", "get_file", "open"])
@pytest.mark.parametrize("damage", [_alter, _truncate], ids=["altered", "truncated"])
def test_a_damaged_blob_is_refused_and_set_aside(
    store: BlobStore, tmp_path: Path, damage: Callable[[BlobStore, str], None], read: str
) -> None:
    digest = store.put(b"model weights " * 1000)
    damage(store, digest)
    filesystem, path = _location(store, digest)
    found = hashlib.sha256(filesystem.cat_file(path)).hexdigest()
    destination = tmp_path / "restored" / "model.bin"

    with pytest.raises(BlobIntegrityError, match="altered or corrupted") as raised:
        _read(store, read, digest, destination)

    message = str(raised.value)
    assert digest in message
    assert f"sha256/{digest[:2]}/{digest[2:]}" in message
    assert found in message
    assert "storing the content again repairs it" in message
    assert not store.exists(digest)
    assert list(store.iter_digests()) == []
    assert not destination.exists()
    assert not destination.parent.exists() or os.listdir(destination.parent) == []
    if _is_local(store):
        [kept] = (Path(store.url) / "corrupt").iterdir()
        assert kept.name.startswith(f"{digest}.")
        assert hashlib.sha256(kept.read_bytes()).hexdigest() == found
        assert f"set aside to {kept}" in message
    else:
        assert "set aside (deleted)" in message


def test_an_open_blob_keeps_failing_at_its_end(store: BlobStore) -> None:
    digest = store.put(b"model weights " * 1000)
    _alter(store, digest)

    with store.open(digest) as reader:
        with pytest.raises(BlobIntegrityError, match="set aside"):
            reader.read()
        with pytest.raises(BlobIntegrityError, match="set aside"):
            reader.read()


def test_get_file_keeps_the_old_destination_on_a_damaged_blob(store: BlobStore, tmp_path: Path) -> None:
    digest = store.put(b"new model")
    _alter(store, digest)
    destination = tmp_path / "models" / "model.bin"
    destination.parent.mkdir()
    destination.write_bytes(b"old model")

    with pytest.raises(BlobIntegrityError):
        store.get_file(digest, destination)

    assert destination.read_bytes() == b"old model"
    assert os.listdir(destination.parent) == ["model.bin"]


@pytest.mark.parametrize("write", ["put", "put_file"])
@pytest.mark.parametrize("damage", [_alter, _truncate], ids=["altered-same-size", "truncated"])
def test_storing_the_content_again_repairs_a_damaged_blob_once_a_read_found_it(
    store: BlobStore, tmp_path: Path, damage: Callable[[BlobStore, str], None], write: str
) -> None:
    source = tmp_path / "model.bin"
    source.write_bytes(b"precious bytes" * 100)
    digest = store.put(source.read_bytes())
    damage(store, digest)
    with pytest.raises(BlobIntegrityError):
        store.get(digest)

    stored = store.put(source.read_bytes()) if write == "put" else store.put_file(source)

    assert stored == digest
    assert store.get(digest) == source.read_bytes()
    assert list(store.iter_digests()) == [digest]


def test_putting_content_again_repairs_a_truncated_blob(store: BlobStore) -> None:
    digest = store.put(b"precious bytes" * 100)
    _truncate(store, digest)

    store.put(b"precious bytes" * 100)

    assert store.get(digest) == b"precious bytes" * 100


def test_a_read_sets_aside_only_the_damaged_copy_it_read(store: BlobStore) -> None:
    data = b"weights " * 1000
    digest = store.put(data)
    _truncate(store, digest)
    first, second = store.open(digest), store.open(digest)
    with first, pytest.raises(BlobIntegrityError, match="set aside"):
        first.read()
    store.put(data)

    # The second reader read the damaged copy too, but a sound one has been stored since: it stays.
    with second, pytest.raises(BlobIntegrityError, match="replaced it already"):
        second.read()

    assert store.get(digest) == data


def test_a_blob_that_cannot_be_set_aside_is_still_refused(store: BlobStore, monkeypatch: pytest.MonkeyPatch) -> None:
    digest = store.put(b"weights " * 1000)
    _alter(store, digest)

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError("read-only file system")

    with monkeypatch.context() as patch:
        if _is_local(store):
            patch.setattr(os, "rename", refuse)
        else:
            patch.setattr(url_to_fs(store.url)[0], "rm_file", refuse)
        with pytest.raises(BlobIntegrityError, match="could not be set aside") as raised:
            store.get(digest)

    assert isinstance(raised.value.__cause__, PermissionError)
    assert store.exists(digest)


def test_a_missing_digest_is_not_found(store: BlobStore, tmp_path: Path) -> None:
    for read in (store.get, store.open, store.info, store.delete):
        with pytest.raises(NotFound, match=MISSING):
            read(MISSING)
    with pytest.raises(NotFound, match=MISSING):
        store.get_file(MISSING, tmp_path / "out.bin")
    assert not (tmp_path / "out.bin").exists()
    assert not store.exists(MISSING)


@pytest.mark.parametrize("digest", MALFORMED)
def test_a_malformed_digest_is_invalid_input(store: BlobStore, tmp_path: Path, digest: str) -> None:
    calls = [store.get, store.open, store.exists, store.info, store.delete]
    for call in calls:
        with pytest.raises(InvalidInput, match="64 lowercase hexadecimal") as raised:
            call(digest)
        assert repr(digest) in str(raised.value)
    with pytest.raises(InvalidInput):
        store.get_file(digest, tmp_path / "out.bin")


def test_a_digest_that_is_not_a_string_is_invalid_input(store: BlobStore) -> None:
    with pytest.raises(InvalidInput, match="None"):
        store.get(None)  # type: ignore[arg-type]


def test_put_refuses_what_is_not_bytes(store: BlobStore) -> None:
    with pytest.raises(InvalidInput, match="str"):
        store.put("text")  # type: ignore[arg-type]


@pytest.mark.parametrize("failing", ["replace", "fsync"])
@pytest.mark.parametrize("write", ["put", "put_file"])
def test_a_crash_mid_write_leaves_no_blob_and_a_retry_succeeds(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, failing: str, write: str
) -> None:
    store = open_blob_store(str(tmp_path / "blobs"))
    source = tmp_path / "model.bin"
    source.write_bytes(b"weights" * 1000)

    def store_it() -> str:
        return store.put(source.read_bytes()) if write == "put" else store.put_file(source)

    def crash(*args: object) -> None:
        raise OSError("simulated crash")

    with monkeypatch.context() as patch:
        patch.setattr(os, failing, crash)
        with pytest.raises(OSError, match="simulated crash"):
            store_it()

    assert _stored_files(store) == []
    assert list(store.iter_digests()) == []
    assert os.listdir(tmp_path / "blobs" / "tmp") == []
    digest = store_it()
    assert store.get(digest) == source.read_bytes()
    assert os.listdir(tmp_path / "blobs" / "tmp") == []


def test_a_put_of_existing_content_refreshes_its_time_on_the_local_backend(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path / "blobs"))
    digest = store.put(b"reused")
    _, path = _location(store, digest)
    os.utime(path, (1_000_000, 1_000_000))

    store.put(b"reused")

    modified = store.info(digest).modified
    assert modified is not None and modified > time.time() - 60


def test_sweep_temporary_removes_only_leftovers_older_than_the_cutoff(tmp_path: Path) -> None:
    store = open_blob_store(str(tmp_path / "blobs"))
    digest = store.put(b"kept")
    temporary = tmp_path / "blobs" / "tmp"
    old, fresh = temporary / uuid.uuid4().hex, temporary / uuid.uuid4().hex
    old.write_bytes(b"left by a crashed write")
    fresh.write_bytes(b"a write in progress")
    an_hour_ago = time.time() - 3600
    os.utime(old, (an_hour_ago, an_hour_ago))

    assert store.sweep_temporary(600) == 1

    assert os.listdir(temporary) == [fresh.name]
    assert store.get(digest) == b"kept"
    assert store.sweep_temporary(600) == 0


def test_sweep_temporary_without_leftovers_removes_nothing(store: BlobStore) -> None:
    digest = store.put(b"blob")

    assert store.sweep_temporary(0) == 0
    assert list(store.iter_digests()) == [digest]


@pytest.mark.parametrize("older_than", [-1, float("nan"), "600", True, None])
def test_sweep_temporary_refuses_an_age_that_is_not_a_number_of_seconds(store: BlobStore, older_than: Any) -> None:
    with pytest.raises(InvalidInput, match="'older_than'") as raised:
        store.sweep_temporary(older_than)

    assert repr(older_than) in str(raised.value)


def test_leftovers_and_foreign_files_are_not_listed(store: BlobStore) -> None:
    digest = store.put(b"real blob")
    filesystem, root = url_to_fs(store.url)
    root = root.rstrip("/")
    leftovers = [
        f"{root}/tmp/{uuid.uuid4().hex}",
        f"{root}/tmp/{MISSING}",
        f"{root}/sha256/{MISSING[:2]}/{MISSING[2:]}.partial",
        f"{root}/sha256/{MISSING[:2]}/{MISSING[2:].upper()}",
        f"{root}/sha256/{MISSING[:2]}/notes.txt",
        f"{root}/sha256/zz/{MISSING[2:]}",
        f"{root}/sha256/{MISSING[:3]}/{MISSING[3:]}",
        f"{root}/sha256/README",
    ]
    for path in leftovers:
        filesystem.makedirs(path.rsplit("/", 1)[0], exist_ok=True)
        filesystem.pipe_file(path, b"partial")

    assert list(store.iter_digests()) == [digest]
    assert not store.exists(MISSING)


@pytest.mark.parametrize("backend", BACKENDS)
def test_the_constructor_does_no_io(backend: str, tmp_path: Path) -> None:
    url = _new_url(backend, tmp_path / "absent")
    filesystem, root = url_to_fs(url)

    FsspecBlobStore(url)
    store = open_blob_store(url)
    assert not store.exists(MISSING)
    assert list(store.iter_digests()) == []
    assert store.sweep_temporary(0) == 0

    assert not filesystem.exists(root)
    assert not (tmp_path / "absent").exists()


def test_the_constructor_does_not_resolve_the_filesystem(monkeypatch: pytest.MonkeyPatch) -> None:
    def fail(*args: object, **kwargs: object) -> None:
        raise AssertionError("the filesystem was resolved")

    monkeypatch.setattr(fsspec.core, "url_to_fs", fail)

    assert FsspecBlobStore("memory://lazy").url == "memory://lazy"


def test_a_relative_path_or_file_url_opens_an_absolute_local_store(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)

    assert open_blob_store("blobs").url == str(tmp_path / "blobs")
    assert open_blob_store(f"file://{tmp_path}/blobs").url == str(tmp_path / "blobs")


def test_an_unknown_protocol_is_invalid_input() -> None:
    with pytest.raises(InvalidInput, match="'nosuchprotocol'"):
        open_blob_store("nosuchprotocol://bucket/blobs")
    with pytest.raises(InvalidInput, match="'nosuchprotocol'"):
        FsspecBlobStore("nosuchprotocol://bucket/blobs").exists(MISSING)


@pytest.mark.parametrize("url", ["", "   "])
def test_an_empty_url_is_invalid_input(url: str) -> None:
    with pytest.raises(InvalidInput, match="non-empty"):
        open_blob_store(url)


@pytest.fixture
def without_optional_backends(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make s3fs and gcsfs fail to import, whether or not they are installed."""
    for protocol, message in [("s3", "Install s3fs to access S3"), ("gs", "Please install gcsfs")]:
        monkeypatch.delitem(registered_filesystems, protocol, raising=False)
        monkeypatch.setitem(
            known_implementations, protocol, {"class": "driftloop_absent_module.FileSystem", "err": message}
        )


@pytest.mark.usefixtures("without_optional_backends")
def test_a_missing_optional_dependency_gives_an_install_hint() -> None:
    with pytest.raises(StoreUnavailable, match=r"pip install 'driftloop\[s3\]'"):
        open_blob_store("s3://bucket/blobs")
    with pytest.raises(StoreUnavailable, match=r"pip install 'driftloop\[s3\]'"):
        FsspecBlobStore("s3://bucket/blobs").get(MISSING)
    with pytest.raises(StoreUnavailable, match="Please install gcsfs"):
        open_blob_store("gs://bucket/blobs")


def test_an_object_store_refuses_a_file_that_changed_while_uploading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = _new_url("memory", tmp_path)
    store = open_blob_store(url)
    source = tmp_path / "growing.log"
    source.write_bytes(b"first lines\n")
    filesystem, _ = url_to_fs(url)
    upload = filesystem.put_file

    def upload_while_appending(local: str, remote: str, **kwargs: object) -> None:
        with open(local, "ab") as file:
            file.write(b"a line written meanwhile\n")
        upload(local, remote, **kwargs)

    monkeypatch.setattr(filesystem, "put_file", upload_while_appending)
    try:
        with pytest.raises(InvalidInput, match="changed while"):
            store.put_file(source)
        assert _stored_files(store) == []
    finally:
        _discard(url)
