"""open_source dispatch, declared sources (SourceSpec) and the package's public surface."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from driftloop.data.sources import FileSource, FrameSource, Source, SourceSpec, SqlSource, WebApiSource, open_source
from driftloop.data.sources._base import redact_url
from driftloop.data.sources._http import HttpSettings
from driftloop.errors import InvalidInput


def test_every_source_is_a_source(tmp_path: Path) -> None:
    built = [
        FileSource(tmp_path / "a.csv"),
        WebApiSource("https://api.example.com/items"),
        SqlSource("sqlite://", "SELECT 1"),
        FrameSource(pa.table({"a": [1]})),
    ]
    assert all(isinstance(source, Source) for source in built)


def test_open_source_picks_the_adapter(tmp_path: Path) -> None:
    assert isinstance(open_source(tmp_path / "houses.csv"), FileSource)
    assert isinstance(open_source(str(tmp_path / "houses.parquet")), FileSource)
    assert isinstance(open_source("https://example.com/houses.csv"), FileSource)
    assert isinstance(open_source("https://example.com/houses", format="api", page_size=50), WebApiSource)
    assert isinstance(open_source("sqlite:///x.db", query="SELECT 1", params={"a": 1}), SqlSource)
    assert isinstance(open_source(pa.table({"a": [1]})), FrameSource)
    spec = SourceSpec.from_dict({"kind": "file", "path": str(tmp_path / "houses.txt")})
    opened = open_source(spec, format="csv", delimiter=";", batch_rows=10)
    assert isinstance(opened, FileSource)
    assert (opened.format, opened.batch_rows) == ("csv", 10)


@pytest.mark.parametrize(
    ("source", "options", "message"),
    [
        (42, {}, "A source is a path or URL, a pandas or polars frame, an Arrow table or reader, or a SourceSpec; got"),
        ("houses.csv", {"delimeter": ";"}, "A 'file' source has no option 'delimeter'; it takes: path, format,"),
        ("sqlite://", {"format": "sql"}, "A 'sql' source needs 'query'."),
        ("sqlite://", {"query": "SELECT 1", "format": "csv"}, "A SQL source (given query=) takes no format but 'sql'"),
        ("houses.csv", {"batch_rows": 0}, "batch_rows must be a positive integer"),
        ("https://x.org/a", {"format": "api", "query": "SELECT 1"}, "takes no format but 'sql'; got format='api'."),
    ],
)
def test_open_source_rejects(source: Any, options: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        open_source(source, **options)
    assert message in str(caught.value)


def test_specs_from_yaml() -> None:
    config = yaml.safe_load(
        """
        - kind: file
          path: data/houses.csv
          column_types: {zip: string}
        - kind: api
          url: https://api.example.com/houses
          pagination: page
          headers: {Authorization: "Bearer ${HOUSES_TOKEN}"}
        - kind: sql
          url: postgresql+psycopg://reader@db/sales
          query: SELECT * FROM houses WHERE listed > :since
          params: {since: 2024-01-01}
        """
    )
    specs = [SourceSpec.from_dict(item) for item in config]
    assert [spec.kind for spec in specs] == ["file", "api", "sql"]
    assert [spec.to_dict() for spec in specs] == config
    with pytest.raises(TypeError):
        specs[0].options["path"] = "elsewhere.csv"  # type: ignore[index]


def test_environment_variables_fill_in_when_opened(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = SourceSpec("api", {"url": "https://api.example.com/houses", "headers": {"Authorization": "Bearer ${TOKEN}"}})
    monkeypatch.delenv("TOKEN", raising=False)
    with pytest.raises(InvalidInput, match=r"The source option 'headers' refers to \$\{TOKEN\}, which is not set."):
        spec.open()
    monkeypatch.setenv("TOKEN", "s3cret")
    source = spec.open()
    assert isinstance(source, WebApiSource)
    assert source._http.headers == {"Authorization": "Bearer s3cret"}
    assert "s3cret" not in repr(source) + source.description + repr(source._http) + repr(spec)


@pytest.mark.parametrize(
    ("mapping", "message"),
    [
        ("kind: file", "A source must be a mapping such as"),
        ({"path": "a.csv"}, "A source needs a 'kind' ('file', 'api' or 'sql'); got keys path."),
        ({"kind": "ftp", "path": "a.csv"}, "A source kind must be one of 'file', 'api', 'sql'; got 'ftp'."),
        ({"kind": "file"}, "A 'file' source needs 'path'."),
        ({"kind": "sql", "url": "sqlite://"}, "A 'sql' source needs 'query'."),
        ({"kind": "api", "url": "https://x.org", "batch_rows": 5}, "A 'api' source has no option 'batch_rows'"),
    ],
)
def test_bad_specs(mapping: Any, message: str) -> None:
    with pytest.raises(InvalidInput) as caught:
        SourceSpec.from_dict(mapping)
    assert message in str(caught.value)


def test_spec_option_values_are_checked_when_opened() -> None:
    spec = SourceSpec.from_dict({"kind": "api", "url": "https://x.org", "page_size": -5})
    with pytest.raises(InvalidInput, match=r"page_size must be a positive integer; got -5\."):
        spec.open()


@pytest.mark.parametrize(
    ("url", "redacted"),
    [
        ("https://user:pw@host/a?token=x&page=2", "https://user:***@host/a?token=***&page=2"),
        (
            "s3://bucket/key.csv?X-Amz-Signature=abc&X-Amz-Credential=me",
            "s3://bucket/key.csv?X-Amz-Signature=***&X-Amz-Credential=***",
        ),
        ("https://host/a?apikey=1&next=https://host/b", "https://host/a?apikey=***&next=https://host/b"),
        ("relative/path.csv", "relative/path.csv"),
    ],
)
def test_urls_are_redacted(url: str, redacted: str) -> None:
    assert redact_url(url) == redacted


@given(password=st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1, max_size=20).map(lambda text: f"PW{text}"))
def test_descriptions_never_show_passwords(password: str) -> None:
    sql = SqlSource(f"postgresql+psycopg://reader:{password}@db.example.com/sales", "SELECT 1")
    web = WebApiSource(f"https://reader:{password}@api.example.com/items?access_token={password}")
    http = HttpSettings(headers={"Authorization": password})
    for text in (sql.description, repr(sql), web.description, repr(web), repr(http)):
        assert password not in text
