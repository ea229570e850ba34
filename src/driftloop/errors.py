"""Every error driftloop raises on purpose.

Each class also inherits the builtin a Python user would catch for it, and carries a stable
``code`` that :data:`HTTP_STATUS` maps, once, to the status the workspace server answers with::

    DriftloopError (Exception)                       driftloop_error      500
    ├── InvalidInput (ValueError)                    invalid_input        400
    │   ├── InvalidName                              invalid_name         400
    │   ├── InvalidFilter                            invalid_filter       400
    │   ├── PayloadTooLarge                          payload_too_large    413
    │   ├── UnsupportedMediaType                     unsupported_media    415
    │   ├── InvalidSettings                          invalid_settings     400
    │   └── InvalidData                              invalid_data         422
    ├── NotFound (LookupError)                       not_found            404
    ├── Conflict (ValueError)                        conflict             409
    │   ├── AlreadyExists                            already_exists       409
    │   ├── ParamConflict                            param_conflict       409
    │   ├── InvalidState                             invalid_state        409
    │   └── GateFailed                               gate_failed          409
    ├── Unauthenticated (PermissionError)            unauthenticated      401
    ├── PermissionDenied (PermissionError)           permission_denied    403
    ├── SourceError (OSError)                        source_error         502
    └── StoreError (OSError)                         store_error          503
        ├── StoreUnavailable (ConnectionError)       store_unavailable    503
        ├── StoreBusy (TimeoutError)                 store_busy           503
        ├── SchemaMismatch (RuntimeError)            schema_mismatch      500
        └── BlobIntegrityError                       integrity_error      500

A user's mistake (an invalid name, a bad filter, a missing run) is an error below
``InvalidInput``, ``NotFound`` or ``Conflict``; the command line prints its message on one line and
exits non-zero, never with a traceback.

>>> try:
...     raise NotFound("No run with id 'abc'.")
... except LookupError as error:
...     (error.code, HTTP_STATUS[error.code])
('not_found', 404)
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "HTTP_STATUS",
    "AlreadyExists",
    "BlobIntegrityError",
    "Conflict",
    "DriftloopError",
    "GateFailed",
    "InvalidData",
    "InvalidFilter",
    "InvalidInput",
    "InvalidName",
    "InvalidSettings",
    "InvalidState",
    "NotFound",
    "ParamConflict",
    "PayloadTooLarge",
    "PermissionDenied",
    "SchemaMismatch",
    "SourceError",
    "StoreBusy",
    "StoreError",
    "StoreUnavailable",
    "Unauthenticated",
    "UnsupportedMediaType",
]


class DriftloopError(Exception):
    """The root of every error driftloop raises on purpose."""

    code: ClassVar[str] = "driftloop_error"

    @property
    def message(self) -> str:
        return str(self.args[0]) if self.args else self.__class__.__name__


class InvalidInput(DriftloopError, ValueError):
    """A value given by the user is not acceptable."""

    code = "invalid_input"


class InvalidName(InvalidInput):
    """A name (of an experiment, a metric, a param…) breaks the naming rules."""

    code = "invalid_name"


class InvalidFilter(InvalidInput):
    """A search filter or order-by clause does not parse; the message points at the column."""

    code = "invalid_filter"

    def __init__(self, message: str, *, text: str = "", position: int = 0) -> None:
        super().__init__(message)
        self.text = text
        self.position = position


class PayloadTooLarge(InvalidInput):
    """A request body is larger than the server accepts."""

    code = "payload_too_large"


class UnsupportedMediaType(InvalidInput):
    """A request's ``Content-Type`` is not one the endpoint reads."""

    code = "unsupported_media"


class InvalidSettings(InvalidInput):
    """Workspace settings (arguments, environment variables or driftloop.toml) are wrong."""

    code = "invalid_settings"


class InvalidData(InvalidInput):
    """Input data is malformed or breaks a rule of its schema.

    The message names the source, and the row and column where known; the same facts are attributes.
    """

    code = "invalid_data"

    def __init__(
        self, message: str, *, source: str | None = None, row: int | None = None, column: str | None = None
    ) -> None:
        super().__init__(message)
        self.source = source
        self.row = row
        self.column = column


class NotFound(DriftloopError, LookupError):
    """The object asked for does not exist (or was purged)."""

    code = "not_found"


class Conflict(DriftloopError, ValueError):
    """The request contradicts the current state of an object."""

    code = "conflict"


class AlreadyExists(Conflict):
    """An object with that name or id exists already."""

    code = "already_exists"


class ParamConflict(Conflict):
    """A run's param was logged again with a different value; params are write-once."""

    code = "param_conflict"


class InvalidState(Conflict):
    """The object is in a state that does not allow the operation (logging to a finished run…)."""

    code = "invalid_state"


class GateFailed(Conflict):
    """A model version failed a validation gate, so it may not be registered or promoted.

    The message lists every gate, number by number; ``report`` holds the gate results.
    """

    code = "gate_failed"

    def __init__(self, message: str, *, report: object = None) -> None:
        super().__init__(message)
        self.report = report


class Unauthenticated(DriftloopError, PermissionError):
    """No valid credentials came: no token, or one that is unknown, revoked, expired or of a disabled user.

    The message never says which of these it was, so a caller holding a stolen or guessed token learns nothing.
    """

    code = "unauthenticated"


class PermissionDenied(DriftloopError, PermissionError):
    """The actor may not perform the operation."""

    code = "permission_denied"


class SourceError(DriftloopError, OSError):
    """A data source (a web API, a database, a remote file) failed or could not be reached."""

    code = "source_error"


class StoreError(DriftloopError, OSError):
    """The metadata database or the blob storage failed."""

    code = "store_error"


class StoreUnavailable(StoreError, ConnectionError):
    """The store cannot be reached at its URL."""

    code = "store_unavailable"


class StoreBusy(StoreError, TimeoutError):
    """The store stayed locked by other writers for longer than driftloop waits."""

    code = "store_busy"


class SchemaMismatch(StoreError, RuntimeError):
    """The metadata schema is older (needs ``driftloop db upgrade``) or newer than this driftloop."""

    code = "schema_mismatch"


class BlobIntegrityError(StoreError):
    """Stored bytes do not match their SHA-256 digest: the blob was altered or truncated."""

    code = "integrity_error"


HTTP_STATUS: dict[str, int] = {
    DriftloopError.code: 500,
    InvalidInput.code: 400,
    InvalidName.code: 400,
    InvalidFilter.code: 400,
    PayloadTooLarge.code: 413,
    UnsupportedMediaType.code: 415,
    InvalidSettings.code: 400,
    InvalidData.code: 422,
    NotFound.code: 404,
    Conflict.code: 409,
    AlreadyExists.code: 409,
    ParamConflict.code: 409,
    InvalidState.code: 409,
    GateFailed.code: 409,
    Unauthenticated.code: 401,
    PermissionDenied.code: 403,
    SourceError.code: 502,
    StoreError.code: 503,
    StoreUnavailable.code: 503,
    StoreBusy.code: 503,
    SchemaMismatch.code: 500,
    BlobIntegrityError.code: 500,
}
"""The one table from an error's ``code`` to the HTTP status the server answers with."""
