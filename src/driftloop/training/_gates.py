"""Validation gates: the conditions a candidate model's metrics must meet before it is registered or promoted.

Two kinds of gate exist: a :class:`Threshold` bounds a metric absolutely (``rmse <= 50000``), and
:class:`BeatsChampion` asks the candidate to improve on the current champion by a margin, in the direction the
metric improves. :func:`parse_gates` reads them from configuration; :func:`check_gates` judges a candidate and
explains each verdict with the numbers behind it.

>>> gates = parse_gates(["rmse <= 50000", "rmse beats champion by 1000"])
>>> print(check_gates(gates, {"rmse": 41230.5}, {"rmse": 40100.2}).explain())
rmse 41,230.5 <= 50,000: passed
rmse 41,230.5 does not beat the champion's 40,100.2 by 1,000 (needs <= 39,100.2): failed
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from driftloop.errors import InvalidInput
from driftloop.training._tasks import GREATER_IS_BETTER

__all__ = ["BeatsChampion", "Gate", "GateReport", "GateResult", "Threshold", "check_gates", "parse_gates"]

_GATE_KEYS: Final = ("metric", "min", "max", "beats_champion_by")
_NUMBER: Final = r"[-+]?(?:\d{1,3}(?:,\d{3})+|\d[\d_]*)?(?:\.\d+)?(?:[eE][-+]?\d+)?"
_BOUND_PATTERN: Final = re.compile(
    rf"^\s*(?P<metric>\w+)\s*(?P<operator>>=|<=|=>|=<|>|<|==|=)\s*(?P<number>{_NUMBER})\s*$"
)
_BEATS_PATTERN: Final = re.compile(
    rf"^\s*(?P<metric>\w+)\s+beats\s+(?:the\s+)?champion(?:\s+by\s+(?P<number>{_NUMBER}))?\s*$", re.IGNORECASE
)


@dataclass(frozen=True, slots=True)
class Threshold:
    """The metric must lie within absolute bounds: ``min <= value <= max`` (give one bound or both)."""

    metric: str
    min: float | None = None
    max: float | None = None

    def __post_init__(self) -> None:
        _check_metric(self.metric)
        if self.min is None and self.max is None:
            raise InvalidInput(f"A threshold on {self.metric} needs a 'min', a 'max' or both; got neither.")
        for name, bound in (("min", self.min), ("max", self.max)):
            if bound is not None:
                _check_number(bound, f"The '{name}' of the {self.metric} threshold")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise InvalidInput(
                f"The 'min' of the {self.metric} threshold must not exceed its 'max'; got {self.min} > {self.max}."
            )

    def describe(self) -> str:
        """The gate as :func:`parse_gates` reads it back (``"r2 >= 0.8"``)."""
        parts = []
        if self.min is not None:
            parts.append(f"{self.metric} >= {self.min:.15g}")
        if self.max is not None:
            parts.append(f"{self.metric} <= {self.max:.15g}")
        return " and ".join(parts)


@dataclass(frozen=True, slots=True)
class BeatsChampion:
    """The candidate must beat the champion's value of the metric by at least ``delta``.

    For a metric where greater is better the candidate needs ``value >= champion + delta``; where lower is
    better, ``value <= champion - delta``. A negative ``delta`` tolerates a candidate that much worse.
    """

    metric: str
    delta: float = 0.0

    def __post_init__(self) -> None:
        _check_metric(self.metric)
        _check_number(self.delta, f"The 'beats_champion_by' margin of {self.metric}")

    def describe(self) -> str:
        """The gate as :func:`parse_gates` reads it back (``"rmse beats champion by 1000"``)."""
        return f"{self.metric} beats champion" + (f" by {self.delta:.15g}" if self.delta else "")

    def required(self, champion: float) -> tuple[float | None, float | None]:
        """The (lower, upper) bound a candidate must meet against a champion's ``champion`` value."""
        if GREATER_IS_BETTER[self.metric]:
            return champion + self.delta, None
        return None, champion - self.delta


Gate = Threshold | BeatsChampion
"""A condition on a candidate's metrics."""


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate's verdict on one candidate.

    Attributes:
        gate: the gate judged.
        metric: its metric.
        value: the candidate's value, or None when the candidate lacks the metric.
        lower: the least passing value, when the gate has one.
        upper: the greatest passing value, when the gate has one.
        champion: the champion's value (champion gates only, when there is one).
        passed: the verdict.
        message: the verdict in words, with the numbers (without the trailing "passed"/"failed").
    """

    gate: Gate
    metric: str
    value: float | None
    lower: float | None
    upper: float | None
    champion: float | None
    passed: bool
    message: str

    def explain(self) -> str:
        return f"{self.message}: {'passed' if self.passed else 'failed'}"

    def to_dict(self) -> dict[str, Any]:
        return {
            "gate": self.gate.describe(),
            "metric": self.metric,
            "value": self.value,
            "lower": self.lower,
            "upper": self.upper,
            "champion": self.champion,
            "passed": self.passed,
            "message": self.message,
        }


@dataclass(frozen=True, slots=True)
class GateReport:
    """Every gate's verdict; the candidate passes when all of them pass (and trivially when there are none)."""

    passed: bool
    results: list[GateResult] = field(default_factory=list)

    def explain(self) -> str:
        """One line per gate, with the numbers that decided it."""
        if not self.results:
            return "no gates: passed"
        return "\n".join(result.explain() for result in self.results)

    @property
    def failures(self) -> list[GateResult]:
        return [result for result in self.results if not result.passed]

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "results": [result.to_dict() for result in self.results]}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> GateReport:
        """The report :meth:`to_dict` wrote (as a workspace server answers it)."""
        results = [
            GateResult(
                gate=parse_gates([item["gate"]])[0],
                metric=item["metric"],
                value=item["value"],
                lower=item["lower"],
                upper=item["upper"],
                champion=item["champion"],
                passed=bool(item["passed"]),
                message=item["message"],
            )
            for item in data["results"]
        ]
        return cls(passed=bool(data["passed"]), results=results)


def parse_gates(spec: Sequence[Mapping[str, Any] | str | Gate]) -> list[Gate]:
    """Read gates from configuration: mappings, short sentences, or gates already built.

    Mappings take ``metric`` and any of ``min``, ``max`` and ``beats_champion_by`` (a mapping with both a bound
    and a margin gives two gates). Sentences are ``"<metric> >= <number>"``, ``"<metric> <= <number>"`` and
    ``"<metric> beats champion [by <number>]"``.

    >>> parse_gates([{"metric": "rmse", "max": 50000}, "r2 >= 0.8", "rmse beats champion by 1000"])
    [Threshold(metric='rmse', min=None, max=50000.0), Threshold(metric='r2', min=0.8, max=None), \
BeatsChampion(metric='rmse', delta=1000.0)]
    """
    if isinstance(spec, str | Mapping):
        raise InvalidInput(f"The gates must be a list of gates; got a single {type(spec).__name__}: {spec!r}.")
    gates: list[Gate] = []
    for item in spec:
        if isinstance(item, Threshold | BeatsChampion):
            gates.append(item)
        elif isinstance(item, str):
            gates.append(_parse_sentence(item))
        elif isinstance(item, Mapping):
            gates.extend(_parse_mapping(item))
        else:
            raise InvalidInput(f"A gate must be a mapping or a sentence like 'rmse <= 50000'; got {item!r}.")
    return gates


def check_gates(
    gates: Sequence[Gate | Mapping[str, Any] | str],
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    *,
    holdout_fingerprint: str | None = None,
    champion_holdout_fingerprint: str | None = None,
) -> GateReport:
    """Judge a candidate's metrics against each gate.

    Args:
        gates: the gates (or their configuration, read with :func:`parse_gates`).
        candidate: the candidate's metrics.
        champion: the champion's metrics, or None when there is no champion yet (champion gates then pass).
        holdout_fingerprint: the fingerprint of the rows the candidate was scored on.
        champion_holdout_fingerprint: the same for the champion; when both are given and differ, every
            champion gate fails, since the two were not scored on the same rows.
    """
    results = [
        _judge(gate, candidate, champion, holdout_fingerprint, champion_holdout_fingerprint)
        for gate in parse_gates(gates)
    ]
    return GateReport(passed=all(result.passed for result in results), results=results)


def _judge(
    gate: Gate,
    candidate: Mapping[str, float],
    champion: Mapping[str, float] | None,
    fingerprint: str | None,
    champion_fingerprint: str | None,
) -> GateResult:
    metric = gate.metric
    value = _metric_value(candidate, metric)
    if value is None:
        has = ", ".join(sorted(candidate)) or "none"
        return _verdict(gate, None, None, None, None, False, f"{metric}: the candidate has no {metric} (it has: {has})")
    if isinstance(gate, Threshold):
        return _judge_threshold(gate, value)
    if champion is None:
        return _verdict(gate, value, None, None, None, True, f"{metric} {_number(value)}: no champion yet")
    if fingerprint is not None and champion_fingerprint is not None and fingerprint != champion_fingerprint:
        return _verdict(
            gate,
            value,
            None,
            None,
            _metric_value(champion, metric),
            False,
            f"{metric}: the candidate and the champion were scored on different holdouts "
            f"({fingerprint[:12]} vs {champion_fingerprint[:12]}); score the champion on the candidate's holdout",
        )
    champion_value = _metric_value(champion, metric)
    if champion_value is None:
        return _verdict(
            gate, value, None, None, None, False, f"{metric} {_number(value)}: the champion has no {metric} to beat"
        )
    lower, upper = gate.required(champion_value)
    needed = lower if lower is not None else upper
    assert needed is not None  # one side is always set
    passed = value >= needed if lower is not None else value <= needed
    needs = f"(needs {'>=' if lower is not None else '<='} {_number(needed)})"
    champion_text = f"the champion's {_number(champion_value)}"
    if gate.delta >= 0:
        margin = f" by {_number(gate.delta)}" if gate.delta else ""
        message = f"{metric} {_number(value)} {'beats' if passed else 'does not beat'} {champion_text}{margin} {needs}"
    elif passed:
        message = f"{metric} {_number(value)} is within {_number(-gate.delta)} of {champion_text} {needs}"
    else:
        message = f"{metric} {_number(value)} is worse than {champion_text} by more than {_number(-gate.delta)} {needs}"
    return _verdict(gate, value, lower, upper, champion_value, passed, message)


def _judge_threshold(gate: Threshold, value: float) -> GateResult:
    metric, low, high = gate.metric, gate.min, gate.max
    passed = (low is None or value >= low) and (high is None or value <= high)
    if low is not None and high is not None:
        condition = f"within [{_number(low)}, {_number(high)}]"
    elif low is not None:
        condition = f">= {_number(low)}"
    else:
        assert high is not None  # Threshold refuses a gate without bounds
        condition = f"<= {_number(high)}"
    message = f"{metric} {_number(value)} {'' if passed else 'is not '}{condition}"
    return _verdict(gate, value, low, high, None, passed, message)


def _verdict(
    gate: Gate,
    value: float | None,
    lower: float | None,
    upper: float | None,
    champion: float | None,
    passed: bool,
    message: str,
) -> GateResult:
    return GateResult(
        gate=gate,
        metric=gate.metric,
        value=value,
        lower=lower,
        upper=upper,
        champion=champion,
        passed=passed,
        message=message,
    )


def _metric_value(metrics: Mapping[str, float], metric: str) -> float | None:
    """The metric as a finite float, or None when it is absent or not a number (NaN cannot pass a gate)."""
    value = metrics.get(metric)
    if value is None or isinstance(value, bool):
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _parse_sentence(text: str) -> Gate:
    beats = _BEATS_PATTERN.match(text)
    if beats:
        number = beats.group("number")
        return BeatsChampion(beats.group("metric"), 0.0 if number is None else _parse_number(number, text))
    bound = _BOUND_PATTERN.match(text)
    if not bound:
        raise InvalidInput(
            f"A gate reads '<metric> >= <number>', '<metric> <= <number>' or '<metric> beats champion by <number>'; "
            f"got {text!r}."
        )
    metric, operator = bound.group("metric"), bound.group("operator")
    number = _parse_number(bound.group("number"), text)
    if operator in (">=", "=>"):
        return Threshold(metric, min=number)
    if operator in ("<=", "=<"):
        return Threshold(metric, max=number)
    raise InvalidInput(f"A gate bound uses >= or <= (bounds are inclusive); got {operator!r} in {text!r}.")


def _parse_mapping(item: Mapping[str, Any]) -> list[Gate]:
    unknown = sorted(str(key) for key in item if key not in _GATE_KEYS)
    if unknown:
        raise InvalidInput(f"A gate takes the keys {', '.join(_GATE_KEYS)}; got unknown {', '.join(unknown)}.")
    if "metric" not in item:
        raise InvalidInput(f"A gate needs a 'metric'; got {dict(item)!r}.")
    metric = item["metric"]
    if not isinstance(metric, str):
        raise InvalidInput(f"A gate's 'metric' is a name like 'rmse'; got {metric!r}.")
    low, high, margin = (_mapping_number(item, key) for key in ("min", "max", "beats_champion_by"))
    if low is None and high is None and margin is None:
        raise InvalidInput(f"The gate on {metric} needs 'min', 'max' or 'beats_champion_by'; got {dict(item)!r}.")
    gates: list[Gate] = []
    if low is not None or high is not None:
        gates.append(Threshold(metric, min=low, max=high))
    if margin is not None:
        gates.append(BeatsChampion(metric, margin))
    return gates


def _mapping_number(item: Mapping[str, Any], key: str) -> float | None:
    value = item.get(key)
    if value is None:
        return None
    if isinstance(value, str):
        return _parse_number(value, f"{key}: {value}")
    _check_number(value, f"The gate's '{key}'")
    return float(value)


def _parse_number(text: str, context: str) -> float:
    try:
        number = float(text.replace(",", ""))
    except ValueError:
        raise InvalidInput(f"The gate {context!r} needs a number; got {text!r}.") from None
    _check_number(number, f"The number in the gate {context!r}")
    return number


def _check_metric(metric: object) -> None:
    if not isinstance(metric, str) or metric not in GREATER_IS_BETTER:
        known = ", ".join(sorted(GREATER_IS_BETTER))
        raise InvalidInput(f"Unknown metric {metric!r} in a gate; the known metrics are: {known}.")


def _check_number(value: object, what: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise InvalidInput(f"{what} must be a finite number; got {value!r}.")


def _number(value: float) -> str:
    """Six significant digits with thousands separators: 41230.5 -> '41,230.5', 50000 -> '50,000'."""
    if value == 0:
        return "0"
    decimals = min(12, max(0, 5 - math.floor(math.log10(abs(value)))))
    text = f"{value:,.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text
