"""A compact set of 64-bit hashes: how uniqueness is checked across batches without keeping the values.

Memory is 8 bytes per distinct value (1 million values: 8 MB), held as a few sorted NumPy arrays whose sizes
at least double from one to the next, so adding a batch costs O(b log n) and membership O(b log² n).
Two different values share a 64-bit hash with probability about n² / 2⁶⁵ over n values (3 × 10⁻⁸ for a
million, 3 × 10⁻⁴ for a hundred million); a collision reports a false duplicate, never hides a real one.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

__all__ = ["HashSet"]

Hashes = npt.NDArray[np.uint64]


class HashSet:
    """A growing set of uint64 hashes.

    >>> seen = HashSet()
    >>> seen.add(np.array([3, 1, 2], dtype=np.uint64))
    >>> seen.contains(np.array([2, 5], dtype=np.uint64)).tolist(), len(seen)
    ([True, False], 3)
    """

    def __init__(self) -> None:
        self._runs: list[Hashes] = []

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    @property
    def nbytes(self) -> int:
        """The memory the hashes take."""
        return sum(run.nbytes for run in self._runs)

    def contains(self, hashes: Hashes) -> npt.NDArray[np.bool_]:
        """For each hash, whether the set holds it."""
        # Searching in sorted order walks each run front to back, which is far kinder to the cache.
        order = np.argsort(hashes)
        queries = hashes[order]
        found = np.zeros(len(hashes), dtype=np.bool_)
        for run in self._runs:
            positions = np.searchsorted(run, queries)
            inside = positions < len(run)
            found[inside] |= run[positions[inside]] == queries[inside]
        result = np.empty_like(found)
        result[order] = found
        return result

    def add(self, hashes: Hashes) -> None:
        """Add hashes (repeats and hashes already held are fine)."""
        run = _distinct(np.sort(hashes.astype(np.uint64, copy=False)))
        self.add_new(run[~self.contains(run)])

    def add_new(self, hashes: Hashes) -> None:
        """Add hashes known to be distinct and not held yet (what :meth:`add` checks first).

        >>> seen = HashSet()
        >>> seen.add_new(np.array([7, 3], dtype=np.uint64))
        >>> seen.contains(np.array([3, 4], dtype=np.uint64)).tolist()
        [True, False]
        """
        if len(hashes) == 0:
            return
        self._runs.append(np.sort(hashes.astype(np.uint64, copy=False)))
        # Merge while a run is no more than twice the size of the next: a logarithmic number of runs remains.
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            newer = self._runs.pop()
            older = self._runs.pop()
            # Runs never share a hash, so the merge needs no de-duplication; sorting the concatenation in place
            # (Timsort, "stable", merges two sorted runs in linear time) keeps the peak at about twice the runs.
            merged = np.concatenate([older, newer])
            del older, newer
            merged.sort(kind="stable")
            self._runs.append(merged)


def _distinct(ordered: Hashes) -> Hashes:
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=np.bool_)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]
