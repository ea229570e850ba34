"""Content-addressed blob storage: model files, reports and artifacts, named by their SHA-256.

A blob store keeps immutable bytes under the hex SHA-256 digest of their content, writes them
atomically, stores identical content once, and checks the digest on every read.
:func:`open_blob_store` picks the adapter from the URL: a local folder (the workspace default,
``.driftloop/blobs/``) or any fsspec URL such as ``s3://bucket/blobs``.

>>> import tempfile
>>> from driftloop.store.blobs import open_blob_store
>>> folder = tempfile.TemporaryDirectory()
>>> store = open_blob_store(folder.name)
>>> digest = store.put(b"hello")
>>> digest
'2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824'
>>> store.get(digest)
b'hello'
>>> store.info(digest).size
5
>>> with store.open(digest) as reader:
...     reader.read()
b'hello'
>>> list(store.iter_digests()) == [digest]
True
>>> folder.cleanup()
"""

from driftloop.store.blobs._fsspec import FsspecBlobStore
from driftloop.store.blobs._port import BlobInfo, BlobStore
from driftloop.store.blobs._registry import open_blob_store

__all__ = ["BlobInfo", "BlobStore", "FsspecBlobStore", "open_blob_store"]
