"""Declared sources (``SourceSpec``, from Python or YAML) and ``open_source``, which picks the adapter."""

from __future__ import annotations

import inspect
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Literal

from driftloop.data.sources._base import DEFAULT_BATCH_ROWS, Source, check_batch_rows
from driftloop.data.sources._files import FileSource
from driftloop.data.sources._frames import Frame, FrameSource, frame_kind
from driftloop.data.sources._sql import SqlSource
from driftloop.data.sources._web import WebApiSource
from driftloop.errors import InvalidInput

__all__ = ["SourceSpec", "open_source"]

SourceKind = Literal["file", "api", "sql"]

_CLASSES: dict[str, type[FileSource] | type[WebApiSource] | type[SqlSource]] = {
    "file": FileSource,
    "api": WebApiSource,
    "sql": SqlSource,
}
_REQUIRED = {"file": ("path",), "api": ("url",), "sql": ("url", "query")}
_ENVIRONMENT_VARIABLE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


def _accepted(kind: str) -> tuple[str, ...]:
    """The option names a kind of source takes: its required ones, then its keywords but batch_rows."""
    parameters = inspect.signature(_CLASSES[kind]).parameters
    keywords = [name for name, parameter in parameters.items() if parameter.kind is inspect.Parameter.KEYWORD_ONLY]
    return _REQUIRED[kind] + tuple(name for name in keywords if name != "batch_rows")


@dataclass(frozen=True)
class SourceSpec:
    """A source declared as data, as an ingest config holds it: ``{"kind": "file", "path": …}``.

    ``kind`` is ``"file"`` (options of :class:`FileSource`, with ``path``), ``"api"`` (of
    :class:`WebApiSource`, with ``url``) or ``"sql"`` (of :class:`SqlSource`, with ``url`` and
    ``query``). The batch size is not part of a spec: whoever reads it chooses.

    String values may name environment variables as ``${NAME}`` (``Authorization: "Bearer
    ${API_TOKEN}"``), filled in by :meth:`open`, so configs and lineage never hold the secret.

    Raises:
        InvalidInput: An unknown kind, a missing required option, or an option the kind does not take.

    >>> spec = SourceSpec.from_dict({"kind": "sql", "url": "sqlite:///houses.db", "query": "SELECT * FROM houses"})
    >>> spec.kind, spec.to_dict()["query"]
    ('sql', 'SELECT * FROM houses')
    >>> SourceSpec.from_dict({"kind": "file", "path": "houses.csv", "delimeter": ";"})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    driftloop.errors.InvalidInput: A 'file' source has no option 'delimeter'; it takes: path, format, delimiter, ...
    """

    kind: SourceKind
    options: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.kind not in _CLASSES:
            raise InvalidInput(f"A source kind must be one of 'file', 'api', 'sql'; got {self.kind!r}.")
        if not isinstance(self.options, Mapping) or not all(isinstance(key, str) for key in self.options):
            raise InvalidInput(f"The options of a {self.kind!r} source must map names to values; got {self.options!r}.")
        accepted = _accepted(self.kind)
        for name in self.options:
            if name not in accepted:
                raise InvalidInput(f"A {self.kind!r} source has no option {name!r}; it takes: {', '.join(accepted)}.")
        missing = [name for name in _REQUIRED[self.kind] if self.options.get(name) in (None, "")]
        if missing:
            raise InvalidInput(f"A {self.kind!r} source needs {' and '.join(map(repr, missing))}.")
        object.__setattr__(self, "options", MappingProxyType(dict(self.options)))

    @classmethod
    def from_dict(cls, mapping: Mapping[str, Any]) -> SourceSpec:
        """Build a spec from a mapping with a ``kind`` key, as read from YAML or JSON.

        Raises:
            InvalidInput: Not a mapping, no ``kind``, or invalid options (see the class docstring).
        """
        if not isinstance(mapping, Mapping):
            raise InvalidInput(f"A source must be a mapping such as {{'kind': 'file', 'path': …}}; got {mapping!r}.")
        if "kind" not in mapping:
            raise InvalidInput(
                f"A source needs a 'kind' ('file', 'api' or 'sql'); got keys {', '.join(map(str, mapping))}."
            )
        return cls(mapping["kind"], {key: value for key, value in mapping.items() if key != "kind"})

    def to_dict(self) -> dict[str, Any]:
        """The mapping :meth:`from_dict` takes back, ``${NAME}`` references unexpanded."""
        return {"kind": self.kind, **self.options}

    def open(self, *, batch_rows: int = DEFAULT_BATCH_ROWS) -> Source:
        """Build the source, with ``${NAME}`` references filled in from the environment (no I/O yet).

        Raises:
            InvalidInput: A referenced environment variable is not set, or an option value is invalid.
        """
        options = {name: _expand(value, name) for name, value in self.options.items()}
        return _build(self.kind, options, batch_rows)


def _build(kind: str, options: dict[str, Any], batch_rows: int) -> Source:
    required = [options.pop(name) for name in _REQUIRED[kind]]
    return _CLASSES[kind](*required, batch_rows=batch_rows, **options)


def _expand(value: Any, option: str) -> Any:
    if isinstance(value, str):

        def variable(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise InvalidInput(f"The source option {option!r} refers to ${{{name}}}, which is not set.")
            return os.environ[name]

        return _ENVIRONMENT_VARIABLE.sub(variable, value)
    if isinstance(value, Mapping):
        return {key: _expand(item, option) for key, item in value.items()}
    return value


def open_source(
    source: str | os.PathLike[str] | Frame | SourceSpec,
    *,
    format: str | None = None,
    batch_rows: int = DEFAULT_BATCH_ROWS,
    **options: Any,
) -> Source:
    """Open anything driftloop ingests as a :class:`Source`, without reading it yet.

    - a :class:`SourceSpec` opens as declared (``options`` are added to its own);
    - a frame (pandas, polars, Arrow) becomes a :class:`FrameSource`;
    - a string or path with a ``query=`` option is a SQLAlchemy URL: :class:`SqlSource`;
    - with ``format="api"`` it is a web API's URL: :class:`WebApiSource`;
    - else it is a file's path or URL: :class:`FileSource`, ``format`` from the extension by default.

    Args:
        source: What to read.
        format: A file format (``"csv"``, ``"parquet"``…) or ``"api"``.
        batch_rows: The most rows in one batch.
        **options: Options of the chosen source class.

    Raises:
        InvalidInput: An unknown kind of source, or options it does not take.

    >>> open_source("data/houses.parquet").description  # doctest: +ELLIPSIS
    'Parquet file /.../data/houses.parquet'
    >>> open_source("sqlite:///houses.db", query="SELECT * FROM houses").description
    'SQL query on sqlite:///houses.db'
    """
    check_batch_rows(batch_rows)
    if isinstance(source, SourceSpec):
        extra = {**options, **({"format": format} if format is not None else {})}
        spec = SourceSpec(source.kind, {**source.options, **extra}) if extra else source
        return spec.open(batch_rows=batch_rows)
    if frame_kind(source) is not None:
        if options or format is not None:
            given = ", ".join([*(["format"] if format is not None else []), *options])
            raise InvalidInput(f"Options ({given}) apply to files, web APIs and SQL queries, not to in-memory frames.")
        return FrameSource(source, batch_rows=batch_rows)
    if not isinstance(source, str | os.PathLike):
        raise InvalidInput(
            "A source is a path or URL, a pandas or polars frame, an Arrow table or reader, or a SourceSpec; "
            f"got {type(source).__module__}.{type(source).__qualname__}."
        )
    location = os.fspath(source)
    if "query" in options or format == "sql":
        kind, required = "sql", {"url": location, "query": options.pop("query", None)}
        if format not in (None, "sql"):
            raise InvalidInput(f"A SQL source (given query=) takes no format but 'sql'; got format={format!r}.")
    elif format == "api":
        kind, required = "api", {"url": location}
    else:
        kind, required = "file", {"path": location, **({"format": format} if format is not None else {})}
    # The spec checks the option names; the source is built without ${NAME} expansion, which is for configs.
    spec = SourceSpec(kind, {**required, **options})  # type: ignore[arg-type]
    return _build(kind, dict(spec.options), batch_rows)
