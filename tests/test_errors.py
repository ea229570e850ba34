"""The error hierarchy: one tree, builtin bases, stable codes, one status table."""

from __future__ import annotations

import inspect

import driftloop.errors as errors_module
from driftloop.errors import HTTP_STATUS, DriftloopError


def _error_classes() -> list[type[DriftloopError]]:
    return [
        value for value in vars(errors_module).values() if inspect.isclass(value) and issubclass(value, DriftloopError)
    ]


def test_every_error_has_a_unique_code_with_a_status() -> None:
    classes = _error_classes()
    codes = [cls.code for cls in classes]
    assert len(codes) == len(set(codes))
    assert set(codes) == set(HTTP_STATUS)
    assert all(400 <= HTTP_STATUS[code] <= 599 for code in codes)


def test_every_error_but_the_root_inherits_a_builtin() -> None:
    for cls in _error_classes():
        if cls is DriftloopError:
            continue
        builtins = [
            base
            for base in cls.__mro__
            if base.__module__ == "builtins" and base not in (object, BaseException, Exception)
        ]
        assert builtins, f"{cls.__name__} inherits no matching builtin"


def test_the_docstring_tree_names_every_class() -> None:
    doc = errors_module.__doc__ or ""
    for cls in _error_classes():
        assert cls.__name__ in doc and cls.code in doc
