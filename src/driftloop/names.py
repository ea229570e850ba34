"""Naming rules shared by every kind of object.

Names of objects (experiments, runs, datasets, models) become parts of URLs, file paths and CLI
arguments, so they exclude path separators. Keys of params, tags and metrics may use ``/`` as a
namespace separator (``train/loss``), as TensorBoard and MLflow users expect.

>>> validate_name("experiment", "house-prices")
'house-prices'
>>> validate_key("metric", "train/loss")
'train/loss'
>>> validate_name("experiment", "a/b")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
driftloop.errors.InvalidName: The experiment name 'a/b' contains a path separator ('/'); use letters...
"""

from __future__ import annotations

import unicodedata

from driftloop.errors import InvalidName

__all__ = ["MAX_KEY_LENGTH", "MAX_NAME_LENGTH", "validate_actor", "validate_key", "validate_name"]

MAX_NAME_LENGTH = 256
MAX_KEY_LENGTH = 250


def validate_name(kind: str, name: object, *, max_length: int = MAX_NAME_LENGTH) -> str:
    """Return ``name`` when it is a valid name of a ``kind`` object, else raise :class:`InvalidName`."""
    text = _common_checks(kind, "name", name, max_length)
    for separator in ("/", "\\"):
        if separator in text:
            raise InvalidName(
                f"The {kind} name {text!r} contains a path separator ({separator!r}); use letters, digits, "
                "spaces, '-', '_' or '.'."
            )
    if text in (".", ".."):
        raise InvalidName(f"The {kind} name {text!r} is reserved.")
    return text


def validate_key(kind: str, key: object, *, max_length: int = MAX_KEY_LENGTH) -> str:
    """Return ``key`` when it is a valid param, tag or metric key, else raise :class:`InvalidName`."""
    text = _common_checks(kind, "key", key, max_length)
    if "\\" in text:
        raise InvalidName(f"The {kind} key {text!r} contains a backslash; use '/' to namespace keys.")
    if text.startswith("/") or text.endswith("/") or any(part in ("", ".", "..") for part in text.split("/")):
        raise InvalidName(
            f"The {kind} key {text!r} has an empty, '.' or '..' segment; '/' may only separate non-empty parts."
        )
    return text


def validate_actor(actor: object) -> str:
    """Return ``actor`` (who acts: a user or service name) when valid, else raise :class:`InvalidName`.

    Actors may contain any printable character (``DOMAIN\\user``, ``ci/deploy-bot``).
    """
    return _common_checks("actor", "name", actor, MAX_NAME_LENGTH)


def _common_checks(kind: str, what: str, value: object, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidName(f"The {kind} {what} must be a string; got {type(value).__name__} {value!r}.")
    if not value or not value.strip():
        raise InvalidName(f"The {kind} {what} must not be empty.")
    if value != value.strip():
        raise InvalidName(f"The {kind} {what} {value!r} has leading or trailing white space.")
    if len(value) > max_length:
        raise InvalidName(
            f"The {kind} {what} is {len(value)} characters long; the limit is {max_length}: {value[:40]!r}…"
        )
    for character in value:
        if unicodedata.category(character) in ("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"):
            raise InvalidName(f"The {kind} {what} {value!r} contains the control character U+{ord(character):04X}.")
    return value
