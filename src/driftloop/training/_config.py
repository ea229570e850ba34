"""``train.yaml``: the whole training path as a file, for ``driftloop train --config`` and CI.

>>> config = TrainConfig.from_yaml('''
... dataset: houses
... target: price
... split: {method: time, holdout: 0.2, time_column: sold_at}
... algorithms: [ridge, lightgbm]
... tune: {trials: 10}
... register: houses
... gates: ["r2 >= 0.5", "rmse beats champion by 0"]
... ''')
>>> config.arguments()["split"], config.arguments()["time_column"], config.arguments()["tune"]["trials"]
('time', 'sold_at', 10)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import yaml

from driftloop.errors import InvalidInput

__all__ = ["TrainConfig"]

_KEYS: dict[str, type | tuple[type, ...]] = {
    "dataset": str,
    "version": int,
    "target": str,
    "features": list,
    "task": str,
    "split": (str, dict),
    "algorithms": (list, str),
    "params": dict,
    "folds": int,
    "metric": str,
    "tune": dict,
    "register": str,
    "gates": list,
    "alias": str,
    "promote": bool,
    "slice_by": str,
    "experiment": str,
    "seed": int,
    "threads": int,
}
_SPLIT_KEYS = ("method", "holdout", "time_column")


@dataclass(frozen=True)
class TrainConfig:
    """A checked training configuration; :meth:`arguments` gives the keyword arguments of ``Training.train``."""

    values: Mapping[str, Any]

    @classmethod
    def from_yaml(cls, text: str, *, source: str = "the training config") -> TrainConfig:
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as error:
            raise InvalidInput(f"{source} is not valid YAML: {error}") from None
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: object, *, source: str = "the training config") -> TrainConfig:
        if not isinstance(data, dict):
            raise InvalidInput(f"{source} must hold a mapping (dataset:, target:, ...); got {type(data).__name__}.")
        unknown = sorted(str(key) for key in data if key not in _KEYS)
        if unknown:
            raise InvalidInput(f"{source} has unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(_KEYS))}.")
        for required in ("dataset", "target"):
            if required not in data:
                raise InvalidInput(f"{source} needs a '{required}:'.")
        for key, value in data.items():
            expected = _KEYS[key]
            if isinstance(value, bool) and expected is int:
                raise InvalidInput(f"'{key}' in {source} must be an integer; got {value!r}.")
            if not isinstance(value, expected):
                names = " or ".join(t.__name__ for t in (expected if isinstance(expected, tuple) else (expected,)))
                raise InvalidInput(f"'{key}' in {source} must be a {names}; got {value!r}.")
        split = data.get("split")
        if isinstance(split, dict):
            unknown_split = sorted(str(key) for key in split if key not in _SPLIT_KEYS)
            if unknown_split:
                raise InvalidInput(
                    f"'split' in {source} takes {', '.join(_SPLIT_KEYS)}; got unknown {', '.join(unknown_split)}."
                )
        return cls(values=dict(data))

    def arguments(self) -> dict[str, Any]:
        arguments = dict(self.values)
        split = arguments.pop("split", None)
        if isinstance(split, str):
            arguments["split"] = split
        elif isinstance(split, dict):
            if "method" in split:
                arguments["split"] = split["method"]
            if "holdout" in split:
                arguments["holdout"] = split["holdout"]
            if "time_column" in split:
                arguments["time_column"] = split["time_column"]
        return arguments
