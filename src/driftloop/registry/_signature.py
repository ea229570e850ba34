"""A model's signature: the input rows it takes and the target it predicts.

The inputs are a :class:`~driftloop.data.validation.DataSchema` restricted to the feature columns, so a
signature carries types and nullability (rules) and the ranges and category sets seen in training
(expectations). Serving checks requests against it with the same validator that checks ingests: a
missing column or a value of the wrong type is refused, an unseen category is served and flagged.

>>> import pandas as pd
>>> frame = pd.DataFrame({"area": [50.0, 80.0, 120.0], "district": ["a", "b", "a"], "price": [1.0, 2.0, 3.0]})
>>> signature = Signature.infer(frame, target="price")
>>> signature.features, signature.target, signature.inputs.column("area").maximum
(('area', 'district'), 'price', 120.0)
>>> Signature.from_dict(signature.to_dict()) == signature
True
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pyarrow as pa

from driftloop.data.validation import DataSchema
from driftloop.errors import InvalidInput

__all__ = ["Signature"]


@dataclass(frozen=True)
class Signature:
    """The inputs a model takes, and what it predicts.

    Attributes:
        inputs: The feature columns, their types, nullability, ranges and categories.
        target: The name of the predicted column, when known.
        target_dtype: Its type (a data-schema type name), when known.
        classes: The class labels of a classifier, in the order of its probability columns.
    """

    inputs: DataSchema
    target: str | None = None
    target_dtype: str | None = None
    classes: tuple[Any, ...] | None = None

    @property
    def features(self) -> tuple[str, ...]:
        return self.inputs.names

    @classmethod
    def infer(
        cls, frame: pd.DataFrame, *, target: str | None = None, classes: Sequence[Any] | None = None
    ) -> Signature:
        """The signature of a model trained on ``frame`` (a sample is enough: up to 100,000 rows are read)."""
        if not isinstance(frame, pd.DataFrame):
            raise InvalidInput(f"A signature is inferred from a pandas DataFrame; got {type(frame).__name__}.")
        sample = frame.head(100_000)
        target_dtype = None
        if target is not None:
            if target not in sample.columns:
                raise InvalidInput(f"The target column {target!r} is not in the frame.")
            target_dtype = DataSchema.infer(_arrow(sample[[target]])).columns[0].dtype
            sample = sample.drop(columns=[target])
        return cls(
            inputs=DataSchema.infer(_arrow(sample)),
            target=target,
            target_dtype=target_dtype,
            classes=None if classes is None else tuple(_plain(value) for value in classes),
        )

    @classmethod
    def from_schema(
        cls,
        schema: DataSchema,
        features: Sequence[str],
        *,
        target: str | None = None,
        classes: Sequence[Any] | None = None,
    ) -> Signature:
        """The signature of a model trained on ``features`` of a dataset whose data schema is ``schema``."""
        columns = tuple(schema.column(name) for name in features)
        return cls(
            inputs=DataSchema(columns=columns),
            target=target,
            target_dtype=None if target is None else schema.column(target).dtype,
            classes=None if classes is None else tuple(_plain(value) for value in classes),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "inputs": self.inputs.to_dict(),
            "target": self.target,
            "target_dtype": self.target_dtype,
            "classes": None if self.classes is None else list(self.classes),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Signature:
        classes = data.get("classes")
        return cls(
            inputs=DataSchema.from_dict(data["inputs"]),
            target=data.get("target"),
            target_dtype=data.get("target_dtype"),
            classes=None if classes is None else tuple(classes),
        )


def _arrow(frame: pd.DataFrame) -> pa.Table:
    return pa.Table.from_pandas(frame, preserve_index=False)


def _plain(value: Any) -> Any:
    """A class label as a JSON value (numpy scalars become Python ones)."""
    return value.item() if hasattr(value, "item") else value
