"""Where a table store's files live (a local folder or an S3-compatible bucket) and how to reach them.

One location gives three views of the same place: the URI deltalake opens (``s3://bucket/prefix/name``),
the path a pyarrow filesystem reads and writes (``bucket/prefix/name``), and the options both libraries
connect with. S3 options come from the standard AWS environment variables, overridden by the
``storage_options`` given to the store; they are read at first use, never at construction.

>>> location = parse_location("s3://lake/driftloop/tables/")
>>> location.table_uri("houses"), location.table_path("houses")
('s3://lake/driftloop/tables/houses', 'lake/driftloop/tables/houses')
>>> parse_location("/srv/tables").table_uri("houses")
'/srv/tables/houses'
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from driftloop.errors import Conflict, DriftloopError, InvalidSettings, NotFound, StoreError

__all__ = ["S3Connection", "TableLocation", "parse_location", "storage_errors"]

Scheme = Literal["file", "s3"]
# The AWS variables the store reads, in the spelling deltalake's options use.
ENVIRONMENT_KEYS = (
    "AWS_ACCESS_KEY_ID",
    "AWS_SECRET_ACCESS_KEY",
    "AWS_SESSION_TOKEN",
    "AWS_ENDPOINT_URL_S3",
    "AWS_ENDPOINT_URL",
    "AWS_REGION",
    "AWS_DEFAULT_REGION",
    "AWS_ALLOW_HTTP",
)
# Shorter spellings deltalake also accepts, for the options the pyarrow filesystem must see too.
_ALIASES = {
    "ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID",
    "SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY",
    "SESSION_TOKEN": "AWS_SESSION_TOKEN",
    "TOKEN": "AWS_SESSION_TOKEN",
    "AWS_TOKEN": "AWS_SESSION_TOKEN",
    "ENDPOINT": "AWS_ENDPOINT_URL",
    "ENDPOINT_URL": "AWS_ENDPOINT_URL",
    "AWS_ENDPOINT": "AWS_ENDPOINT_URL",
    "REGION": "AWS_REGION",
    "ALLOW_HTTP": "AWS_ALLOW_HTTP",
}
_TRUE = ("1", "true", "yes", "on", "y")
_SECRET_WORDS = ("SECRET", "TOKEN", "PASSWORD", "KEY")
_ANSI_ESCAPE = re.compile(r"\x1b\[[0-9;]*m")
_S3_ERROR = re.compile(r"<Code>(?P<code>[^<]*)</Code>\s*<Message>(?P<message>[^<]*)</Message>")


@dataclass(frozen=True, slots=True)
class TableLocation:
    """The root under which each table is a folder (local) or a key prefix (S3)."""

    url: str
    scheme: Scheme
    root: str  # the pyarrow filesystem path: a local folder, or "bucket/prefix" on S3

    @property
    def is_local(self) -> bool:
        return self.scheme == "file"

    def table_uri(self, table: str) -> str:
        return str(Path(self.root) / table) if self.is_local else f"s3://{self.root}/{table}"

    def table_path(self, table: str) -> str:
        return str(Path(self.root) / table) if self.is_local else f"{self.root}/{table}"

    def path_of(self, file_uri: str) -> str:
        """The filesystem path of a data file URI as deltalake lists it."""
        return file_uri.removeprefix("file://") if self.is_local else file_uri.removeprefix("s3://")


def parse_location(url: str) -> TableLocation:
    """Check a table store URL (a local path, ``file://…`` or ``s3://bucket/prefix``) without any I/O.

    Raises:
        InvalidSettings: The URL is empty, names another scheme, an S3 URL has no bucket, or it
            carries credentials (they belong in the environment or in ``storage_options``).
    """
    if not isinstance(url, str) or not url.strip():
        raise InvalidSettings(f"A table store URL must be a non-empty string, such as '/srv/tables'; got {url!r}.")
    if "://" not in url:
        return TableLocation(url=url, scheme="file", root=url)
    scheme = url.split("://", 1)[0].lower()
    if scheme == "file":
        path = url.removeprefix("file://")
        return TableLocation(url=path, scheme="file", root=path)
    if scheme != "s3":
        raise InvalidSettings(
            f"Tables live in a local folder or in an S3-compatible bucket ('s3://bucket/prefix'); got "
            f"{redact_url(url)!r}, whose scheme {scheme!r} is not supported."
        )
    parts = urlsplit(url)
    if "@" in parts.netloc:
        raise InvalidSettings(
            f"The table store URL {redact_url(url)!r} carries credentials; give them in the AWS environment "
            "variables or in storage_options instead."
        )
    if not parts.netloc or parts.query or parts.fragment:
        raise InvalidSettings(
            f"An S3 table store URL has the form 's3://bucket/prefix' with no query; got {redact_url(url)!r}."
        )
    root = f"{parts.netloc}/{parts.path.strip('/')}".rstrip("/")
    return TableLocation(url=f"s3://{root}", scheme="s3", root=root)


@dataclass(frozen=True)
class S3Connection:
    """How to reach an S3-compatible store: the options for deltalake and a matching pyarrow filesystem."""

    options: dict[str, str]
    endpoint: str | None
    secrets: tuple[str, ...] = field(repr=False, default=())

    def __repr__(self) -> str:  # the options hold credentials
        return f"S3Connection(endpoint={self.endpoint!r})"

    @classmethod
    def resolve(cls, explicit: Mapping[str, str] | None, environ: Mapping[str, str]) -> S3Connection:
        """Merge the AWS environment variables with ``explicit`` options (which win).

        Option names are case-insensitive, and deltalake's short spellings (``endpoint``,
        ``access_key_id``, ``region``…) count as the ``AWS_`` ones.
        The S3-specific endpoint (``AWS_ENDPOINT_URL_S3``) wins over the general one, as in the AWS
        tools; a plain-HTTP endpoint must be allowed with ``AWS_ALLOW_HTTP=true``, as deltalake requires.
        Options other than the AWS ones listed in :data:`ENVIRONMENT_KEYS` go to deltalake unchanged.
        """
        given: dict[str, str] = {}
        for key, value in (explicit or {}).items():
            if not isinstance(key, str) or not isinstance(value, str):
                raise InvalidSettings(
                    f"Table storage options must map strings to strings; the option {key!r} has a "
                    f"{type(value).__name__} value."
                )
            given[_ALIASES.get(key.upper(), key.upper())] = value
        from_environment = {key: environ[key] for key in ENVIRONMENT_KEYS if environ.get(key)}

        def first(*keys: str) -> str | None:
            for layer in (given, from_environment):
                for key in keys:
                    if layer.get(key):
                        return layer[key]
            return None

        endpoint = first("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL")
        resolved = {
            "AWS_ACCESS_KEY_ID": first("AWS_ACCESS_KEY_ID"),
            "AWS_SECRET_ACCESS_KEY": first("AWS_SECRET_ACCESS_KEY"),
            "AWS_SESSION_TOKEN": first("AWS_SESSION_TOKEN"),
            "AWS_ENDPOINT_URL": endpoint,
            "AWS_REGION": first("AWS_REGION", "AWS_DEFAULT_REGION"),
            "AWS_ALLOW_HTTP": first("AWS_ALLOW_HTTP"),
        }
        options = {key: value for key, value in given.items() if key not in ENVIRONMENT_KEYS}
        options.update({key: value for key, value in resolved.items() if value is not None})
        # deltalake 1.x already writes each log entry with If-None-Match: *; saying so keeps it explicit
        # for S3-compatible stores, whose docs ask for this option.
        options.setdefault("AWS_CONDITIONAL_PUT", "etag")
        if endpoint is not None:
            scheme = urlsplit(endpoint).scheme.lower()
            if scheme not in ("http", "https"):
                raise InvalidSettings(
                    f"The S3 endpoint must be an http:// or https:// URL; got {redact_url(endpoint)!r}."
                )
            if scheme == "http" and options.get("AWS_ALLOW_HTTP", "").lower() not in _TRUE:
                raise InvalidSettings(
                    f"The S3 endpoint {redact_url(endpoint)!r} is plain HTTP, which sends requests unencrypted; set "
                    "AWS_ALLOW_HTTP=true (in the environment or storage_options) to allow it."
                )
        secrets = tuple(
            value for key, value in options.items() if any(word in key for word in _SECRET_WORDS) and len(value) >= 4
        )
        return cls(options=options, endpoint=endpoint, secrets=secrets)

    def filesystem(self) -> Any:
        """A pyarrow S3 filesystem with the same endpoint, region and credentials as the deltalake options."""
        from pyarrow import fs

        arguments: dict[str, Any] = {}
        if self.options.get("AWS_ACCESS_KEY_ID") and self.options.get("AWS_SECRET_ACCESS_KEY"):
            arguments["access_key"] = self.options["AWS_ACCESS_KEY_ID"]
            arguments["secret_key"] = self.options["AWS_SECRET_ACCESS_KEY"]
            if self.options.get("AWS_SESSION_TOKEN"):
                arguments["session_token"] = self.options["AWS_SESSION_TOKEN"]
        if self.options.get("AWS_REGION"):
            arguments["region"] = self.options["AWS_REGION"]
        if self.endpoint is not None:
            parts = urlsplit(self.endpoint)
            arguments["endpoint_override"] = parts.netloc + parts.path.rstrip("/")
            arguments["scheme"] = parts.scheme.lower()
        return fs.S3FileSystem(**arguments)


@contextlib.contextmanager
def storage_errors(location: str, action: str, secrets: tuple[str, ...] = ()) -> Iterator[None]:
    """Turn storage-library failures into driftloop errors whose message names the location, never a secret.

    A concurrent commit that conflicts becomes :class:`Conflict`, a missing table :class:`NotFound`,
    any other deltalake or I/O failure :class:`StoreError`; the library's error stays chained.
    """
    from deltalake.exceptions import CommitFailedError, DeltaError, TableNotFoundError

    try:
        yield
    except DriftloopError:
        raise
    except CommitFailedError as error:
        raise Conflict(
            f"Another writer changed the table at {location} while {action}, in a way that conflicts; "
            f"nothing was committed ({_reason(error, secrets)}). Try again."
        ) from error
    except TableNotFoundError as error:
        raise NotFound(f"No table at {location} (while {action}).") from error
    except (OSError, DeltaError) as error:
        raise StoreError(f"The table storage at {location} failed while {action}: {_reason(error, secrets)}") from error


def redact_url(url: str) -> str:
    """The URL with any user and password replaced by ``***``.

    >>> redact_url("ftp://me:hunter2@host/tables")
    'ftp://***@host/tables'
    """
    scheme, separator, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if "@" not in authority:
        return url
    return f"{scheme}{separator}***@{authority.rsplit('@', 1)[1]}{slash}{path}"


def _reason(error: BaseException, secrets: tuple[str, ...]) -> str:
    """The library's message on one short line: the S3 error code and message when there is one."""
    text = _ANSI_ESCAPE.sub("", str(error))
    s3_error = _S3_ERROR.search(text)
    if s3_error is not None:
        text = f"{s3_error['code']}: {s3_error['message']}"
    text = " ".join(text.replace("↳", " ").split()) or type(error).__name__
    for secret in secrets:
        text = text.replace(secret, "***")
    return text if len(text) <= 300 else text[:297] + "..."
