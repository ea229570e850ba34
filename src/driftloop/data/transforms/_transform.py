"""A declared transform, and the fitted transform that runs it with learned statistics on every later batch."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import polars as pl
import pyarrow as pa
import yaml

from driftloop.data._dtypes import dtype_name, parse_dtype
from driftloop.data.transforms._casts import conform
from driftloop.data.transforms._codec import digest, load_yaml, step_label, steps_from_data
from driftloop.data.transforms._columns import SOURCE_ROW
from driftloop.data.transforms._step import Statistics, Step
from driftloop.errors import DriftloopError, InvalidData, InvalidInput

__all__ = ["FittedTransform", "Transform"]

_FORMAT = 1  # of FittedTransform.to_dict; bump when its layout changes


class Transform:
    """A declared, ordered list of steps; :meth:`fit` learns their statistics from a sample.

    Args:
        steps: The steps, in the order they run. No steps is the identity.
    """

    __slots__ = ("_hash", "steps")

    def __init__(self, steps: Sequence[Step] = ()) -> None:
        if isinstance(steps, str | bytes) or not isinstance(steps, Sequence):
            raise InvalidInput(f"A transform takes a list of steps; got {type(steps).__name__}.")
        for index, step in enumerate(steps):
            if not isinstance(step, Step):
                raise InvalidInput(
                    f"{step_label(index, len(steps))} must be a step such as Select(...) or Impute(...); "
                    f"got {type(step).__name__} {step!r}."
                )
        self.steps: tuple[Step, ...] = tuple(steps)
        self._hash = digest(self.to_dict())

    @classmethod
    def from_dict(cls, data: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> Transform:
        """The transform a list of ``{"kind": ..., **hyperparameters}`` mappings declares (or ``{"steps": [...]}``)."""
        return cls(steps_from_data(data))

    @classmethod
    def from_yaml(cls, text: str) -> Transform:
        """The transform a YAML list of steps declares, as :meth:`to_yaml` writes it."""
        return cls(steps_from_data(load_yaml(text)))

    def to_dict(self) -> list[dict[str, Any]]:
        """The steps as plain data; hyperparameters left at their defaults are left out."""
        return [step.to_dict() for step in self.steps]

    def to_yaml(self) -> str:
        """The steps as YAML."""
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, default_flow_style=None)

    @property
    def hash(self) -> str:
        """SHA-256 (hex) of the canonical JSON of the declared steps: the same steps hash alike anywhere."""
        return self._hash

    def fit(self, sample: pa.Table | pa.RecordBatch) -> FittedTransform:
        """Learn each step's statistics from ``sample``, each step seeing what the fitted steps before it give.

        Raises:
            InvalidInput: naming the step, when a step does not fit the sample (an unknown column, a bad
                expression, a column of the wrong type); :class:`~driftloop.errors.InvalidData` when the sample's
                values are the problem.
        """
        frame = _to_polars(sample, "sample")
        schema = {name: dtype_name(dtype) for name, dtype in frame.schema.items() if name != SOURCE_ROW}
        statistics: list[Statistics] = []
        for index, step in enumerate(self.steps):
            with _naming(index, self.steps, "does not fit the sample"):
                learned = step._fit(frame)
                frame = step._apply(frame, learned)
            statistics.append(learned)
        return FittedTransform(self, statistics, input_schema=schema)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Transform) and self.hash == other.hash

    def __hash__(self) -> int:
        return hash(self._hash)

    def __repr__(self) -> str:
        return f"Transform([{', '.join(map(repr, self.steps))}])"


class FittedTransform:
    """A transform with the statistics it learned; runs identically on every batch, now and at serving time.

    Build one with :meth:`Transform.fit` or :meth:`from_dict`.

    Args:
        transform: The declared transform.
        statistics: One JSON-able mapping per step, as fit learned them.
        input_schema: Type name per column of the sample (``_source_row`` aside); columns of a later batch
            widen to these types where that loses nothing.
    """

    __slots__ = ("_fitted_hash", "_schema", "input_schema", "statistics", "transform")

    def __init__(
        self, transform: Transform, statistics: Sequence[Mapping[str, Any]], *, input_schema: Mapping[str, str]
    ) -> None:
        if len(statistics) != len(transform.steps):
            raise InvalidInput(
                f"A fitted transform of {len(transform.steps)} steps needs as many statistics; got {len(statistics)}."
            )
        try:  # a copy through JSON: what is kept is exactly what saving writes
            copied = [json.loads(json.dumps(dict(learned), allow_nan=False)) for learned in statistics]
        except (TypeError, ValueError) as error:
            raise InvalidInput(f"The statistics of a fitted transform must be finite JSON data: {error}.") from None
        self.transform = transform
        self.statistics: tuple[dict[str, Any], ...] = tuple(copied)
        self.input_schema: dict[str, str] = dict(input_schema)
        parsed = {name: parse_dtype(type_name) for name, type_name in self.input_schema.items()}
        self._schema = {name: dtype for name, dtype in parsed.items() if dtype is not None}
        self._fitted_hash = digest(self._fitted_state())

    @property
    def hash(self) -> str:
        """The declared transform's hash."""
        return self.transform.hash

    @property
    def fitted_hash(self) -> str:
        """SHA-256 (hex) over the declared steps, the statistics and the input schema."""
        return self._fitted_hash

    def apply(self, batch: pa.RecordBatch | pa.Table) -> pa.Table:
        """Run the fitted steps on one batch; each batch is independent of the others (streaming-safe).

        Raises:
            InvalidData: naming the step, when the batch lacks a column or holds a value a step refuses.
        """
        frame = _to_polars(batch, "batch")
        if not self.transform.steps:
            return batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        return self.apply_frame(frame).to_arrow()

    def apply_frame(self, frame: pl.DataFrame) -> pl.DataFrame:
        """:meth:`apply` on a polars DataFrame, giving one: what an ingest uses to convert each batch only once.

        >>> fitted = Transform.from_yaml("- {kind: derive, column: twice, expression: x * 2}").fit(pa.table({"x": [1]}))
        >>> fitted.apply_frame(pl.DataFrame({"x": [2, 3]}))["twice"].to_list()
        [4, 6]
        """
        if not isinstance(frame, pl.DataFrame):
            raise InvalidInput(f"apply_frame takes a polars DataFrame; got {type(frame).__name__}.")
        return self._run(conform(frame, self._schema, parse_text=False))

    def apply_rows(self, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """Run the fitted steps on rows given as mappings (serving time); values convert to the fitted types."""
        if isinstance(rows, Mapping) or not all(isinstance(row, Mapping) for row in rows):
            raise InvalidInput("apply_rows takes a list of mappings of column name to value.")
        try:
            frame = pl.DataFrame([dict(row) for row in rows], infer_schema_length=None)
        except (pl.exceptions.PolarsError, TypeError, ValueError) as error:
            raise InvalidData(f"The rows do not make a table: {error}") from None
        frame = frame.with_columns(
            pl.lit(None, dtype=dtype).alias(name) for name, dtype in self._schema.items() if name not in frame.columns
        )
        frame = conform(frame, self._schema, parse_text=True)
        return self._run(frame).to_dicts()

    def to_dict(self) -> dict[str, Any]:
        """Everything needed to run this fitted transform again, as plain JSON-able data."""
        return {"format": _FORMAT, **self._fitted_state()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> FittedTransform:
        """The fitted transform :meth:`to_dict` wrote; malformed statistics raise :class:`InvalidInput` here."""
        if not isinstance(data, Mapping) or data.get("format") != _FORMAT:
            raise InvalidInput(f"A fitted transform is a mapping with 'format': {_FORMAT}; got {str(data)[:80]!r}.")
        statistics, schema = data.get("statistics"), data.get("input_schema")
        if not isinstance(statistics, list) or not all(isinstance(item, Mapping) for item in statistics):
            raise InvalidInput("The 'statistics' of a fitted transform must be a list of mappings, one per step.")
        if not isinstance(schema, Mapping) or not all(isinstance(value, str) for value in schema.values()):
            raise InvalidInput("The 'input_schema' of a fitted transform must map column names to type names.")
        fitted = cls(Transform.from_dict(data.get("steps", [])), statistics, input_schema=schema)
        fitted._check_statistics()
        return fitted

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), sort_keys=True, indent=2, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_json(cls, text: str | bytes) -> FittedTransform:
        """The fitted transform :meth:`to_json` wrote."""
        try:
            data = json.loads(text)
        except (json.JSONDecodeError, UnicodeDecodeError, TypeError) as error:
            raise InvalidInput(f"The fitted transform is not valid JSON: {error}.") from None
        return cls.from_dict(data)

    def _fitted_state(self) -> dict[str, Any]:
        return {
            "steps": self.transform.to_dict(),
            "statistics": list(self.statistics),
            "input_schema": self.input_schema,
        }

    def _run(self, frame: pl.DataFrame) -> pl.DataFrame:
        steps = self.transform.steps
        for index, (step, learned) in enumerate(zip(steps, self.statistics, strict=True)):
            with _naming(index, steps, "cannot run on this batch"):
                frame = step._apply(frame, learned)
        return frame

    def _check_statistics(self) -> None:
        """Run the steps on no rows, which reads every statistic a step needs: a damaged file fails on loading."""
        frame = pl.DataFrame(schema={name: self._schema.get(name, pl.Null()) for name in self.input_schema})
        steps = self.transform.steps
        for index, (step, learned) in enumerate(zip(steps, self.statistics, strict=True)):
            try:
                frame = step._apply(frame, learned)
            except (DriftloopError, pl.exceptions.PolarsError):
                return  # the empty frame does not suit this step (a type unknown here); nothing more to check
            except (KeyError, IndexError, TypeError, ValueError, AttributeError) as error:
                raise InvalidInput(
                    f"{step_label(index, len(steps), step.kind)}: its statistics are malformed "
                    f"({type(error).__name__}: {error})."
                ) from None

    def __eq__(self, other: object) -> bool:
        return isinstance(other, FittedTransform) and self.fitted_hash == other.fitted_hash

    def __hash__(self) -> int:
        return hash(self._fitted_hash)

    def __repr__(self) -> str:
        return f"FittedTransform({self.transform!r}, fitted_hash={self.fitted_hash[:12]!r})"


def _to_polars(data: object, what: str) -> pl.DataFrame:
    if not isinstance(data, pa.Table | pa.RecordBatch):
        raise InvalidInput(f"The {what} must be a pyarrow Table or RecordBatch; got {type(data).__name__}.")
    frame = pl.from_arrow(data)
    assert isinstance(frame, pl.DataFrame)  # a table or batch always converts to a frame
    return frame


@contextmanager
def _naming(index: int, steps: Sequence[Step], problem: str) -> Iterator[None]:
    """Re-raise a step's failure with the step's number and kind in front."""
    prefix = step_label(index, len(steps), steps[index].kind)
    try:
        yield
    except InvalidData as error:
        raise InvalidData(
            f"{prefix}: {error.message}", source=error.source, row=error.row, column=error.column
        ) from None
    except InvalidInput as error:
        raise InvalidInput(f"{prefix}: {error.message}") from None
    except pl.exceptions.PolarsError as error:
        reason = str(error).strip().splitlines()[0]
        raise InvalidData(f"{prefix} {problem}: {reason}") from error
