"""One column of a data schema: its rules (type, nullability, presence) and its expectations."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from driftloop.data._dtypes import canonical_name, is_numeric
from driftloop.errors import InvalidInput

__all__ = ["EXPECTATIONS", "RESERVED_COLUMNS", "ColumnSpec"]

EXPECTATIONS = ("range", "categories", "unique")
"""The expectations a column can have, each of which can be promoted to a rule."""

RESERVED_COLUMNS = ("_source_row", "_reasons")
"""Columns the pipeline adds itself (the source row number, a quarantined row's reasons); never data columns."""


@dataclass(frozen=True)
class ColumnSpec:
    """What a column must be (rules) and what it usually is (expectations).

    Rules are always enforced: the column is present when ``required``, each value casts to ``dtype`` and is
    not null unless ``nullable``. Expectations (``minimum``/``maximum``, ``categories``, ``unique``) only flag
    the rows that break them, unless named in ``promoted``, which makes them rules too.

    Args:
        name: The column's name.
        dtype: A type name: ``int64``, ``float64``, ``string``, ``bool``, ``date``, ``timestamp[us]``,
            ``timestamp[us, tz=UTC]``… (see :mod:`driftloop.data._dtypes`); kept in its canonical spelling.
        nullable: Whether a value may be missing.
        required: Whether the column must be present in every batch (an absent optional column is all null).
        minimum: The smallest expected value (numeric columns only), or None.
        maximum: The largest expected value (numeric columns only), or None.
        categories: The expected set of values (compared as text), or None for any value.
        unique: Whether each value is expected to appear once in the whole ingest.
        promoted: The expectations enforced as rules: a subset of ``{"range", "categories", "unique"}``.

    >>> spec = ColumnSpec("price", "float64", nullable=False, minimum=0.0, promoted=frozenset({"range"}))
    >>> spec.enforces("range"), spec.enforces("unique")
    (True, False)
    """

    name: str
    dtype: str
    nullable: bool
    required: bool = True
    minimum: float | None = None
    maximum: float | None = None
    categories: tuple[str, ...] | None = None
    unique: bool = False
    promoted: frozenset[str] = field(default_factory=frozenset)

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidInput(f"A column name must be a non-empty string; got {self.name!r}.")
        if self.name in RESERVED_COLUMNS:
            raise InvalidInput(f"The column name {self.name!r} is reserved for the pipeline; rename the column.")
        if not isinstance(self.dtype, str):
            raise InvalidInput(f"The dtype of column {self.name!r} must be a type name; got {self.dtype!r}.")
        # One spelling per type, whatever the user wrote (``datetime[us, UTC]`` reads as ``timestamp[us, tz=UTC]``).
        object.__setattr__(self, "dtype", canonical_name(self.dtype))
        for flag in ("nullable", "required", "unique"):
            if not isinstance(getattr(self, flag), bool):
                raise InvalidInput(
                    f"{flag!r} of column {self.name!r} must be true or false; got {getattr(self, flag)!r}."
                )
        self._check_range()
        self._check_categories()
        self._check_promoted()

    def enforces(self, expectation: str) -> bool:
        """Whether ``expectation`` is promoted to a rule for this column."""
        return expectation in self.promoted

    def has(self, expectation: str) -> bool:
        """Whether the column has ``expectation`` set (a range bound, a category set, or ``unique``)."""
        if expectation == "range":
            return self.minimum is not None or self.maximum is not None
        if expectation == "categories":
            return self.categories is not None
        if expectation == "unique":
            return self.unique
        raise InvalidInput(f"Unknown expectation {expectation!r}; expected one of {', '.join(EXPECTATIONS)}.")

    def _check_range(self) -> None:
        for bound in ("minimum", "maximum"):
            value = getattr(self, bound)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
                raise InvalidInput(f"The {bound} of column {self.name!r} must be a finite number; got {value!r}.")
            if not is_numeric(self.dtype):
                raise InvalidInput(
                    f"Column {self.name!r} has the type {self.dtype}; a {bound} applies to numeric columns only."
                )
        if self.minimum is not None and self.maximum is not None and self.minimum > self.maximum:
            raise InvalidInput(
                f"Column {self.name!r} has a minimum ({self.minimum}) above its maximum ({self.maximum})."
            )

    def _check_categories(self) -> None:
        if self.categories is None:
            return
        if isinstance(self.categories, str) or not isinstance(self.categories, Iterable):
            raise InvalidInput(f"The categories of column {self.name!r} must be a list of strings.")
        categories = tuple(self.categories)
        strays = [value for value in categories if not isinstance(value, str)]
        if strays:
            raise InvalidInput(
                f"The categories of column {self.name!r} must be strings; got {strays[0]!r}. Quote numbers in YAML."
            )
        if not categories:
            raise InvalidInput(f"Column {self.name!r} has an empty category list; use null to expect any value.")
        if len(set(categories)) != len(categories):
            repeated = next(value for value in categories if categories.count(value) > 1)
            raise InvalidInput(f"The categories of column {self.name!r} list {repeated!r} twice.")
        object.__setattr__(self, "categories", categories)

    def _check_promoted(self) -> None:
        if isinstance(self.promoted, str) or not isinstance(self.promoted, Iterable):
            raise InvalidInput(f"'promoted' of column {self.name!r} must be a set of expectation names.")
        promoted = frozenset(self.promoted)
        for expectation in sorted(promoted, key=str):
            if expectation not in EXPECTATIONS:
                raise InvalidInput(
                    f"Column {self.name!r} promotes {expectation!r}; expected some of {', '.join(EXPECTATIONS)}."
                )
            if not self.has(expectation):
                raise InvalidInput(
                    f"Column {self.name!r} promotes {expectation!r} to a rule but has no {expectation} expectation; "
                    f"{_HOW_TO_SET[expectation]}"
                )
        object.__setattr__(self, "promoted", promoted)


_HOW_TO_SET = {
    "range": "set its minimum or maximum first.",
    "categories": "set its categories first.",
    "unique": "set unique to true first.",
}
