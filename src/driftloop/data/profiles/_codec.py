"""The binary format of a profile: a JSON header, the sketches' own bytes, and a checksum.

Layout (integers big-endian)::

    magic      8 bytes   b"DLPROF\\r\\n" (the line break catches a text-mode transfer)
    version    uint16    FORMAT_VERSION
    length     uint32    byte length of the header
    header     UTF-8 JSON: {"sketch_sizes": [...], ...fields of the profile}
    sketches   the DataSketches serializations, back to back, sizes as listed in the header
    checksum   uint32    CRC-32 of everything before it

The sketches' bytes are Apache DataSketches' own, portable formats (readable from Java and C++ too). A reader
refuses a version it does not know, and checks the checksum before it hands any byte to a sketch's decoder.
"""

from __future__ import annotations

import json
import struct
import zlib
from collections.abc import Sequence
from typing import Any, Final

from driftloop.errors import InvalidData, InvalidInput

__all__ = ["FORMAT_VERSION", "checked_count", "pack", "unpack"]

FORMAT_VERSION: Final = 1
_MAGIC: Final = b"DLPROF\r\n"
_PREFIX: Final = struct.Struct(">8sHI")
_CHECKSUM: Final = struct.Struct(">I")
_SOURCE: Final = "profile bytes"


def pack(header: dict[str, Any], sketches: Sequence[bytes]) -> bytes:
    """Return the bytes of a profile whose fields are ``header`` and whose sketches are ``sketches``."""
    header_bytes = json.dumps(
        {"sketch_sizes": [len(sketch) for sketch in sketches], **header}, separators=(",", ":"), ensure_ascii=False
    ).encode()
    body = b"".join([_PREFIX.pack(_MAGIC, FORMAT_VERSION, len(header_bytes)), header_bytes, *sketches])
    return body + _CHECKSUM.pack(zlib.crc32(body))


def unpack(data: bytes) -> tuple[dict[str, Any], list[bytes]]:
    """Return the header and the sketches' bytes of a profile, after checking its magic, version and checksum."""
    if not isinstance(data, bytes | bytearray | memoryview):
        raise InvalidInput(f"A profile is read from bytes; got {type(data).__name__}.")
    data = bytes(data)
    if len(data) < _PREFIX.size + _CHECKSUM.size or not data.startswith(_MAGIC):
        raise InvalidData(
            f"These {len(data)} bytes are not a driftloop profile: it starts with {_MAGIC!r} and a header; "
            f"got {data[:8]!r}.",
            source=_SOURCE,
        )
    _magic, version, header_size = _PREFIX.unpack_from(data)
    if version != FORMAT_VERSION:
        raise InvalidInput(
            f"The profile is in format version {version}; this driftloop reads version {FORMAT_VERSION}. "
            "Upgrade driftloop to read it, or build the profile again."
        )
    body, (checksum,) = data[: -_CHECKSUM.size], _CHECKSUM.unpack(data[-_CHECKSUM.size :])
    if zlib.crc32(body) != checksum:
        raise InvalidData(
            f"The profile bytes are corrupt or truncated: their CRC-32 is {zlib.crc32(body):08x}, "
            f"the stored one {checksum:08x}.",
            source=_SOURCE,
        )
    try:
        header = json.loads(body[_PREFIX.size : _PREFIX.size + header_size])
        sizes = [checked_count(size) for size in header.pop("sketch_sizes")]
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise corrupt(f"its header does not parse ({error})") from error
    offset = _PREFIX.size + header_size
    if offset + sum(sizes) != len(body):
        raise corrupt(f"the header lists {sum(sizes)} bytes of sketches, the body holds {len(body) - offset}")
    sketches = []
    for size in sizes:
        sketches.append(body[offset : offset + size])
        offset += size
    return header, sketches


def corrupt(reason: str) -> InvalidData:
    """Return the error for profile bytes that pass the checksum yet do not describe a profile."""
    return InvalidData(f"The profile bytes are malformed: {reason}.", source=_SOURCE)


def checked_count(value: object) -> int:
    """Return ``value`` when it is a non-negative integer, else raise ``ValueError`` (the decoders turn it corrupt)."""
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"a count must be a non-negative integer, not {value!r}")
    return value
