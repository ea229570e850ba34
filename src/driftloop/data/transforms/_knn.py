"""Nearest-neighbour imputation in numpy: a bounded reference set learned at fit, vectorised filling per batch.

Distances are Euclidean over standardised columns, counting only the coordinates a row has (as scikit-learn's
``KNNImputer`` does with ``nan_euclidean``). Each row's distances are summed column by column, never through a
matrix product whose rounding depends on the block size, so a row gets the same neighbours whichever batch it is in
(ties between equally distant neighbours are broken the same way too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from driftloop.errors import InvalidData

__all__ = ["REFERENCE_ROWS", "fill_nearest", "fit_reference"]

REFERENCE_ROWS = 2_000
"""At most this many complete sample rows are kept as neighbours."""

_CELLS_PER_CHUNK = 2_000_000  # distances held at a time: 16 MB of float64
_SEED = 0  # the reference subset is drawn at random, yet the same on every fit

Matrix = npt.NDArray[np.float64]


def fit_reference(matrix: Matrix, columns: list[str]) -> dict[str, Any]:
    """Choose the reference rows (complete rows of ``matrix``, NaN marking missing) and their scaling."""
    complete = matrix[~np.isnan(matrix).any(axis=1)]
    if not len(complete):
        raise InvalidData(
            f"Nearest-neighbour imputation needs sample rows with all of {', '.join(map(repr, columns))} present; "
            "the sample has none."
        )
    if not np.isfinite(complete).all():
        raise InvalidData("Nearest-neighbour imputation cannot use infinite values; remove them first.")
    if len(complete) > REFERENCE_ROWS:
        chosen = np.random.default_rng(_SEED).choice(len(complete), REFERENCE_ROWS, replace=False)
        complete = complete[np.sort(chosen)]
    mean = complete.mean(axis=0)
    scale = complete.std(axis=0)
    scale[scale == 0] = 1.0
    return {"mean": mean.tolist(), "scale": scale.tolist(), "reference": complete.tolist()}


def fill_nearest(matrix: Matrix, statistics: Mapping[str, Any], neighbors: int) -> Matrix:
    """``matrix`` with each NaN replaced by the mean of that column over the row's nearest reference rows.

    A row with every column missing gets the reference means.
    """
    rows = np.flatnonzero(np.isnan(matrix).any(axis=1))
    if not rows.size:
        return matrix
    reference = np.asarray(statistics["reference"], dtype=np.float64)
    mean = np.asarray(statistics["mean"], dtype=np.float64)
    scale = np.asarray(statistics["scale"], dtype=np.float64)
    width = matrix.shape[1]
    if reference.ndim != 2 or reference.shape[1] != width or mean.shape != (width,) or scale.shape != (width,):
        raise ValueError("the reference rows do not match the imputed columns")
    standard_reference = (reference - mean) / scale
    count = min(neighbors, len(reference))
    chunk = max(1, _CELLS_PER_CHUNK // len(reference))
    filled = matrix.copy()
    for start in range(0, rows.size, chunk):
        positions = rows[start : start + chunk]
        standard = (matrix[positions] - mean) / scale
        observed = ~np.isnan(standard)
        distances = np.zeros((positions.size, len(reference)))
        for column in range(width):  # column by column, so every row sums in the same order in any batch
            present = observed[:, column]
            difference = standard[present, column, None] - standard_reference[None, :, column]
            distances[present] += np.square(difference)
        nearest = _nearest(distances, count)
        estimates = reference[nearest].mean(axis=1)
        estimates[~observed.any(axis=1)] = mean
        block = filled[positions]
        missing = np.isnan(block)
        block[missing] = estimates[missing]
        filled[positions] = block
    return filled


def _nearest(distances: Matrix, count: int) -> npt.NDArray[np.intp]:
    """The indices of each row's ``count`` smallest distances, ties going to the lower index.

    Explicit tie-breaking (rather than ``argpartition``'s, which varies with the CPU's sorting code) keeps
    imputations identical on every machine, such as a serving host.
    """
    if count == distances.shape[1]:
        return np.broadcast_to(np.arange(count), (distances.shape[0], count))
    kth = np.partition(distances, count - 1, axis=1)[:, count - 1 : count]
    closer = distances < kth
    tied = distances == kth
    needed = count - closer.sum(axis=1, keepdims=True)
    chosen = closer | (tied & (np.cumsum(tied, axis=1) <= needed))
    return np.nonzero(chosen)[1].reshape(distances.shape[0], count)
