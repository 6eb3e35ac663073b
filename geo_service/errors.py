"""Typed errors shared by the store, the services and the API.

Each error carries an HTTP status and a stable `code`; the API turns any of them into
`{"code": ..., "description": ...}` with that status, so bad input never becomes a 500.
"""

from __future__ import annotations

from .i18n import N_, _l


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


class ReadOnlyCollection(Conflict):
    """A write to a collection the store only reads (its data changes elsewhere)."""

    code = "ReadOnlyCollection"


class NotFound(ServiceError):
    status = 404
    code = "NotFound"


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


_NOT_FOUND = {"layer": N_("no layer {id!r}"), "raster": N_("no raster {id!r}")}
_MISSING = {
    "layer": N_("no layer {id!r} (any more); create it with POST"),
    "raster": N_("no raster {id!r} (any more); create it with POST"),
}
_NO_VERSION = {
    "layer": N_("layer {id!r} has no version {version}; it has {numbers}"),
    "raster": N_("raster {id!r} has no version {version}; it has {numbers}"),
}
_EXISTS = {
    "layer": N_("layer {id!r} exists; send a new version with PUT"),
    "raster": N_("raster {id!r} exists; send a new version with PUT"),
}
"""The messages about a versioned item (`store.versioned`): a layer or a raster."""


def not_found(what: str, item_id: str) -> NotFound:
    """The error for a layer or raster (`what`) that is not there."""
    return NotFound(_l(_NOT_FOUND[what], id=item_id))


def missing(what: str, item_id: str) -> NotFound:
    """The error for a new version of a layer or raster that is not there (any more)."""
    return NotFound(_l(_MISSING[what], id=item_id))


def no_version(what: str, item_id: str, version: int, numbers: list[int]) -> InvalidParameter:
    return InvalidParameter(_l(_NO_VERSION[what], id=item_id, version=version, numbers=numbers))


def check_existence(what: str, item_id: str, exists: bool, new: bool | None) -> None:
    """Refuse to create what exists (409) or to add a version to what does not, or no longer
    does, exist (404); `new` None accepts either. Asked early to spare the work, and always
    again under the item's lock, where the answer holds."""
    if new is True and exists:
        raise Conflict(_l(_EXISTS[what], id=item_id))
    if new is False and not exists:
        raise missing(what, item_id)
