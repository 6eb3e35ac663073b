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


_VI = {"layer": "lớp", "raster": "lớp raster", "kind": "loại lớp"}
"""The kinds of versioned item (`store.versioned`), as Vietnamese names them."""


def not_found(what: str, item_id: str) -> NotFound:
    """The error for a layer or raster (`what`) that is not there."""
    return NotFound(f"no {what} {item_id!r} / không có {_VI[what]} {item_id!r}")


def missing(what: str, item_id: str) -> NotFound:
    """The error for a new version of a layer or raster that is not there (any more)."""
    return NotFound(
        f"no {what} {item_id!r} (any more); create it with POST / "
        f"không có {_VI[what]} {item_id!r} (hoặc đã được lưu trữ); hãy tạo bằng POST"
    )


def no_version(what: str, item_id: str, version: int, numbers: list[int]) -> InvalidParameter:
    return InvalidParameter(
        f"{what} {item_id!r} has no version {version}; it has {numbers} / "
        f"{_VI[what]} {item_id!r} không có phiên bản {version}"
    )


class NotNewest(Conflict):
    """Changes made over a version another has since been added after: read again, resend."""


def not_newest(what: str, item_id: str, base: int, newest: int) -> NotNewest:
    """The error for changes made over a version that is no longer the newest."""
    return NotNewest(
        f"version {base} of {what} {item_id!r} is no longer the newest ({newest} is): read it "
        f"again and resend / phiên bản {base} của {_VI[what]} {item_id!r} không còn là mới nhất "
        f"({newest}): hãy đọc lại và gửi lại"
    )


def drafts_pending(what: str, item_id: str, newest: int, served: int | None) -> Conflict:
    """The error for publishing changes over a draft: serving them would serve it unseen."""
    return Conflict(
        f"version {newest} of {what} {item_id!r} is a draft (the version served is {served}): "
        "publish it first, or send the changes as a draft too / phiên bản "
        f"{newest} của {_VI[what]} {item_id!r} là bản nháp (đang phục vụ {served}): hãy công bố "
        "nó trước, hoặc gửi thay đổi dưới dạng bản nháp"
    )


def stale_feature(feature_id: str, etag: str, sent: str) -> PreconditionFailed:
    """The error for a change to a feature whose ETag is no longer the one the editor sent."""
    return PreconditionFailed(
        f'feature {feature_id!r} has changed since it was read (ETag "{etag}", not '
        f'"{sent}"); read it again / đối tượng {feature_id!r} đã thay đổi từ lúc được đọc; '
        "hãy đọc lại",
        extra={"feature": feature_id, "etag": etag},
    )


def check_existence(what: str, item_id: str, exists: bool, new: bool | None) -> None:
    """Refuse to create what exists (409) or to add a version to what does not, or no longer
    does, exist (404); `new` None accepts either. Asked early to spare the work, and always
    again under the item's lock, where the answer holds."""
    if new is True and exists:
        raise Conflict(
            f"{what} {item_id!r} exists; send a new version with PUT / "
            f"{_VI[what]} {item_id!r} đã có; hãy gửi phiên bản mới bằng PUT"
        )
    if new is False and not exists:
        raise missing(what, item_id)
