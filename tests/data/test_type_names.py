"""Transforms and data schemas read each other's spelling of date-time types."""

from __future__ import annotations

import polars as pl
import pytest

from driftloop.data.transforms._dtypes import parse_dtype
from driftloop.data.validation._dtypes import polars_type


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("timestamp[us, tz=UTC]", pl.Datetime("us", "UTC")),
        ("datetime[us, UTC]", pl.Datetime("us", "UTC")),
        ("datetime[ms, tz=Europe/Paris]", pl.Datetime("ms", "Europe/Paris")),
        ("timestamp[ns]", pl.Datetime("ns")),
        ("datetime[ms]", pl.Datetime("ms")),
    ],
)
def test_both_spellings_name_the_same_type(name: str, expected: pl.DataType) -> None:
    assert parse_dtype(name) == expected
    assert polars_type(name) == expected
