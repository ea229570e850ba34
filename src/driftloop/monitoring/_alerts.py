"""Alert rules over monitor outputs and server health, evaluated window by window.

A rule reads one number from a subject's output by a dotted path (``drift.share``,
``drift.features.area.statistic``, ``estimate.metrics.mae``, ``server.error_rate``), compares it with a
threshold, and fires after ``for_windows`` breaching windows in a row. The store keeps the window
count per (rule, subject), so processes evaluating the same rules agree; an active alert is updated,
never duplicated; channels are told when it opens, again after ``cooldown`` while it stays open and
unacknowledged, and when it resolves (``resolve_windows`` windows in a row back within bounds).

>>> rule = AlertRule("drift-share", "drift.share", ">", 0.3, severity="critical", for_windows=2)
>>> rule.condition, rule.breached(0.5), rule.breached(0.3)
('drift.share > 0.3', True, False)
>>> read_metric({"drift": {"features": [{"column": "area", "statistic": 0.4}]}}, "drift.features.area.statistic")
0.4
"""

from __future__ import annotations

import math
import operator
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from numbers import Real
from pathlib import Path
from typing import Any, Literal

from driftloop.entities import AlertObservation, Severity
from driftloop.errors import InvalidInput
from driftloop.monitoring._channels import (
    Channel,
    DeliveryResult,
    Notification,
    RetryPolicy,
    channel_from_dict,
    deliver,
)
from driftloop.names import validate_name
from driftloop.store.metadata import AlertRepository

__all__ = ["AlertConfig", "AlertEngine", "AlertRule", "RuleOutcome", "read_metric"]

Operator = Literal[">", ">=", "<", "<="]
_COMPARE: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}
_SEVERITIES = ("info", "warning", "critical")


@dataclass(frozen=True, slots=True)
class AlertRule:
    """Fire when ``metric`` ``operator`` ``threshold`` holds for ``for_windows`` windows in a row.

    Defaults: ``severity="warning"``; ``for_windows=1`` (fire on the first breach: set it higher for
    noisy metrics); ``resolve_windows=None`` means as many windows as ``for_windows``, so opening and
    resolving are equally cautious; ``cooldown=3600`` s, one reminder an hour while an alert stays open
    and unacknowledged; ``subjects=()`` applies the rule to every subject. ``message`` may use
    ``{rule}``, ``{subject}``, ``{metric}``, ``{value}``, ``{operator}`` and ``{threshold}``.
    """

    name: str
    metric: str
    operator: Operator
    threshold: float
    severity: Severity = "warning"
    for_windows: int = 1
    resolve_windows: int | None = None
    cooldown: float = 3600.0
    channels: tuple[str, ...] = ()
    subjects: tuple[str, ...] = ()
    message: str = ""

    def __post_init__(self) -> None:
        validate_name("alert rule", self.name)
        where = f"alert rule {self.name!r}"
        if not isinstance(self.metric, str) or not self.metric.strip() or "" in self.metric.split("."):
            raise InvalidInput(f"The metric of {where} must be a dotted path like 'drift.share'; got {self.metric!r}.")
        if self.operator not in _COMPARE:
            raise InvalidInput(f"The operator of {where} must be one of {', '.join(_COMPARE)}; got {self.operator!r}.")
        if isinstance(self.threshold, bool) or not isinstance(self.threshold, int | float):
            raise InvalidInput(f"The threshold of {where} must be a number; got {self.threshold!r}.")
        if not math.isfinite(self.threshold):
            raise InvalidInput(f"The threshold of {where} must be finite; got {self.threshold!r}.")
        if self.severity not in _SEVERITIES:
            raise InvalidInput(
                f"The severity of {where} must be one of {', '.join(_SEVERITIES)}; got {self.severity!r}."
            )
        for what, count in (("for_windows", self.for_windows), ("resolve_windows", self.resolve_windows)):
            if count is None and what == "resolve_windows":
                continue
            if isinstance(count, bool) or not isinstance(count, int) or count < 1:
                raise InvalidInput(f"The {what} of {where} must be an integer >= 1; got {count!r}.")
        if isinstance(self.cooldown, bool) or not isinstance(self.cooldown, int | float) or not self.cooldown >= 0:
            raise InvalidInput(f"The cooldown of {where} must be seconds >= 0; got {self.cooldown!r}.")
        object.__setattr__(self, "channels", tuple(self.channels))
        object.__setattr__(self, "subjects", tuple(self.subjects))

    @property
    def condition(self) -> str:
        return f"{self.metric} {self.operator} {self.threshold:g}"

    @property
    def windows_to_resolve(self) -> int:
        return self.for_windows if self.resolve_windows is None else self.resolve_windows

    def breached(self, value: float) -> bool:
        """True when ``value`` is outside bounds (an infinite value compares as such; NaN never breaches)."""
        return _COMPARE[self.operator](value, self.threshold)

    def applies_to(self, subject: str) -> bool:
        return not self.subjects or subject in self.subjects

    def describe(self, subject: str, value: float) -> str:
        template = self.message or "{metric} = {value:g}, alert when {operator} {threshold:g}"
        try:
            return template.format(
                rule=self.name,
                subject=subject,
                metric=self.metric,
                value=value,
                operator=self.operator,
                threshold=self.threshold,
            )
        except (KeyError, IndexError, ValueError) as error:
            raise InvalidInput(f"The message of alert rule {self.name!r} is not a valid template: {error}.") from None

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> AlertRule:
        """A rule from settings: the field names, with ``channels`` and ``subjects`` as lists."""
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(spec) - known)
        name = spec.get("name", "?")
        if unknown:
            raise InvalidInput(f"Alert rule {name!r} has unknown settings {unknown}; known: {sorted(known)}.")
        missing = sorted({"name", "metric", "operator", "threshold"} - set(spec))
        if missing:
            raise InvalidInput(f"Alert rule {name!r} needs the settings {missing}.")
        values = dict(spec)
        for key in ("channels", "subjects"):
            if isinstance(values.get(key), str):
                values[key] = (values[key],)
            values[key] = tuple(values.get(key) or ())
        return cls(**values)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "metric": self.metric,
            "operator": self.operator,
            "threshold": self.threshold,
            "severity": self.severity,
            "for_windows": self.for_windows,
            "resolve_windows": self.resolve_windows,
            "cooldown": self.cooldown,
            "channels": list(self.channels),
            "subjects": list(self.subjects),
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class AlertConfig:
    """Rules and the channels they name, as written in a YAML file::

    channels:
      ops: {type: slack, url_env: SLACK_WEBHOOK}
      audit: {type: log, path: alerts.jsonl}
    rules:
      - {name: drift-share, metric: drift.share, operator: ">", threshold: 0.3, channels: [ops, audit]}
    """

    rules: tuple[AlertRule, ...]
    channels: Mapping[str, Channel] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, spec: Mapping[str, Any]) -> AlertConfig:
        channels = spec.get("channels") or {}
        rules = spec.get("rules") or []
        if not isinstance(channels, Mapping) or not isinstance(rules, Sequence) or isinstance(rules, str):
            raise InvalidInput("Alert settings hold 'channels' (a mapping of name to settings) and 'rules' (a list).")
        return cls(
            rules=tuple(AlertRule.from_dict(rule) for rule in rules),
            channels={str(name): channel_from_dict(str(name), settings) for name, settings in channels.items()},
        )

    @classmethod
    def from_yaml(cls, path: str | Path) -> AlertConfig:
        import yaml

        try:
            document = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InvalidInput(f"No alert settings file {str(path)!r}.") from None
        except yaml.YAMLError as error:
            raise InvalidInput(f"The alert settings file {str(path)!r} is not valid YAML: {error}") from None
        if not isinstance(document, Mapping):
            raise InvalidInput(f"The alert settings file {str(path)!r} must hold a mapping with 'rules'.")
        return cls.from_dict(document)


@dataclass(frozen=True, slots=True)
class RuleOutcome:
    """What one rule made of one subject's output in one window.

    ``value`` None means the output had no such metric (or it was undefined): nothing changed.
    """

    rule: str
    subject: str
    value: float | None
    breached: bool | None
    observation: AlertObservation | None = None
    deliveries: tuple[DeliveryResult, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        observation = self.observation
        return {
            "rule": self.rule,
            "subject": self.subject,
            "value": self.value if self.value is None or math.isfinite(self.value) else None,
            "breached": self.breached,
            "change": None if observation is None else observation.change,
            "alert": None if observation is None or observation.alert is None else observation.alert.to_dict(),
            "notified": None if observation is None else observation.notify,
            "deliveries": [
                {"channel": d.channel, "ok": d.ok, "attempts": d.attempts, "error": d.error} for d in self.deliveries
            ],
        }


class AlertEngine:
    """Evaluates rules against each window's outputs and tells the channels. Building it does no I/O.

    ``retry`` is the delivery policy of every channel (see :class:`RetryPolicy`); ``sleep`` waits
    between attempts (tests pass a recorder).
    """

    def __init__(
        self,
        repository: AlertRepository,
        rules: Iterable[AlertRule],
        channels: Mapping[str, Channel] | None = None,
        *,
        retry: RetryPolicy | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.repository = repository
        self.rules = tuple(rules)
        self.channels = dict(channels or {})
        self.retry = retry or RetryPolicy()
        self.sleep = sleep
        names = [rule.name for rule in self.rules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            raise InvalidInput(f"Alert rule names must be unique; {duplicates} appear more than once.")
        for rule in self.rules:
            unknown = [name for name in rule.channels if name not in self.channels]
            if unknown:
                raise InvalidInput(
                    f"Alert rule {rule.name!r} names unknown channels {unknown}; known: {sorted(self.channels)}."
                )

    @classmethod
    def from_config(cls, repository: AlertRepository, config: AlertConfig, **options: Any) -> AlertEngine:
        return cls(repository, config.rules, config.channels, **options)

    def evaluate(self, outputs: Mapping[str, Any], *, at: float | datetime | None = None) -> list[RuleOutcome]:
        """Apply every rule to every subject's output (``{"houses": {"drift": ..., "server": ...}}``).

        A subject's output is a mapping (or anything with ``to_dict()``). Channel failures are
        retried and recorded, never raised; store errors are raised.
        """
        moment = time.time() if at is None else at.timestamp() if isinstance(at, datetime) else float(at)
        outcomes = []
        for subject, output in outputs.items():
            for rule in self.rules:
                if rule.applies_to(subject):
                    outcomes.append(self._evaluate(rule, subject, output, moment))
        return outcomes

    def _evaluate(self, rule: AlertRule, subject: str, output: Any, at: float) -> RuleOutcome:
        value = read_metric(output, rule.metric)
        if value is None:
            return RuleOutcome(rule.name, subject, None, None)
        breached = rule.breached(value)
        observation = self.repository.observe(
            rule.name,
            subject,
            value=value,
            breached=breached,
            severity=rule.severity,
            for_windows=rule.for_windows,
            resolve_windows=rule.windows_to_resolve,
            cooldown=rule.cooldown,
            message=rule.describe(subject, value),
            evidence={
                "metric": rule.metric,
                "value": value if math.isfinite(value) else str(value),
                "condition": rule.condition,
                "for_windows": rule.for_windows,
            },
            at=at,
        )
        deliveries: tuple[DeliveryResult, ...] = ()
        alert = observation.alert
        if observation.notify is not None and alert is not None:
            kind = observation.notify
            notification = Notification(kind, alert, rule.metric, rule.condition)

            def record(channel: str, attempt: int, ok: bool, error: str | None) -> None:
                self.repository.record_delivery(alert.id, channel, kind=kind, attempt=attempt, ok=ok, error=error)

            deliveries = tuple(
                deliver(name, self.channels[name], notification, policy=self.retry, record=record, sleep=self.sleep)
                for name in rule.channels
            )
        return RuleOutcome(rule.name, subject, value, breached, observation, deliveries)


def read_metric(output: Any, path: str) -> float | None:
    """The number at the dotted ``path`` of ``output``, or None when it is absent or undefined (None, NaN).

    Mappings are read by key, lists by index or by the item whose ``column`` or ``name`` is the part
    (so ``drift.features.area.statistic`` finds the feature ``area``); objects by ``to_dict()``.
    Booleans read as 1.0 and 0.0. Anything else at the end of the path is :class:`InvalidInput`.
    """
    current = output
    for part in path.split("."):
        if hasattr(current, "to_dict") and callable(current.to_dict):
            current = current.to_dict()
        if isinstance(current, Mapping):
            if part not in current:
                return None
            current = current[part]
        elif isinstance(current, Sequence) and not isinstance(current, str | bytes):
            current = _item(current, part)
            if current is None:
                return None
        else:
            return None
    if current is None:
        return None
    if isinstance(current, bool):
        return float(current)
    if isinstance(current, Real):  # numpy scalars too
        value = float(current)
        return None if math.isnan(value) else value
    raise InvalidInput(f"The metric {path!r} must be a number; the output holds {type(current).__name__} {current!r}.")


def _item(items: Sequence[Any], part: str) -> Any:
    if part.lstrip("-").isdigit():
        index = int(part)
        return items[index] if -len(items) <= index < len(items) else None
    for item in items:
        if isinstance(item, Mapping) and part in (item.get("column"), item.get("name")):
            return item
    return None
