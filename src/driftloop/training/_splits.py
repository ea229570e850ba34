"""Train/holdout splits: random, stratified by class, or by time, with a fingerprint of the holdout rows.

The holdout is what a model is judged on before it may be registered or promoted; comparing a candidate with
the champion is only fair when both were scored on the same rows, which :meth:`Split.fingerprint` makes
checkable (see :func:`~driftloop.training._gates.check_gates`).
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable
from dataclasses import dataclass
from typing import Any, Final, Literal, get_args

import numpy as np
import numpy.typing as npt
import pandas as pd
from pandas.api import types as pandas_types

from driftloop.errors import InvalidData, InvalidInput

__all__ = ["SPLIT_METHODS", "Split", "SplitMethod", "split", "time_order"]

SplitMethod = Literal["random", "stratified", "time"]
"""How rows are assigned to the holdout."""

SPLIT_METHODS: Final[tuple[SplitMethod, ...]] = get_args(SplitMethod)

_SHOWN_COLUMNS: Final = 20


@dataclass(frozen=True, slots=True, eq=False)
class Split:
    """A frame cut into the rows a model learns from and the rows it is judged on.

    Attributes:
        train: the training rows, in their original order, with their original index.
        holdout: the holdout rows, in their original order, with their original index.
        method: how the rows were assigned.
        target: the name of the target column (present in both frames).
        holdout_index: the original index values of the holdout rows.
    """

    train: pd.DataFrame
    holdout: pd.DataFrame
    method: SplitMethod
    target: str
    holdout_index: tuple[Hashable, ...]

    def fingerprint(self) -> str:
        """The SHA-256 (hex) of the holdout rows: their index and values, whatever their order.

        Two models whose holdouts have the same fingerprint were scored on identical rows.
        """
        return holdout_fingerprint(self.holdout)


def holdout_fingerprint(frame: pd.DataFrame) -> str:
    """SHA-256 over the column names and each row's index and values; row order does not matter."""
    columns = sorted(frame.columns, key=str)
    row_hashes = np.sort(pd.util.hash_pandas_object(frame[columns], index=True).to_numpy(dtype=np.uint64))
    digest = hashlib.sha256()
    digest.update("\x1f".join(str(name) for name in columns).encode())
    digest.update(b"\x1e")
    digest.update(row_hashes.astype("<u8").tobytes())
    return digest.hexdigest()


def split(
    frame: pd.DataFrame,
    target: str,
    *,
    method: SplitMethod = "random",
    holdout: float = 0.2,
    time_column: str | None = None,
    seed: int = 0,
) -> Split:
    """Cut ``frame`` into training rows and a holdout of about ``holdout`` of the rows.

    The holdout takes ``ceil(holdout * rows)`` rows. ``random`` draws them with ``seed``; ``stratified``
    draws them so each class of ``target`` keeps its share (every class needs two rows or more);
    ``time`` takes the latest rows by ``time_column``, so every holdout time is at or after every training
    time. Rows that share the boundary time stay together: they join the holdout (which then grows past
    its share), or, when that would leave no training rows, they all stay in training.

    >>> frame = pd.DataFrame({"day": [5, 1, 4, 2, 3], "y": [1.0, 2.0, 3.0, 4.0, 5.0]})
    >>> cut = split(frame, "y", method="time", time_column="day", holdout=0.4)
    >>> cut.holdout["day"].tolist(), cut.train["day"].tolist()
    ([5, 4], [1, 2, 3])
    """
    _require_column(frame, target, "target")
    if method not in SPLIT_METHODS:
        allowed = ", ".join(repr(name) for name in SPLIT_METHODS)
        raise InvalidInput(f"The split 'method' must be one of {allowed}; got {method!r}.")
    if isinstance(holdout, bool) or not isinstance(holdout, int | float) or not 0 < holdout < 1:
        raise InvalidInput(f"The 'holdout' must be a fraction in (0, 1); got {holdout!r}.")
    rows = len(frame)
    holdout_rows = math.ceil(holdout * rows)
    if holdout_rows < 1 or holdout_rows >= rows:
        raise InvalidData(
            f"A holdout of {holdout:g} of {rows} rows leaves "
            f"{'no holdout rows' if holdout_rows < 1 else 'no training rows'}; the split needs more rows."
        )
    if method == "time":
        if time_column is None:
            raise InvalidInput("A time split needs a 'time_column'; got None.")
        in_holdout = _time_holdout(frame, time_column, holdout_rows)
    elif method == "stratified":
        in_holdout = _stratified_holdout(frame[target], holdout_rows, seed)
    else:
        in_holdout = np.zeros(rows, dtype=bool)
        in_holdout[np.random.default_rng(seed).permutation(rows)[:holdout_rows]] = True
    holdout_frame = frame.iloc[np.flatnonzero(in_holdout)]
    return Split(
        train=frame.iloc[np.flatnonzero(~in_holdout)],
        holdout=holdout_frame,
        method=method,
        target=target,
        holdout_index=tuple(holdout_frame.index.tolist()),
    )


def time_order(frame: pd.DataFrame, time_column: str) -> npt.NDArray[np.intp]:
    """Row positions sorted by ``time_column``, earliest first, ties in their original order.

    Raises :class:`InvalidInput` when the column is absent and :class:`InvalidData` when it cannot be
    ordered (text, booleans) or has missing values.
    """
    _require_column(frame, time_column, "time column")
    times = frame[time_column]
    if not _orderable(times):
        raise InvalidData(
            f"The time column {time_column!r} must hold dates, times or numbers to be ordered; it has dtype "
            f"{times.dtype}. Convert text with pd.to_datetime first.",
            column=time_column,
        )
    missing = int(times.isna().sum())
    if missing:
        raise InvalidData(
            f"The time column {time_column!r} is missing in {missing} of {len(times)} rows; "
            "rows without a time cannot be ordered.",
            column=time_column,
        )
    # A stable sort keeps tied rows in their original order, so the result is deterministic.
    return np.argsort(_sortable(times), kind="stable")


def _time_holdout(frame: pd.DataFrame, time_column: str, holdout_rows: int) -> npt.NDArray[np.bool_]:
    order = time_order(frame, time_column)
    times = _sortable(frame[time_column])[order]
    first_holdout = len(order) - holdout_rows
    boundary = times[first_holdout]
    # Ties at the boundary must not straddle it (the model would train on rows from the holdout's moment):
    # move them all to the holdout, or all to training when the holdout would otherwise swallow everything.
    start = int(np.searchsorted(times, boundary, side="left"))
    if start == 0:
        start = int(np.searchsorted(times, boundary, side="right"))
    if start >= len(order):
        raise InvalidData(
            f"The time column {time_column!r} has a single time for all {len(order)} rows; "
            "a time split needs at least two distinct times.",
            column=time_column,
        )
    in_holdout = np.zeros(len(order), dtype=bool)
    in_holdout[order[start:]] = True
    return in_holdout


def _stratified_holdout(labels: pd.Series, holdout_rows: int, seed: int) -> npt.NDArray[np.bool_]:
    missing = int(labels.isna().sum())
    if missing:
        raise InvalidData(
            f"A stratified split needs a label in every row; the target {str(labels.name)!r} is missing in "
            f"{missing} of {len(labels)} rows.",
            column=str(labels.name),
        )
    counts = labels.value_counts(sort=False)
    scarce = counts[counts < 2]
    if len(scarce):
        raise InvalidData(
            f"A stratified split needs at least 2 rows of each class; class {_plain(scarce.index[0])!r} of "
            f"{str(labels.name)!r} has {int(scarce.iloc[0])}.",
            column=str(labels.name),
        )
    classes = len(counts)
    if holdout_rows < classes or len(labels) - holdout_rows < classes:
        raise InvalidData(
            f"A stratified split of {len(labels)} rows into {len(labels) - holdout_rows} training and "
            f"{holdout_rows} holdout rows cannot hold each of the {classes} classes on both sides; "
            "use a larger dataset or another 'holdout'."
        )
    from sklearn.model_selection import StratifiedShuffleSplit

    splitter = StratifiedShuffleSplit(n_splits=1, test_size=holdout_rows, random_state=seed)
    _, holdout_positions = next(splitter.split(np.zeros(len(labels)), labels.to_numpy()))
    in_holdout = np.zeros(len(labels), dtype=bool)
    in_holdout[holdout_positions] = True
    return in_holdout


def _orderable(times: pd.Series) -> bool:
    dtype = times.dtype
    if isinstance(dtype, pd.CategoricalDtype):
        return bool(dtype.ordered)
    if pandas_types.is_bool_dtype(dtype):
        return False
    return bool(
        pandas_types.is_numeric_dtype(dtype)
        or pandas_types.is_datetime64_any_dtype(dtype)
        or pandas_types.is_timedelta64_dtype(dtype)
        or isinstance(dtype, pd.PeriodDtype)
    )


def _sortable(times: pd.Series) -> npt.NDArray[Any]:
    """Values numpy can sort and compare in the column's own order (category codes, period ordinals…)."""
    if isinstance(times.dtype, pd.CategoricalDtype):
        return times.cat.codes.to_numpy()
    if isinstance(times.dtype, pd.PeriodDtype):
        return np.asarray([period.ordinal for period in times])
    if isinstance(times.dtype, pd.DatetimeTZDtype):
        utc: npt.NDArray[Any] = times.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy()
        return utc
    values: npt.NDArray[Any] = times.to_numpy()
    return values


def _require_column(frame: pd.DataFrame, column: object, role: str) -> None:
    if column in frame.columns:
        return
    names = [str(name) for name in frame.columns]
    shown = ", ".join(repr(name) for name in names[:_SHOWN_COLUMNS])
    more = f" (and {len(names) - _SHOWN_COLUMNS} more)" if len(names) > _SHOWN_COLUMNS else ""
    raise InvalidInput(f"The {role} {column!r} is not a column of the frame; its columns are: {shown}{more}.")


def _plain(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value
