"""A paginated JSON web API, read page by page with httpx."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Literal

import httpx
import pyarrow as pa

from driftloop.data.sources._base import DEFAULT_BATCH_ROWS, check_batch_rows, redact_url
from driftloop.data.sources._files import parse_column_types
from driftloop.data.sources._http import HttpSettings, check_http_url, get
from driftloop.data.sources._json import find_records
from driftloop.data.sources._records import RecordBatcher, RowContext
from driftloop.errors import InvalidData, InvalidInput, SourceError

__all__ = ["WebApiSource"]

Pagination = Literal["auto", "next_link", "page", "offset"]
_PAGINATIONS = ("auto", "next_link", "page", "offset")


class WebApiSource:
    """Records from a JSON web API, one GET per page, each page turned into record batches.

    Pagination styles:

    - ``"next_link"``: follow the next page's URL, taken from the JSON field ``next``, ``links.next``
      (a string or ``{"href": …}``) or ``next_page``, or from the ``Link: <…>; rel="next"`` header,
      until there is none.
    - ``"page"``: set ``page_param`` to 1, 2, 3… (from the URL's own value if it has one), until a page
      has no records.
    - ``"offset"``: set ``offset_param`` to 0, then past the records read so far, until a page is empty.
    - ``"auto"`` (default): next links when the first page has one; else ``"page"`` or ``"offset"``
      when the URL carries ``page_param`` or ``offset_param``; else the URL is the only page.

    ``page_size`` sets ``limit_param`` on the first URL (page and offset styles: on every URL).
    Connection errors, 429 (after its ``Retry-After`` seconds) and 5xx are retried ``retries`` times
    with exponential back-off from ``backoff`` seconds. Headers never appear in messages or reprs.

    Column types stay the same across pages: see :class:`RecordBatcher`. A column that is null on
    early pages takes its type from a later one; ``column_types`` declares types outright.

    Args:
        url: The first page's http(s) URL.
        records_path: The dotted path to the list of records in a page (``"data.items"``); by default
            the page itself when it is a list, or the one list field of the page object.
        pagination: One of the styles above.
        page_param: The query parameter of the page number.
        offset_param: The query parameter of the offset.
        limit_param: The query parameter of the page size.
        page_size: Records to ask for per page; by default the API's own.
        headers: Request headers, such as ``{"Authorization": "Bearer …"}``.
        max_pages: A guard against endless paging: reading more pages than this fails.
        retries: Retries of a failed request after the first attempt.
        backoff: Seconds before the first retry; each next retry waits twice as long.
        timeout: Seconds to wait for the server on each request.
        column_types: Arrow types by column name (``{"price": "float64"}``).
        batch_rows: The most rows in one batch.

    Raises:
        InvalidInput: An argument is invalid (checked here, without any request).

    >>> WebApiSource("https://api.example.com/houses?token=s3cret", pagination="page").description
    'Web API https://api.example.com/houses?token=***'
    """

    def __init__(
        self,
        url: str,
        *,
        records_path: str | None = None,
        pagination: Pagination = "auto",
        page_param: str = "page",
        offset_param: str = "offset",
        limit_param: str = "limit",
        page_size: int | None = None,
        headers: Mapping[str, str] | None = None,
        max_pages: int = 10_000,
        retries: int = 3,
        backoff: float = 0.5,
        timeout: float = 30,
        column_types: Mapping[str, str | pa.DataType] | None = None,
        batch_rows: int = DEFAULT_BATCH_ROWS,
    ) -> None:
        if not isinstance(url, str):
            raise InvalidInput(f"A web API URL must be a string such as 'https://api.example.com/items'; got {url!r}.")
        self.url = check_http_url(url, "web API")
        if pagination not in _PAGINATIONS:
            raise InvalidInput(f"pagination must be one of {', '.join(map(repr, _PAGINATIONS))}; got {pagination!r}.")
        for name, value in (("page_param", page_param), ("offset_param", offset_param), ("limit_param", limit_param)):
            if not isinstance(value, str) or not value:
                raise InvalidInput(f"{name} must be a non-empty query parameter name; got {value!r}.")
        if records_path is not None and (not isinstance(records_path, str) or not records_path):
            raise InvalidInput(f"records_path must be a dotted path such as 'data.items'; got {records_path!r}.")
        for name, number in (("page_size", page_size), ("max_pages", max_pages)):
            if number is not None and (isinstance(number, bool) or not isinstance(number, int) or number < 1):
                raise InvalidInput(f"{name} must be a positive integer; got {number!r}.")
        self.records_path = records_path
        self.pagination: Pagination = pagination
        self.page_param, self.offset_param, self.limit_param = page_param, offset_param, limit_param
        self.page_size = page_size
        self.max_pages = max_pages
        self.batch_rows = check_batch_rows(batch_rows)
        self._http = HttpSettings(headers=dict(headers or {}), retries=retries, backoff=backoff, timeout=timeout)
        self._column_types = parse_column_types(column_types)
        self.description = f"Web API {redact_url(url)}"

    def __repr__(self) -> str:
        return f"WebApiSource({self.description!r})"

    def batches(self) -> Iterator[pa.RecordBatch]:
        """GET the pages in turn and stream their records.

        Raises:
            SourceError: A request fails (4xx other than 429, or retries exhausted), the pages loop,
                or there are more than ``max_pages``.
            InvalidData: A page is not JSON, has no records where expected, or a value does not fit
                its column's type; the message names the page and the column.
        """
        batcher = RecordBatcher(self.description, column_types=self._column_types)
        rows = 0
        with self._http.client() as client:
            for page, records in self._pages(client):
                for start in range(0, len(records), self.batch_rows):
                    yield batcher.from_records(
                        records[start : start + self.batch_rows],
                        first_row=rows + start + 1,
                        context=_record_of_page(start, page),
                    )
                rows += len(records)

    def _pages(self, client: httpx.Client) -> Iterator[tuple[int, Sequence[object]]]:
        """(page number, records) for every page, following the pagination style."""
        style = self.pagination
        url = httpx.URL(self.url)
        if self.page_size is not None:
            url = url.copy_set_param(self.limit_param, self.page_size)
        if style == "page":
            url = url.copy_set_param(self.page_param, self._number(url, self.page_param, 1))
        elif style == "offset":
            url = url.copy_set_param(self.offset_param, self._number(url, self.offset_param, 0))
        seen = {str(url)}
        previous: Sequence[object] | None = None
        for page in range(1, self.max_pages + 1):
            response = get(client, str(url), self._http)
            where = f"{self.description}: page {page} ({redact_url(str(url))})"
            try:
                document = response.json()
            except ValueError as error:
                raise InvalidData(f"{where} is not JSON: {error}.", source=self.description) from error
            records = find_records(document, self.records_path, where)
            link = _next_link(document, response)
            if style == "auto":
                style = _detect(link, url, self.page_param, self.offset_param)
            if records:
                yield page, records
            if style == "next_link":
                if link is None:
                    return
                url = url.join(link)
                if str(url) in seen:
                    raise SourceError(f"{where} links back to {redact_url(str(url))}, read before; the pages loop.")
                seen.add(str(url))
                continue
            if style not in ("page", "offset") or not records:
                return
            if previous is not None and records == previous:
                parameter = self.page_param if style == "page" else self.offset_param
                raise SourceError(f"{where} repeats the page before it; the API seems to ignore {parameter!r}.")
            previous = records
            if style == "page":
                url = url.copy_set_param(self.page_param, self._number(url, self.page_param, 1) + 1)
            else:
                url = url.copy_set_param(self.offset_param, self._number(url, self.offset_param, 0) + len(records))
        raise SourceError(
            f"{self.description} has more than max_pages={self.max_pages} pages; raise max_pages to read them all."
        )

    def _number(self, url: httpx.URL, parameter: str, default: int) -> int:
        value = url.params.get(parameter)
        if value is None:
            return default
        try:
            return int(value)
        except ValueError:
            raise InvalidInput(
                f"The {parameter!r} of {self.description} must be a whole number; got {value!r}."
            ) from None


def _record_of_page(start: int, page: int) -> RowContext:
    """Where a record of a chunk sits, for messages: ``"record 7 of page 3"``."""
    return lambda index: f"record {start + index + 1} of page {page}"


def _detect(link: str | None, url: httpx.URL, page_param: str, offset_param: str) -> Pagination:
    """The style "auto" settles on after the first page."""
    if link is not None:
        return "next_link"
    if page_param in url.params:
        return "page"
    if offset_param in url.params:
        return "offset"
    return "auto"  # a single page


def _next_link(document: object, response: httpx.Response) -> str | None:
    """The next page's URL from the page's JSON (``next``, ``links.next``, ``next_page``) or Link header."""
    if isinstance(document, dict):
        links = document.get("links")
        nested = links.get("next") if isinstance(links, dict) else None
        for candidate in (document.get("next"), nested, document.get("next_page")):
            if isinstance(candidate, dict):
                candidate = candidate.get("href")
            # A bare number or cursor is not a link; a link is a URL or a path.
            if isinstance(candidate, str) and candidate.startswith(("http://", "https://", "/", "?")):
                return candidate
    header = response.links.get("next", {}).get("url")
    return header or None
