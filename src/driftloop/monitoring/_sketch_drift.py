"""Data drift from stored profiles: ``compare_profiles(reference, current)``, in memory bounded by the sketches.

A :class:`~driftloop.data.profiles.Profile` keeps, per numeric column, exact counts and moments and a KLL quantile
sketch, and per categorical column exact counts and a frequent-items sketch. ``compare_profiles`` tests drift from
those alone, so a window of any length costs the size of its sketches (about 10 KB a column), not of its rows:
profile it chunk by chunk (:meth:`Profile.update`, :meth:`Profile.merge`) and compare. It returns the
:class:`~driftloop.monitoring.DriftReport` of :func:`~driftloop.monitoring.compare`, and follows its rules: the
same default test per column, chosen by the number of usable reference values, the same thresholds,
Benjamini-Hochberg over the features' p-values, the same dataset-drift share and the same answers for awkward
data. ``compare(profile, frame)`` profiles the frame and calls this function.

**Numerical columns.** A KLL sketch keeps a weighted sample of the column: a few hundred of its values, each
standing for a power of two of them. Both statistics are read off one walk along the two sketches' merged
samples, exactly for those samples (no grid). The Kolmogorov-Smirnov statistic is the largest gap between the two
sketches' CDFs over the union of their retained values; its p-value is Smirnov's asymptotic one with the
effective sample size ``round(n·m / (n + m))`` of the exact counts, as ``compare`` computes it by default. The
Wasserstein-1 distance is the area between the two sketches' CDFs, which equals the integral of
``|Q_ref(u) - Q_cur(u)|`` over the sketches' quantile functions, divided by the exact reference standard
deviation from the moments (the pooled one of both windows when the reference is constant, as ``compare`` does).
With ``methods=`` PSI, KL, Hellinger and Jensen-Shannon use ten bins cut at the sketch's reference deciles plus
one below and one above the reference range, like ``compare`` (whose edges interpolate between values; the
sketch's are values of the data). A numeric column whose two sketches hold at most two distinct values (a flag, a
constant) is tested as categories, as ``compare`` does, with each value's count read from the sketch's weights.

**Categorical columns.** Category counts come from the frequent-items sketches. A category is counted on its own,
in both windows, when a sketch's estimate of it reaches twice the sketch's maximum error (so it surely occurred more
often than that error; while a sketch is exact, that is every category it saw); the rest, whose counts the
sketches know only to within their error, are pooled into one "other" bucket per window: the exact total minus
the categories counted. Chi-square, Z, Jensen-Shannon, PSI, KL and Hellinger then run on those counts, once for
all the columns that use the test.

**Error bounds.** Let ε be a KLL sketch's rank error (:attr:`NumericProfile.rank_error`: 1.33 % for
``kll_k=200``, the largest rank error over all queries with 99 % confidence; 0 while the sketch still holds every
value, which for ``kll_k=200`` is up to 200 values) and ``e`` a frequent-items sketch's
:attr:`CategoricalProfile.maximum_error` over a column of ``n`` values.

- Kolmogorov-Smirnov: each sketch's CDF is within ε of its data's everywhere, so the statistic is within
  ``ε_ref + ε_cur`` of the exact one (2.7 % with two ``kll_k=200`` sketches). The p-value is the asymptotic
  formula at that statistic: it moves with the statistic, and is exact where both sketches are. The statistic at
  which p reaches 0.05 is about ``1.36·√((n + m) / (n·m))``: 0.061 at 1,000 values a side, where KS is the default,
  but 0.014 at 20,000, below the sketches' error, so ``methods="ks"`` on large profiles gives p-values that the
  sketches' noise alone can push under 0.05 (the default there is Wasserstein).
- Wasserstein-1: the distance between a column and its own sketch is ``∫|F - F̂| dx = ∫|Q(u) - Q̂(u)| du``; every
  quantile the sketch returns for rank ``u`` lies between the true quantiles at ``u - ε`` and ``u + ε``, so that
  area is at most ``ε·(max - min)``. By the triangle inequality the sketch distance is within
  ``ε_ref·(max_ref - min_ref) + ε_cur·(max_cur - min_cur)`` of the exact one, and the normalised value within that
  divided by the reference standard deviation (which is exact). That worst case moves a rank error's worth of mass
  across the whole range; KLL's errors are small and of both signs, so the deviations seen are far smaller (the
  benchmark, ``benchmarks/monitoring_drift.py``, prints the largest one next to this bound).
- Histogram distances on numbers: each bin's share is within the sketch's PMF error (1.65 % for ``kll_k=200``).
- Categories: a category's true count in a window lies in ``[estimate - e, estimate]`` where the window's sketch
  tracks it and in ``[0, e]`` where it does not (each untracked category occurred at most ``e`` times); the
  midpoint is used, so every share is within ``e / (2n)`` of the truth. The "other" bucket is the exact total
  minus the ``L`` categories counted on their own, so its share is within ``L·e / (2n)``. ``e`` is 0, and every
  count exact, while a column has no more distinct values than the sketch's map holds (768 for ``top_k=64``):
  most categorical features never leave that regime, and their tests then equal ``compare``'s. Otherwise, shares
  off by a total variation δ move the Jensen-Shannon distance (base 2) by at most ``√δ_ref + √δ_cur`` (it is a
  metric, and the divergence is at most the total variation), and pooling shares ``p_o`` and ``q_o`` into "other"
  can only lower it, by at most ``√((p_o + q_o) / 2)``: a change among rare categories goes unseen.
- Flags (numbers of at most two values): each value's share is within ε of the truth.

**What needs the raw rows** and is therefore not offered here: the joint (multivariate) test, which trains a
classifier on the rows; Anderson-Darling and Cramér-von Mises (``methods=`` refuses them); scipy's exact KS
p-value (``compare``'s ``exact=True``); ``categorical=`` for numeric columns, since a KLL sketch keeps no
category counts; telling apart the categories a sketch no longer tracks; the sign of infinite values (a profile
counts them, so they are left out and noted, never taken as categories as ``compare`` does in a column of at most
two values); and the exact type of a changed column (a profile records numeric or categorical).

**Awkward data**, as in ``compare``: a profile of no rows raises :class:`~driftloop.errors.InvalidData`; fewer than
5 usable values on a side leave ``drifted`` undecided; missing values (and infinite ones, noted) are counted and
left out; a column with no usable value on one side has drifted, on both sides is undecided; a column the current
profile lacks (absent, or only ever seen as Arrow's null type), or that is numeric in one profile and categorical in
the other, has drifted; categories new in the current window are named in the note when the reference sketch is
exact, so that it knows they never occurred.

>>> import pyarrow as pa
>>> from driftloop.data.profiles import Profile
>>> reference = Profile.empty().update(pa.table({"price": [float(x) for x in range(200)], "city": ["a", "b"] * 100}))
>>> current = Profile.empty().update(pa.table({"price": [x + 150.0 for x in range(200)], "city": ["a", "b"] * 100}))
>>> report = compare_profiles(reference, current)
>>> [(feature.column, feature.method, feature.drifted) for feature in report.features]
[('price', 'ks', True), ('city', 'z', False)]
>>> report.share, report.dataset_drift
(0.5, True)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy import stats

from driftloop.data.profiles import CategoricalProfile, NumericProfile, Profile
from driftloop.errors import InvalidData, InvalidInput
from driftloop.monitoring._drift import DriftReport, _choose, _Column, _stack, _store, feature_names, verdicts
from driftloop.monitoring._frames import as_frame
from driftloop.monitoring._stattests import METHODS, run_method

__all__ = ["compare_profiles", "profile_window"]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_RAW_ONLY_METHODS = frozenset({"anderson", "cramer_von_mises"})  # they need every value, which a profile lacks
_BINS = 10  # reference-quantile bins of the histogram distances, as compare uses
_EVERY_TRACKED = 2**31  # "all of them" for CategoricalProfile.top, which takes a count


@dataclass(frozen=True)
class _Retained:
    """The distinct values a KLL sketch keeps, sorted, each with its weight: how many values of the data it stands for.

    ``exact`` tells whether the sketch still holds every value (no compaction has happened yet).
    """

    values: FloatArray
    weights: IntArray
    exact: bool


@dataclass(frozen=True)
class _Numbers:
    """A numerical column of both profiles, with each sketch's weighted sample."""

    reference: NumericProfile
    current: NumericProfile
    left: _Retained
    right: _Retained


def compare_profiles(
    reference: Profile,
    current: Profile,
    *,
    columns: Sequence[str] | None = None,
    methods: str | Mapping[str, str] | None = None,
    thresholds: float | Mapping[str, float] | None = None,
    prediction: str | None = None,
    correction: str | None = "benjamini-hochberg",
    dataset_drift_share: float = 0.5,
) -> DriftReport:
    """Test every column of the ``reference`` profile (or those in ``columns``) for drift in the ``current`` one.

    The options mean what they mean for :func:`~driftloop.monitoring.compare`; ``methods=`` takes every test but
    Anderson-Darling and Cramér-von Mises, which need the raw rows.

    Raises:
        InvalidInput: an argument is not a profile, or names an unknown column, test or threshold.
        InvalidData: a profile has no rows.
    """
    if correction not in (None, "benjamini-hochberg"):
        raise InvalidInput(f"'correction' must be 'benjamini-hochberg' or None; got {correction!r}.")
    if not 0.0 < dataset_drift_share <= 1.0:
        raise InvalidInput(f"'dataset_drift_share' must be in (0, 1]; got {dataset_drift_share!r}.")
    for profile, window in ((reference, "reference"), (current, "current")):
        if not isinstance(profile, Profile):
            raise InvalidInput(f"The {window} must be a driftloop Profile; got {type(profile).__name__}.")
        if profile.rows == 0:
            raise InvalidData(f"The {window} profile has no rows.", source=window)
    _refuse_raw_only(methods)
    names = feature_names(list(reference.columns), columns, prediction, reference="profile")
    tested = [*names, prediction] if prediction is not None else names
    work: dict[str, _Column] = {}
    counts: dict[str, tuple[FloatArray, FloatArray]] = {}
    samples: dict[str, _Numbers] = {}
    for name in tested:
        work[name] = _column(name, reference.columns[name], current.columns.get(name), counts, samples)
    # compare's own bookkeeping (_Column), choice of test and verdicts: both paths decide alike.
    _choose(work, methods, thresholds)
    _run(work, counts, samples)
    return verdicts(
        work,
        names,
        prediction=prediction,
        correction=correction,
        dataset_drift_share=dataset_drift_share,
        rows=(reference.rows, current.rows),
        new_columns=tuple(name for name in current.columns if name not in reference.columns),
    )


def profile_window(data: Any, *, like: Profile, window: str = "current") -> Profile:
    """The profile of a window given as a pandas or Polars DataFrame or an Arrow table, sized like ``like``."""
    frame = as_frame(data, window)
    return Profile.empty(kll_k=like.kll_k, top_k=like.top_k).update(frame.to_arrow())


def _refuse_raw_only(methods: str | Mapping[str, str] | None) -> None:
    named = [methods] if isinstance(methods, str) else list(methods.values()) if isinstance(methods, Mapping) else []
    for name in named:
        if name in _RAW_ONLY_METHODS:
            usable = sorted(set(METHODS) - _RAW_ONLY_METHODS)
            raise InvalidInput(
                f"The drift method {name!r} needs the raw rows, which a profile does not keep; from profiles use one "
                f"of {usable}, or compare the data itself."
            )


def _column(
    name: str,
    reference: NumericProfile | CategoricalProfile,
    current: NumericProfile | CategoricalProfile | None,
    counts: dict[str, tuple[FloatArray, FloatArray]],
    samples: dict[str, _Numbers],
) -> _Column:
    """The column's kind and counts; its category counts go to ``counts``, its sketch samples to ``samples``."""
    numeric = isinstance(reference, NumericProfile)
    column = _Column(name, "numerical" if numeric else "categorical")
    _count(column, "reference", reference)
    if current is None:
        column.problem = "missing in the current data"
        return column
    if current.kind != reference.kind:
        column.problem = f"type changed from {reference.kind} to {current.kind}"
        return column
    _count(column, "current", current)
    if isinstance(reference, NumericProfile):
        assert isinstance(current, NumericProfile)
        numbers = _Numbers(reference, current, _retained(reference), _retained(current))
        values = _two_values_at_most(numbers.left, numbers.right)
        if values is None:
            samples[name] = numbers
            return column
        # At most two values in both windows: a flag or a constant, which compare tests as categories.
        column.kind = "categorical"
        found = [
            np.array([side.weights[side.values == value].sum() for value in values], dtype=np.float64)
            for side in (numbers.left, numbers.right)
        ]
        labels = [str(float(value)) for value in values]
        # A value the reference's sketch lacks never occurred there if the sketch holds every value or if the value
        # lies outside the reference's exact range; otherwise compaction may have dropped a rare one.
        low, high = reference.min, reference.max
        known = [numbers.left.exact or low is None or high is None or not low <= value <= high for value in values]
    else:
        assert isinstance(current, CategoricalProfile)
        labels, found = _category_counts(reference, current)
        known = [reference.maximum_error == 0] * len(labels)  # an exact sketch lists every category it saw
    column.categories = found[0].size
    counts[name] = (found[0], found[1])
    if column.testable:
        rows = zip(labels, known, found[0], found[1], strict=False)  # found may end with the "other" bucket
        column.unseen = [label for label, sure, left, right in rows if sure and left == 0 and right > 0]
    return column


def _count(column: _Column, window: str, profile: NumericProfile | CategoricalProfile) -> None:
    infinite = profile.infinite if isinstance(profile, NumericProfile) else 0
    setattr(column, f"missing_{window}", profile.missing)
    setattr(column, f"infinite_{window}", infinite)
    setattr(column, f"{window}_rows", profile.count - infinite)


def _retained(column: NumericProfile) -> _Retained:
    """The KLL sketch's weighted sample, sorted by value.

    The profile answers quantile and CDF queries point by point; the statistics here need the sketch's whole
    sample at once, and only the sketch object lists the values it keeps. Their weights come from the profile's
    CDF at those values, not from the sketch's iterator, which in DataSketches 5.2 gives every value of a merged
    sketch the weight 1.
    """
    sketch = column._sketch
    values = np.unique(np.fromiter((value for value, _weight in sketch), np.float64, sketch.num_retained))
    size = column.count - column.infinite
    if values.size == 0:
        return _Retained(values, np.zeros(0, dtype=np.int64), exact=True)
    below_or_at = np.rint(np.asarray(column.cdf(values.tolist()), dtype=np.float64) * size).astype(np.int64)
    return _Retained(values, np.diff(below_or_at, prepend=0), exact=int(sketch.num_retained) == size)


def _two_values_at_most(left: _Retained, right: _Retained) -> FloatArray | None:
    """The distinct values of both sketches, sorted, when there are at most two of them; else None."""
    if left.values.size > 2 or right.values.size > 2:
        return None
    values = np.unique(np.concatenate([left.values, right.values]))
    return values if values.size <= 2 else None


def _category_counts(reference: CategoricalProfile, current: CategoricalProfile) -> tuple[list[str], list[FloatArray]]:
    """The categories counted one by one, sorted, and each window's counts of them, plus an "other" bucket if needed.

    A category is counted on its own when a sketch's estimate of it reaches twice its maximum error ``e``: its true
    count then surely exceeds ``e``. With ``e = 0`` that is every category seen. Below that, in both windows, the
    sketches know its count only to within their error, and which of such categories a sketch still tracks depends
    on the order the data came in: counting them one by one would report that noise as drift, so they are pooled.
    A count is the midpoint of what the window's sketch knows: ``[estimate - e, estimate]`` for a category it
    tracks, ``[0, e]`` for one it does not.
    """
    tracked = [dict(column.top(_EVERY_TRACKED)) for column in (reference, current)]
    labels = sorted(
        {
            label
            for column, estimates in zip((reference, current), tracked, strict=True)
            for label, estimate in estimates.items()
            if estimate >= 2 * column.maximum_error
        }
    )
    found, other = [], []
    for column, estimates in zip((reference, current), tracked, strict=True):
        half = column.maximum_error / 2.0
        found.append(np.array([estimates[label] - half if label in estimates else half for label in labels]))
        other.append(max(float(column.count) - float(found[-1].sum()), 0.0))
    if any(other):  # categories pooled: one more bucket
        found = [np.append(row, rest) for row, rest in zip(found, other, strict=True)]
    return labels, found


def _run(
    work: dict[str, _Column], counts: dict[str, tuple[FloatArray, FloatArray]], samples: dict[str, _Numbers]
) -> None:
    """Run each test once over all the columns that use it; KS and Wasserstein walk each column's sketches."""
    groups: dict[tuple[str, str], list[_Column]] = {}
    for column in work.values():
        if column.testable:
            groups.setdefault((column.kind, column.method), []).append(column)
    for (kind, method), members in groups.items():
        if kind == "categorical":
            left, right = (_stack([counts[column.name][side] for column in members]) for side in (0, 1))
        elif method in ("ks", "wasserstein"):
            for column in members:
                statistic, p_value = _numerical(method, samples[column.name])
                _store([column], np.array([statistic]), None if p_value is None else np.array([p_value]))
            continue
        else:  # a histogram distance, on bins cut at the reference's quantiles
            bins = [_quantile_bins(samples[column.name]) for column in members]
            left, right = _stack([pair[0] for pair in bins]), _stack([pair[1] for pair in bins])
        _store(members, *run_method(method, left, right, kind="categorical"))


def _numerical(method: str, numbers: _Numbers) -> tuple[float, float | None]:
    """KS and its p-value, or the normalised Wasserstein distance, of one column's sketches."""
    ks, distance = _sketch_differences(numbers.left, numbers.right)
    if method == "ks":
        n, m = float(numbers.left.weights.sum()), float(numbers.right.weights.sum())
        return ks, float(np.clip(stats.kstwo.sf(ks, round(n * m / (n + m))), 0.0, 1.0))
    scale = _std(numbers.reference, numbers.current)
    return (distance / scale if scale > 0.0 else 0.0), None


def _sketch_differences(reference: _Retained, current: _Retained) -> tuple[float, float]:
    """The KS statistic and the Wasserstein-1 distance between two sketches' weighted samples.

    One walk along the merged values: the gap between the CDFs, ``|F_ref - F_cur| · n · m``, is kept in exact
    integers; KS is its largest value after a run of ties ends, Wasserstein-1 its area. With every weight 1 they
    are the exact statistics of the data, as :func:`~driftloop.monitoring._stattests.ecdf_differences` computes.
    """
    n, m = int(reference.weights.sum()), int(current.weights.sum())
    values = np.concatenate([reference.values, current.values])
    steps = np.concatenate([reference.weights * m, -current.weights * n])
    order = np.argsort(values, kind="stable")
    values = values[order]
    gap = np.abs(np.cumsum(steps[order]))
    run_end = np.empty(values.size, dtype=bool)
    run_end[-1] = True
    np.not_equal(values[1:], values[:-1], out=run_end[:-1])
    scale = float(n) * float(m)
    return float(gap[run_end].max()) / scale, float((gap[:-1] * np.diff(values)).sum()) / scale


def _std(reference: NumericProfile, current: NumericProfile) -> float:
    """The reference's standard deviation; when it is 0, that of both windows together (from the moments)."""
    assert reference.std is not None and reference.mean is not None
    if reference.std > 0.0 or current.std is None or current.mean is None:
        return reference.std
    left, right = reference.count - reference.infinite, current.count - current.infinite
    mean = (left * reference.mean + right * current.mean) / (left + right)
    spread = left * (reference.std**2 + (reference.mean - mean) ** 2) + right * (
        current.std**2 + (current.mean - mean) ** 2
    )
    return math.sqrt(spread / (left + right))


def _quantile_bins(numbers: _Numbers) -> tuple[FloatArray, FloatArray]:
    """Both windows' counts in bins cut at the reference's deciles, one more below its minimum and above its maximum.

    The bins are those of :func:`~driftloop.monitoring._stattests.quantile_bin_counts`: a value ``v`` falls in the
    bin of the number of edges at or below it.
    """
    ranks = np.linspace(0.0, 1.0, _BINS + 1).tolist()
    edges = np.unique(np.asarray(numbers.reference.quantile(ranks), dtype=np.float64))
    edges = np.append(edges, np.nextafter(edges[-1], np.inf))
    return _binned(numbers.left, edges), _binned(numbers.right, edges)


def _binned(sample: _Retained, edges: FloatArray) -> FloatArray:
    cumulative = np.concatenate([[0], np.cumsum(sample.weights)])
    below = cumulative[np.searchsorted(sample.values, edges, side="left")]  # weight of the values below each edge
    return np.diff(np.concatenate([[0], below, [cumulative[-1]]])).astype(np.float64)
