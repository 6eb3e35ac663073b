"""Typed errors shared by the store, the services and the API.

Each error carries an HTTP status and a stable `code`; the API turns any of them into
`{"code": ..., "description": ...}` with that status, so bad input never becomes a 500.
"""

from __future__ import annotations

from collections.abc import Sequence

from .i18n import N_, _l, joined


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


class PreconditionFailed(ServiceError):
    """A conditional write whose `If-Match` names a state the target is no longer in."""

    status = 412
    code = "PreconditionFailed"


class PreconditionRequired(ServiceError):
    """A write that must say which state it expects (`If-Match`) and did not."""

    status = 428
    code = "PreconditionRequired"


class ValidationFailed(ServiceError):
    """Data that fails validation; `extra["report"]` says what, how often and where."""

    status = 400
    code = "ValidationFailed"


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


_NOT_FOUND = {
    "layer": N_("no layer {id!r}"),
    "raster": N_("no raster {id!r}"),
    "kind": N_("no kind {id!r}"),
}
_MISSING = {
    "layer": N_("no layer {id!r} (any more); create it with POST"),
    "raster": N_("no raster {id!r} (any more); create it with POST"),
    "kind": N_("no kind {id!r} (any more); create it with POST"),
}
_NO_VERSION = {
    "layer": N_("layer {id!r} has no version {version}; it has {numbers}"),
    "raster": N_("raster {id!r} has no version {version}; it has {numbers}"),
    "kind": N_("kind {id!r} has no version {version}; it has {numbers}"),
}
_EXISTS = {
    "layer": N_("layer {id!r} exists; send a new version with PUT"),
    "raster": N_("raster {id!r} exists; send a new version with PUT"),
    "kind": N_("kind {id!r} exists; send a new version with PUT"),
}
_NOT_NEWEST = {
    "layer": N_(
        "version {base} of layer {id!r} is no longer the newest ({newest} is): "
        "read it again and resend"
    ),
    "raster": N_(
        "version {base} of raster {id!r} is no longer the newest ({newest} is): "
        "read it again and resend"
    ),
    "kind": N_(
        "version {base} of kind {id!r} is no longer the newest ({newest} is): "
        "read it again and resend"
    ),
}
_DRAFTS_PENDING = {
    "layer": N_(
        "version {newest} of layer {id!r} is a draft (the version served is {served}): "
        "publish it first, or send the changes as a draft too"
    ),
    "raster": N_(
        "version {newest} of raster {id!r} is a draft (the version served is {served}): "
        "publish it first, or send the changes as a draft too"
    ),
    "kind": N_(
        "version {newest} of kind {id!r} is a draft (the version served is {served}): "
        "publish it first, or send the changes as a draft too"
    ),
}
"""The messages about a versioned item (`store.versioned`): a layer, a raster or a kind."""


def refused(problems: Sequence[tuple[str | None, str]]) -> InvalidParameter:
    """A 400 for input with these problems, each (the parameter or member it concerns, None for
    the whole document; what is wrong): said one after another as `name: reason`, and listed
    as RFC 9457's `invalid-params` (`name`, `reason`), so that a form can mark each field."""
    return InvalidParameter(
        joined([_l("{place}: {problem}", place=n, problem=r) if n else r for n, r in problems]),
        {"invalid-params": [({"name": n} if n else {}) | {"reason": r} for n, r in problems]},
    )


def invalid(name: str, reason: str) -> InvalidParameter:
    """`refused` for the one parameter (or member) `name`."""
    return refused([(name, reason)])


def not_found(what: str, item_id: str) -> NotFound:
    """The error for a layer or raster (`what`) that is not there."""
    return NotFound(_l(_NOT_FOUND[what], id=item_id))


def missing(what: str, item_id: str) -> NotFound:
    """The error for a new version of a layer or raster that is not there (any more)."""
    return NotFound(_l(_MISSING[what], id=item_id))


def no_version(what: str, item_id: str, version: int, numbers: list[int]) -> InvalidParameter:
    return InvalidParameter(_l(_NO_VERSION[what], id=item_id, version=version, numbers=numbers))


class NotNewest(Conflict):
    """Changes made over a version another has since been added after: read again, resend."""


def not_newest(what: str, item_id: str, base: int, newest: int) -> NotNewest:
    """The error for changes made over a version that is no longer the newest."""
    return NotNewest(_l(_NOT_NEWEST[what], id=item_id, base=base, newest=newest))


def drafts_pending(what: str, item_id: str, newest: int, served: int | None) -> Conflict:
    """The error for publishing changes over a draft: serving them would serve it unseen."""
    return Conflict(_l(_DRAFTS_PENDING[what], id=item_id, newest=newest, served=served))


def stale_feature(feature_id: str, etag: str, sent: str) -> PreconditionFailed:
    """The error for a change to a feature whose ETag is no longer the one the editor sent."""
    return PreconditionFailed(
        _l(
            'feature {id!r} has changed since it was read (ETag "{etag}", not "{sent}"); '
            "read it again",
            id=feature_id,
            etag=etag,
            sent=sent,
        ),
        extra={"feature": feature_id, "etag": etag},
    )


def no_collection(layer_id: str) -> NotFound:
    """The error for a collection (layer) that is not served."""
    return NotFound(_l("no collection {layer_id!r}", layer_id=layer_id))


def no_feature(feature_id: str, layer_id: str) -> NotFound:
    """The error for a feature the collection does not have (read, changed or deleted)."""
    return NotFound(
        _l(
            "no feature {feature_id!r} in collection {layer_id!r}",
            feature_id=feature_id,
            layer_id=layer_id,
        )
    )


def feature_exists(feature_id: str) -> Conflict:
    """The error for creating a feature the layer has: it is replaced or updated instead."""
    return Conflict(
        _l("feature {id!r} exists; replace it with PUT or update it with PATCH", id=feature_id)
    )


def changed_twice(feature_id: str) -> InvalidParameter:
    """The error for a change set that changes one feature more than once."""
    return InvalidParameter(_l("feature {id!r} is changed twice in one change set", id=feature_id))


def check_existence(what: str, item_id: str, exists: bool, new: bool | None) -> None:
    """Refuse to create what exists (409) or to add a version to what does not, or no longer
    does, exist (404); `new` None accepts either. Asked early to spare the work, and always
    again under the item's lock, where the answer holds."""
    if new is True and exists:
        raise Conflict(_l(_EXISTS[what], id=item_id))
    if new is False and not exists:
        raise missing(what, item_id)
