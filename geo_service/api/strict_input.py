"""Every route reads its raw input strictly, in one place: `StrictRoute` is the route class of
every router.

- A JSON body must come as `Content-Type: application/json` (or `…+json`), and is parsed by
  `strict_json.loads`: NaN, Infinity, numbers that overflow to
  infinity, lone surrogates and absurd nesting are a 400 that says what and where, before any
  model sees the document (Starlette's `json.loads` accepts all of them).
- The path and query string must be UTF-8 once percent-decoded: `%ED%A0%80` (an encoded lone
  surrogate) or `%FF` is a 400, not text silently replaced by U+FFFD.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine
from typing import Any
from urllib.parse import unquote_to_bytes

from fastapi import Request, Response, params
from fastapi.routing import APIRoute

from ..errors import InvalidParameter
from ..i18n import _l, said
from ..strict_json import StrictJSONError
from ..strict_json import loads as strict_loads


class StrictJSONRequest(Request):
    async def json(self) -> Any:
        """The body by the strict parser; FastAPI reports a refusal as an invalid JSON body."""
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                self._json = strict_loads(body)
            except StrictJSONError as exc:
                # FastAPI puts the message (a `Text`, kept) in the error it reports
                why = said(exc)
                raise json.JSONDecodeError(why, body.decode("utf-8", "replace"), 0) from None
        return self._json


def check_utf8(request: Request) -> None:
    """A 400 unless the raw path and query string percent-decode to UTF-8."""
    for name, raw in (
        ("path", request.scope.get("raw_path") or b""),
        ("query string", request.scope.get("query_string") or b""),
    ):
        try:
            unquote_to_bytes(raw.replace(b"+", b" ")).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidParameter(
                _l(
                    "the {name} is not UTF-8 once percent-decoded (byte {start}: {reason})",
                    name=name,
                    start=exc.start,
                    reason=exc.reason,
                )
            ) from None


def is_json(content_type: str) -> bool:
    media = content_type.partition(";")[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


class StrictRoute(APIRoute):
    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()
        takes_json = self.body_field is not None and not isinstance(
            self.body_field.field_info, params.Form
        )

        async def strict_handler(request: Request) -> Response:
            check_utf8(request)
            strict = StrictJSONRequest(request.scope, request.receive)
            content_type = request.headers.get("content-type", "")
            if takes_json and await strict.body() and not is_json(content_type):
                raise InvalidParameter(
                    _l(
                        "the body must be JSON sent as Content-Type: application/json (got {value})",
                        value=content_type or "no Content-Type",
                    )
                )
            return await handler(strict)

        return strict_handler
