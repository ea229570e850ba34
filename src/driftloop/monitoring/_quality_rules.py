"""What each column of a window is held to in a data-quality check: the signature's rules, or the reference's.

See :mod:`driftloop.monitoring._quality` for how the signature and the reference share the work.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import polars as pl

from driftloop.data._dtypes import polars_type
from driftloop.data.profiles import CategoricalProfile, NumericProfile, Profile
from driftloop.errors import InvalidData
from driftloop.monitoring._frames import as_frame

if TYPE_CHECKING:
    from driftloop.monitoring._quality import QualityThresholds
    from driftloop.registry import Signature

__all__ = ["Rule", "rules_for"]


@dataclass(frozen=True)
class Rule:
    """What one column is held to."""

    dtype: pl.DataType | None = None  # None: the window's own type is taken
    nullable: bool | None = None
    required: bool = True
    low: float | None = None
    high: float | None = None
    categories: frozenset[str] | None = None
    unseen_floor: float = 0.0  # the share below which a lossy reference set cannot tell unseen from rare
    reference_missing_rate: float | None = None


def rules_for(signature: Signature | None, reference: Any, limits: QualityThresholds) -> dict[str, Rule]:
    """Each column's rule, by name: the signature's columns when given (with the reference's missing rates), else
    the reference's."""
    if reference is None:
        from_reference: dict[str, Rule] = {}
    elif isinstance(reference, Profile):
        from_reference = _profile_rules(reference, limits)
    else:
        from_reference = _frame_rules(as_frame(reference, "reference"), limits)
    if signature is None:
        return from_reference
    rules: dict[str, Rule] = {}
    for spec in signature.inputs.columns:
        categories = None if spec.categories is None else frozenset(spec.categories)
        rules[spec.name] = Rule(
            dtype=polars_type(spec.dtype),
            nullable=spec.nullable,
            required=spec.required,
            low=spec.minimum,
            high=spec.maximum,
            categories=categories,
            reference_missing_rate=_missing_rate(from_reference.get(spec.name)),
        )
    return rules


def _missing_rate(rule: Rule | None) -> float | None:
    return None if rule is None else rule.reference_missing_rate


def _profile_rules(profile: Profile, limits: QualityThresholds) -> dict[str, Rule]:
    if profile.rows == 0:
        raise InvalidData("The reference profile has no rows: there is nothing to compare the window with.")
    rules = {}
    for name, column in profile.columns.items():
        rate = column.missing / profile.rows
        if isinstance(column, NumericProfile):
            rules[name] = Rule(pl.Float64(), low=column.min, high=column.max, reference_missing_rate=rate)
        elif isinstance(column, CategoricalProfile):
            categories, floor = None, 0.0
            if column.count and column.distinct_estimate <= limits.max_reference_categories:
                categories = frozenset(value for value, _count in column.top(limits.max_reference_categories * 2))
                floor = column.maximum_error / column.count
            rules[name] = Rule(pl.String(), categories=categories, unseen_floor=floor, reference_missing_rate=rate)
    return rules


def _frame_rules(frame: pl.DataFrame, limits: QualityThresholds) -> dict[str, Rule]:
    if frame.height == 0:
        raise InvalidData("The reference window has no rows: there is nothing to compare the window with.")
    rules = {}
    for name in frame.columns:
        series = frame[name]
        if isinstance(series.dtype, pl.Categorical | pl.Enum):
            series = series.cast(pl.String)
        dtype = series.dtype
        if dtype.is_float():
            series = series.fill_nan(None)
        rate = series.null_count() / frame.height
        if dtype.is_numeric():
            finite = series.filter(series.is_finite()) if dtype.is_float() else series.drop_nulls()
            low, high = (None, None) if finite.is_empty() else (float(finite.min()), float(finite.max()))  # type: ignore[arg-type]
            rules[name] = Rule(dtype, low=low, high=high, reference_missing_rate=rate)
        elif dtype in (pl.String, pl.Boolean):
            distinct = series.drop_nulls().cast(pl.String).unique()
            categories = frozenset(distinct.to_list()) if len(distinct) <= limits.max_reference_categories else None
            rules[name] = Rule(dtype, categories=categories, reference_missing_rate=rate)
        else:
            rules[name] = Rule(dtype if dtype.is_temporal() else None, reference_missing_rate=rate)
    return rules
