"""Labels checked against the predictions they label, recorded all or none: the label queue's answers and feedback.

``POST /v1/labels`` and ``driftloop labels answer`` call :func:`answer_labels`: every request id must be queued
(:mod:`driftloop.loop._active` queues the most informative predictions) or logged, every label must fit the model
that made the prediction (a number for a regressor, one of its classes for a classifier); repeated items with the
same label are recorded once, and a label for a prediction that had one already is a correction. The labels go to
the labels table that feedback fills (source ``label_queue``), so the next retrain reads them like any label.

``POST /v1/feedback`` calls :func:`record_feedback`, which checks labels the same way but does not refuse a
request id missing from the prediction log: its prediction may still be in a server's buffer (see
:mod:`~driftloop.serving._labels`). Such labels are recorded and the answer lists them as unmatched, so a caller
learns of a typo.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Final

from driftloop.errors import InvalidData, InvalidInput, NotFound

if TYPE_CHECKING:
    from driftloop.entities import LabelRequest
    from driftloop.loop._active import LabelRequestOutcome
    from driftloop.registry import LoadedModel
    from driftloop.serving._labels import LabelStore
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.workspace import Workspace

__all__ = [
    "MAX_LISTED",
    "QUEUE_SOURCE",
    "FeedbackAnswer",
    "LabelAnswer",
    "LabelQueue",
    "answer_labels",
    "label_items",
    "pending_dict",
    "record_feedback",
]

QUEUE_SOURCE: Final = "label_queue"
"""The ``source`` of the labels answered through the queue, in the labels table."""
MAX_LISTED: Final = 100
"""The most request ids a feedback answer lists as unmatched or corrected; a count gives the total."""

VersionKey = tuple[str, int | None]
"""A model version as the prediction log and the label queue name it: the model's name and its number."""


@dataclass(frozen=True)
class LabelAnswer:
    """What :func:`answer_labels` recorded: labels, duplicates dropped, corrections, queue items answered."""

    recorded: int
    duplicates: int = 0
    """Items repeated in the answer with the same label: recorded once."""
    corrections: tuple[str, ...] = ()
    """Request ids that already had a label: the new one is recorded and counts from now on."""
    answered: int = 0
    """Items that were in the label queue (the others were logged predictions not queued)."""

    def to_dict(self) -> dict[str, Any]:
        return {
            "recorded": self.recorded,
            "duplicates": self.duplicates,
            "corrections": list(self.corrections),
            "answered": self.answered,
        }


@dataclass(frozen=True)
class FeedbackAnswer:
    """What :func:`record_feedback` recorded: labels, duplicates dropped, corrections, request ids not logged."""

    recorded: int
    duplicates: int = 0
    """Items repeated with the same label: recorded once."""
    corrections: tuple[str, ...] = ()
    """Request ids that already had a committed label: the new one is recorded and counts from now on."""
    unmatched: tuple[str, ...] = ()
    """Request ids not in the committed prediction log: recorded all the same (a prediction less than a second
    old may still be in a server's buffer), listed so that a caller sees a typo."""

    def to_dict(self) -> dict[str, Any]:
        """The HTTP answer; the lists hold at most :data:`MAX_LISTED` request ids each, the counts all of them."""
        return {
            "recorded": self.recorded,
            "duplicates": self.duplicates,
            "corrections": list(self.corrections[:MAX_LISTED]),
            "corrections_count": len(self.corrections),
            "unmatched": list(self.unmatched[:MAX_LISTED]),
            "unmatched_count": len(self.unmatched),
        }


@dataclass(frozen=True)
class _DistinctLabels:
    """The items of one body, each checked for its form, one label per request id."""

    labels: dict[str, Any]
    """Request id to label, in the order first given."""
    positions: dict[str, int]
    """Request id to the index of its first item, which messages name."""
    duplicates: int
    """Items that repeated an earlier one (same request id, same label)."""

    def where(self, request_id: str) -> str:
        return f"labels[{self.positions[request_id]}] (request {request_id!r})"


def answer_labels(
    workspace: Workspace,
    labels: LabelStore,
    items: Sequence[tuple[Any, Any]],
    *,
    log: PredictionLog | None = None,
    source: str = QUEUE_SOURCE,
    actor: str | None = None,
    models: Mapping[VersionKey, LoadedModel] | None = None,
) -> LabelAnswer:
    """Record labels for queued or logged predictions, all or nothing, and mark the queue items answered.

    Each label must fit the model version that made the prediction: a number for a regressor, one of the classes
    of a classifier (``"1"`` names the class ``1``: files carry text). Identical repeats are recorded once; a
    request id given two different labels is refused. A label for a prediction that already has one is a
    correction: recorded, it counts from now on, and the answer lists it.

    Args:
        workspace: The workspace whose registry and label queue to use.
        labels: The labels table (the server's, so that its buffer holds them with the feedback).
        items: ``(request_id, label)`` pairs.
        log: The prediction log where request ids not queued are looked up (the workspace's by default).
        source: The labels' source in the labels table.
        actor: Who gave the labels.
        models: Versions loaded already (a server's), by model name and number; the others are loaded.

    Raises:
        InvalidInput: An item is not a text request id with a number, text or boolean label, or a request id has
            two different labels; nothing was recorded.
        NotFound: Request ids that are neither queued nor in the prediction log (listed); nothing was recorded.
        InvalidData: A label does not fit its model (the message names the item); nothing was recorded.
    """
    distinct = _distinct_labels(items)
    queued = workspace.metadata.label_requests.find(distinct.labels)
    versions = {request_id: (request.model, request.version) for request_id, request in queued.items()}
    unresolved = [request_id for request_id in distinct.labels if versions.get(request_id, (None, None))[1] is None]
    if unresolved:
        versions.update(_logged_versions(log or _workspace_log(workspace), unresolved))
    unknown = [request_id for request_id in distinct.labels if request_id not in versions]
    if unknown:
        shown = ", ".join(map(repr, unknown[:20])) + (f" and {len(unknown) - 20} more" if len(unknown) > 20 else "")
        raise NotFound(
            f"{len(unknown)} request id(s) are neither in the label queue nor in the prediction log: {shown}. "
            "Nothing was recorded."
        )
    checked = _fitting_labels(workspace, distinct, versions, models or {})
    earlier = {request_id for request_id, request in queued.items() if request.answered}
    earlier |= _labelled_before(labels, distinct.labels)
    recorded = labels.record_many(checked, source=source, actor=actor)
    answered = workspace.metadata.label_requests.answered(list(queued), source=source, actor=actor or "labeller")
    return LabelAnswer(
        recorded=len(recorded),
        duplicates=distinct.duplicates,
        corrections=tuple(request_id for request_id in distinct.labels if request_id in earlier),
        answered=len(answered),
    )


def record_feedback(
    workspace: Workspace,
    labels: LabelStore,
    items: Sequence[tuple[Any, Any]],
    *,
    log: PredictionLog,
    models: Mapping[VersionKey, LoadedModel] | None = None,
) -> FeedbackAnswer:
    """Record feedback labels (source ``feedback``), all or nothing, checked like :func:`answer_labels`'s.

    A request id found in the committed prediction log needs a label that fits the version that made the
    prediction; one not found there is recorded as it came and listed as unmatched, since its prediction may
    still be in a server's buffer. Identical repeats are recorded once; a label for a request id that has a
    committed label already is a correction (one still in a buffer, sent within the last second, is not seen).

    The request ids are looked up with one filtered read of the committed prediction log and one of the labels
    table, whatever their number: each opens the table's latest version and scans its request ids, so a call
    costs with the tables' size, not with the number of labels (in the demo, calls of up to 1,000 labels against
    a log of up to 36,000 rows took 84 ms each: 38 ms in the log, 32 ms in the labels table).

    Args:
        workspace: The workspace whose registry holds the models that made the predictions.
        labels: The labels table (the server's, whose buffer takes the labels).
        items: ``(request_id, label)`` pairs.
        log: The prediction log where the request ids are looked up.
        models: Versions loaded already (a server's), by model name and number; the others are loaded.

    Raises:
        InvalidInput: An item is not a text request id with a number, text or boolean label, or a request id has
            two different labels; nothing was recorded.
        InvalidData: A label does not fit the model that made its prediction (the message names the item);
            nothing was recorded.
    """
    distinct = _distinct_labels(items)
    versions = _logged_versions(log, list(distinct.labels))
    checked = _fitting_labels(workspace, distinct, versions, models or {})
    earlier = _labelled_before(labels, distinct.labels)
    recorded = labels.record_many(checked, source="feedback")
    return FeedbackAnswer(
        recorded=len(recorded),
        duplicates=distinct.duplicates,
        corrections=tuple(request_id for request_id in distinct.labels if request_id in earlier),
        unmatched=tuple(request_id for request_id in distinct.labels if request_id not in versions),
    )


def _distinct_labels(items: Sequence[tuple[Any, Any]]) -> _DistinctLabels:
    """Check each item's form and drop identical repeats.

    Raises:
        InvalidInput: A request id is not a non-empty text, a label is not a number, a text or a boolean, a
            request id has two different labels, or there are no items.
    """
    from driftloop.serving._labels import MAX_TEXT

    pairs: dict[str, Any] = {}
    positions: dict[str, int] = {}
    duplicates = 0
    for index, (request_id, label) in enumerate(items):
        if not isinstance(request_id, str) or not request_id.strip() or len(request_id) > MAX_TEXT:
            raise InvalidInput(
                f"labels[{index}]: the request_id must be a non-empty string of at most {MAX_TEXT} characters; "
                f"got {request_id!r}."
            )
        if not _is_scalar(label):
            raise InvalidInput(
                f"labels[{index}] (request {request_id!r}): a label is a number, a string or a boolean; got {label!r}."
            )
        if request_id in pairs:
            if not _same(pairs[request_id], label):
                raise InvalidInput(
                    f"labels[{index}]: request {request_id!r} has two different labels "
                    f"({pairs[request_id]!r} at labels[{positions[request_id]}] and {label!r}); send one."
                )
            duplicates += 1
            continue
        pairs[request_id] = label
        positions[request_id] = index
    if not pairs:
        raise InvalidInput('Labels are {"labels": [{"request_id": "...", "label": ...}, ...]}, at least one.')
    return _DistinctLabels(pairs, positions, duplicates)


def _fitting_labels(
    workspace: Workspace,
    distinct: _DistinctLabels,
    versions: Mapping[str, VersionKey],
    models: Mapping[VersionKey, LoadedModel],
) -> list[tuple[str, Any]]:
    """Each label as the version that made its prediction knows it (as it came where ``versions`` has none).

    Each version is loaded once, unless ``models`` holds it.

    Raises:
        InvalidData: A label does not fit its model (the message names the item).
    """
    loaded = dict(models)
    checked: list[tuple[str, Any]] = []
    for request_id, label in distinct.labels.items():
        key = versions.get(request_id)
        if key is None:
            checked.append((request_id, label))
            continue
        reference = f"{key[0]}/{key[1]}"
        if key not in loaded:
            loaded[key] = workspace.models.load(reference)
        checked.append((request_id, _fitting_label(loaded[key], label, distinct.where(request_id), reference)))
    return checked


def _labelled_before(labels: LabelStore, request_ids: Iterable[str]) -> set[str]:
    """The request ids with a committed label (one filtered read of the labels table)."""
    return set(labels.read(request_ids=list(request_ids)).column("request_id").to_pylist())


def _workspace_log(workspace: Workspace) -> PredictionLog:
    from driftloop.serving._prediction_log import PredictionLog
    from driftloop.store.tables import TableStore

    return PredictionLog(TableStore(workspace.settings.tables_url))


def _logged_versions(log: PredictionLog, request_ids: Sequence[str]) -> dict[str, VersionKey]:
    """The model and version that answered each logged request id (not a shadow's, when there is another).

    One read of the committed log's latest version, whatever the number of request ids: of its four columns
    only, since the inputs and outputs are most of the log's bytes (half the time on a million rows).
    """
    import pyarrow.compute as pc

    latest = log.tables.latest_version(log.table)
    if latest is None:
        return {}
    columns = ["request_id", "model", "version", "served_by"]
    dataset = log.tables.dataset(log.table, latest)
    with log.tables.errors(f"reading table {log.table!r}"):
        rows = dataset.to_table(columns=columns, filter=pc.field("request_id").isin(list(request_ids)))
    found: dict[str, VersionKey] = {}
    shadows: dict[str, VersionKey] = {}
    for request_id, model, version, served_by in zip(*(rows.column(name).to_pylist() for name in columns), strict=True):
        (shadows if served_by == "shadow" else found)[request_id] = (model, version)
    return {**shadows, **found}


def _is_scalar(label: Any) -> bool:
    if isinstance(label, float):
        return math.isfinite(label)
    return isinstance(label, str | int | bool)


def _same(first: Any, second: Any) -> bool:
    return type(first) is type(second) and first == second


def _same_number(first: Any, second: Any) -> bool:
    """Equal numbers of either kind (the class 1.0 and the label 1); booleans are no numbers here."""
    numbers = all(isinstance(value, int | float) and not isinstance(value, bool) for value in (first, second))
    return numbers and first == second


def _fitting_label(model: LoadedModel, label: Any, where: str, reference: str) -> Any:
    """The label as the model knows it: a float for a regressor, the class itself for a classifier."""
    if not model.is_classifier:
        if isinstance(label, bool) or not isinstance(label, int | float):
            raise InvalidData(f"{where}: {reference} is a regressor, so its label is a number; got {label!r}.")
        return float(label)
    if model.classes_ is None:  # a river classifier that named no classes when packaged: any class may come
        return label
    classes = model.classes_.tolist()
    for known in classes:
        if _same(known, label) or (isinstance(label, str) and str(known) == label) or _same_number(known, label):
            return known
    shown = ", ".join(map(repr, classes[:20])) + (" ..." if len(classes) > 20 else "")
    raise InvalidData(f"{where}: {reference} is a classifier of the classes {shown}; {label!r} is not one of them.")


def pending_dict(request: LabelRequest) -> dict[str, Any]:
    """A queued request as the HTTP route and the command line show it."""
    return {
        "request_id": request.request_id,
        "model": request.model,
        "version": request.version,
        "inputs": request.inputs,
        "prediction": request.prediction,
        "score": request.score,
        "strategy": request.strategy,
        "requested_at": datetime.fromtimestamp(request.requested_at, UTC).isoformat(),
    }


def label_items(document: Mapping[str, Any]) -> list[tuple[Any, Any]]:
    """The ``(request_id, label)`` pairs of ``{"labels": [{"request_id": ..., "label": ...}, ...]}``.

    Raises:
        InvalidInput: The document is not of that form (the message names the item).
    """
    items = document.get("labels")
    if not isinstance(items, list) or not items:
        raise InvalidInput('Labels are {"labels": [{"request_id": "...", "label": ...}, ...]}, at least one.')
    pairs = []
    for index, item in enumerate(items):
        if not isinstance(item, dict) or "request_id" not in item or "label" not in item:
            raise InvalidInput(f"labels[{index}] needs a 'request_id' and a 'label'; got {item!r}.")
        pairs.append((item["request_id"], item["label"]))
    return pairs


class LabelQueue:
    """The label queue of a workspace (``ws.label_queue``): what active learning asked to label, and the answers.

    Answers are written to the labels table here and closed before :meth:`answer` returns; a server answering
    through its own buffers uses :func:`answer_labels` with them instead.
    """

    def __init__(self, workspace: Workspace) -> None:
        self._workspace = workspace

    def pending(self, model: str | None = None, *, limit: int = 100) -> list[dict[str, Any]]:
        """The queued requests not answered yet, the most informative first, as :func:`pending_dict` shows them."""
        return [pending_dict(item) for item in self._workspace.metadata.label_requests.pending(model, limit=limit)]

    def request(
        self,
        model: str,
        *,
        strategy: str,
        budget_per_day: int,
        window: float = 86_400.0,
        companions: Sequence[str] = (),
        seed: int = 0,
        actor: str | None = None,
    ) -> LabelRequestOutcome:
        """Queue the champion's most informative unlabelled predictions of the last ``window`` seconds, within the
        daily budget (see :func:`driftloop.loop._active.request_labels`)."""
        from driftloop.loop._active import request_labels

        return request_labels(
            self._workspace,
            model,
            strategy=strategy,
            budget_per_day=budget_per_day,
            window=window,
            companions=companions,
            seed=seed,
            actor=actor or self._workspace.actor,
        )

    def answer(self, items: Sequence[tuple[Any, Any]], *, actor: str | None = None) -> LabelAnswer:
        """Record ``(request_id, label)`` answers, all or nothing (see :func:`answer_labels`)."""
        from driftloop.serving._labels import LabelStore
        from driftloop.store.tables import TableStore

        labels = LabelStore(TableStore(self._workspace.settings.tables_url))
        try:
            return answer_labels(self._workspace, labels, items, actor=actor)
        finally:
            labels.close()  # on disk before the answer returns
