"""A schema as a plain dict (the shape of its YAML), and back, naming the key path of every mistake."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from driftloop.data._dtypes import polars_type
from driftloop.data.validation._checks import CHECK_KINDS, CustomCheck
from driftloop.data.validation._column import ColumnSpec
from driftloop.errors import InvalidInput

__all__ = ["FORMAT", "checks_to_dicts", "columns_to_dicts", "parse_schema"]

FORMAT = 1
"""The version of the dict layout, written as ``format`` so a later layout can read older files."""

_SCHEMA_KEYS = ("format", "columns", "checks")
_COLUMN_KEYS = ("name", "dtype", "nullable", "required", "minimum", "maximum", "categories", "unique", "promoted")
_CHECK_KEYS = ("name", "column", "expression", "kind")


def columns_to_dicts(columns: tuple[ColumnSpec, ...]) -> list[dict[str, Any]]:
    """Each column as a dict with every key present (so a user editing the YAML sees what can be set)."""
    return [
        {
            "name": column.name,
            "dtype": column.dtype,
            "nullable": column.nullable,
            "required": column.required,
            "minimum": column.minimum,
            "maximum": column.maximum,
            "categories": None if column.categories is None else list(column.categories),
            "unique": column.unique,
            "promoted": sorted(column.promoted),
        }
        for column in columns
    ]


def checks_to_dicts(checks: tuple[CustomCheck, ...]) -> list[dict[str, Any]]:
    """Each custom check as a dict."""
    return [
        {"name": check.name, "column": check.column, "expression": check.expression, "kind": check.kind}
        for check in checks
    ]


def parse_schema(data: object) -> tuple[tuple[ColumnSpec, ...], tuple[CustomCheck, ...]]:
    """The columns and checks a schema dict describes; :class:`InvalidInput` naming the key path otherwise."""
    schema = _mapping(data, "", _SCHEMA_KEYS)
    layout = schema.get("format", FORMAT)
    if layout != FORMAT:
        raise _invalid("format", f"this driftloop reads schema format {FORMAT}; got {layout!r}")
    if "columns" not in schema:
        raise _invalid("columns", "missing; list the columns of the data")
    columns = tuple(_parse_column(item, f"columns[{index}]") for index, item in enumerate(_list(schema, "columns")))
    if not columns:
        raise _invalid("columns", "empty; list the columns of the data")
    seen: set[str] = set()
    for index, column in enumerate(columns):
        if column.name in seen:
            raise _invalid(f"columns[{index}].name", f"the column {column.name!r} is listed twice")
        seen.add(column.name)
    column_types = {column.name: polars_type(column.dtype) for column in columns}
    checks: list[CustomCheck] = []
    for index, item in enumerate(_list(schema, "checks") if schema.get("checks") is not None else []):
        path = f"checks[{index}]"
        check = _parse_check(item, path)
        if any(check.name == earlier.name for earlier in checks):
            raise _invalid(f"{path}.name", f"the check {check.name!r} is listed twice")
        try:
            check.verify_against(column_types)
        except InvalidInput as error:
            raise _invalid(path, str(error)) from None
        checks.append(check)
    return columns, tuple(checks)


def _parse_column(item: object, path: str) -> ColumnSpec:
    column = _mapping(item, path, _COLUMN_KEYS)
    for key in ("name", "dtype"):
        if key not in column:
            raise _invalid(f"{path}.{key}", "missing")
    name = _string(column["name"], f"{path}.name")
    dtype = _string(column["dtype"], f"{path}.dtype")
    try:
        polars_type(dtype)
    except InvalidInput as error:
        raise _invalid(f"{path}.dtype", str(error)) from None
    minimum = _number(column.get("minimum"), f"{path}.minimum")
    maximum = _number(column.get("maximum"), f"{path}.maximum")
    categories = column.get("categories")
    if categories is not None:
        categories = tuple(_list_of_strings(categories, f"{path}.categories"))
    promoted = column.get("promoted")
    promoted = frozenset() if promoted is None else frozenset(_list_of_strings(promoted, f"{path}.promoted"))
    try:
        return ColumnSpec(
            name=name,
            dtype=dtype,
            nullable=_bool(column.get("nullable", True), f"{path}.nullable"),
            required=_bool(column.get("required", True), f"{path}.required"),
            minimum=minimum,
            maximum=maximum,
            categories=categories,
            unique=_bool(column.get("unique", False), f"{path}.unique"),
            promoted=promoted,
        )
    except InvalidInput as error:
        raise _invalid(path, str(error)) from None


def _parse_check(item: object, path: str) -> CustomCheck:
    check = _mapping(item, path, _CHECK_KEYS)
    for key in ("name", "expression", "kind"):
        if key not in check:
            raise _invalid(f"{path}.{key}", "missing")
    kind = check["kind"]
    if kind not in CHECK_KINDS:
        raise _invalid(f"{path}.kind", f"expected 'rule' or 'expectation'; got {kind!r}")
    column = check.get("column")
    try:
        return CustomCheck(
            name=_string(check["name"], f"{path}.name"),
            expression=_string(check["expression"], f"{path}.expression"),
            kind=kind,
            column=None if column is None else _string(column, f"{path}.column"),
        )
    except InvalidInput as error:
        raise _invalid(path, str(error)) from None


def _invalid(path: str, problem: str) -> InvalidInput:
    where = f"at {path!r}" if path else "at its top level"
    return InvalidInput(f"Invalid schema {where}: {problem}")


def _mapping(value: object, path: str, keys: tuple[str, ...]) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise _invalid(path, f"expected a mapping with keys {', '.join(keys)}; got {_describe(value)}")
    for key in value:
        if key not in keys:
            where = f"{path}.{key}" if path else str(key)
            raise _invalid(where, f"unknown key; expected one of {', '.join(keys)}")
    return value


def _list(mapping: Mapping[str, Any], key: str) -> list[Any]:
    value = mapping[key]
    if not isinstance(value, list):
        raise _invalid(key, f"expected a list; got {_describe(value)}")
    return value


def _string(value: object, path: str) -> str:
    if not isinstance(value, str) or not value:
        raise _invalid(path, f"expected a non-empty string; got {_describe(value)}")
    return value


def _bool(value: object, path: str) -> bool:
    if not isinstance(value, bool):
        raise _invalid(path, f"expected true or false; got {_describe(value)}")
    return value


def _number(value: object, path: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise _invalid(path, f"expected a number or null; got {_describe(value)}")
    return value


def _list_of_strings(value: object, path: str) -> list[str]:
    if not isinstance(value, list):
        raise _invalid(path, f"expected a list of strings; got {_describe(value)}")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _invalid(f"{path}[{index}]", f"expected a string (quote numbers in YAML); got {_describe(item)}")
    return value


def _describe(value: object) -> str:
    return f"{type(value).__name__} {value!r}" if value is not None else "null"
