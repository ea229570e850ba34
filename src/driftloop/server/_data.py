"""Datasets over HTTP: list, versions, ingest an uploaded file, read a version as Parquet or Arrow, its profile.

A dataset's routes need their role on ``dataset:<name>`` (a workspace role, or a grant on that dataset): ``viewer``
to read, ``editor`` to ingest. An upload (CSV or Parquet, up to the server's upload limit) is spooled to a temporary
file and ingested as any file is: transformed, validated and profiled into a new version, recorded with where it
came from (``CSV upload 'houses.csv' by ana from 10.0.0.7``). A version streams out in record batches, so a large
one never sits whole in the server's memory.
"""

from __future__ import annotations

import contextlib
import itertools
import json
import pathlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal

import pyarrow as pa
from fastapi import Path, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from driftloop.data import DatasetVersion, IngestResult
from driftloop.data.sources import FileSource
from driftloop.data.sources._base import redact_url
from driftloop.entities import Dataset, DatasetVersionInfo, Role
from driftloop.errors import DriftloopError, InvalidInput, NotFound, PermissionDenied, SourceError, UnsupportedMediaType
from driftloop.names import validate_name
from driftloop.server._access import Routes
from driftloop.server._bodies import spooled, store_upload
from driftloop.server._http import BINARY_BODY, ERROR_RESPONSES, JSON, ErrorBody, attachment, json_response
from driftloop.server._services import Services, ServicesDependency

__all__ = ["routes"]

routes = Routes("datasets", responses=ERROR_RESPONSES)

DATASET = "dataset:{name}"
UploadFormat = Literal["csv", "parquet"]
ReadFormat = Literal["parquet", "arrow"]
SKETCHES = "application/vnd.driftloop.profile"
"""A profile's binary form (:meth:`driftloop.data.profiles.Profile.to_bytes`): sketches that merge."""
MEDIA_TYPES: dict[str, str] = {
    "parquet": "application/vnd.apache.parquet",
    "arrow": "application/vnd.apache.arrow.stream",
}
UPLOAD_FORMATS: dict[str, UploadFormat] = {
    "text/csv": "csv",
    "application/vnd.apache.parquet": "parquet",
    "application/x-parquet": "parquet",
}
"""The upload formats an upload's ``Content-Type`` names (``?format=`` names them whatever the type)."""
FORMAT_LABELS: dict[str, str] = {"csv": "CSV", "parquet": "Parquet"}
UPLOAD_BODY: dict[str, Any] = {
    "required": True,
    "content": {
        media: BINARY_BODY["content"]["application/octet-stream"]
        for media in (*UPLOAD_FORMATS, "application/octet-stream")
    },
}
"""The upload's OpenAPI body: a file of a format its type names, or any bytes with ``?format=``."""
Digest = Annotated[str, Path(pattern=r"^[0-9a-f]{64}$", description="The SHA-256 of the file's bytes, in hex.")]
TransformDigest = Annotated[
    str | None,
    Query(
        pattern=r"^[0-9a-f]{64}$",
        description="The SHA-256 of an uploaded transform (declared steps, or fitted), in place of the dataset's.",
    ),
]
SchemaDigest = Annotated[
    str | None,
    Query(pattern=r"^[0-9a-f]{64}$", description="The SHA-256 of an uploaded data schema, in place of the dataset's."),
]
Version = Annotated[str, Path(pattern=r"^(latest|[0-9]{1,9})$", description="A version number, or 'latest'.")]


class IngestAnswer(BaseModel):
    version: DatasetVersionInfo
    created: bool
    rows: int
    quarantined_rows: int
    report: dict[str, Any]


@routes.get("/datasets", Role.VIEWER, response_model=list[Dataset])
def list_datasets(services: ServicesDependency) -> Response:
    return json_response(services.datasets.list())


@routes.get("/datasets/{name}/versions", Role.VIEWER, scope=DATASET, response_model=list[DatasetVersionInfo])
def list_versions(name: str, services: ServicesDependency) -> Response:
    """Every version of a dataset, oldest first."""
    return json_response(services.datasets.versions(name))


@routes.post(
    "/datasets/{name}/versions",
    Role.EDITOR,
    scope=DATASET,
    upload=True,
    response_model=IngestAnswer,
    status_code=201,
    responses={
        200: {"model": IngestAnswer, "description": "The data is identical to a version's: none was made."},
        415: {"model": ErrorBody, "description": "Neither ?format= nor the Content-Type names CSV or Parquet."},
    },
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def ingest(
    name: str,
    request: Request,
    services: ServicesDependency,
    format: Annotated[UploadFormat | None, Query(description="The file's format; else its Content-Type's.")] = None,
    mode: Literal["append", "overwrite"] = "append",
    on_rule_failure: Literal["reject", "quarantine"] = "reject",
    filename: Annotated[str | None, Query(max_length=256, description="The file's name, for lineage.")] = None,
    transform: TransformDigest = None,
    schema: SchemaDigest = None,
) -> Response:
    """Ingest the body (a CSV or Parquet file) as a new version: 201, or 200 when identical data exists already.

    ``?transform=`` and ``?schema=`` name JSON documents uploaded first to ``PUT /datasets/{name}/files/{digest}``:
    a transform to fit on this data (or one fitted already) and a data schema to check it against, in place of the
    dataset's own."""
    name = validate_name("dataset", name)
    if filename is not None:
        filename = validate_name("file", filename)
    chosen = format or _upload_format(request.headers.get("content-type"))
    declared = _declarations(services, transform, schema)
    caller = services.caller
    async with spooled(request, request.app.state.gate.max_upload_bytes, f"upload.{chosen}") as file:
        uploaded = _Upload(
            FileSource(file, format=chosen),
            f"{FORMAT_LABELS[chosen]} upload {'without a file name' if filename is None else repr(filename)} "
            f"by {caller.name} from {caller.address or 'an unknown address'}",
        )
        with _naming_the_upload(file, filename or file.name):
            result = await run_in_threadpool(
                services.datasets.ingest, name, uploaded, mode=mode, on_rule_failure=on_rule_failure, **declared
            )
    return json_response(_answer(result), 201 if result.created else 200)


@routes.put(
    "/datasets/{name}/files/{digest}",
    Role.EDITOR,
    scope=DATASET,
    upload=True,
    status_code=204,
    openapi_extra={"requestBody": BINARY_BODY},
)
async def upload_document(name: str, digest: Digest, request: Request, services: ServicesDependency) -> Response:
    """Store a JSON document an ingest or a validation names (``?transform=``, ``?schema=``) under the SHA-256 of
    its bytes: a declared transform (its list of steps), a fitted transform, or a data schema. Up to the server's
    limit for a JSON body."""
    validate_name("dataset", name)
    await store_upload(request, services.blobs, request.app.state.gate.max_request_bytes, digest)
    return Response(status_code=204)


def _declarations(services: Services, transform: str | None, schema: str | None) -> dict[str, Any]:
    """The transform and data schema that uploaded documents declare, as an ingest's keyword arguments.

    Raises:
        InvalidInput: A digest names no uploaded file, or its document is not a transform or a data schema.
    """
    from driftloop.data.transforms import FittedTransform, Transform
    from driftloop.data.validation import DataSchema

    declared: dict[str, Any] = {}
    if transform is not None:
        data = _document(services, "transform", transform)
        fitted = isinstance(data, dict) and "format" in data
        declared["transform"] = FittedTransform.from_dict(data) if fitted else Transform.from_dict(data)
    if schema is not None:
        declared["schema"] = DataSchema.from_dict(_document(services, "schema", schema))
    return declared


MAX_DOCUMENT_BYTES = 16 * 1024 * 1024
"""The largest transform or data schema document an ingest reads (they are a few KiB): a digest naming a larger
blob, such as a data file, is refused before it is read."""


def _document(services: Services, parameter: str, digest: str) -> Any:
    try:
        size = services.blobs.info(digest).size
        if size > MAX_DOCUMENT_BYTES:
            raise InvalidInput(
                f"?{parameter}={digest} names a file of {size:,} bytes; a {parameter} document is at most "
                f"{MAX_DOCUMENT_BYTES:,}."
            )
        text = services.blobs.get(digest)
    except NotFound:
        raise InvalidInput(
            f"?{parameter}={digest} names no uploaded file: PUT the document to /datasets/{{name}}/files/{digest} "
            "first."
        ) from None
    try:
        return json.loads(text)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise InvalidInput(f"The {parameter} document {digest} is not JSON: {error}.") from None


class SourceIngest(BaseModel):
    url: str = Field(max_length=4096, examples=["s3://bucket/sales/2026-11.parquet", "https://data.example/sales.csv"])
    format: Literal["csv", "parquet", "json", "jsonl"] | None = Field(None, description="By the URL's extension.")
    mode: Literal["append", "overwrite"] = "append"
    on_rule_failure: Literal["reject", "quarantine"] = "reject"


@routes.post(
    "/datasets/{name}/versions/from-source",
    Role.EDITOR,
    scope=DATASET,
    response_model=IngestAnswer,
    status_code=201,
    responses={200: {"model": IngestAnswer, "description": "The data is identical to a version's: none was made."}},
)
def ingest_from_source(name: str, body: SourceIngest, request: Request, services: ServicesDependency) -> Response:
    """Ingest a file the server fetches (http, https, s3, gs or az URL) as a new version: 201, or 200 when identical
    data exists already. A URL that reaches the server itself or a private address is refused unless the server
    allows private sources, a bucket URL unless it lies under a prefix the server allows; the server's own files
    and storage are never read."""
    name = validate_name("dataset", name)
    settings = services.workspace.settings
    check_source_url(
        body.url,
        allow_private=request.app.state.private_sources,
        buckets=request.app.state.source_buckets,
        own_storage=(settings.artifacts, settings.tables_url),
    )
    source = FileSource(body.url, format=body.format)
    result = services.datasets.ingest(name, source, mode=body.mode, on_rule_failure=body.on_rule_failure)
    return json_response(_answer(result), 201 if result.created else 200)


@routes.get("/datasets/{name}/schema", Role.VIEWER, scope=DATASET, response_model=dict[str, Any])
def data_schema(name: str, services: ServicesDependency) -> Response:
    """The dataset's data schema: its rules (presence, types, nullability) and expectations (409 before any ingest)."""
    return json_response(services.datasets.schema(validate_name("dataset", name)).to_dict())


@routes.put("/datasets/{name}/schema", Role.EDITOR, scope=DATASET, status_code=204)
def set_data_schema(name: str, body: dict[str, Any], services: ServicesDependency) -> Response:
    """Replace the dataset's data schema (checked first); every later ingest is validated against it."""
    from driftloop.data.validation import DataSchema

    services.datasets.set_schema(validate_name("dataset", name), DataSchema.from_dict(body))
    return Response(status_code=204)


@routes.post(
    "/datasets/{name}/validate",
    Role.VIEWER,
    scope=DATASET,
    upload=True,
    response_model=dict[str, Any],
    responses={415: {"model": ErrorBody, "description": "Neither ?format= nor the Content-Type names CSV or Parquet."}},
    openapi_extra={"requestBody": UPLOAD_BODY},
)
async def validate_upload(
    name: str,
    request: Request,
    services: ServicesDependency,
    format: Annotated[UploadFormat | None, Query(description="The file's format; else its Content-Type's.")] = None,
    transform: TransformDigest = None,
    schema: SchemaDigest = None,
) -> Response:
    """Check the body (a CSV or Parquet file) against the dataset's schema without storing anything: the quality
    report, with the rows that break a rule counted. ``?transform=`` and ``?schema=`` are as an ingest's."""
    name = validate_name("dataset", name)
    chosen = format or _upload_format(request.headers.get("content-type"))
    declared = _declarations(services, transform, schema)
    described = f"{FORMAT_LABELS[chosen]} upload by {services.caller.name}"
    async with spooled(request, request.app.state.gate.max_upload_bytes, f"upload.{chosen}") as file:
        uploaded = _Upload(FileSource(file, format=chosen), described)
        with _naming_the_upload(file, file.name):
            report = await run_in_threadpool(services.datasets.validate, name, uploaded, **declared)
    return json_response(report)


@routes.get("/datasets/{name}/versions/{version}", Role.VIEWER, scope=DATASET, response_model=DatasetVersionInfo)
def get_version(name: str, version: Version, services: ServicesDependency) -> Response:
    return json_response(_version(services, name, version).info)


@routes.get(
    "/datasets/{name}/versions/{version}/data",
    Role.VIEWER,
    scope=DATASET,
    response_class=StreamingResponse,
    responses={200: {"content": {media: {} for media in MEDIA_TYPES.values()}, "description": "The version's rows."}},
)
def read_version(
    name: str, version: Version, services: ServicesDependency, format: ReadFormat = "parquet"
) -> StreamingResponse:
    """The version's rows as a Parquet file or an Arrow IPC stream, streamed batch by batch."""
    handle = _version(services, name, version)
    filename = f"{handle.name}-v{handle.number}.{'parquet' if format == 'parquet' else 'arrows'}"
    return StreamingResponse(_encoded(handle, format), media_type=MEDIA_TYPES[format], headers=attachment(filename))


@routes.get(
    "/datasets/{name}/versions/{version}/profile",
    Role.VIEWER,
    scope=DATASET,
    response_model=dict[str, Any],
    responses={200: {"content": {SKETCHES: {}}, "description": "The profile, as JSON or in its binary form."}},
)
def profile(
    name: str,
    version: Version,
    services: ServicesDependency,
    rows: Annotated[
        Literal["all", "added"], Query(description="Every row the version holds, or those its ingest added.")
    ] = "all",
    format: Annotated[
        Literal["json", "sketches"], Query(description="Statistics as JSON, or the mergeable sketches as bytes.")
    ] = "json",
) -> Response:
    """Per-column statistics of the version's rows (the drift reference)."""
    if rows == "all":
        found = services.datasets.profile(validate_name("dataset", name), _number(version))
    else:
        found = _version(services, name, version).profile()
    if format == "sketches":
        return Response(found.to_bytes(), media_type=SKETCHES)
    return json_response(found.to_dict())


@routes.get(
    "/datasets/{name}/quarantine",
    Role.VIEWER,
    scope=DATASET,
    response_class=Response,
    responses={200: {"content": {MEDIA_TYPES["arrow"]: {}}, "description": "The quarantined rows."}},
)
def quarantine(name: str, services: ServicesDependency) -> Response:
    """Rows that broke a rule in ``quarantine`` mode, with their source row and reasons, as an Arrow IPC stream."""
    table = services.datasets.quarantine(validate_name("dataset", name))
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema) as writer:
        writer.write_table(table)
    return Response(sink.getvalue().to_pybytes(), media_type=MEDIA_TYPES["arrow"])


@routes.get(
    "/datasets/{name}/versions/{version}/transform",
    Role.VIEWER,
    scope=DATASET,
    response_model=dict[str, Any] | None,
)
def fitted_transform(name: str, version: Version, services: ServicesDependency) -> Response:
    """The fitted transform the version's ingest applied (null when none), to run again on new data."""
    transform = _version(services, name, version).transform()
    return Response(b"null" if transform is None else transform.to_json().encode(), media_type=JSON)


@routes.get("/datasets/{name}/versions/{version}/runs", Role.VIEWER, scope=DATASET, response_model=list[str])
def runs_using(name: str, version: Version, services: ServicesDependency) -> Response:
    """Ids of the runs that read the version (its lineage)."""
    return json_response(_version(services, name, version).runs())


@routes.get("/datasets/{name}/versions/{version}/report", Role.VIEWER, scope=DATASET, response_model=dict[str, Any])
def quality_report(name: str, version: Version, services: ServicesDependency) -> Response:
    """The data-quality report of the ingest that made the version."""
    return json_response(_version(services, name, version).report())


def _answer(result: IngestResult) -> dict[str, Any]:
    return {
        "version": result.version.info,
        "created": result.created,
        "rows": result.rows,
        "quarantined_rows": result.quarantined_rows,
        "report": result.report,
    }


REMOTE_SCHEMES = ("http", "https", "s3", "gs", "gcs", "az", "abfs", "abfss")


def check_source_url(
    url: str, *, allow_private: bool, buckets: Sequence[str] = (), own_storage: Sequence[str] = ()
) -> None:
    """Refuse a URL the server should not fetch for a client: a local path or ``file://``, another scheme than
    :data:`REMOTE_SCHEMES`, a bucket URL outside the ``buckets`` prefixes the server allows (it reads buckets with
    its own credentials) or inside its ``own_storage``, or (unless ``allow_private``) an http(s) host that resolves
    to loopback, link-local, private or reserved addresses. A host that resolves to another address when fetched
    (DNS rebinding) is not caught here: a server that must never reach its network puts a proxy or a firewall in
    front."""
    import ipaddress
    import socket
    import urllib.parse

    parsed = urllib.parse.urlsplit(url)
    if parsed.scheme not in REMOTE_SCHEMES or not parsed.netloc:
        raise InvalidInput(
            f"A source the server fetches is a URL of {', '.join(REMOTE_SCHEMES)} that names a host or bucket; got "
            f"{redact_url(url)!r}. Upload a local file instead."
        )
    if parsed.scheme not in ("http", "https"):
        _check_bucket_url(url, buckets, own_storage)
        return
    if allow_private:
        return
    host = parsed.hostname or ""
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(host, parsed.port or 443, proto=socket.IPPROTO_TCP)}
    except socket.gaierror as error:
        raise SourceError(f"The source host {host!r} cannot be resolved: {error.strerror}.") from error
    for address in addresses:
        ip = ipaddress.ip_address(str(address).split("%")[0])
        if ip.is_loopback or ip.is_link_local or ip.is_private or ip.is_reserved or ip.is_unspecified:
            raise PermissionDenied(
                f"The source host {host!r} is a private address ({ip}); this server fetches only public ones "
                "(driftloop server --allow-private-sources lifts this)."
            )


def check_bucket_prefix(url: str) -> str:
    """A bucket URL a server may read sources under (``s3://bucket`` or ``s3://bucket/prefix``), without a final
    slash.

    Raises:
        InvalidSettings: Not a bucket URL of a scheme the server fetches.
    """
    import urllib.parse

    from driftloop.errors import InvalidSettings

    parsed = urllib.parse.urlsplit(url) if isinstance(url, str) else None
    if parsed is None or parsed.scheme in ("", "http", "https") or parsed.scheme not in REMOTE_SCHEMES:
        raise InvalidSettings(f"A source bucket is a URL such as s3://bucket/prefix (also gs, az); got {url!r}.")
    if not parsed.netloc or parsed.query or parsed.fragment or _climbs(parsed.path):
        raise InvalidSettings(f"A source bucket names a bucket and an optional prefix, nothing else; got {url!r}.")
    return url.rstrip("/")


def _check_bucket_url(url: str, buckets: Sequence[str], own_storage: Sequence[str]) -> None:
    import urllib.parse

    parsed = urllib.parse.urlsplit(url)
    if _climbs(parsed.path):
        raise InvalidInput(f"A source URL names its object directly, without '.' or '..'; got {redact_url(url)!r}.")
    if any(_under(url, root) for root in own_storage):
        raise PermissionDenied(f"{redact_url(url)!r} is inside the workspace's own storage, which no ingest reads.")
    if not any(_under(url, prefix) for prefix in buckets):
        allowed = ", ".join(buckets) if buckets else "none"
        raise PermissionDenied(
            f"This server reads {parsed.scheme} URLs only under the bucket prefixes its admin allows (now: {allowed}); "
            f"{redact_url(url)!r} is not under one. The server reads buckets with its own credentials: `driftloop "
            f"server --source-bucket {parsed.scheme}://BUCKET/PREFIX` allows one, or upload the file instead."
        )


def _under(url: str, root: str) -> bool:
    """Whether ``url`` is ``root`` or inside it (as text: a bucket's keys are not a file system)."""
    root = root.rstrip("/")
    return url == root or url.startswith(root + "/")


def _climbs(path: str) -> bool:
    return any(part in (".", "..") for part in path.split("/"))


def _number(version: str) -> int | None:
    return None if version == "latest" else int(version)


def _version(services: Services, name: str, version: str) -> DatasetVersion:
    return services.datasets.get(validate_name("dataset", name), _number(version))


def _upload_format(content_type: str | None) -> UploadFormat:
    media = (content_type or "").partition(";")[0].strip().lower()
    chosen = UPLOAD_FORMATS.get(media)
    if chosen is None:
        raise UnsupportedMediaType(
            "Send the file as text/csv or application/vnd.apache.parquet, or name its format with "
            f"?format=csv or ?format=parquet; got the Content-Type {media or 'none'!r}."
        )
    return chosen


@contextlib.contextmanager
def _naming_the_upload(file: pathlib.Path, name: str) -> Iterator[None]:
    """Errors that name the upload's spooled copy (a temporary path of the server's) name the file as the client
    did (``name``) instead."""
    try:
        yield
    except DriftloopError as error:
        if str(file) not in error.message:
            raise
        renamed = type(error)(error.message.replace(str(file), name))
        raise renamed.with_traceback(error.__traceback__) from None


@dataclass(frozen=True, slots=True)
class _Upload:
    """An uploaded file as an ingest's source: read from its spooled copy, described by where it came from."""

    file: FileSource
    description: str

    def batches(self) -> Iterator[pa.RecordBatch]:
        return self.file.batches()


def _encoded(version: DatasetVersion, format: ReadFormat) -> Iterator[bytes]:
    """The version's batches written as Parquet or an Arrow IPC stream, yielded as they are encoded."""
    import pyarrow.parquet as pq

    batches = version.batches()
    first = next(batches, None)
    schema = version.to_arrow().schema if first is None else first.schema
    sink = _Chunks()
    target = pa.PythonFile(sink, mode="w")
    writer = pq.ParquetWriter(target, schema) if format == "parquet" else pa.ipc.new_stream(target, schema)
    with writer:
        for batch in itertools.chain([] if first is None else [first], batches):
            writer.write_batch(batch)
            yield sink.take()
    yield sink.take()


class _Chunks:
    """A write-only file for pyarrow's writers that hands over what was written since it was last asked."""

    closed = False

    def __init__(self) -> None:
        self._parts: list[bytes] = []
        self._position = 0

    def write(self, data: bytes) -> int:
        self._parts.append(bytes(data))
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def flush(self) -> None:
        """Nothing is buffered here: :meth:`take` hands everything over."""

    def close(self) -> None:
        self.closed = True

    def take(self) -> bytes:
        written = b"".join(self._parts)
        self._parts.clear()
        return written
