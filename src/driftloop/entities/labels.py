"""Records of the label queue: the logged predictions active learning asked people to label."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["LabelRequest"]


@dataclass(frozen=True, slots=True)
class LabelRequest:
    """One prediction queued for a label: what the labeller sees, and whether an answer came.

    ``score`` is how informative the strategy found the row (higher first); ``inputs`` and ``prediction`` are
    the row as the prediction log holds it. ``answers`` counts the answers (more than one: corrections, the latest
    counts); ``answered_at`` is when the latest came. Times are seconds since the epoch.
    """

    id: int
    request_id: str
    model: str
    score: float
    strategy: str
    requested_at: float
    version: int | None = None
    inputs: dict[str, Any] = field(default_factory=dict)
    prediction: Any = None
    answered_at: float | None = None
    answer_source: str | None = None
    answers: int = 0

    @property
    def answered(self) -> bool:
        return self.answered_at is not None
