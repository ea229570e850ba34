"""Column type names: the one canonical spelling that data schemas and transforms write, and what both read.

A type name is what a user writes in YAML and what driftloop saves with a schema or a fitted transform:
``int64``, ``float64``, ``string``, ``bool``, ``date``, ``timestamp[us]``, ``timestamp[us, tz=UTC]``,
``duration[us]``… Date-times are spelled as Arrow spells them (``str(pa.timestamp("us", tz="UTC"))`` is
``timestamp[us, tz=UTC]``), so a schema, a fitted transform and a dataset's recorded Arrow schema agree.

Earlier versions of driftloop wrote a transform's date-times as ``datetime[us, UTC]``; every reader here
still accepts that spelling (with or without ``tz=``), so schemas and transforms saved then load unchanged.
Data schemas take the types validation supports (:func:`polars_type`); transforms also take ``categorical``,
``time``, ``binary``, ``duration[UNIT]`` and a few aliases such as ``int`` and ``text`` (:func:`parse_dtype`).

>>> dtype_name(polars_type("datetime[us, UTC]"))
'timestamp[us, tz=UTC]'
>>> canonical_name("datetime[ms]")
'timestamp[ms]'
"""

from __future__ import annotations

import re

import polars as pl
import pyarrow as pa

from driftloop.errors import InvalidInput

__all__ = [
    "SCHEMA_TYPE_NAMES",
    "TRANSFORM_TYPE_NAMES",
    "arrow_type",
    "canonical_name",
    "dtype_name",
    "dtype_name_of",
    "is_integer",
    "is_numeric",
    "parse_dtype",
    "polars_type",
]

# The types a data schema (and so validation) supports.
_SCHEMA_SIMPLE: dict[str, pl.DataType] = {
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
# ...and the further ones a transform can produce.
_TRANSFORM_SIMPLE: dict[str, pl.DataType] = {
    **_SCHEMA_SIMPLE,
    "categorical": pl.Categorical(),
    "time": pl.Time(),
    "binary": pl.Binary(),
    "null": pl.Null(),
}
_ALIASES = {
    "int": "int64",
    "integer": "int64",
    "float": "float64",
    "double": "float64",
    "boolean": "bool",
    "str": "string",
    "utf8": "string",
    "text": "string",
    "category": "categorical",
}
# timestamp[us], timestamp[us, tz=UTC] (canonical), datetime[us, UTC] (earlier transforms), duration[us]; a bare
# "datetime" or "duration" (microseconds) only in a transform.
_TEMPORAL = re.compile(
    r"(?P<family>datetime|timestamp|duration)(?:\[(?P<unit>ns|us|ms)(?:,\s*(?:tz=)?(?P<zone>[^\]]+))?\])?"
)

SCHEMA_TYPE_NAMES = (*_SCHEMA_SIMPLE, "timestamp[ms]", "timestamp[us]", "timestamp[ns]", "timestamp[us, tz=UTC]")
"""Examples of the type names a data schema takes (any of the units ms, us, ns and any IANA time zone)."""

TRANSFORM_TYPE_NAMES = (*_TRANSFORM_SIMPLE, *_ALIASES, "timestamp[UNIT]", "timestamp[UNIT, tz=ZONE]", "duration[UNIT]")
"""The type names a transform takes; UNIT is ns, us or ms (``datetime`` for ``timestamp[us]`` too)."""


def parse_dtype(name: str) -> pl.DataType | None:
    """The Polars type a transform's type name stands for, or None when the name is unknown.

    Lenient, as a user writes a ``cast`` step: case and surrounding blanks do not matter, aliases such as
    ``int`` or ``text`` work, and ``datetime`` without a unit means microseconds.

    >>> parse_dtype("Text"), parse_dtype("datetime[us, UTC]"), parse_dtype("decimal")
    (String, Datetime(time_unit='us', time_zone='UTC'), None)
    """
    text = name.strip()
    lowered = text.lower()
    text = _ALIASES.get(lowered, lowered if lowered in _TRANSFORM_SIMPLE else text)
    if text in _TRANSFORM_SIMPLE:
        return _TRANSFORM_SIMPLE[text]
    match = _TEMPORAL.fullmatch(text)
    if match is None:
        return None
    family, unit, zone = match["family"], match["unit"], match["zone"]
    if family == "duration":
        return None if zone else pl.Duration(unit or "us")  # type: ignore[arg-type]
    if family == "timestamp" and unit is None:
        return None  # a timestamp always names its unit
    return pl.Datetime(unit or "us", zone.strip() if zone else None)  # type: ignore[arg-type]


def polars_type(name: str) -> pl.DataType:
    """The Polars type of a data schema's column type; :class:`InvalidInput` when validation does not know it.

    >>> polars_type("timestamp[us, tz=UTC]")
    Datetime(time_unit='us', time_zone='UTC')
    """
    if name in _SCHEMA_SIMPLE:
        return _SCHEMA_SIMPLE[name]
    match = _TEMPORAL.fullmatch(name)
    if match is None or match["family"] == "duration" or match["unit"] is None:
        raise InvalidInput(
            f"Unknown column type {name!r}; expected one of {', '.join(_SCHEMA_SIMPLE)}, or timestamp[UNIT] / "
            "timestamp[UNIT, tz=ZONE] with UNIT one of ms, us, ns."
        )
    dtype = pl.Datetime(time_unit=match["unit"], time_zone=match["zone"])  # type: ignore[arg-type]
    try:
        pl.Series(values=[], dtype=dtype)
    except pl.exceptions.PolarsError:
        raise InvalidInput(f"Unknown time zone {match['zone']!r} in the column type {name!r}.") from None
    return dtype


def dtype_name(dtype: pl.DataType) -> str:
    """The canonical name of a Polars type; :func:`parse_dtype` reads it back.

    Types without a name here (lists, structs…) come out as Polars' own spelling, which reads back as unknown.

    >>> dtype_name(pl.Datetime("us", "UTC")), dtype_name(pl.Datetime("ms")), dtype_name(pl.Duration("us"))
    ('timestamp[us, tz=UTC]', 'timestamp[ms]', 'duration[us]')
    """
    for name, simple in _TRANSFORM_SIMPLE.items():
        if dtype == simple:
            return name
    if isinstance(dtype, pl.Datetime):
        unit = dtype.time_unit
        return f"timestamp[{unit}, tz={dtype.time_zone}]" if dtype.time_zone else f"timestamp[{unit}]"
    if isinstance(dtype, pl.Duration):
        return f"duration[{dtype.time_unit}]"
    return str(dtype)


def canonical_name(name: str) -> str:
    """A data schema's type name in the canonical spelling (``datetime[us, UTC]`` → ``timestamp[us, tz=UTC]``).

    Raises:
        InvalidInput: The name is not a type a data schema supports.
    """
    return name if name in _SCHEMA_SIMPLE else dtype_name(polars_type(name))


def arrow_type(name: str) -> pa.DataType:
    """The Arrow type that validated batches carry for a schema type name (strings are ``large_string``).

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
    """The schema type name for an Arrow type found in data, widening where Polars has no exact match.

    ``float16`` becomes ``float32``, ``timestamp[s]`` becomes ``timestamp[ms]``, a dictionary of strings and an
    all-null column become ``string``. Types validation does not support raise :class:`InvalidInput`.

    >>> dtype_name_of(pa.timestamp("s", tz="UTC"), "listed")
    'timestamp[ms, tz=UTC]'
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
