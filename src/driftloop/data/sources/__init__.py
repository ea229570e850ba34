"""Data sources: files, web APIs, SQL queries and in-memory frames, streamed as Arrow record batches.

:func:`open_source` turns what a user hands over (a path or URL, a frame, a :class:`SourceSpec`
from an ingest config) into a :class:`Source`; its ``batches()`` stream the rows in Arrow record
batches of at most ``batch_rows`` rows, so memory follows the batch size, not the input's. Malformed
input raises :class:`~driftloop.errors.InvalidData` naming the source, the row and the column;
a source that fails or cannot be reached raises :class:`~driftloop.errors.SourceError`.

>>> import fsspec
>>> from driftloop.data.sources import open_source
>>> with fsspec.open("memory://docs/houses.csv", "w") as file:
...     _ = file.write("rooms,price\\n2,100\\n3,150\\n4,210\\n")
>>> source = open_source("memory://docs/houses.csv", batch_rows=2)
>>> source.description
'CSV file memory://docs/houses.csv'
>>> [batch.to_pylist() for batch in source.batches()]
[[{'rooms': 2, 'price': 100}, {'rooms': 3, 'price': 150}], [{'rooms': 4, 'price': 210}]]

Frames work the same way:

>>> import pyarrow as pa
>>> source = open_source(pa.table({"rooms": [2, 3, 4]}))
>>> source.description, sum(batch.num_rows for batch in source.batches())
('Arrow Table (3 rows)', 3)
"""

from driftloop.data.sources._base import Source
from driftloop.data.sources._files import FileSource
from driftloop.data.sources._frames import FrameSource
from driftloop.data.sources._spec import SourceSpec, open_source
from driftloop.data.sources._sql import SqlSource
from driftloop.data.sources._web import WebApiSource

__all__ = ["FileSource", "FrameSource", "Source", "SourceSpec", "SqlSource", "WebApiSource", "open_source"]
