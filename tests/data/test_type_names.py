"""One spelling of each type, written by transforms and data schemas alike; both still read the other spelling,
which transforms saved by earlier versions of driftloop used."""

from __future__ import annotations

import datetime as dt
import json

import polars as pl
import pyarrow as pa
import pytest

from driftloop.data._dtypes import canonical_name, dtype_name, parse_dtype, polars_type
from driftloop.data.transforms import Cast, FittedTransform, Transform
from driftloop.data.validation import ColumnSpec, DataSchema
from driftloop.errors import InvalidInput


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


@pytest.mark.parametrize(
    ("dtype", "name"),
    [
        (pl.Datetime("us", "UTC"), "timestamp[us, tz=UTC]"),
        (pl.Datetime("ms"), "timestamp[ms]"),
        (pl.Datetime("ns", "Asia/Ho_Chi_Minh"), "timestamp[ns, tz=Asia/Ho_Chi_Minh]"),
        (pl.Duration("ms"), "duration[ms]"),
        (pl.Int32(), "int32"),
        (pl.String(), "string"),
        (pl.Categorical(), "categorical"),
    ],
)
def test_the_canonical_name_reads_back(dtype: pl.DataType, name: str) -> None:
    assert dtype_name(dtype) == name
    assert parse_dtype(name) == dtype


def test_the_canonical_date_time_is_arrows_own_spelling() -> None:
    assert dtype_name(pl.Datetime("us", "UTC")) == str(pa.timestamp("us", tz="UTC"))
    assert canonical_name("datetime[us, UTC]") == "timestamp[us, tz=UTC]"
    with pytest.raises(InvalidInput, match="Unknown column type 'duration\\[us\\]'"):
        canonical_name("duration[us]")  # a transform's type, not one a data schema validates


def test_transforms_and_schemas_write_the_same_name() -> None:
    sample = pa.table(
        {"at": pa.array([dt.datetime(2024, 1, 1, tzinfo=dt.UTC)], pa.timestamp("us", tz="UTC")), "x": [1.0]}
    )
    fitted = Transform([Cast({"x": "float32"})]).fit(sample)
    schema = DataSchema.infer(sample)
    assert fitted.input_schema["at"] == schema.column("at").dtype == "timestamp[us, tz=UTC]"


def test_a_transform_saved_with_the_earlier_spelling_loads_and_runs() -> None:
    saved = {
        "format": 1,
        "steps": [{"kind": "cast", "types": {"at": "datetime[us, UTC]"}}],
        "statistics": [{}],
        "input_schema": {"at": "string"},
    }
    fitted = FittedTransform.from_json(json.dumps(saved))
    out = fitted.apply(pa.table({"at": ["2024-01-02 03:04:05"]}))
    assert out.schema.field("at").type == pa.timestamp("us", tz="UTC")
    # The declared step keeps the user's text, so the transform's hash (recorded with versions) is unchanged.
    assert fitted.transform.steps[0].to_dict()["types"] == {"at": "datetime[us, UTC]"}


def test_a_schema_saved_with_the_earlier_spelling_loads_in_the_canonical_one() -> None:
    schema = DataSchema.from_dict({"columns": [{"name": "at", "dtype": "datetime[us, UTC]", "nullable": True}]})
    assert schema.column("at").dtype == "timestamp[us, tz=UTC]"
    assert schema.to_dict()["columns"][0]["dtype"] == "timestamp[us, tz=UTC]"
    assert schema == DataSchema((ColumnSpec("at", "timestamp[us, tz=UTC]", nullable=True),))
    assert schema.arrow_schema().field("at").type == pa.timestamp("us", tz="UTC")
