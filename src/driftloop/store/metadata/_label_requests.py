"""The label queue: logged predictions chosen for a person to label, one row per request id.

Queueing is idempotent: a request id already queued (answered or not) is never queued again, so a selection run
twice, or by two processes at once, asks for each label once. An answer marks the row answered and counts it; a
second answer is a correction (the labels table keeps both; the latest counts). Each call appends one event
(``labels.requested``, ``labels.answered``, object ``model``) in the same transaction.
"""

from __future__ import annotations

import builtins
import json
import math
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection

from driftloop.entities import LabelRequest
from driftloop.errors import InvalidInput
from driftloop.names import validate_name
from driftloop.store.metadata._database import Database
from driftloop.store.metadata._events import append_event
from driftloop.store.metadata._json import _finite
from driftloop.store.metadata._schema import NAME, label_requests

__all__ = ["LabelRequestRepository", "NewLabelRequest"]

CHUNK = 1_000
"""Request ids per ``IN (...)`` query: well below every backend's limit on bound parameters."""


@dataclass(frozen=True)
class NewLabelRequest:
    """A prediction to queue: its request id, how informative the strategy found it, and what it looked like."""

    request_id: str
    score: float
    strategy: str
    version: int | None = None
    inputs: dict[str, Any] | None = None
    prediction: Any = None


class LabelRequestRepository:
    """Queues predictions for labelling and records their answers; ``clock`` is for tests and replays."""

    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self._db = database
        self.clock = clock

    def request(
        self, model: str, items: Sequence[NewLabelRequest], *, actor: str = "loop", at: float | None = None
    ) -> builtins.list[LabelRequest]:
        """Queue ``items`` for ``model`` at ``at`` (now); returns the rows queued (ids already queued are skipped).

        Raises:
            InvalidInput: An item is not acceptable (the message says which); nothing was queued.
        """
        name = validate_name("model", model)
        now = self.clock() if at is None else _seconds("at", at)
        rows: dict[str, dict[str, Any]] = {}
        for index, item in enumerate(items):
            rows.setdefault(item.request_id, _row(name, index, item, now))
        if not rows:
            return []
        with self._db.write() as conn:
            existing = set(_find(conn, list(rows)))
            fresh = [row for request_id, row in rows.items() if request_id not in existing]
            if fresh:
                insert = (postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert)(label_requests)
                # A concurrent selection (PostgreSQL) may queue the same id meanwhile: it stays one row.
                conn.execute(insert.on_conflict_do_nothing(index_elements=["request_id"]), fresh)
                strategies = sorted({row["strategy"] for row in fresh})
                append_event(
                    conn,
                    actor=actor,
                    action="labels.requested",
                    object_type="model",
                    object_id=name,
                    details={"count": len(fresh), "strategies": strategies},
                    at=now,
                )
            queued = _find(conn, [row["request_id"] for row in fresh])
        return [queued[row["request_id"]] for row in fresh if row["request_id"] in queued]

    def pending(self, model: str | None = None, *, limit: int = 100) -> builtins.list[LabelRequest]:
        """Unanswered requests (of ``model`` when given), the most informative first, then the oldest."""
        _check_limit(limit)
        query = sa.select(label_requests).where(label_requests.c.answered_at.is_(None))
        if model is not None:
            query = query.where(label_requests.c.model == validate_name("model", model))
        query = query.order_by(label_requests.c.score.desc(), label_requests.c.id).limit(limit)
        with self._db.read() as conn:
            return [_entity(dict(row._mapping)) for row in conn.execute(query)]

    def find(self, request_ids: Iterable[str]) -> dict[str, LabelRequest]:
        """The queued requests among ``request_ids``, by request id (ids never queued are absent)."""
        with self._db.read() as conn:
            return _find(conn, list(dict.fromkeys(request_ids)))

    def answered(
        self, request_ids: Iterable[str], *, source: str, at: float | None = None, actor: str = "labeller"
    ) -> builtins.list[LabelRequest]:
        """Mark the queued requests among ``request_ids`` answered at ``at`` (now); returns them as updated.

        An answer to a request already answered is a correction: its ``answers`` count grows and ``answered_at``
        moves to the latest. Ids never queued are left alone.
        """
        if not isinstance(source, str) or not source or len(source) > 64:
            raise InvalidInput(
                f"The source of an answer must be a non-empty string of at most 64 characters; got {source!r}."
            )
        moment = self.clock() if at is None else _seconds("at", at)
        wanted = list(dict.fromkeys(request_ids))
        with self._db.write() as conn:
            queued = _find(conn, wanted)
            for start in range(0, len(wanted), CHUNK):
                chunk = wanted[start : start + CHUNK]
                conn.execute(
                    label_requests.update()
                    .where(label_requests.c.request_id.in_(chunk))
                    .values(answered_at=moment, answer_source=source, answers=label_requests.c.answers + 1)
                )
            by_model: dict[str, int] = {}
            for request in queued.values():
                by_model[request.model] = by_model.get(request.model, 0) + 1
            for model, count in sorted(by_model.items()):
                append_event(
                    conn,
                    actor=actor,
                    action="labels.answered",
                    object_type="model",
                    object_id=model,
                    details={"count": count, "source": source},
                    at=moment,
                )
            updated = _find(conn, list(queued))
        return [updated[request_id] for request_id in wanted if request_id in updated]

    def count_requested(self, model: str, *, since: float) -> int:
        """How many requests of ``model`` were queued at or after ``since``: what a daily budget spends."""
        query = (
            sa.select(sa.func.count())
            .select_from(label_requests)
            .where(label_requests.c.model == validate_name("model", model))
            .where(label_requests.c.requested_at >= _seconds("since", since))
        )
        with self._db.read() as conn:
            return int(conn.execute(query).scalar_one())


def _row(model: str, index: int, item: NewLabelRequest, now: float) -> dict[str, Any]:
    request_id = item.request_id
    if not isinstance(request_id, str) or not request_id.strip() or len(request_id) > NAME:
        raise InvalidInput(
            f"items[{index}]: a request id is a non-empty string of at most {NAME} characters; got {request_id!r}."
        )
    score = item.score
    if isinstance(score, bool) or not isinstance(score, int | float) or not math.isfinite(score):
        raise InvalidInput(f"items[{index}] ({request_id!r}): the score must be a finite number; got {score!r}.")
    if not isinstance(item.strategy, str) or not item.strategy or len(item.strategy) > 64:
        raise InvalidInput(
            f"items[{index}] ({request_id!r}): the strategy must be a non-empty string of at most 64 characters; "
            f"got {item.strategy!r}."
        )
    version = item.version
    if version is not None and (isinstance(version, bool) or not isinstance(version, int)):
        raise InvalidInput(f"items[{index}] ({request_id!r}): the version must be a whole number; got {version!r}.")
    return {
        "request_id": request_id,
        "model": model,
        "version": version,
        "score": float(score),
        "strategy": item.strategy,
        "inputs": _json(item.inputs or {}),
        "prediction": _json(item.prediction),
        "requested_at": now,
        "answered_at": None,
        "answer_source": None,
        "answers": 0,
    }


def _find(conn: Connection, request_ids: Sequence[str]) -> dict[str, LabelRequest]:
    found: dict[str, LabelRequest] = {}
    for start in range(0, len(request_ids), CHUNK):
        query = sa.select(label_requests).where(label_requests.c.request_id.in_(request_ids[start : start + CHUNK]))
        for row in conn.execute(query):
            request = _entity(dict(row._mapping))
            found[request.request_id] = request
    return found


def _entity(row: dict[str, Any]) -> LabelRequest:
    row["inputs"] = json.loads(row["inputs"])
    row["prediction"] = json.loads(row["prediction"])
    return LabelRequest(**row)


def _json(value: Any) -> str:
    """JSON text of a logged value (a mapping or not); NaN and infinities (no JSON numbers) become null."""
    return json.dumps(_finite(value), default=str, sort_keys=True, allow_nan=False)


def _check_limit(limit: Any) -> None:
    if isinstance(limit, bool) or not isinstance(limit, int) or limit < 1:
        raise InvalidInput(f"The limit must be a whole number >= 1; got {limit!r}.")


def _seconds(what: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(float(value)):
        raise InvalidInput(f"The {what} must be a finite number of seconds since the epoch; got {value!r}.")
    return float(value)
