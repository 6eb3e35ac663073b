"""JSON request bodies of the records API: size-limited, parsed strictly, documented.

Bodies are read here rather than by FastAPI so that a body over the limit is a 413 before it is
parsed, and so that parsing is `strict_json` (no NaN, Infinity or lone surrogates). The model's
JSON schema is still published in the OpenAPI document (`body_schema`).
"""

from __future__ import annotations

from typing import Any

from fastapi import Request
from pydantic import BaseModel

from .. import strict_json
from ..errors import InvalidParameter, TooLarge, UnsupportedMediaType
from ..i18n import _l, said
from .deps import SettingsDep
from .strict_input import is_json


async def read_json(request: Request, limit: int) -> Any:
    """The request's JSON document; 413 past `limit` bytes, 400 if empty or not JSON."""
    declared = request.headers.get("content-length", "")
    too_large = TooLarge(_l("the body is larger than {limit:,} bytes", limit=limit))
    if declared.isdigit() and int(declared) > limit:
        raise too_large
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise too_large
    if not body:
        raise InvalidParameter(_l("the body is empty; send a JSON object"))
    try:
        return strict_json.loads(bytes(body))
    except strict_json.StrictJSONError as exc:
        raise InvalidParameter(said(exc)) from None


async def json_body(request: Request, settings: SettingsDep) -> Any:
    """A records API body: up to `records_max_body_bytes`."""
    return await read_json(request, settings.records_max_body_bytes)


async def edit_body(request: Request, settings: SettingsDep) -> Any:
    """A feature edit's or a change set's body: up to `edit_max_body_bytes`, JSON of any
    `application/…+json` type (GeoJSON, merge patch)."""
    if not is_json(request.headers.get("content-type", "")):
        raise UnsupportedMediaType(
            _l(
                "send the body as JSON: Content-Type application/geo+json, application/json or "
                "application/merge-patch+json"
            )
        )
    return await read_json(request, settings.edit_max_body_bytes)


def body_schema(model: type[BaseModel], *media_types: str) -> dict[str, Any]:
    """`openapi_extra` documenting a JSON body of `model` (its definitions inlined)."""
    schema = model.model_json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
        return {key: inline(value) for key, value in node.items()}

    content = {media: {"schema": inline(schema)} for media in media_types or ("application/json",)}
    return {"requestBody": {"required": True, "content": content}}
