"""Datasets through a workspace server: the methods of :class:`driftloop.data.Datasets`, over HTTP.

An ingest reads its source here, with the same readers an embedded workspace uses (files, URLs, SQL, frames), writes
the rows to a Parquet file and uploads it; the server cleans, validates, profiles and versions it, and records the
token's user and address as where it came from. A version reads back as an Arrow IPC stream.
"""

from __future__ import annotations

import builtins
import hashlib
import json
import os
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal

import httpx
import pyarrow as pa

from driftloop.data._service import BATCH_ROWS, IngestResult, check_declarations
from driftloop.data._version import DatasetVersion
from driftloop.entities import Dataset, DatasetVersionInfo
from driftloop.errors import InvalidInput
from driftloop.names import validate_name
from driftloop.remote._client import ServerClient, decode, decode_list, quoted

if TYPE_CHECKING:
    from driftloop.data import VersionDiff
    from driftloop.data.profiles import Profile
    from driftloop.data.transforms import FittedTransform, Transform
    from driftloop.data.validation import DataSchema

__all__ = ["RemoteDatasetVersion", "RemoteDatasets"]

UPLOAD_CHUNK = 1024 * 1024
PARQUET = "application/vnd.apache.parquet"
JSON = "application/json"
ARROW_STREAM = "application/vnd.apache.arrow.stream"


class RemoteDatasets:
    """Versioned datasets of a workspace served by ``driftloop server``. Reach it as ``Workspace(url).datasets``."""

    def __init__(self, client: ServerClient, *, current_run: Callable[[], Any]) -> None:
        self._client = client
        self._current_run = current_run

    def ingest(
        self,
        name: str,
        source: Any,
        *,
        mode: Literal["append", "overwrite"] = "append",
        transform: Transform | FittedTransform | None = None,
        schema: DataSchema | None = None,
        on_rule_failure: Literal["reject", "quarantine"] = "reject",
        format: str | None = None,
        batch_rows: int = BATCH_ROWS,
        progress: Callable[[int], None] | None = None,
        actor: str | None = None,
    ) -> IngestResult:
        """Read ``source`` here and ingest it on the server as a new version of ``name`` (see
        :meth:`driftloop.data.Datasets.ingest`); identical data creates nothing and answers ``created=False``.

        A ``transform`` (declared, fitted on this data by the server, or fitted already) and a ``schema`` are
        uploaded first as JSON documents the ingest names. The server records the token's user: ``actor=`` is
        refused.
        """
        validate_name("dataset", name)
        if mode not in ("append", "overwrite"):
            raise InvalidInput(f"The ingest mode must be 'append' or 'overwrite'; got {mode!r}.")
        if on_rule_failure not in ("reject", "quarantine"):
            raise InvalidInput(f"on_rule_failure must be 'reject' or 'quarantine'; got {on_rule_failure!r}.")
        if actor is not None:
            raise InvalidInput("A workspace server records its token's user as the actor; leave actor= out.")
        options = {
            "format": "parquet",
            "mode": mode,
            "on_rule_failure": on_rule_failure,
            "filename": _file_name(source),
            **self._declarations(name, transform, schema),
        }
        answer = self._upload(quoted("datasets", name, "versions"), source, format, batch_rows, progress, options)
        return self._result(answer.json())

    def _declarations(self, name: str, transform: object, schema: object) -> dict[str, str]:
        """Upload the transform and the data schema an ingest or a validation declares; the query naming them."""
        from driftloop.data.transforms import FittedTransform, Transform
        from driftloop.data.validation import DataSchema

        check_declarations(transform, schema)
        documents: dict[str, str] = {}
        if isinstance(transform, Transform):
            documents["transform"] = json.dumps(transform.to_dict(), sort_keys=True, allow_nan=False)
        elif isinstance(transform, FittedTransform):
            documents["transform"] = transform.to_json()
        if isinstance(schema, DataSchema):
            documents["schema"] = json.dumps(schema.to_dict(), sort_keys=True, allow_nan=False)
        query = {}
        for parameter, text in documents.items():
            data = text.encode()
            digest = hashlib.sha256(data).hexdigest()
            self._client.request(
                "PUT", quoted("datasets", name, "files", digest), content=data, headers={"Content-Type": JSON}
            )
            query[parameter] = digest
        return query

    def _result(self, body: dict[str, Any]) -> IngestResult:
        version = RemoteDatasetVersion(
            decode(DatasetVersionInfo, body["version"]), client=self._client, current_run=self._current_run
        )
        return IngestResult(
            version=version,
            created=bool(body["created"]),
            rows=int(body["rows"]),
            quarantined_rows=int(body["quarantined_rows"]),
            report=dict(body["report"]),
        )

    def validate(
        self,
        name: str,
        source: Any,
        *,
        transform: Transform | FittedTransform | None = None,
        schema: DataSchema | None = None,
        format: str | None = None,
        batch_rows: int = BATCH_ROWS,
    ) -> dict[str, Any]:
        """Check ``source`` (read here) against the dataset's schema on the server (or ``schema``, after
        ``transform``), without storing anything; returns the quality report."""
        path = quoted("datasets", validate_name("dataset", name), "validate")
        options = self._declarations(name, transform, schema)
        return dict(self._upload(path, source, format, batch_rows, None, options).json())

    def schema(self, name: str) -> DataSchema:
        """The dataset's data schema (rules and expectations), as inferred or as last edited."""
        from driftloop.data.validation import DataSchema

        return DataSchema.from_dict(self._client.get(quoted("datasets", validate_name("dataset", name), "schema")))

    def set_schema(self, name: str, schema: DataSchema, *, actor: str | None = None) -> None:
        """Replace the dataset's data schema; every later ingest is validated against it."""
        if actor is not None:
            raise InvalidInput("A workspace server records its token's user as the actor; leave actor= out.")
        path = quoted("datasets", validate_name("dataset", name), "schema")
        self._client.request("PUT", path, json=schema.to_dict())

    def _upload(
        self,
        path: str,
        source: Any,
        format: str | None,
        batch_rows: int,
        progress: Callable[[int], None] | None,
        options: dict[str, Any],
    ) -> httpx.Response:
        """Read ``source`` here with the embedded readers, write it as Parquet and send it to ``path``."""
        with tempfile.TemporaryDirectory(prefix="driftloop-upload-") as folder:
            upload = Path(folder) / "upload.parquet"
            _write_parquet(source, format, batch_rows, upload, progress)
            with upload.open("rb") as file:
                query = {"format": "parquet", **options}
                return self._client.request(
                    "POST", path, params=query, content=_chunks(file), headers={"Content-Type": PARQUET}
                )

    def ingest_url(
        self,
        name: str,
        url: str,
        *,
        format: Literal["csv", "parquet", "json", "jsonl"] | None = None,
        mode: Literal["append", "overwrite"] = "append",
        on_rule_failure: Literal["reject", "quarantine"] = "reject",
    ) -> IngestResult:
        """Ingest a file the server fetches itself (an http, https, s3, gs or az URL, with the server's credentials),
        where :meth:`ingest` reads the source here and uploads it."""
        body = {"url": url, "format": format, "mode": mode, "on_rule_failure": on_rule_failure}
        answer = self._client.send(
            "POST", quoted("datasets", validate_name("dataset", name), "versions", "from-source"), body
        )
        return self._result(answer)

    def get(self, name: str, version: int | None = None) -> DatasetVersion:
        """A version of a dataset (the latest by default), read from the server as Arrow, pandas or polars."""
        info = decode(DatasetVersionInfo, self._client.get(_version_path(name, version)))
        return RemoteDatasetVersion(info, client=self._client, current_run=self._current_run)

    def list(self) -> builtins.list[Dataset]:
        return decode_list(Dataset, self._client.get("/datasets"))

    def versions(self, name: str) -> builtins.list[DatasetVersionInfo]:
        return decode_list(
            DatasetVersionInfo, self._client.get(quoted("datasets", validate_name("dataset", name), "versions"))
        )

    def profile(self, name: str, version: int | None = None) -> Profile:
        """The profile of every row a version holds (the latest by default), merged by the server."""
        return _profile(self._client, _version_path(name, version), rows="all")

    def quarantine(self, name: str) -> pa.Table:
        """Rows that broke a rule in ``quarantine`` mode, with their source row and reasons."""
        data = self._client.request("GET", quoted("datasets", validate_name("dataset", name), "quarantine")).content
        return _arrow_table(data)

    def diff(self, name: str, old: int, new: int | None = None) -> VersionDiff:
        """Schema changes, rows added and removed, and per-column statistic shifts from ``old`` to ``new``."""
        from driftloop.data._diff import diff_versions

        return diff_versions(self.get(name, old), self.get(name, new))


class RemoteDatasetVersion(DatasetVersion):
    """Version ``number`` of dataset ``name`` on a workspace server, read as the server's Arrow IPC stream arrives."""

    def __init__(self, info: DatasetVersionInfo, *, client: ServerClient, current_run: Callable[[], Any]) -> None:
        super().__init__(info, current_run=current_run)
        self._client = client

    @property
    def _path(self) -> str:
        return _version_path(self.name, self.number)

    def to_arrow(self) -> pa.Table:
        self._record_read()
        return _arrow_table(self._client.request("GET", f"{self._path}/data", params={"format": "arrow"}).content)

    def batches(self, batch_size: int = 65_536) -> Iterator[pa.RecordBatch]:
        self._record_read()
        with (
            self._client.stream(f"{self._path}/data", params={"format": "arrow"}) as body,
            pa.ipc.open_stream(pa.PythonFile(body, mode="r")) as reader,
        ):
            for batch in reader:
                for start in range(0, batch.num_rows, batch_size):
                    yield batch.slice(start, batch_size)

    def profile(self) -> Profile:
        return _profile(self._client, self._path, rows="added")

    def report(self) -> dict[str, Any]:
        return dict(self._client.get(f"{self._path}/report"))

    def transform(self) -> FittedTransform | None:
        from driftloop.data.transforms import FittedTransform

        text = self._client.request("GET", f"{self._path}/transform").content
        return None if text.strip() == b"null" else FittedTransform.from_json(text)

    def runs(self) -> builtins.list[str]:
        return [str(run_id) for run_id in self._client.get(f"{self._path}/runs")]


def _arrow_table(stream: bytes) -> pa.Table:
    with pa.ipc.open_stream(stream) as reader:
        return reader.read_all()


def _version_path(name: str, version: int | None) -> str:
    if version is not None and (isinstance(version, bool) or not isinstance(version, int) or version < 0):
        raise InvalidInput(f"A dataset version is a whole number; got {version!r}.")
    return quoted("datasets", validate_name("dataset", name), "versions", "latest" if version is None else version)


def _profile(client: ServerClient, path: str, *, rows: str) -> Profile:
    from driftloop.data.profiles import Profile

    answer = client.request("GET", f"{path}/profile", params={"rows": rows, "format": "sketches"})
    return Profile.from_bytes(answer.content)


def _write_parquet(
    source: Any, format: str | None, batch_rows: int, target: Path, progress: Callable[[int], None] | None
) -> int:
    """Read ``source`` as an embedded ingest reads it and write its rows to a Parquet file; returns how many."""
    import pyarrow.parquet as pq

    from driftloop.data._service import is_source
    from driftloop.data.sources import open_source

    opened = source if is_source(source) else open_source(source, format=format, batch_rows=batch_rows)
    rows = 0
    writer: pq.ParquetWriter | None = None
    try:
        for batch in opened.batches():
            if writer is None:
                writer = pq.ParquetWriter(target, batch.schema)
            writer.write_batch(batch)
            rows += batch.num_rows
            if progress is not None:
                progress(rows)
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        pq.write_table(pa.table({}), target)
    return rows


def _file_name(source: Any) -> str | None:
    """The name of a local file source, for the version's lineage."""
    if isinstance(source, str | os.PathLike) and "://" not in os.fspath(source):
        return Path(source).name or None
    return None


def _chunks(file: IO[bytes]) -> Iterator[bytes]:
    while chunk := file.read(UPLOAD_CHUNK):
        yield chunk
