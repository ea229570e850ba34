"""Offline data drift: ``compare(reference, current)`` tests every column and the dataset as a whole.

No workspace is needed: give two pandas or polars DataFrames or pyarrow Tables. Categorical columns are counted
over the union of both windows' categories and each test runs over all of them at once; numerical columns go
to numpy one at a time (without a copy where the frame allows), so memory holds a few copies of one column,
never a matrix of every column (:mod:`._stattests`).

**Column kind.** Strings, booleans and categoricals are categorical; numbers (and dates, as their physical
number) are numerical, unless listed in ``categorical=`` or the two windows together hold at most two distinct
values: a flag or a constant, which a test of proportions describes better than a test of distributions.

**Default test** (the field's common practice: Evidently picks the same tests at the same sample sizes, with
the same thresholds), chosen per column by the number of usable reference values: a p-value test where samples
are small, because its evidence grows with the sample; a distance with a fixed threshold where they are large,
because there any tiny, harmless shift becomes "significant". One difference: our Jensen-Shannon distance uses
base-2 logarithms, so it lies in [0, 1], while Evidently's uses scipy's default natural logarithm, which gives
sqrt(ln 2) ≈ 0.83 times our value; the same 0.1 threshold is therefore stricter here (it equals about 0.083 on
Evidently's scale).

===========  ==========================  ===========================================  =========================
kind         reference values            test                                         drift when
===========  ==========================  ===========================================  =========================
numerical    ≤ 1000                      two-sample Kolmogorov-Smirnov ("ks")         p < 0.05
numerical    > 1000                      Wasserstein-1 / reference std ("wasserstein")  > 0.1
categorical  ≤ 1000, two categories      two-proportion Z-test ("z")                  p < 0.05
categorical  ≤ 1000, otherwise           chi-square on the 2 x k counts ("chisquare")  p < 0.05
categorical  > 1000                      Jensen-Shannon distance, base 2 ("jensenshannon")  > 0.1
===========  ==========================  ===========================================  =========================

``methods=`` picks others by name, for every column (a name applies to the columns whose kind it supports) or
per column: "psi" (> 0.1, the usual "moderate shift" line), "kl" (> 0.1), "hellinger" (> 0.1), "anderson"
(k-sample Anderson-Darling, p < 0.05) and "cramer_von_mises" (p < 0.05); on numerical columns the histogram
distances use ten reference-quantile bins plus one below and one above the reference range. Shares are smoothed
at 1e-4 before PSI and KL divide by them, so a category new in the current window counts instead of dividing
by zero. ``thresholds=`` overrides the threshold, for every column or per column.

**Dataset drift.** With many columns, some p-values fall below 0.05 by chance; the p-values of the features
are therefore adjusted with Benjamini-Hochberg (``correction=None`` turns that off) and ``drifted`` compares the
adjusted value. Distances keep their thresholds. ``share`` is the drifted share of the features that could be
decided, and ``dataset_drift`` is true when it reaches ``dataset_drift_share`` (0.5, Evidently's default).

**Prediction drift.** ``prediction="column"`` tests that column like a feature (unadjusted) and reports it in
``report.prediction``, apart from the features, the share and the multivariate test.

**Multivariate drift.** ``multivariate=True`` adds a domain classifier (:mod:`._multivariate`).

**A stored profile as the reference.** Given a :class:`~driftloop.data.profiles.Profile` as ``reference`` (a model
version's training profile, a dataset version's), ``compare`` profiles ``current`` the same way and tests the two
profiles from their sketches (:mod:`._sketch_drift`, which states the error bounds); ``categorical=``,
``multivariate=`` and ``exact=`` need the raw rows there and are refused.

**Awkward data**, each with a defined result:

- an empty window raises :class:`~driftloop.errors.InvalidData`;
- fewer than ``MIN_VALUES`` (5) usable values on a side: the statistic where it can be computed, ``drifted``
  ``None`` and a note that the sample is too small to conclude (below that no test can reach p < 0.05);
- a constant column: two equal constants do not drift, different ones do;
- missing (null or NaN) values are left out of the tests and counted; a column with no usable value in one
  window but values in the other has drifted (with a note), one empty in both is undecided (``None``);
- infinite values are left out of the tests, counted in ``infinite_reference``/``infinite_current`` and noted;
- a category never seen in the reference is counted over the union of categories, and named in the note;
- a column missing from the current data, or whose type changed between numeric and non-numeric, has drifted.

>>> import polars as pl
>>> reference = pl.DataFrame({"price": [float(x) for x in range(200)], "city": ["a", "b"] * 100})
>>> current = pl.DataFrame({"price": [float(x) + 150 for x in range(200)], "city": ["a", "b"] * 100})
>>> report = compare(reference, current)
>>> [(feature.column, feature.method, feature.drifted) for feature in report.features]
[('price', 'ks', True), ('city', 'z', False)]
>>> report.share, report.dataset_drift
(0.5, True)
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
import polars as pl

from driftloop.data.profiles import Profile
from driftloop.errors import InvalidData, InvalidInput
from driftloop.monitoring._frames import as_frame
from driftloop.monitoring._multivariate import MultivariateDrift, domain_classifier_drift
from driftloop.monitoring._stattests import METHODS, benjamini_hochberg, run_method

__all__ = ["MIN_VALUES", "SMALL_SAMPLE", "DriftReport", "FeatureDrift", "compare"]

SMALL_SAMPLE = 1000
"""Up to this many usable reference values a column gets a p-value test, above it a distance."""
MIN_VALUES = 5
"""Fewer usable values than this on either side leave ``drifted`` undecided (``None``)."""
_SAMPLE_ROWS = 1000  # first rows looked at before counting a numerical column's distinct values in full


@dataclass(frozen=True)
class FeatureDrift:
    """The drift test of one column. ``reference_rows``/``current_rows`` count the values the test used."""

    column: str
    kind: str
    method: str
    statistic: float | None
    p_value: float | None
    p_value_adjusted: float | None
    threshold: float
    drifted: bool | None
    reference_rows: int
    current_rows: int
    missing_reference: int
    missing_current: int
    infinite_reference: int = 0
    infinite_current: int = 0
    note: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values; a non-finite number becomes ``None``."""
        return {key: _json_number(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class DriftReport:
    """Per-feature results, dataset drift, and the optional prediction and multivariate results."""

    features: tuple[FeatureDrift, ...]
    drifted_columns: tuple[str, ...]
    share: float | None
    dataset_drift: bool | None
    dataset_drift_share: float
    correction: str | None
    reference_rows: int
    current_rows: int
    prediction: FeatureDrift | None = None
    multivariate: MultivariateDrift | None = None
    new_columns: tuple[str, ...] = field(default=())

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values (lists, dicts, numbers, strings, None)."""
        return {
            "features": [feature.to_dict() for feature in self.features],
            "drifted_columns": list(self.drifted_columns),
            "share": _json_number(self.share),
            "dataset_drift": self.dataset_drift,
            "dataset_drift_share": self.dataset_drift_share,
            "correction": self.correction,
            "reference_rows": self.reference_rows,
            "current_rows": self.current_rows,
            "prediction": self.prediction.to_dict() if self.prediction else None,
            "multivariate": self.multivariate.to_dict() if self.multivariate else None,
            "new_columns": list(self.new_columns),
        }


def _json_number(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


@dataclass
class _Column:
    """Work in progress on one column, turned into a FeatureDrift at the end."""

    name: str
    kind: str
    problem: str | None = None  # a change found without a test (column gone, type changed)
    reference_rows: int = 0
    current_rows: int = 0
    missing_reference: int = 0
    missing_current: int = 0
    infinite_reference: int = 0
    infinite_current: int = 0
    categories: int = 0
    unseen: list[str] = field(default_factory=list)
    method: str = ""
    threshold: float = 0.0
    statistic: float | None = None
    p_value: float | None = None
    p_value_adjusted: float | None = None

    @property
    def testable(self) -> bool:
        return self.problem is None and self.reference_rows > 0 and self.current_rows > 0


def compare(
    reference: Any,
    current: Any,
    *,
    columns: Sequence[str] | None = None,
    categorical: Iterable[str] | None = None,
    methods: str | Mapping[str, str] | None = None,
    thresholds: float | Mapping[str, float] | None = None,
    prediction: str | None = None,
    multivariate: bool = False,
    exact: bool = False,
    correction: str | None = "benjamini-hochberg",
    dataset_drift_share: float = 0.5,
) -> DriftReport:
    """Test every column of ``reference`` (or those in ``columns``) for drift in ``current``.

    ``exact=True`` computes the KS p-value as scipy does by default (exact up to 10,000 values a side)
    instead of Smirnov's asymptotic formula; chi-square and Wasserstein are scipy's values either way.
    """
    if correction not in (None, "benjamini-hochberg"):
        raise InvalidInput(f"'correction' must be 'benjamini-hochberg' or None; got {correction!r}.")
    if not 0.0 < dataset_drift_share <= 1.0:
        raise InvalidInput(f"'dataset_drift_share' must be in (0, 1]; got {dataset_drift_share!r}.")
    if isinstance(reference, Profile):
        if categorical or multivariate or exact:
            raise InvalidInput("'categorical', 'multivariate' and 'exact' need raw rows, not a Profile as reference.")
        from driftloop.monitoring._sketch_drift import compare_profiles, profile_window

        return compare_profiles(
            reference,
            profile_window(current, like=reference),
            columns=columns,
            methods=methods,
            thresholds=thresholds,
            prediction=prediction,
            correction=correction,
            dataset_drift_share=dataset_drift_share,
        )
    left, right = _as_frame(reference, "reference"), _as_frame(current, "current")
    names = feature_names(left.columns, columns, prediction, reference="window")
    listed = set(categorical or ())
    unknown = sorted(listed - set(names) - {prediction})
    if unknown:
        raise InvalidInput(f"'categorical' names columns that are not compared: {', '.join(map(repr, unknown))}.")
    tested = [*names, prediction] if prediction is not None else names
    work = {name: _kind(left, right, name, listed) for name in tested}
    _count_numerical(left, right, [work[name] for name in tested if work[name].kind == "numerical"])
    counts = _categorical(left, right, [work[name] for name in tested if work[name].kind == "categorical"])
    _choose(work, methods, thresholds)
    _run(work, left, right, counts, exact)
    joint = _multivariate([work[name] for name in names], left, right) if multivariate else None
    return verdicts(
        work,
        names,
        prediction=prediction,
        correction=correction,
        dataset_drift_share=dataset_drift_share,
        rows=(left.height, right.height),
        new_columns=tuple(name for name in right.columns if name not in left.columns),
        multivariate=joint,
    )


def verdicts(
    work: Mapping[str, _Column],
    names: Sequence[str],
    *,
    prediction: str | None,
    correction: str | None,
    dataset_drift_share: float,
    rows: tuple[int, int],
    new_columns: tuple[str, ...],
    multivariate: MultivariateDrift | None = None,
) -> DriftReport:
    """The report of tested columns: p-values adjusted, each feature decided, the dataset's share and verdict
    (shared by :func:`compare` and the sketch path, so both decide alike)."""
    features = [work[name] for name in names]
    if correction is not None:
        _adjust([column for column in features if column.p_value is not None and _enough(column)])
    results = tuple(_result(column) for column in features)
    decided = [feature for feature in results if feature.drifted is not None]
    drifted = tuple(feature.column for feature in results if feature.drifted)
    share = len(drifted) / len(decided) if decided else None
    return DriftReport(
        features=results,
        drifted_columns=drifted,
        share=share,
        dataset_drift=None if share is None else share >= dataset_drift_share,
        dataset_drift_share=dataset_drift_share,
        correction=correction,
        reference_rows=rows[0],
        current_rows=rows[1],
        prediction=_result(work[prediction]) if prediction is not None else None,
        multivariate=multivariate,
        new_columns=new_columns,
    )


def _as_frame(data: Any, window: str) -> pl.DataFrame:
    frame = as_frame(data, window)
    if frame.height == 0:
        raise InvalidData(f"The {window} window has no rows.", source=window)
    return frame


def feature_names(
    available: Sequence[str], columns: Sequence[str] | None, prediction: str | None, *, reference: str
) -> list[str]:
    """The columns to test: ``columns`` (all of ``available`` by default) but the prediction, checked against the
    reference's columns (``reference`` names it in messages: "window", "profile")."""
    if prediction is not None and prediction not in available:
        raise InvalidInput(f"The prediction column {prediction!r} is not in the reference {reference}.")
    if columns is None:
        names = list(available)
    else:
        absent = [name for name in columns if name not in available]
        if absent:
            raise InvalidInput(f"Columns not in the reference {reference}: {', '.join(map(repr, absent))}.")
        names = list(dict.fromkeys(columns))
    names = [name for name in names if name != prediction]
    if not names and prediction is None:
        raise InvalidInput("There are no columns to compare.")
    return names


def _numeric_type(dtype: pl.DataType) -> bool:
    return dtype.is_numeric() or dtype.is_temporal()


def _kind(left: pl.DataFrame, right: pl.DataFrame, name: str, listed: set[str]) -> _Column:
    dtype = left.schema[name]
    if dtype.is_nested() or dtype == pl.Object:
        raise InvalidData(f"Column {name!r} has type {dtype}, which drift tests cannot compare.", column=name)
    if name not in right.columns:
        kind = "numerical" if _numeric_type(dtype) and name not in listed else "categorical"
        return _Column(name, kind, problem="missing in the current data")
    other = right.schema[name]
    if name not in listed and _numeric_type(dtype) != _numeric_type(other):
        kind = "numerical" if _numeric_type(dtype) else "categorical"
        return _Column(name, kind, problem=f"type changed from {dtype} to {other}")
    if name in listed or not _numeric_type(dtype):
        return _Column(name, "categorical")
    return _Column(name, "categorical" if _at_most_two_values(left[name], right[name]) else "numerical")


def _at_most_two_values(left: pl.Series, right: pl.Series) -> bool:
    """Whether both windows together hold at most two distinct values (missing ones aside).

    The first rows answer "no" for almost every numerical column; only when they hold at most two values are
    the whole columns counted.
    """
    for rows in (_SAMPLE_ROWS, None):
        both = pl.concat([_as_float(left.head(rows) if rows else left), _as_float(right.head(rows) if rows else right)])
        if both.drop_nulls().n_unique() > 2:
            return False
    return True


def _as_float(series: pl.Series) -> pl.Series:
    return series.to_physical().cast(pl.Float64).fill_nan(None)


def _count_numerical(left: pl.DataFrame, right: pl.DataFrame, work: list[_Column]) -> None:
    """Count each numerical column's missing, infinite and usable values (the values themselves come later)."""
    for column in work:
        for window, frame in (("reference", left), ("current", right)):
            if window == "current" and column.problem is not None:
                continue
            series = _as_float64(frame[column.name])
            missing = series.null_count() + int(series.is_nan().sum())
            infinite = int(series.is_infinite().sum())
            setattr(column, f"missing_{window}", missing)
            setattr(column, f"infinite_{window}", infinite)
            setattr(column, f"{window}_rows", series.len() - missing - infinite)


def _as_float64(series: pl.Series) -> pl.Series:
    return series.to_physical().cast(pl.Float64)


def _usable_values(frame: pl.DataFrame, name: str) -> npt.NDArray[np.float64]:
    """The finite values of a numerical column; a float64 column without missing values is not copied."""
    values = _as_float64(frame[name]).to_numpy()
    finite = np.isfinite(values)
    return values if finite.all() else values[finite]


def _values_with_gaps(frame: pl.DataFrame, name: str) -> npt.NDArray[np.float64]:
    """A numerical column row by row, NaN where missing or infinite (for the domain classifier)."""
    values = np.array(_as_float64(frame[name]).to_numpy(), dtype=np.float64)
    values[np.isinf(values)] = np.nan
    return values


def _categorical(left: pl.DataFrame, right: pl.DataFrame, work: list[_Column]) -> dict[str, npt.NDArray[np.int64]]:
    """Each column's category counts over the sorted union of both windows' categories, counting missing values."""
    counts: dict[str, npt.NDArray[np.int64]] = {}
    for column in work:
        series = [left[column.name]] + ([right[column.name]] if column.problem is None else [])
        numeric = all(_numeric_type(item.dtype) for item in series)
        try:
            series = [_as_float(item) if numeric else item.cast(pl.String) for item in series]
        except pl.exceptions.PolarsError as error:
            raise InvalidData(
                f"Column {column.name!r} cannot be read as categories: {error}", column=column.name
            ) from error
        labels = pl.concat([item.drop_nulls().unique() for item in series]).unique().sort()
        column.categories = labels.len()
        for window, item in zip(("reference", "current"), series, strict=False):
            # Code `categories` marks a missing value: the last bin of the tally counts them.
            tally = np.bincount(_category_codes(item, labels), minlength=column.categories + 1)
            present = np.zeros(max(1, column.categories), dtype=np.int64)
            present[: column.categories] = tally[: column.categories]
            setattr(column, f"missing_{window}", int(tally[column.categories]))
            setattr(column, f"{window}_rows", int(present.sum()))
            counts[f"{window}:{column.name}"] = present
        if column.testable:
            unseen = (counts[f"reference:{column.name}"] == 0) & (counts[f"current:{column.name}"] > 0)
            column.unseen = [str(labels[int(index)]) for index in np.flatnonzero(unseen)]
    return counts


def _category_codes(series: pl.Series, labels: pl.Series) -> npt.NDArray[np.int64]:
    """Each value's index in the sorted ``labels``; ``len(labels)`` where the value is missing."""
    if labels.dtype == pl.String:
        # An enum over the labels codes text by hashing, far faster than ranking the strings.
        codes = series.cast(pl.Enum(labels.to_list())).to_physical().cast(pl.Int64).fill_null(labels.len())
        return np.asarray(codes.to_numpy(), dtype=np.int64)
    values = series.to_numpy()  # floats, NaN where missing, which sorts after every label
    return np.asarray(np.searchsorted(labels.to_numpy(), values), dtype=np.int64)


def _choose(
    work: dict[str, _Column], methods: str | Mapping[str, str] | None, thresholds: float | Mapping[str, float] | None
) -> None:
    for mapping, what in ((methods, "methods"), (thresholds, "thresholds")):
        if isinstance(mapping, Mapping) and (unknown := sorted(set(mapping) - set(work))):
            raise InvalidInput(f"'{what}' names columns that are not compared: {', '.join(map(repr, unknown))}.")
    for column in work.values():
        chosen = methods.get(column.name) if isinstance(methods, Mapping) else methods
        if chosen is not None and chosen not in METHODS:
            raise InvalidInput(f"Unknown drift method {chosen!r} for {column.name!r}; use one of {sorted(METHODS)}.")
        if chosen is not None and column.kind not in METHODS[chosen].kinds:
            if isinstance(methods, Mapping):
                raise InvalidInput(f"Method {chosen!r} does not apply to {column.kind} column {column.name!r}.")
            chosen = None  # one name for all columns applies to the kinds it supports
        if chosen == "z" and column.categories > 2:
            raise InvalidInput(f"Method 'z' needs two categories; {column.name!r} has {column.categories}.")
        column.method = chosen or _default_method(column)
        method = METHODS[column.method]
        threshold = thresholds.get(column.name) if isinstance(thresholds, Mapping) else thresholds
        column.threshold = method.threshold if threshold is None else float(threshold)
        if not (0.0 < column.threshold < (1.0 if method.p_value else math.inf)):
            limit = "(0, 1)" if method.p_value else "(0, inf)"
            raise InvalidInput(
                f"The threshold of {column.method} for {column.name!r} must be in {limit}; got {threshold!r}."
            )


def _default_method(column: _Column) -> str:
    if column.reference_rows > SMALL_SAMPLE:
        return "wasserstein" if column.kind == "numerical" else "jensenshannon"
    if column.kind == "numerical":
        return "ks"
    return "z" if column.categories == 2 else "chisquare"


def _run(
    work: dict[str, _Column],
    left: pl.DataFrame,
    right: pl.DataFrame,
    counts: dict[str, npt.NDArray[np.int64]],
    exact: bool,
) -> None:
    """Run each categorical test once over all the columns that use it, and numerical tests column by column."""
    groups: dict[tuple[str, str], list[_Column]] = {}
    for column in work.values():
        if column.testable:
            groups.setdefault((column.kind, column.method), []).append(column)
    for (kind, method), members in groups.items():
        if kind == "categorical":
            reference, current = (_stack([counts[f"{window}:{c.name}"] for c in members]) for window in _WINDOWS)
            _store(members, *run_method(method, reference, current, kind=kind, exact=exact))
            continue

        def one(column: _Column, method: str = method, kind: str = kind) -> None:
            # One column at a time: a matrix of every column would copy all of them at once.
            values = [_usable_values(left, column.name)], [_usable_values(right, column.name)]
            _store([column], *run_method(method, *values, kind=kind, exact=exact))

        # numpy sorts and merges, and Polars converts, without the interpreter lock: large columns go
        # PARALLEL_COLUMNS at a time on threads (memory: that many columns' working sets, never all of them).
        if len(members) > 1 and left.height + right.height >= PARALLEL_ROWS:
            with ThreadPoolExecutor(max_workers=PARALLEL_COLUMNS) as pool:
                list(pool.map(one, members))
        else:
            for column in members:
                one(column)


_WINDOWS = ("reference", "current")
PARALLEL_COLUMNS = 2
"""Numerical columns tested at once on threads when the windows are large."""
PARALLEL_ROWS = 200_000
"""Below this many rows in both windows together, threads cost more than they save."""


def _store(members: list[_Column], statistic: npt.NDArray[np.float64], p_value: npt.NDArray[np.float64] | None) -> None:
    for index, column in enumerate(members):
        column.statistic = float(statistic[index])
        column.p_value = None if p_value is None else float(p_value[index])


def _stack(arrays: list[npt.NDArray[Any]]) -> npt.NDArray[Any]:
    """Rows of equal length stacked; count vectors of different lengths are zero-padded."""
    width = max(array.size for array in arrays)
    if all(array.size == width for array in arrays):
        return np.stack(arrays)
    return np.stack([np.pad(array, (0, width - array.size)) for array in arrays])


def _enough(column: _Column) -> bool:
    return column.testable and min(column.reference_rows, column.current_rows) >= MIN_VALUES


def _adjust(columns: list[_Column]) -> None:
    adjusted = benjamini_hochberg(np.array([column.p_value for column in columns], dtype=float))
    for column, value in zip(columns, adjusted, strict=True):
        column.p_value_adjusted = float(value)


def _result(column: _Column) -> FeatureDrift:
    drifted, notes = _decide(column)
    if column.infinite_reference or column.infinite_current:
        notes.append(
            f"infinite values left out of the test ({column.infinite_reference} in the reference, "
            f"{column.infinite_current} in the current window)"
        )
    if column.unseen:
        shown = ", ".join(map(repr, column.unseen[:5])) + (", …" if len(column.unseen) > 5 else "")
        notes.append(f"{len(column.unseen)} categories not seen in the reference: {shown}")
    return FeatureDrift(
        column=column.name,
        kind=column.kind,
        method=column.method,
        statistic=column.statistic,
        p_value=column.p_value,
        p_value_adjusted=column.p_value_adjusted,
        threshold=column.threshold,
        drifted=drifted,
        reference_rows=column.reference_rows,
        current_rows=column.current_rows,
        missing_reference=column.missing_reference,
        missing_current=column.missing_current,
        infinite_reference=column.infinite_reference,
        infinite_current=column.infinite_current,
        note="; ".join(notes) or None,
    )


def _decide(column: _Column) -> tuple[bool | None, list[str]]:
    if column.problem is not None:
        return True, [column.problem]
    if column.reference_rows == 0 and column.current_rows == 0:
        return None, ["no usable value in either window"]
    if column.current_rows == 0:
        return True, [f"no usable value in the current window, {column.reference_rows} in the reference"]
    if column.reference_rows == 0:
        return True, [f"no usable value in the reference window, {column.current_rows} in the current one"]
    if not _enough(column):
        return None, [f"too few values to conclude (fewer than {MIN_VALUES} in a window)"]
    assert column.statistic is not None
    if column.p_value is None:
        return column.statistic > column.threshold, []
    p_value = column.p_value if column.p_value_adjusted is None else column.p_value_adjusted
    return p_value < column.threshold, []


def _multivariate(features: list[_Column], left: pl.DataFrame, right: pl.DataFrame) -> MultivariateDrift:
    """The domain classifier on every feature present in both windows (categories as their codes)."""
    usable = [column for column in features if column.problem is None]
    windows = [[] for _ in _WINDOWS]  # type: list[list[npt.NDArray[np.float64]]]
    for column in usable:
        if column.kind == "numerical":
            rows = [_values_with_gaps(frame, column.name) for frame in (left, right)]
        else:
            rows = _codes_with_gaps(left[column.name], right[column.name])
        for window, values in zip(windows, rows, strict=True):
            window.append(values)
    return domain_classifier_drift(
        *(np.stack(rows) if rows else np.empty((0, 0)) for rows in windows),
        columns=[column.name for column in usable],
        categorical=[column.kind == "categorical" for column in usable],
    )


def _codes_with_gaps(left: pl.Series, right: pl.Series) -> list[npt.NDArray[np.float64]]:
    """Both windows' category codes as floats, NaN where missing."""
    numeric = _numeric_type(left.dtype) and _numeric_type(right.dtype)
    series = [_as_float(item) if numeric else item.cast(pl.String) for item in (left, right)]
    labels = pl.concat([item.drop_nulls().unique() for item in series]).unique().sort()
    codes = [_category_codes(item, labels).astype(np.float64) for item in series]
    for values in codes:
        values[values == labels.len()] = np.nan
    return codes
