"""Typed errors shared by the store, the services and the API.

Each error carries an HTTP status and a stable `code`; the API turns any of them into
`{"code": ..., "description": ...}` with that status, so bad input never becomes a 500.
"""

from __future__ import annotations


class ServiceError(Exception):
    status = 500
    code = "ServerError"
    headers: dict[str, str] = {}
    """Response headers the error calls for (e.g. `Retry-After`)."""

    def __init__(self, description: str, extra: dict | None = None) -> None:
        super().__init__(description)
        self.description = description
        self.extra = extra or {}
        """More members of the error document (e.g. a validation report)."""


class InvalidParameter(ServiceError):
    status = 400
    code = "InvalidParameterValue"


class Unauthorized(ServiceError):
    status = 401
    code = "Unauthorized"


class Forbidden(ServiceError):
    status = 403
    code = "Forbidden"


class Conflict(ServiceError):
    status = 409
    code = "Conflict"


class NotFound(ServiceError):
    status = 404
    code = "NotFound"


class NotAcceptable(ServiceError):
    status = 406
    code = "NotAcceptable"


class TooLarge(ServiceError):
    status = 413
    code = "PayloadTooLarge"


class LayerUnavailable(ServiceError):
    """A published layer or raster whose stored files cannot be read (see `listing.py`)."""

    status = 503
    code = "LayerUnavailable"


class UnsupportedMediaType(ServiceError):
    status = 415
    code = "UnsupportedMediaType"
