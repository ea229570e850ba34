"""Files: CSV, TSV, Parquet, JSON and JSON Lines, on a local disk, any fsspec URL, or over http(s)."""

from __future__ import annotations

import gzip
import io
import os
import shutil
import tempfile
import urllib.parse
import zlib
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import IO, Any

import pyarrow as pa
import pyarrow.parquet as pq

from driftloop.data.sources._base import DEFAULT_BATCH_ROWS, check_batch_rows, limit_rows, redact_url
from driftloop.data.sources._csv import CsvOptions, stream_csv
from driftloop.data.sources._http import HttpSettings, check_http_url, open_stream
from driftloop.data.sources._json import stream_json, stream_json_lines
from driftloop.errors import InvalidData, InvalidInput, NotFound, SourceError

__all__ = ["FORMATS", "FileSource", "parse_column_types"]

FORMATS = {"csv": "CSV", "tsv": "TSV", "parquet": "Parquet", "json": "JSON", "jsonl": "JSON Lines"}
"""Format names ``format=`` accepts, with the name descriptions use."""

_ALIASES = {"pq": "parquet", "ndjson": "jsonl"}
_TEXT_FORMATS = ("csv", "tsv", "json", "jsonl")


class FileSource:
    """A CSV, TSV, Parquet, JSON or JSON Lines file, streamed in record batches.

    CSV and TSV stream through ``pyarrow.csv.open_csv`` (quoted values may span lines), Parquet by
    row groups, JSON Lines line by line; a JSON document is parsed whole (see :mod:`._json`). Text
    formats may be gzipped (``.csv.gz``). Building the source does no I/O.

    Args:
        path: A local path, ``file://…``, ``http(s)://…`` (streamed with httpx, retried like
            :class:`WebApiSource`) or any other fsspec URL (``memory://…``, ``s3://…``).
        format: ``"csv"``, ``"tsv"``, ``"parquet"``, ``"json"`` or ``"jsonl"`` (``"pq"`` and
            ``"ndjson"`` too); by default from the extension (``.csv``, ``.tsv``, ``.parquet``,
            ``.pq``, ``.json``, ``.jsonl``, ``.ndjson``, each text one optionally ``.gz``).
        batch_rows: The most rows in one batch.
        delimiter: CSV only: the separator (``","`` for CSV, a tab for TSV by default).
        column_types: CSV and JSON: Arrow types by column name (``{"zip": "string"}``), for columns
            whose type the first rows do not show; others are inferred.
        encoding: Text formats: the file's encoding (a Python codec name).
        records_path: JSON only: the dotted path to the list of records (``"data.items"``).
        headers: http(s) only: request headers (kept out of messages).
        storage_options: fsspec URLs only: options for the filesystem (credentials, endpoint).

    Raises:
        InvalidInput: An unknown format, an option that does not apply to it, or a bad option value.

    >>> FileSource("/data/houses.csv.gz").description
    'CSV file /data/houses.csv.gz (gzip)'
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        format: str | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
        delimiter: str | None = None,
        column_types: Mapping[str, str | pa.DataType] | None = None,
        encoding: str = "utf-8",
        records_path: str | None = None,
        headers: Mapping[str, str] | None = None,
        storage_options: Mapping[str, Any] | None = None,
    ) -> None:
        location = os.fspath(path) if isinstance(path, os.PathLike) else path
        if not isinstance(location, str) or not location.strip():
            raise InvalidInput(f"A file source needs a path or URL, such as 'data/houses.csv'; got {path!r}.")
        self._is_http = location.lower().startswith(("http://", "https://"))
        if self._is_http:
            check_http_url(location, "file")
        if "://" not in location:
            location = os.path.abspath(os.path.expanduser(location))
        self.location = location
        self.compressed, self.format = _format_of(location, format, self._is_http)
        self.batch_rows = check_batch_rows(batch_rows)
        declared = parse_column_types(column_types)
        text = self.format in _TEXT_FORMATS
        _applies("delimiter", delimiter is not None, self.format in ("csv", "tsv"), self.format)
        _applies("column_types", column_types is not None, self.format != "parquet", self.format)
        _applies("encoding", encoding != "utf-8", text, self.format)
        _applies("records_path", records_path is not None, self.format == "json", self.format)
        _applies("headers", headers is not None, self._is_http, "non-http")
        _applies("storage_options", storage_options is not None, not self._is_http, "http")
        # Delimiter, declared types and encoding of the text formats, checked here.
        self._text = CsvOptions.build(delimiter or ("\t" if self.format == "tsv" else ","), declared, encoding)
        self._records_path = records_path
        self._http = HttpSettings(headers=dict(headers or {}))
        self._storage_options = dict(storage_options or {})
        gzipped = " (gzip)" if self.compressed else ""
        self.description = f"{FORMATS[self.format]} file {redact_url(location)}{gzipped}"

    def __repr__(self) -> str:
        return f"FileSource({self.description!r})"

    def batches(self) -> Iterator[pa.RecordBatch]:
        """Stream the file's rows (see the class docstring).

        Raises:
            InvalidData: The file is empty or malformed; the message names the row and column where known.
            NotFound: There is no file at the path.
            SourceError: The file cannot be reached or read (an http error, a missing fsspec package).
        """
        if self.format == "parquet":
            return self._parquet()
        if self.format in ("csv", "tsv"):
            return stream_csv(self._open, self._text, description=self.description, batch_rows=self.batch_rows)
        if self.format == "jsonl":
            return stream_json_lines(
                self._open,
                encoding=self._text.encoding,
                column_types=self._text.column_types,
                description=self.description,
                batch_rows=self.batch_rows,
            )
        return stream_json(
            self._open,
            encoding=self._text.encoding,
            column_types=self._text.column_types,
            records_path=self._records_path,
            description=self.description,
            batch_rows=self.batch_rows,
        )

    def _parquet(self) -> Iterator[pa.RecordBatch]:
        rows = 0
        with self._open_seekable() as stream:
            try:
                parquet = pq.ParquetFile(stream)
                for batch in parquet.iter_batches(batch_size=self.batch_rows):
                    rows += batch.num_rows
                    yield from limit_rows([batch], self.batch_rows)
            except (pa.ArrowInvalid, OSError) as error:
                if isinstance(error, SourceError):
                    raise
                if "size is 0 bytes" in str(error):
                    raise InvalidData(
                        f"{self.description} is empty: it has 0 bytes.", source=self.description
                    ) from error
                detail = str(error).splitlines()[0] if str(error) else type(error).__name__
                raise InvalidData(
                    f"{self.description} is not a readable Parquet file: {detail}.", source=self.description
                ) from error
        if rows == 0:
            raise InvalidData(f"{self.description} is empty: it has no rows.", source=self.description)

    @contextmanager
    def _open_seekable(self) -> Iterator[IO[bytes]]:
        if not self._is_http:
            with self._open() as stream:
                yield stream
            return
        # Parquet needs random access: the download goes to a temporary file, never into memory.
        with tempfile.TemporaryFile(prefix="driftloop-") as copy:
            with self._open() as stream:
                shutil.copyfileobj(stream, copy, 1 << 20)
            copy.seek(0)
            yield copy

    @contextmanager
    def _open(self) -> Iterator[IO[bytes]]:
        with self._open_raw() as stream:
            if self.compressed:
                with io.BufferedReader(_Gunzipped(stream, self.description), buffer_size=1 << 20) as unzipped:
                    yield unzipped
            else:
                yield stream

    @contextmanager
    def _open_raw(self) -> Iterator[IO[bytes]]:
        if self._is_http:
            with open_stream(self.location, self._http) as stream:
                yield stream
            return
        import fsspec

        try:
            opened = fsspec.open(self.location, "rb", **self._storage_options)
            stream = opened.open()
        except FileNotFoundError as error:
            raise NotFound(f"{self.description}: no such file.") from error
        except IsADirectoryError as error:
            raise InvalidInput(f"{self.description}: the path is a folder, not a file.") from error
        except ImportError as error:
            raise SourceError(f"{self.description} needs a package that is not installed: {error}.") from error
        except ValueError as error:
            raise InvalidInput(f"{self.description}: {error}.") from error
        except OSError as error:
            raise SourceError(f"{self.description} cannot be opened: {error}.") from error
        with stream:
            yield stream


class _Gunzipped(io.RawIOBase):
    """A gzip stream whose format errors are :class:`InvalidData` naming the file."""

    def __init__(self, stream: IO[bytes], description: str) -> None:
        self._unzipped = gzip.GzipFile(fileobj=stream, mode="rb")
        self._description = description

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
        try:
            return self._unzipped.readinto(buffer)
        except (gzip.BadGzipFile, EOFError, zlib.error) as error:
            raise InvalidData(
                f"{self._description} is not a complete gzip file: {error}.", source=self._description
            ) from error

    def close(self) -> None:
        self._unzipped.close()
        super().close()


def parse_column_types(column_types: Mapping[str, str | pa.DataType] | None) -> dict[str, pa.DataType]:
    """Arrow types by column name, from names such as ``"float64"`` or ``pa.DataType`` objects.

    >>> parse_column_types({"zip": "string"})
    {'zip': DataType(string)}

    Raises:
        InvalidInput: A type name Arrow does not know.
    """
    if column_types is None:
        return {}
    if not isinstance(column_types, Mapping):
        raise InvalidInput(
            f"column_types must map column names to types, such as {{'zip': 'string'}}; got {column_types!r}."
        )
    parsed: dict[str, pa.DataType] = {}
    for name, data_type in column_types.items():
        if isinstance(data_type, pa.DataType):
            parsed[str(name)] = data_type
            continue
        try:
            parsed[str(name)] = pa.type_for_alias(str(data_type))
        except ValueError:
            raise InvalidInput(
                f"column_types gives column {name!r} the type {data_type!r}, which Arrow does not know; "
                "expected a name such as 'int64', 'float64', 'string', 'bool', 'date32' or 'timestamp[us]'."
            ) from None
    return parsed


def _format_of(location: str, format: str | None, is_http: bool) -> tuple[bool, str]:
    """(gzipped, format) from ``format=`` or the extension."""
    path = urllib.parse.urlsplit(location).path if is_http else location
    name = path.rsplit("/", 1)[-1].lower()
    compressed = name.endswith(".gz")
    name = name.removesuffix(".gz")
    if format is None:
        extension = name.rsplit(".", 1)[-1] if "." in name else ""
        format = _ALIASES.get(extension, extension)
        if format not in FORMATS:
            raise InvalidInput(
                f"Cannot tell the format of {redact_url(location)!r} from its name; pass format= one of "
                f"{', '.join(map(repr, FORMATS))}."
            )
    else:
        if not isinstance(format, str) or _ALIASES.get(format.lower(), format.lower()) not in FORMATS:
            raise InvalidInput(f"Unknown file format {format!r}; expected one of {', '.join(map(repr, FORMATS))}.")
        format = _ALIASES.get(format.lower(), format.lower())
    if compressed and format not in _TEXT_FORMATS:
        raise InvalidInput(f"{redact_url(location)!r}: gzip applies to text formats (CSV, TSV, JSON), not {format}.")
    return compressed, format


def _applies(option: str, given: bool, applies: bool, format: str) -> None:
    if given and not applies:
        raise InvalidInput(f"The option {option!r} does not apply to {FORMATS.get(format, format)} files.")
