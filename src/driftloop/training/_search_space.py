"""A hyperparameter search space declared as data, checked once, and suggested through an Optuna trial.

A space comes from a plain dict (a config file, a request body) so it can be stored with the run that used it::

    {"learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
     "num_leaves": {"type": "int", "low": 8, "high": 128, "step": 1},
     "activation": {"type": "categorical", "choices": ["relu", "tanh"]},
     "max_depth": {"type": "fixed", "value": 3},
     "objective": "regression"}

Every contradiction is reported when the space is built, naming the parameter and the values, rather than when
a sampler meets it halfway through a study.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeAlias

import optuna

from driftloop.errors import InvalidInput

__all__ = ["CategoricalParameter", "FixedParameter", "FloatParameter", "IntParameter", "SearchSpace"]

Choice: TypeAlias = bool | int | float | str | None
"""The values Optuna stores for a categorical parameter."""

_KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
    "fixed": {"type", "value"},
}


@dataclass(frozen=True, slots=True)
class FloatParameter:
    """A real number in ``[low, high]``, sampled on a log scale or on a grid of ``step``."""

    low: float
    high: float
    log: bool = False
    step: float | None = None

    def suggest(self, trial: optuna.Trial, name: str) -> float:
        return trial.suggest_float(name, self.low, self.high, log=self.log, step=self.step)

    def to_dict(self) -> dict[str, Any]:
        declared: dict[str, Any] = {"type": "float", "low": self.low, "high": self.high, "log": self.log}
        if self.step is not None:
            declared["step"] = self.step
        return declared


@dataclass(frozen=True, slots=True)
class IntParameter:
    """An integer in ``[low, high]`` on a grid of ``step``, or on a log scale."""

    low: int
    high: int
    step: int = 1
    log: bool = False

    def suggest(self, trial: optuna.Trial, name: str) -> int:
        return trial.suggest_int(name, self.low, self.high, step=self.step, log=self.log)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "int", "low": self.low, "high": self.high, "step": self.step, "log": self.log}


@dataclass(frozen=True, slots=True)
class CategoricalParameter:
    """One of a list of choices."""

    choices: tuple[Choice, ...]

    def suggest(self, trial: optuna.Trial, name: str) -> Choice:
        return trial.suggest_categorical(name, self.choices)

    def to_dict(self) -> dict[str, Any]:
        return {"type": "categorical", "choices": list(self.choices)}


@dataclass(frozen=True, slots=True)
class FixedParameter:
    """A value that is not searched.

    It is still suggested, as a categorical with one choice, so that each trial records every value its model was
    trained with.
    """

    value: Choice

    def suggest(self, trial: optuna.Trial, name: str) -> Choice:
        return trial.suggest_categorical(name, (self.value,))

    def to_dict(self) -> dict[str, Any]:
        return {"type": "fixed", "value": self.value}


Parameter: TypeAlias = FloatParameter | IntParameter | CategoricalParameter | FixedParameter


@dataclass(frozen=True, slots=True)
class SearchSpace:
    """The hyperparameters a study searches, by name.

    Build it with :meth:`from_dict`, which checks the declaration; :meth:`suggest` draws one set of values
    through an Optuna trial.

    >>> space = SearchSpace.from_dict({
    ...     "learning_rate": {"type": "float", "low": 0.01, "high": 0.3, "log": True},
    ...     "num_leaves": {"type": "int", "low": 8, "high": 128},
    ...     "boosting": {"type": "categorical", "choices": ["gbdt", "dart"]},
    ...     "objective": "regression",
    ... })
    >>> space.suggest(optuna.trial.FixedTrial({"learning_rate": 0.1, "num_leaves": 31, "boosting": "gbdt",
    ...                                         "objective": "regression"}))
    {'learning_rate': 0.1, 'num_leaves': 31, 'boosting': 'gbdt', 'objective': 'regression'}
    >>> SearchSpace.from_dict({"learning_rate": {"type": "float", "low": 0.3, "high": 0.01}})
    Traceback (most recent call last):
    ...
    driftloop.errors.InvalidInput: The search space for 'learning_rate' is contradictory: low 0.3 > high 0.01.
    """

    parameters: Mapping[str, Parameter]

    @classmethod
    def from_dict(cls, declared: Mapping[str, Any]) -> SearchSpace:
        """Check a declared space and build it.

        Args:
            declared: parameter name to either a dict with a ``type`` (``float``, ``int``, ``categorical`` or
                ``fixed``) and its fields, or a bare scalar, which is a fixed value.

        Raises:
            InvalidInput: the space is empty, or a parameter's declaration is unknown or contradictory.
        """
        if not isinstance(declared, Mapping):
            raise InvalidInput(
                f"A search space must be a dict of parameter names to declarations; got {type(declared).__name__}."
            )
        if not declared:
            raise InvalidInput(
                "The search space is empty; expected at least one parameter, e.g. "
                "{'learning_rate': {'type': 'float', 'low': 0.01, 'high': 0.3, 'log': True}}."
            )
        parameters: dict[str, Parameter] = {}
        for name, declaration in declared.items():
            if not isinstance(name, str) or not name:
                raise InvalidInput(f"A search space parameter name must be a non-empty string; got {name!r}.")
            parameters[name] = _parse_parameter(name, declaration)
        return cls(parameters)

    def suggest(self, trial: optuna.Trial) -> dict[str, Any]:
        """Draw one value per parameter through ``trial``, in declaration order."""
        return {name: parameter.suggest(trial, name) for name, parameter in self.parameters.items()}

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """The declaration in its long form; ``SearchSpace.from_dict(space.to_dict()) == space``."""
        return {name: parameter.to_dict() for name, parameter in self.parameters.items()}


def _parse_parameter(name: str, declaration: Any) -> Parameter:
    if _is_choice(declaration):
        return FixedParameter(declaration)
    if not isinstance(declaration, Mapping):
        raise InvalidInput(
            f"The search space for {name!r} must be a dict with a 'type' or a fixed scalar value; got "
            f"{declaration!r}. Write a list of choices as {{'type': 'categorical', 'choices': [...]}}."
        )
    kind = declaration.get("type")
    if kind not in _KEYS:
        raise InvalidInput(
            f"The search space for {name!r} has an unknown type {kind!r}; expected one of "
            f"{', '.join(repr(known) for known in _KEYS)}."
        )
    unknown = sorted(str(key) for key in declaration if key not in _KEYS[kind])
    if unknown:
        raise InvalidInput(
            f"The search space for {name!r} has unknown fields {unknown} for type {kind!r}; expected "
            f"{sorted(_KEYS[kind] - {'type'})}."
        )
    if kind == "float":
        return _parse_float(name, declaration)
    if kind == "int":
        return _parse_int(name, declaration)
    if kind == "categorical":
        return _parse_categorical(name, declaration)
    if "value" not in declaration:
        raise InvalidInput(f"The fixed parameter {name!r} needs a 'value'.")
    if not _is_choice(declaration["value"]):
        raise InvalidInput(
            f"The fixed value of {name!r} must be None, a bool, an int, a float or a str; got {declaration['value']!r}."
        )
    return FixedParameter(declaration["value"])


def _parse_float(name: str, declaration: Mapping[str, Any]) -> FloatParameter:
    low, high = _bound(name, declaration, "low", float), _bound(name, declaration, "high", float)
    log = _flag(name, declaration)
    step = declaration.get("step")
    _check_order(name, low, high)
    if log and low <= 0:
        raise InvalidInput(f"The search space for {name!r} is contradictory: log scale needs low > 0; got low {low}.")
    if step is not None:
        if isinstance(step, bool) or not isinstance(step, int | float) or not math.isfinite(step) or step <= 0:
            raise InvalidInput(f"The 'step' of {name!r} must be a positive number; got {step!r}.")
        if log:
            raise InvalidInput(f"The search space for {name!r} is contradictory: a log scale cannot have a step.")
        intervals = (high - low) / step
        if not math.isclose(intervals, round(intervals), rel_tol=0, abs_tol=1e-8):
            raise InvalidInput(
                f"The search space for {name!r} is contradictory: step {step} does not divide the range "
                f"[{low}, {high}] (its width {high - low} is not a multiple of the step)."
            )
    return FloatParameter(float(low), float(high), log, None if step is None else float(step))


def _parse_int(name: str, declaration: Mapping[str, Any]) -> IntParameter:
    low, high = _bound(name, declaration, "low", int), _bound(name, declaration, "high", int)
    log = _flag(name, declaration)
    step = declaration.get("step", 1)
    _check_order(name, low, high)
    if isinstance(step, bool) or not isinstance(step, int) or step < 1:
        raise InvalidInput(f"The 'step' of {name!r} must be an integer >= 1; got {step!r}.")
    if log and low < 1:
        raise InvalidInput(
            f"The search space for {name!r} is contradictory: an integer log scale needs low >= 1; got low {low}."
        )
    if log and step != 1:
        raise InvalidInput(
            f"The search space for {name!r} is contradictory: a log scale cannot have a step other than 1; got {step}."
        )
    if (high - low) % step:
        raise InvalidInput(
            f"The search space for {name!r} is contradictory: step {step} does not divide the range [{low}, {high}] "
            f"(its width {high - low} is not a multiple of the step)."
        )
    return IntParameter(int(low), int(high), step, log)


def _parse_categorical(name: str, declaration: Mapping[str, Any]) -> CategoricalParameter:
    choices = declaration.get("choices")
    if isinstance(choices, str | bytes) or not isinstance(choices, Sequence) or not choices:
        raise InvalidInput(f"The 'choices' of {name!r} must be a non-empty list; got {choices!r}.")
    for choice in choices:
        if not _is_choice(choice):
            raise InvalidInput(
                f"Each choice of {name!r} must be None, a bool, an int, a float or a str; got {choice!r}."
            )
    duplicates = sorted({repr(choice) for choice in choices if list(choices).count(choice) > 1})
    if duplicates:
        raise InvalidInput(f"The 'choices' of {name!r} repeat {', '.join(duplicates)}; each choice must appear once.")
    return CategoricalParameter(tuple(choices))


def _bound(name: str, declaration: Mapping[str, Any], key: str, kind: type[int] | type[float]) -> Any:
    if key not in declaration:
        raise InvalidInput(f"The search space for {name!r} needs {key!r}.")
    value = declaration[key]
    accepted = (int,) if kind is int else (int, float)
    if isinstance(value, bool) or not isinstance(value, accepted) or not math.isfinite(value):
        expected = "an integer" if kind is int else "a finite number"
        raise InvalidInput(f"The {key!r} of {name!r} must be {expected}; got {value!r}.")
    return value


def _flag(name: str, declaration: Mapping[str, Any]) -> bool:
    log = declaration.get("log", False)
    if not isinstance(log, bool):
        raise InvalidInput(f"The 'log' of {name!r} must be true or false; got {log!r}.")
    return log


def _check_order(name: str, low: float, high: float) -> None:
    if low > high:
        raise InvalidInput(f"The search space for {name!r} is contradictory: low {low} > high {high}.")


def _is_choice(value: Any) -> bool:
    return value is None or isinstance(value, bool | int | float | str)
