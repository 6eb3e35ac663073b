"""Every error leaves as `{"code", "description"}` JSON with the right status, never a trace."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException

from ..errors import (
    Conflict,
    Forbidden,
    InvalidParameter,
    NotFound,
    ServiceError,
    TooLarge,
    Unauthorized,
    UnsupportedMediaType,
    refused,
)
from ..i18n import Text, _l, render
from ..i18n.validation import place, what
from .security import ALWAYS

log = logging.getLogger(__name__)


def rendered(value: Any) -> Any:
    """An error document with each `Text` in it in the request's language."""
    if isinstance(value, Text):
        return render(value)
    if isinstance(value, dict):
        return {key: rendered(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [rendered(item) for item in value]
    return value


def error_response(
    status: int,
    code: str,
    description: str,
    extra: dict | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        rendered({"code": code, "description": description, **(extra or {})}),
        status_code=status,
        headers=headers,
    )


HTTP_CODES = {
    400: InvalidParameter.code,
    401: Unauthorized.code,
    403: Forbidden.code,
    404: NotFound.code,
    405: "MethodNotAllowed",
    406: "NotAcceptable",
    409: Conflict.code,
    413: TooLarge.code,
    415: UnsupportedMediaType.code,
    429: "TooManyRequests",
}
"""The `code` of an error Starlette or FastAPI raise with only a status."""


def _unreadable(error: dict) -> Text:
    """Why the JSON body could not be read at all."""
    return _l("request body: {why}", why=error.get("ctx", {}).get("error", "not valid JSON"))


def _problem(error: dict) -> tuple[str | None, str]:
    """One validation error as (where, what), where past `query` or `body` (or that word, for
    the part as a whole); an unreadable JSON body, said as the body's."""
    if error["type"] == "json_invalid":
        return None, _unreadable(error)
    return place(error, 1) or str(error["loc"][0]), what(error)


ERROR_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["code", "description"],
    "properties": {
        "code": {"type": "string", "example": "InvalidParameterValue"},
        "description": {
            "type": "string",
            "example": "limit: 'abc' is not a whole number of at least 1",
        },
        "invalid-params": {
            "type": "array",
            "description": "each problem of a refused parameter or document (RFC 9457)",
            "items": {
                "type": "object",
                "required": ["reason"],
                "properties": {"name": {"type": "string"}, "reason": {"type": "string"}},
            },
        },
    },
}
"""What every error answers: OGC API's exception (`code`, `description`), with the problems
listed one by one where the input was refused."""


def with_error_responses(document: dict[str, Any]) -> dict[str, Any]:
    """The OpenAPI document saying what the service answers to bad input: 400 with the error
    document, where FastAPI writes a 422 with its own validation schema (never answered here,
    `invalid_request` turns it into the 400); and 404 where a path names something."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    schemas["Exception"] = ERROR_SCHEMA
    content = {"application/json": {"schema": {"$ref": "#/components/schemas/Exception"}}}
    refused = {"description": "bad input: what is wrong, and each problem by name"}
    unknown = {"description": "nothing of that id (collection, feature, project, …)"}
    for path, operations in document.get("paths", {}).items():
        for operation in operations.values():
            responses = operation.get("responses", {})
            if responses.pop("422", None) is not None:
                responses["400"] = {**refused, "content": content, **responses.get("400", {})}
            if "{" in path:
                responses["404"] = {**unknown, "content": content, **responses.get("404", {})}
    return document


def install_error_handlers(app: FastAPI) -> None:
    generated = app.openapi

    def openapi() -> dict[str, Any]:
        if not app.openapi_schema:
            app.openapi_schema = with_error_responses(generated())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return error_response(exc.status, exc.code, exc.description, exc.extra, exc.headers)

    @app.exception_handler(RequestValidationError)
    async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
        error = refused([_problem(e) for e in exc.errors()])
        return error_response(error.status, error.code, error.description, error.extra)

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        """Errors Starlette and FastAPI raise themselves: unknown path, wrong method, …"""
        code = HTTP_CODES.get(exc.status_code, "HTTPError")
        description = str(exc.detail)
        if exc.status_code == 404 and description == "Not Found":
            description = _l("no such path: {path}", path=request.url.path)
        elif exc.status_code == 405:
            allowed = (exc.headers or {}).get("Allow", "")
            description = _l(
                "method {method} is not allowed on {path}; allowed: {allowed}",
                method=request.method,
                path=request.url.path,
                allowed=allowed,
            )
        response = error_response(exc.status_code, code, description)
        response.headers.update(exc.headers or {})
        return response

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error on %s", request.url.path)
        # answered outside the middleware stack, so the security headers are added here
        return error_response(
            500, "ServerError", _l("unexpected server error; it has been logged"), headers=ALWAYS
        )
