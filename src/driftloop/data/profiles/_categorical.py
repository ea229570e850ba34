"""The profile of a categorical column: a distinct-count sketch and a frequent-items sketch."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import pyarrow as pa
import pyarrow.compute as pc
from datasketches import frequent_items_error_type, frequent_strings_sketch, hll_sketch, hll_union, tgt_hll_type

from driftloop.data.profiles._codec import checked_count
from driftloop.data.profiles._kinds import categorical_values
from driftloop.errors import InvalidInput

__all__ = ["CategoricalProfile"]

# HLL with 2^12 buckets: a relative standard error of about 1.6 % on the distinct count, 2 KiB serialized.
_HLL_LG_K = 12


def _frequent_items_lg_size(top_k: int) -> int:
    """Return the log2 map size of a frequent-items sketch that tracks ``top_k`` categories reliably.

    The map holds 0.75·2^lg items; giving it at least 16·``top_k`` slots keeps the error bound well below the
    frequency of a ``top_k``-th category in all but the flattest distributions.
    """
    return max(4, (16 * top_k - 1).bit_length())


class CategoricalProfile:
    """Statistics of one categorical column, built in one pass and mergeable.

    ``count`` is the number of non-null values and ``missing`` the number of nulls (an empty string is a value).
    ``distinct_estimate`` comes from a HyperLogLog sketch (relative standard error about 1.6 %);
    :meth:`top` and :meth:`frequency` from a frequent-items sketch (Misra–Gries, Apache DataSketches
    ``frequent_strings_sketch``) whose absolute error :attr:`maximum_error` states.

    Args:
        top_k: how many of the most frequent categories the profile should track reliably.

    >>> import pyarrow as pa
    >>> column = CategoricalProfile()
    >>> column._update(pa.array(["a", "b", "a", None]))
    >>> column.count, column.missing, round(column.distinct_estimate), column.top(1), column.maximum_error
    (3, 1, 2, [('a', 2)], 0)
    """

    kind: ClassVar[str] = "categorical"

    def __init__(self, *, top_k: int = 64) -> None:
        self.count = 0
        self.missing = 0
        self._distinct = hll_sketch(_HLL_LG_K, tgt_hll_type.HLL_8)
        self._frequent = frequent_strings_sketch(_frequent_items_lg_size(top_k))

    @property
    def distinct_estimate(self) -> float:
        """The estimated number of distinct non-null values (HyperLogLog, about 1.6 % relative standard error)."""
        return float(self._distinct.get_estimate())

    @property
    def maximum_error(self) -> int:
        """The largest absolute error of any count that :meth:`top` or :meth:`frequency` returns.

        A tracked category's estimate is at least its true count and at most ``maximum_error`` above it; a category
        the sketch no longer tracks gets 0 and occurred at most ``maximum_error`` times. It is 0 until the sketch
        drops a category, and never exceeds ``3.5 / (0.75 · 2^lg) · count`` (the a-priori bound of DataSketches'
        frequent items sketch), where ``2^lg`` is the map size chosen from ``top_k``.
        """
        items = self._frequent.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES, 0)
        if not items:
            return 0
        _item, _estimate, lower_bound, upper_bound = items[0]
        return int(upper_bound - lower_bound)

    def top(self, n: int = 10) -> list[tuple[str, int]]:
        """Return up to ``n`` most frequent categories as ``(value, count_estimate)``, most frequent first.

        Ties are ordered by value. Each estimate is within :attr:`maximum_error` of the true count.
        """
        if isinstance(n, bool) or not isinstance(n, int) or n < 0:
            raise InvalidInput(f"The number of top categories must be a non-negative integer; got {n!r}.")
        items = self._frequent.get_frequent_items(frequent_items_error_type.NO_FALSE_NEGATIVES, 0)
        ranked = sorted(((str(item), int(estimate)) for item, estimate, _lower, _upper in items), key=_by_count)
        return ranked[:n]

    def frequency(self, value: str) -> int:
        """Return the estimated number of occurrences of ``value`` (within :attr:`maximum_error` of the truth)."""
        if not isinstance(value, str):
            raise InvalidInput(f"A category is looked up by its text; got {type(value).__name__} {value!r}.")
        return int(self._frequent.get_estimate(value))

    def to_dict(self) -> dict[str, Any]:
        """Return a JSON-able summary (no sketch bytes): counts, distinct estimate and the 20 top categories."""
        return {
            "kind": self.kind,
            "count": self.count,
            "missing": self.missing,
            "distinct_estimate": self.distinct_estimate,
            "top": [[value, count] for value, count in self.top(20)],
            "maximum_error": self.maximum_error,
        }

    def __repr__(self) -> str:
        return (
            f"CategoricalProfile(count={self.count}, missing={self.missing}, "
            f"distinct_estimate={self.distinct_estimate:.0f}, top={self.top(3)!r})"
        )

    # -- building, merging and state (used by Profile) --------------------------------------------------------

    def _update(self, array: pa.Array) -> None:
        """Add an Arrow array of categories, counted by Arrow first: the sketches cost a call per distinct value."""
        values = categorical_values(array)
        missing = values.null_count
        self.count += len(values) - missing
        self.missing += missing
        counts = pc.value_counts(values)
        if missing:
            counts = counts.filter(counts.field("values").is_valid())
        update_distinct, update_frequent = self._distinct.update, self._frequent.update
        for value, weight in zip(counts.field("values").to_pylist(), counts.field("counts").to_pylist(), strict=True):
            update_distinct(value)
            update_frequent(value, weight)

    def _merged(self, other: CategoricalProfile) -> CategoricalProfile:
        """Return the profile of the union of both columns' data; neither changes."""
        result = self._copy()
        result.count += other.count
        result.missing += other.missing
        union = hll_union(_HLL_LG_K)
        union.update(self._distinct)
        union.update(other._distinct)
        result._distinct = union.get_result(tgt_hll_type.HLL_8)
        result._frequent.merge(other._frequent)
        return result

    def _copy(self) -> CategoricalProfile:
        header, sketches = self._state()
        return CategoricalProfile._from_state(header, sketches)

    def _state(self) -> tuple[dict[str, Any], list[bytes]]:
        header = {"count": self.count, "missing": self.missing}
        return header, [bytes(self._distinct.serialize_compact()), bytes(self._frequent.serialize())]

    @classmethod
    def _from_state(cls, header: dict[str, Any], sketches: Sequence[bytes]) -> CategoricalProfile:
        distinct_bytes, frequent_bytes = sketches
        column = cls()
        column.count = checked_count(header["count"])
        column.missing = checked_count(header["missing"])
        column._distinct = hll_sketch.deserialize(distinct_bytes)
        column._frequent = frequent_strings_sketch.deserialize(frequent_bytes)
        if column._frequent.total_weight != column.count:
            raise ValueError("the count disagrees with the frequent-items sketch")
        return column


def _by_count(item: tuple[str, int]) -> tuple[int, str]:
    value, count = item
    return -count, value
