"""The monitors' one way in: a window given as a pandas or Polars DataFrame or an Arrow table, as Polars."""

from __future__ import annotations

from typing import Any

import polars as pl

from driftloop.errors import InvalidData, InvalidInput

__all__ = ["as_frame"]


def as_frame(data: Any, window: str) -> pl.DataFrame:
    """``data`` as a Polars frame (no copy for Polars, Arrow where it can); ``window`` names it in errors."""
    try:
        if isinstance(data, pl.DataFrame):
            return data
        if type(data).__module__.startswith("pyarrow"):
            return pl.DataFrame(pl.from_arrow(data))  # a Table or a RecordBatch
        if type(data).__module__.startswith("pandas"):
            frame: pl.DataFrame = pl.from_pandas(data)
            return frame
    except (TypeError, ValueError, pl.exceptions.PolarsError) as error:
        raise InvalidData(f"The {window} window could not be read as a table: {error}", source=window) from error
    raise InvalidInput(
        f"The {window} window must be a pandas or polars DataFrame or a pyarrow Table; got {type(data).__name__}."
    )
