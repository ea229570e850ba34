"""pandera's side of validation: the engine that runs custom checks, and a schema as a pandera model.

Imported only when needed (pandera takes half a second to import): by a schema with custom checks, or by
:meth:`DataSchema.to_pandera`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import pandera.polars as pa_polars
import polars as pl

from driftloop.data._dtypes import polars_type
from driftloop.data.validation._checks import CustomCheck
from driftloop.data.validation._rules import FAILURES, Rule, column_tests
from driftloop.errors import InvalidData

if TYPE_CHECKING:
    from driftloop.data.validation._schema import DataSchema

__all__ = ["PanderaChecks", "pandera_model"]


class PanderaChecks:
    """The custom checks of a schema, each with its catalog rule, run by pandera on one cast batch at a time."""

    def __init__(self, checks: Sequence[tuple[Rule, CustomCheck]]) -> None:
        self._ordinals = [rule.ordinal for rule, _ in checks]
        self._schema = pa_polars.DataFrameSchema(
            {},
            checks=[pa_polars.Check(_frame_check(check.condition()), name=check.name) for _, check in checks],
            strict=False,
        )

    def run(self, frame: pl.DataFrame, source: str, rules: Sequence[Rule]) -> pl.DataFrame:
        """The failures of ``frame`` (see ``FAILURES``); :class:`InvalidData` when a check cannot run on it."""
        from pandera.config import config_context
        from pandera.errors import SchemaError, SchemaErrors

        with config_context(validation_enabled=True, validation_depth="SCHEMA_AND_DATA"):
            try:
                self._schema.validate(frame, lazy=True)
            except SchemaErrors as errors:
                return self._failures(errors.failure_cases, source, rules)
            except SchemaError as error:  # only raised when lazy validation stops early
                raise InvalidData(f"{_where(source)}: {error}", source=source or None) from None
        return pl.DataFrame(schema=FAILURES)

    def _failures(self, cases: pl.DataFrame, source: str, rules: Sequence[Rule]) -> pl.DataFrame:
        numbers = pl.DataFrame(
            {"check_number": range(len(self._ordinals)), "ordinal": self._ordinals},
            schema={"check_number": pl.Int64, "ordinal": pl.UInt32},
        )
        matched = cases.with_columns(pl.col("check_number").cast(pl.Int64)).join(
            numbers, on="check_number", how="left", maintain_order="left"
        )
        # A check that raised (a failing cast inside it) comes back as one case without a row.
        unmatched = matched.filter(pl.col("ordinal").is_null() | pl.col("index").is_null())
        if unmatched.height:
            column, check, ordinal, value = unmatched.select("column", "check", "ordinal", "failure_case").row(0)
            what = rules[ordinal].describe() if ordinal is not None else f"check {check!r} of column {column!r}"
            raise InvalidData(f"{_where(source)}: {what} could not run: {value}", source=source or None, column=column)
        return matched.select(
            pl.col("index").cast(pl.Int64).alias("row"),
            "ordinal",
            pl.col("failure_case").cast(pl.String).alias("value"),
        )


def pandera_model(schema: DataSchema) -> pa_polars.DataFrameSchema:
    """The schema as a pandera model of data already in its types (see :meth:`DataSchema.to_pandera`)."""
    columns = {}
    for spec in schema.columns:
        checks = [
            pa_polars.Check(_frame_check(test.passes), name=test.label, raise_warning=not test.enforced)
            for test in column_tests(spec)
        ]
        if spec.unique:
            # Within the data validated; the Validator also remembers values across the batches of an ingest.
            first = pl.col(spec.name).is_first_distinct() | pl.col(spec.name).is_null()
            checks.append(
                pa_polars.Check(_frame_check(first), name="unique", raise_warning=not spec.enforces("unique"))
            )
        columns[spec.name] = pa_polars.Column(
            polars_type(spec.dtype), nullable=spec.nullable, required=spec.required, checks=checks
        )
    custom = [
        pa_polars.Check(_frame_check(check.condition()), name=check.name, raise_warning=check.kind == "expectation")
        for check in schema.custom_checks
    ]
    return pa_polars.DataFrameSchema(columns, checks=custom, strict=False)


def _frame_check(condition: pl.Expr) -> Callable[[pa_polars.PolarsData], pl.LazyFrame]:
    def check(data: pa_polars.PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(condition)

    return check


def _where(source: str) -> str:
    return f"Source {source!r}" if source else "The batch"
