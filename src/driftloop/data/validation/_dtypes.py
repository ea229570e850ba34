"""Canonical column type names and their Polars and Arrow equivalents.

A schema names types the way a user writes them in YAML (``int64``, ``string``, ``timestamp[us, tz=UTC]``);
this module is the one place that turns those names into engine types and back.
"""

from __future__ import annotations

import re

import polars as pl
import pyarrow as pa

from driftloop.errors import InvalidInput

__all__ = [
    "DTYPE_NAMES",
    "arrow_type",
    "dtype_name_of",
    "is_integer",
    "is_numeric",
    "polars_type",
]

_SIMPLE: dict[str, pl.DataType] = {
    "int8": pl.Int8(),
    "int16": pl.Int16(),
    "int32": pl.Int32(),
    "int64": pl.Int64(),
    "uint8": pl.UInt8(),
    "uint16": pl.UInt16(),
    "uint32": pl.UInt32(),
    "uint64": pl.UInt64(),
    "float32": pl.Float32(),
    "float64": pl.Float64(),
    "string": pl.String(),
    "bool": pl.Boolean(),
    "date": pl.Date(),
}
# "datetime[us, UTC]" (how a transform's Cast spells it) is accepted as well as "timestamp[us, tz=UTC]".
_TIMESTAMP = re.compile(r"(?:timestamp|datetime)\[(?P<unit>ms|us|ns)(?:,\s*(?:tz=)?(?P<tz>[^\]]+))?\]")

DTYPE_NAMES = (*_SIMPLE, "timestamp[ms]", "timestamp[us]", "timestamp[ns]", "timestamp[us, tz=UTC]")
"""Examples of the canonical type names (any time unit of ms, us, ns and any IANA time zone are accepted)."""


def polars_type(name: str) -> pl.DataType:
    """The Polars type of a canonical type name; :class:`InvalidInput` when the name is unknown.

    >>> polars_type("timestamp[us, tz=UTC]")
    Datetime(time_unit='us', time_zone='UTC')
    """
    if name in _SIMPLE:
        return _SIMPLE[name]
    match = _TIMESTAMP.fullmatch(name)
    if match is None:
        raise InvalidInput(
            f"Unknown column type {name!r}; expected one of {', '.join(_SIMPLE)}, or timestamp[UNIT] / "
            "timestamp[UNIT, tz=ZONE] with UNIT one of ms, us, ns."
        )
    dtype = pl.Datetime(time_unit=match["unit"], time_zone=match["tz"])  # type: ignore[arg-type]
    try:
        pl.Series(values=[], dtype=dtype)
    except pl.exceptions.PolarsError:
        raise InvalidInput(f"Unknown time zone {match['tz']!r} in the column type {name!r}.") from None
    return dtype


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type that validated batches carry for a canonical type name (strings are ``large_string``).

    >>> arrow_type("string")
    DataType(large_string)
    """
    polars_dtype = polars_type(name)
    return pl.Series("x", [], dtype=polars_dtype).to_arrow().type


def is_numeric(name: str) -> bool:
    """Whether a canonical type holds numbers (the types a range applies to)."""
    return name.startswith(("int", "uint", "float"))


def is_integer(name: str) -> bool:
    """Whether a canonical type holds integers."""
    return name.startswith(("int", "uint"))


def dtype_name_of(data_type: pa.DataType, column: str) -> str:
    """The canonical name for an Arrow type found in data, widening where Polars has no exact match.

    ``float16`` becomes ``float32``, ``timestamp[s]`` becomes ``timestamp[ms]``, a dictionary of strings and an
    all-null column become ``string``. Types validation does not support raise :class:`InvalidInput`.
    """
    if pa.types.is_dictionary(data_type):
        data_type = data_type.value_type
    if pa.types.is_null(data_type) or pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return "string"
    if pa.types.is_string_view(data_type):
        return "string"
    if pa.types.is_boolean(data_type):
        return "bool"
    if pa.types.is_integer(data_type):
        return f"{'int' if pa.types.is_signed_integer(data_type) else 'uint'}{data_type.bit_width}"
    if pa.types.is_float16(data_type) or pa.types.is_float32(data_type):
        return "float32"
    if pa.types.is_float64(data_type):
        return "float64"
    if pa.types.is_date(data_type):
        return "date"
    if pa.types.is_timestamp(data_type):
        unit = "ms" if data_type.unit == "s" else data_type.unit
        return f"timestamp[{unit}]" if data_type.tz is None else f"timestamp[{unit}, tz={data_type.tz}]"
    raise InvalidInput(
        f"Column {column!r} has the Arrow type {data_type}, which validation does not support; cast it to a "
        "number, string, bool, date or timestamp in a transform step first."
    )
