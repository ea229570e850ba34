"""The manifest of a packaged model: its parts, what it predicts, and the signature that seals it.

A manifest is small JSON. Its parts are blobs named by SHA-256, so the manifest pins every byte of the model;
its signature (HMAC-SHA256 with the workspace key over the canonical JSON of every other field) makes a
manifest edited after packaging (a part's digest swapped, a class renamed) fail to load.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field, replace
from typing import Any, Final

from driftloop.errors import InvalidInput, PermissionDenied

__all__ = [
    "FLAVOURS",
    "FORMAT_VERSION",
    "PART_FORMATS",
    "TASKS",
    "Manifest",
    "ModelPart",
    "keyed_digest",
    "validate_signing_key",
]

FORMAT_VERSION: Final = 1
"""The manifest layout this driftloop writes and reads."""

FLAVOURS: Final = ("sklearn", "lightgbm", "xgboost", "river")
TASKS: Final = ("binary", "multiclass", "regression")
PART_FORMATS: Final = ("skops", "lightgbm-text", "xgboost-ubj", "onnx", "river-signed-pickle")
MIN_KEY_LENGTH: Final = 16

_DIGEST: Final = re.compile(r"[0-9a-f]{64}")
_FIELDS: Final = ("flavour", "format_version", "parts", "task", "classes", "feature_names", "onnx", "details")


@dataclass(frozen=True)
class ModelPart:
    """One stored file of a model.

    Attributes:
        name: What the part holds: ``"estimator"``, ``"preprocessing"``, ``"booster"``, ``"state"`` or ``"onnx"``.
        digest: The hex SHA-256 of the part's bytes, as the blob store's ``put`` returned it.
        size: The part's length in bytes.
        format: How the bytes are written, one of :data:`PART_FORMATS`.
    """

    name: str
    digest: str
    size: int
    format: str


@dataclass(frozen=True)
class Manifest:
    """What a model version is made of, as JSON beside its parts.

    Attributes:
        flavour: The library family, one of :data:`FLAVOURS`.
        format_version: The manifest layout, :data:`FORMAT_VERSION` when written by this driftloop.
        parts: The stored files, each checked against its digest when loaded.
        task: ``"binary"``, ``"multiclass"``, ``"regression"`` or ``None`` when unknown.
        classes: The class labels of a classifier, in the order of its probability columns.
        feature_names: The input columns the model expects, in order.
        onnx: ``{"kept": True, "part": "onnx", "max_abs_diff": ..., "match_rate": ..., ...}`` when an ONNX
            copy agreed with the model on the sample, else ``{"kept": False, "reason": ...}``.
        details: Flavour-specific facts: wrapper parameters, the trusted types a skops part needs…
        signature: HMAC-SHA256 (hex) of the other fields with the workspace key; empty until signed.
    """

    flavour: str
    format_version: int
    parts: tuple[ModelPart, ...]
    task: str | None
    classes: list[Any] | None
    feature_names: list[str]
    onnx: dict[str, Any] | None
    details: dict[str, Any] = field(default_factory=dict)
    signature: str = ""

    def part(self, name: str) -> ModelPart:
        """Return the part called ``name``; raise InvalidInput naming the parts there are when it is missing."""
        for part in self.parts:
            if part.name == name:
                return part
        names = ", ".join(repr(part.name) for part in self.parts) or "none"
        raise InvalidInput(f"The {self.flavour} model has no part {name!r}; its parts are {names}.")

    def has_part(self, name: str) -> bool:
        """Tell whether the manifest lists a part called ``name``."""
        return any(part.name == name for part in self.parts)

    def to_json(self) -> bytes:
        """Return the manifest as compact UTF-8 JSON with sorted keys (the same bytes for equal manifests)."""
        return _canonical({**self._unsigned_fields(), "signature": self.signature})

    @classmethod
    def from_json(cls, data: bytes | str) -> Manifest:
        """Read a manifest written by :meth:`to_json`; raise InvalidInput when it is not one.

        >>> manifest = Manifest("sklearn", 1, (ModelPart("estimator", "ab" * 32, 3, "skops"),), None, None, [], None)
        >>> Manifest.from_json(manifest.to_json()) == manifest
        True
        """
        try:
            document = json.loads(data)
        except (ValueError, TypeError) as error:
            raise InvalidInput(f"A model manifest must be JSON; got text that does not parse ({error}).") from None
        if not isinstance(document, dict):
            raise InvalidInput(f"A model manifest must be a JSON object; got {type(document).__name__}.")
        missing = [name for name in (*_FIELDS, "signature") if name not in document]
        if missing:
            raise InvalidInput(f"The model manifest lacks the field(s) {', '.join(missing)}.")
        version = document["format_version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise InvalidInput(f"A model manifest's 'format_version' must be an integer >= 1; got {version!r}.")
        if version > FORMAT_VERSION:
            raise InvalidInput(
                f"The model manifest is in format version {version}; this driftloop reads version "
                f"{FORMAT_VERSION}. Upgrade driftloop to load the model."
            )
        manifest = cls(
            flavour=_choice(document["flavour"], FLAVOURS, "flavour"),
            format_version=version,
            parts=tuple(_read_part(entry) for entry in _list(document["parts"], "parts")),
            task=None if document["task"] is None else _choice(document["task"], TASKS, "task"),
            classes=None if document["classes"] is None else _list(document["classes"], "classes"),
            feature_names=[_text(name, "feature_names") for name in _list(document["feature_names"], "feature_names")],
            onnx=None if document["onnx"] is None else _object(document["onnx"], "onnx"),
            details=_object(document["details"], "details"),
            signature=_text(document["signature"], "signature"),
        )
        names = [part.name for part in manifest.parts]
        if len(set(names)) != len(names):
            raise InvalidInput(f"A model manifest names each part once; got the parts {names}.")
        return manifest

    def signed(self, signing_key: bytes) -> Manifest:
        """Return a copy sealed with ``signing_key``."""
        return replace(self, signature=keyed_digest(signing_key, _canonical(self._unsigned_fields())))

    def verify(self, signing_key: bytes) -> None:
        """Raise PermissionDenied unless the signature matches the other fields under ``signing_key``."""
        expected = keyed_digest(signing_key, _canonical(self._unsigned_fields()))
        if not self.signature:
            raise PermissionDenied(f"The {self.flavour} model's manifest is unsigned; only signed ones load.")
        if not hmac.compare_digest(expected, self.signature):
            raise PermissionDenied(
                f"The {self.flavour} model's manifest signature does not match: the manifest was changed after "
                "packaging, or it was signed with another workspace's key. Package the model again in this "
                "workspace."
            )

    def _unsigned_fields(self) -> dict[str, Any]:
        return {
            "flavour": self.flavour,
            "format_version": self.format_version,
            "parts": [
                {"name": part.name, "digest": part.digest, "size": part.size, "format": part.format}
                for part in self.parts
            ],
            "task": self.task,
            "classes": self.classes,
            "feature_names": list(self.feature_names),
            "onnx": self.onnx,
            "details": self.details,
        }


def validate_signing_key(signing_key: object) -> bytes:
    """Return ``signing_key`` if it is bytes of at least 16, else raise InvalidInput."""
    if not isinstance(signing_key, bytes | bytearray):
        raise InvalidInput(f"The 'signing_key' must be bytes; got {type(signing_key).__name__}.")
    if len(signing_key) < MIN_KEY_LENGTH:
        shown = f"{len(signing_key)} bytes"
        raise InvalidInput(f"The 'signing_key' must be bytes, at least {MIN_KEY_LENGTH} of them; got {shown}.")
    return bytes(signing_key)


def keyed_digest(signing_key: bytes, data: bytes) -> str:
    """Return the hex HMAC-SHA256 of ``data`` under ``signing_key``."""
    return hmac.new(signing_key, data, hashlib.sha256).hexdigest()


def _canonical(document: dict[str, Any]) -> bytes:
    try:
        return json.dumps(document, sort_keys=True, separators=(",", ":"), allow_nan=False).encode()
    except (TypeError, ValueError) as error:
        raise InvalidInput(f"A model manifest holds JSON values only (finite numbers); {error}.") from None


def _read_part(entry: object) -> ModelPart:
    part = _object(entry, "parts")
    size = part.get("size")
    if not isinstance(size, int) or isinstance(size, bool) or size < 0:
        raise InvalidInput(f"A model part's 'size' must be an integer >= 0; got {size!r}.")
    digest = _text(part.get("digest"), "parts.digest")
    if _DIGEST.fullmatch(digest) is None:
        raise InvalidInput(f"A model part's 'digest' must be a SHA-256 in 64 lowercase hex characters; got {digest!r}.")
    return ModelPart(
        name=_text(part.get("name"), "parts.name"),
        digest=digest,
        size=size,
        format=_choice(part.get("format"), PART_FORMATS, "parts.format"),
    )


def _choice(value: object, allowed: tuple[str, ...], name: str) -> str:
    if value not in allowed:
        raise InvalidInput(f"A model manifest's {name!r} must be one of {', '.join(allowed)}; got {value!r}.")
    assert isinstance(value, str)
    return value


def _text(value: object, name: str) -> str:
    if not isinstance(value, str):
        raise InvalidInput(f"A model manifest's {name!r} must be text; got {type(value).__name__}.")
    return value


def _list(value: object, name: str) -> list[Any]:
    if not isinstance(value, list):
        raise InvalidInput(f"A model manifest's {name!r} must be a list; got {type(value).__name__}.")
    return value


def _object(value: object, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise InvalidInput(f"A model manifest's {name!r} must be an object; got {type(value).__name__}.")
    return value
