"""The data schema of a dataset: inferred from a sample, edited by the user (in Python or YAML), versioned."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pyarrow as pa
import yaml

from driftloop.data._dtypes import arrow_type, polars_type
from driftloop.data.validation._checks import CustomCheck
from driftloop.data.validation._column import EXPECTATIONS, ColumnSpec
from driftloop.data.validation._inference import infer_columns
from driftloop.data.validation._schema_io import FORMAT, checks_to_dicts, columns_to_dicts, parse_schema
from driftloop.errors import InvalidInput

if TYPE_CHECKING:
    import pandera.polars as pa_polars

__all__ = ["DataSchema"]


@dataclass(frozen=True)
class DataSchema:
    """The columns a dataset has, and the custom checks its rows answer to.

    Every method returns a new schema; a schema never changes once built.

    >>> import pyarrow as pa
    >>> schema = DataSchema.infer(pa.table({"id": [1, 2, 3], "price": [10.0, 12.5, None]}))
    >>> [(column.name, column.dtype, column.nullable, column.unique) for column in schema.columns]
    [('id', 'int64', False, True), ('price', 'float64', True, False)]
    >>> schema.promote("price", "range").column("price").promoted
    frozenset({'range'})
    """

    columns: tuple[ColumnSpec, ...]
    custom_checks: tuple[CustomCheck, ...] = ()

    def __post_init__(self) -> None:
        columns, checks = tuple(self.columns), tuple(self.custom_checks)
        if not columns:
            raise InvalidInput("A schema needs at least one column.")
        for column in columns:
            if not isinstance(column, ColumnSpec):
                raise InvalidInput(f"A schema's columns must be ColumnSpec objects; got {type(column).__name__}.")
        names = [column.name for column in columns]
        for name in names:
            if names.count(name) > 1:
                raise InvalidInput(f"The schema lists the column {name!r} twice.")
        column_types = {column.name: polars_type(column.dtype) for column in columns}
        check_names: list[str] = []
        for check in checks:
            if not isinstance(check, CustomCheck):
                raise InvalidInput(f"A schema's checks must be CustomCheck objects; got {type(check).__name__}.")
            if check.name in check_names:
                raise InvalidInput(f"The schema has two checks named {check.name!r}.")
            check_names.append(check.name)
            check.verify_against(column_types)
        object.__setattr__(self, "columns", columns)
        object.__setattr__(self, "custom_checks", checks)

    @classmethod
    def infer(cls, sample: pa.Table) -> DataSchema:
        """Infer a schema from a sample (keep it to about 100,000 rows: inference reads all of it).

        Types and nullability come from the sample; so do the expectations (ranges of numeric columns, the
        category set of text columns with at most 50 distinct values making up at most 5% of the rows, and
        uniqueness of integer and text columns without repeats). No expectation is promoted.
        """
        return cls(columns=infer_columns(sample))

    @property
    def names(self) -> tuple[str, ...]:
        """The column names, in schema order."""
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> ColumnSpec:
        """The spec of column ``name``; :class:`InvalidInput` when the schema has no such column."""
        for column in self.columns:
            if column.name == name:
                return column
        raise InvalidInput(f"The schema has no column {name!r}; its columns are {', '.join(self.names) or 'none'}.")

    def promote(self, column: str, expectation: str) -> DataSchema:
        """Enforce an expectation of ``column`` (``"range"``, ``"categories"`` or ``"unique"``) as a rule."""
        spec = self._expectation_of(column, expectation)
        return self._replace_column(dataclasses.replace(spec, promoted=spec.promoted | {expectation}))

    def demote(self, column: str, expectation: str) -> DataSchema:
        """Turn a promoted expectation of ``column`` back into an expectation (flagged, not enforced)."""
        spec = self._expectation_of(column, expectation)
        return self._replace_column(dataclasses.replace(spec, promoted=spec.promoted - {expectation}))

    def with_check(self, check: CustomCheck) -> DataSchema:
        """Add a custom check (its name must be new)."""
        return DataSchema(columns=self.columns, custom_checks=(*self.custom_checks, check))

    def arrow_schema(self) -> pa.Schema:
        """The Arrow schema of validated batches: the columns in schema order, then ``_source_row`` (int64)."""
        fields = [pa.field(column.name, arrow_type(column.dtype)) for column in self.columns]
        return pa.schema([*fields, pa.field("_source_row", pa.int64())])

    def to_pandera(self) -> pa_polars.DataFrameSchema:
        """The schema as a pandera model (``pandera.polars.DataFrameSchema``) of data already in its types.

        Each column declares its type, nullability and presence; its range, category set and uniqueness are
        checks named ``minimum …``, ``maximum …``, ``categories`` and ``unique``, and each custom check keeps its
        name. Rules fail validation; expectations only warn (``raise_warning=True``). It tests what one frame
        holds: a :class:`Validator` also casts raw values strictly first, and remembers values across the
        batches of an ingest for uniqueness.

        >>> import polars as pl
        >>> schema = DataSchema((ColumnSpec("price", "float64", nullable=False, minimum=0.0),))
        >>> model = schema.to_pandera()
        >>> [check.name for check in model.columns["price"].checks], model.columns["price"].nullable
        (['minimum 0.0'], False)
        >>> model.validate(pl.DataFrame({"price": [1.5, 2.0]})).height
        2
        """
        from driftloop.data.validation._pandera import pandera_model

        return pandera_model(self)

    def to_dict(self) -> dict[str, Any]:
        """The schema as plain data (what :meth:`to_yaml` writes)."""
        return {
            "format": FORMAT,
            "columns": columns_to_dicts(self.columns),
            "checks": checks_to_dicts(self.custom_checks),
        }

    @classmethod
    def from_dict(cls, data: object) -> DataSchema:
        """Read a schema from plain data; :class:`InvalidInput` names the key path of an unknown key or bad value."""
        columns, checks = parse_schema(data)
        return cls(columns=columns, custom_checks=checks)

    def to_yaml(self) -> str:
        """The schema as YAML, every key written out so the user sees what can be edited."""
        return str(yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True))

    @classmethod
    def from_yaml(cls, text: str) -> DataSchema:
        """Read a schema from YAML (as :meth:`to_yaml` writes it, possibly edited by hand)."""
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            mark = getattr(error, "problem_mark", None)
            where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
            problem = getattr(error, "problem", None) or str(error)
            raise InvalidInput(f"The schema is not valid YAML{where}: {problem}.") from None
        return cls.from_dict(data)

    @property
    def fingerprint(self) -> str:
        """A stable SHA-256 hex digest of the schema's canonical dict: equal schemas, equal fingerprints."""
        canonical = json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode("utf-8")).hexdigest()

    def _expectation_of(self, column: str, expectation: str) -> ColumnSpec:
        if expectation not in EXPECTATIONS:
            raise InvalidInput(f"Unknown expectation {expectation!r}; expected one of {', '.join(EXPECTATIONS)}.")
        return self.column(column)

    def _replace_column(self, spec: ColumnSpec) -> DataSchema:
        columns = tuple(spec if column.name == spec.name else column for column in self.columns)
        return DataSchema(columns=columns, custom_checks=self.custom_checks)
