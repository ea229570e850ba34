"""Which Arrow types a profile summarises, and how their values reach the sketches.

Two kinds of column are profiled:

* **numeric**: integers, floating point numbers and decimals as their value; timestamps, dates and durations as
  seconds (since the Unix epoch for timestamps and dates, whatever their time zone: Arrow stores instants in UTC).
* **categorical**: strings (``string``, ``large_string``, ``string_view``), dictionary-encoded columns whose values
  are strings, integers or booleans (each value as its text), and booleans as the categories ``"true"`` and
  ``"false"``: a drift report then names the categories instead of a mean of 0/1.

Every other type (lists, structs, maps, binary, times of day…) is skipped without an error, and so is a column of
Arrow's ``null`` type, which carries no kind: its rows count as missing once the column is seen with a real type.
"""

from __future__ import annotations

from typing import Final, Literal

import numpy as np
import numpy.typing as npt
import pyarrow as pa
import pyarrow.compute as pc

__all__ = ["CATEGORICAL", "NUMERIC", "Kind", "categorical_values", "kind_of", "numeric_values"]

Kind = Literal["numeric", "categorical"]
NUMERIC: Final = "numeric"
CATEGORICAL: Final = "categorical"

_SECONDS_PER_UNIT: Final = {"s": 1.0, "ms": 1e-3, "us": 1e-6, "ns": 1e-9}
_SECONDS_PER_DAY: Final = 86_400.0


def kind_of(data_type: pa.DataType) -> Kind | None:
    """Return the kind a column of ``data_type`` is profiled as, or ``None`` when it is skipped."""
    types = pa.types
    if types.is_boolean(data_type) or _is_text(data_type):
        return CATEGORICAL
    if types.is_dictionary(data_type):
        value_type = data_type.value_type
        if _is_text(value_type) or types.is_integer(value_type) or types.is_boolean(value_type):
            return CATEGORICAL
        return None
    if (
        types.is_integer(data_type)
        or types.is_floating(data_type)
        or types.is_decimal(data_type)
        or types.is_timestamp(data_type)
        or types.is_date(data_type)
        or types.is_duration(data_type)
    ):
        return NUMERIC
    return None


def numeric_values(array: pa.Array) -> npt.NDArray[np.float64]:
    """Return the values of a numeric ``array`` as float64, with NaN where a value is null."""
    data_type = array.type
    scale = 1.0
    if pa.types.is_timestamp(data_type) or pa.types.is_duration(data_type):
        array = pc.cast(array, pa.int64())
        scale = _SECONDS_PER_UNIT[data_type.unit]
    elif pa.types.is_date32(data_type):
        array = pc.cast(array, pa.int32())
        scale = _SECONDS_PER_DAY
    elif pa.types.is_date64(data_type):
        array = pc.cast(array, pa.int64())
        scale = _SECONDS_PER_UNIT["ms"]
    # safe=False: an int64 beyond 2**53 or a wide decimal rounds to the nearest float instead of failing.
    values: npt.NDArray[np.float64] = pc.cast(array, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
    return values * scale if scale != 1.0 else values


def categorical_values(array: pa.Array) -> pa.Array:
    """Return the values of a categorical ``array`` as a string array (nulls stay null)."""
    data_type = array.type
    if pa.types.is_dictionary(data_type):
        array = array.dictionary_decode()
        data_type = array.type
    if pa.types.is_string(data_type) or pa.types.is_large_string(data_type):
        return array
    # string_view goes through large_string too: value_counts on it loses track of nulls in pyarrow 26.
    return pc.cast(array, pa.large_string())


def _is_text(data_type: pa.DataType) -> bool:
    types = pa.types
    return bool(types.is_string(data_type) or types.is_large_string(data_type) or types.is_string_view(data_type))
