"""Drift of a served model's live traffic: a window of the prediction log against the version's reference.

The reference of the features is, by default, the **training profile** stored with the version (sketches of the
rows it was trained on: memory bounded by the sketch size, error bounds in :mod:`._sketch_drift`); the reference
of the prediction is the model's own predictions on its **holdout** (the rows it was scored on at registration
and never trained on). ``reference="holdout"`` compares the features with the holdout's rows instead: exact
tests, and what a joint (multivariate) test needs, so ``multivariate=True`` uses it; a version without a stored
profile does too. The current window is the latest ``last`` predictions of the model in the prediction log, or
those made between ``since`` and ``until``.
Both go to :func:`~driftloop.monitoring.compare`: every feature of the version's signature, the prediction as
prediction drift, and optionally the joint distribution; the window's inputs also go to
:func:`~driftloop.monitoring.check_quality` (the signature's rules, the holdout's missing rates). When the
version was registered with its target and task, a :class:`~driftloop.monitoring.PerformanceEstimator` fitted on
the holdout estimates the window's performance before its labels arrive (classifiers' scores are the model's
own on the window's inputs); an estimate that cannot be made (inputs the model refuses) leaves a note instead.

The log keeps inputs as JSON text (models differ in their columns); a window's inputs are decoded into columns
with Polars, in one pass.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

import orjson
import polars as pl
import pyarrow as pa

from driftloop.errors import DriftloopError, InvalidData, InvalidInput, InvalidState
from driftloop.monitoring._drift import DriftReport, compare
from driftloop.monitoring._estimation import PerformanceEstimate, PerformanceEstimator
from driftloop.monitoring._quality import QualityReport, check_quality

if TYPE_CHECKING:
    import pandas as pd

    from driftloop.data.profiles import Profile
    from driftloop.entities.models import ModelVersionInfo
    from driftloop.registry import LoadedModel
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.training._tasks import Task
    from driftloop.workspace import Workspace

__all__ = [
    "LabelledWindow",
    "LiveCheck",
    "LogWindow",
    "check_live_drift",
    "read_arrived",
    "read_labelled",
    "read_window",
]

PREDICTION = "prediction"


@dataclass(frozen=True)
class LogWindow:
    """A window of one model's predictions, its inputs decoded into columns."""

    model: str
    rows: int
    inputs: pl.DataFrame
    predictions: pl.Series
    first_at: datetime | None
    last_at: datetime | None
    versions: tuple[int, ...]


@dataclass(frozen=True)
class LiveCheck:
    """What :func:`check_live_drift` compared, and what it found: drift, and the window's data quality."""

    version: ModelVersionInfo
    window: LogWindow
    reference_rows: int
    report: DriftReport
    quality: QualityReport
    estimate: PerformanceEstimate | None = None
    notes: tuple[str, ...] = ()
    reference: Literal["profile", "holdout"] = "holdout"

    @property
    def drifted(self) -> bool:
        """Whether the dataset, the prediction or the joint distribution drifted (what fails a check)."""
        report = self.report
        prediction = report.prediction is not None and report.prediction.drifted is True
        joint = report.multivariate is not None and report.multivariate.drifted is True
        return report.dataset_drift is True or prediction or joint

    def outputs(self) -> dict[str, Any]:
        """What alert rules read (``drift.share``, ``drift.features.area.statistic``, ``quality.ok``,
        ``estimate.metrics.mae``, ``rows``)."""
        return {
            "version": self.version.number,
            "rows": self.window.rows,
            "drifted": self.drifted,
            "drift": self.report.to_dict(),
            "quality": self.quality.to_dict(),
            "estimate": None if self.estimate is None else self.estimate.to_dict(),
            "notes": list(self.notes),
        }

    def to_dict(self) -> dict[str, Any]:
        return {
            "model": self.version.model,
            "version": self.version.number,
            "reference": self.reference,
            "reference_rows": self.reference_rows,
            "window": {
                "rows": self.window.rows,
                "first_at": None if self.window.first_at is None else self.window.first_at.isoformat(),
                "last_at": None if self.window.last_at is None else self.window.last_at.isoformat(),
                "versions": list(self.window.versions),
            },
            "drifted": self.drifted,
            "report": self.report.to_dict(),
            "quality": self.quality.to_dict(),
            "estimate": None if self.estimate is None else self.estimate.to_dict(),
            "notes": list(self.notes),
        }


def read_window(
    log: PredictionLog,
    model: str,
    *,
    last: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> LogWindow:
    """The model's predictions made in ``[since, until)``, the latest ``last`` of them when given.

    Raises:
        InvalidInput: ``last`` is not a positive whole number.
    """
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
        raise InvalidInput(f"'last' must be a whole number of predictions >= 1; got {last!r}.")
    rows = log.read(model, since=since, until=until)
    if last is not None and rows.num_rows > last:
        rows = rows.slice(rows.num_rows - last)
    moments = rows.column("at").to_pylist()
    return LogWindow(
        model=model,
        rows=rows.num_rows,
        inputs=_decoded_objects(rows.column("inputs")),
        predictions=_decoded_values(rows.column("prediction")).alias(PREDICTION),
        first_at=moments[0] if moments else None,
        last_at=moments[-1] if moments else None,
        versions=tuple(sorted(set(rows.column("version").to_pylist()))),
    )


@dataclass(frozen=True)
class LabelledWindow:
    """A model's answered predictions whose labels arrived, oldest first, decoded into columns."""

    model: str
    rows: int
    request_ids: pl.Series
    at: pl.Series
    versions: pl.Series
    inputs: pl.DataFrame
    predictions: pl.Series
    labels: pl.Series
    label_recorded_at: pl.Series | None = None
    """When each label reached driftloop (read by :func:`read_arrived` only)."""


def read_labelled(
    log: PredictionLog,
    model: str,
    *,
    version: int | None = None,
    last: int | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    exclude: Sequence[tuple[datetime, datetime]] = (),
    served_by: str | None = None,
) -> LabelledWindow:
    """The latest ``last`` predictions of ``model`` (of ``version`` when given) that have a label, oldest first.

    By default shadow predictions are left out (they answered no one); ``served_by`` keeps only the rows of one
    role (``"champion"``, ``"canary"``, ``"shadow"``). Predictions made inside any of the ``exclude`` windows
    (``[start, end]``, quarantined traffic) are left out. A label is the latest one of its request id.
    """
    if last is not None and (isinstance(last, bool) or not isinstance(last, int) or last < 1):
        raise InvalidInput(f"'last' must be a whole number of predictions >= 1; got {last!r}.")
    joined = cast(pl.DataFrame, pl.from_arrow(log.joined(model, since=since, until=until, version=version)))
    role = pl.col("served_by") != "shadow" if served_by is None else pl.col("served_by") == served_by
    kept = joined.filter(pl.col("label").is_not_null() & role)
    for start, end in exclude:
        kept = kept.filter(~pl.col("at").is_between(start, end, closed="both"))
    if last is not None and kept.height > last:
        kept = kept.tail(last)
    return _labelled_window(model, kept)


def read_arrived(
    log: PredictionLog, model: str, *, since: datetime | None = None, until: datetime | None = None
) -> LabelledWindow:
    """The predictions of ``model`` whose labels reached driftloop in ``[since, until)``, in the order they did.

    This is the stream an online learner reads: each labelled prediction once, when its label arrives (by
    ``recorded_at``, not by when the label says it was true), however long after the prediction. A request id
    labelled twice in the period counts once, with its latest label; shadow predictions are left out. Labels that
    arrived together (one feedback call) are ordered by their predictions' time, then request id. Only the labels
    of the period and the predictions they name are read.
    """
    from driftloop.serving._labels import LabelStore

    store = LabelStore(log.tables)
    arrived = cast(pl.DataFrame, pl.from_arrow(store.read(recorded_since=since, recorded_until=until)))
    arrived = arrived.sort(["recorded_at", "at"], maintain_order=True).unique(
        subset="request_id", keep="last", maintain_order=True
    )
    predictions = cast(
        pl.DataFrame, pl.from_arrow(log.read(model, request_ids=arrived["request_id"].to_list()))
    ).filter(pl.col("served_by") != "shadow")
    kept = (
        arrived.select("request_id", "label", pl.col("recorded_at").alias("label_recorded_at"))
        .join(predictions, on="request_id", how="inner")
        .sort(["label_recorded_at", "at", "request_id"], maintain_order=True)
    )
    return _labelled_window(model, kept, recorded_at=kept["label_recorded_at"])


def _labelled_window(model: str, kept: pl.DataFrame, *, recorded_at: pl.Series | None = None) -> LabelledWindow:
    """Labelled predictions (the log's columns and ``label``) decoded into a :class:`LabelledWindow`."""
    arrow = kept.to_arrow()
    return LabelledWindow(
        model=model,
        rows=kept.height,
        request_ids=kept["request_id"],
        at=kept["at"],
        versions=kept["version"],
        inputs=_decoded_objects(arrow.column("inputs")),
        predictions=_decoded_values(arrow.column("prediction")).alias(PREDICTION),
        labels=_decoded_values(arrow.column("label")).alias("label"),
        label_recorded_at=recorded_at,
    )


def check_live_drift(
    workspace: Workspace,
    reference: str,
    *,
    last: int | None = 1_000,
    since: datetime | None = None,
    until: datetime | None = None,
    multivariate: bool = False,
    estimate: bool = True,
    against: Literal["profile", "holdout"] = "profile",
) -> LiveCheck:
    """Compare the latest traffic of a served model with the reference of the version ``reference`` names.

    Args:
        workspace: The workspace whose registry and prediction log to read.
        reference: The model version: ``"houses"`` (its champion), ``"houses@challenger"``, ``"houses/3"``.
        last: How many of the latest predictions form the window (None: all in ``[since, until)``).
        since: Only predictions made at or after this moment (timezone-aware).
        until: Only predictions made before this moment.
        multivariate: Also test the joint distribution with a domain classifier.
        estimate: Estimate the window's performance from the holdout (when the version knows its target and task).
        against: The features' reference: the version's training ``profile`` (the default) or its ``holdout``.

    Raises:
        NotFound: The version does not exist, or was registered without a holdout to compare with.
        InvalidData: The window is empty (the message names the model).
    """
    from driftloop.registry import parse_reference
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.store.tables import TableStore

    if workspace.is_remote:
        raise InvalidState(
            "The prediction log lives with the workspace server: ask the server for the check "
            "(workspace.server.get('/models/<name>/drift'), or driftloop monitor check through it)."
        )
    parsed = parse_reference(reference)
    text = reference if parsed.version is not None or parsed.alias is not None else f"{reference}@champion"
    version = workspace.models.get(text)
    holdout = workspace.models.holdout(version.reference)
    signature = workspace.models.signature(version.reference)
    features = list(signature.features) if signature is not None else [c for c in holdout.columns]
    model = workspace.models.load(version.reference)
    expected = holdout[features].assign(**{PREDICTION: model.predict(holdout[features])})
    log = PredictionLog(TableStore(workspace.settings.tables_url))
    window = read_window(log, version.model, last=last, since=since, until=until)
    if not window.rows:
        raise InvalidData(
            f"The prediction log holds no predictions of {version.model!r} in the window asked for: nothing to "
            "compare (is the model served with its prediction log on?)."
        )
    current = window.inputs.with_columns(window.predictions)
    # The extra "prediction" column is the log's, not the client's: quality looks at the inputs only.
    quality = check_quality(window.inputs, signature=signature, reference=expected[features])
    notes: list[str] = []
    profile = _training_profile(workspace, version, features) if against == "profile" and not multivariate else None
    if against == "profile" and profile is None:
        notes.append(
            "The features were compared with the holdout's rows (no usable training profile, or a joint test)."
        )
    if profile is not None:
        present = [name for name in features if name in current.columns]  # one missing live has drifted
        report = compare(profile, current.select(present), columns=features)
        predicted = compare(pl.from_pandas(expected[[PREDICTION]]), current.select(PREDICTION), columns=[PREDICTION])
        report = dataclasses.replace(report, prediction=predicted.features[0])
        reference_rows = profile.rows
    else:
        report = compare(
            pl.from_pandas(expected), current, columns=features, prediction=PREDICTION, multivariate=multivariate
        )
        reference_rows = len(holdout)
    estimated: PerformanceEstimate | None = None
    if estimate:
        estimated, estimate_notes = _estimate(version, model, holdout, expected, features, window)
        notes.extend(estimate_notes)
    return LiveCheck(
        version=version,
        window=window,
        reference_rows=reference_rows,
        report=report,
        quality=quality,
        estimate=estimated,
        notes=tuple(notes),
        reference="holdout" if profile is None else "profile",
    )


def _training_profile(workspace: Workspace, version: ModelVersionInfo, features: list[str]) -> Profile | None:
    """The version's training profile when it was stored and profiles every feature, else None."""
    from driftloop.data.profiles import Profile

    if version.profile_digest is None:
        return None
    profile = Profile.from_bytes(workspace.blobs.get(version.profile_digest))
    return profile if all(name in profile.columns for name in features) else None


def _estimate(
    version: ModelVersionInfo,
    model: LoadedModel,
    holdout: pd.DataFrame,
    expected: pd.DataFrame,
    features: list[str],
    window: LogWindow,
) -> tuple[PerformanceEstimate | None, tuple[str, ...]]:
    """The window's estimated performance, or None and a note saying why it could not be estimated."""
    target = version.evaluation.get("target")
    if target is None or target not in holdout.columns or version.task is None:
        return None, ("No performance estimate: the version was registered without its target and task.",)
    classifier = version.task != "regression"
    current = window.inputs.to_pandas()
    try:
        missing = [name for name in features if name not in current.columns]
        if missing:
            raise InvalidData(f"the window lacks the features {', '.join(map(repr, missing))}")
        current = current[features]
        reference_scores = model.predict_proba(expected[features]) if classifier else None
        current_scores = model.predict_proba(current) if classifier else None
        estimator = PerformanceEstimator().fit(
            None if classifier else expected[features],
            expected[PREDICTION],
            holdout[target],
            task=cast("Task", version.task),
            scores=reference_scores,
        )
        predictions = window.predictions.to_numpy()
        return estimator.estimate(None if classifier else current, predictions, scores=current_scores), ()
    except (DriftloopError, ValueError, TypeError) as error:
        message = error.message if isinstance(error, DriftloopError) else str(error)
        return None, (f"No performance estimate: {message}",)


def _decoded_objects(texts: pa.ChunkedArray) -> pl.DataFrame:
    """JSON objects (one per row) as columns; rows lacking a key get null there."""
    series = cast(pl.Series, pl.from_arrow(texts))
    if series.len() == 0:
        return pl.DataFrame()
    try:
        return series.str.json_decode(infer_schema_length=None).struct.unnest()
    except pl.exceptions.PolarsError:  # a column whose values differ in kind across rows: decode row by row
        return pl.DataFrame([orjson.loads(text) for text in series.to_list()], strict=False, infer_schema_length=None)


def _decoded_values(texts: pa.ChunkedArray) -> pl.Series:
    series = cast(pl.Series, pl.from_arrow(texts))
    if series.len() == 0:
        return pl.Series(PREDICTION, [], dtype=pl.Float64)
    try:
        return series.str.json_decode(infer_schema_length=None)
    except pl.exceptions.PolarsError:
        return pl.Series(PREDICTION, [orjson.loads(text) for text in series.to_list()], strict=False)
