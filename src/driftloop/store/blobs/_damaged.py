"""What a read does with a blob whose bytes no longer hash to its digest: set it aside, then say so.

Writes keep a blob that exists with the right size, so a damaged copy left in place would be kept for
good; once it is set aside, storing the same content again writes it afresh.
"""

from __future__ import annotations

import os
import uuid
from typing import IO, Any

from driftloop.errors import BlobIntegrityError
from driftloop.store.blobs._digests import OnMismatch, integrity_error
from driftloop.store.blobs._local_files import file_identity, set_aside

_REPAIRABLE = "so storing the content again repairs it."
_ALREADY_GONE = "Another read had set it aside or a write had replaced it already; read it again."


def move_aside_on_mismatch(source: IO[bytes], path: str, corrupt_folder: str, digest: str, blob_url: str) -> OnMismatch:
    """Handle a mismatch in a local blob file just opened as ``source``: move it into ``corrupt_folder``.

    The file goes to ``<corrupt_folder>/<digest>.<uuid>``, kept for inspection.
    """
    # Taken at open, so that a sound copy written while the blob was being read is never the one moved.
    identity = file_identity(os.fstat(source.fileno()))

    def on_mismatch(actual: str, size: int) -> BlobIntegrityError:
        aside = f"{corrupt_folder}/{digest}.{uuid.uuid4().hex}"
        try:
            moved = set_aside(path, aside, identity)
        except OSError as error:
            return _unmoved(digest, blob_url, actual, error)
        fate = f"It was set aside to {aside}, {_REPAIRABLE}" if moved else _ALREADY_GONE
        return integrity_error(digest, blob_url, actual, fate)

    return on_mismatch


def delete_on_mismatch(filesystem: Any, path: str, digest: str, blob_url: str) -> OnMismatch:
    """Handle a mismatch in a remote blob (object stores have no cheap rename): delete it."""

    def on_mismatch(actual: str, size: int) -> BlobIntegrityError:
        fate = _ALREADY_GONE
        try:
            # Another size means a write replaced the damaged object after the read; that copy stays.
            if int(filesystem.size(path)) == size:
                filesystem.rm_file(path)
                fate = f"It was set aside (deleted), {_REPAIRABLE}"
        except FileNotFoundError:
            pass
        except OSError as error:
            return _unmoved(digest, blob_url, actual, error)
        return integrity_error(digest, blob_url, actual, fate)

    return on_mismatch


def _unmoved(digest: str, blob_url: str, actual: str, error: OSError) -> BlobIntegrityError:
    fate = f"It could not be set aside ({error}); delete it, then store the content again."
    damaged = integrity_error(digest, blob_url, actual, fate)
    damaged.__cause__ = error
    return damaged
