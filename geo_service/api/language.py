"""The language a request chose, kept for the whole request (errors are rendered in it)."""

from __future__ import annotations

from urllib.parse import parse_qs

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Receive, Scope, Send

from ..i18n import accepted, parse_lang, request_language


class RequestLanguage:
    """Sets `i18n.request_language` from `lang=`, else `Accept-Language` (None if neither names
    one of ours, so an error then reads in Vietnamese and English, as it always did)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
        chosen = parse_lang((query.get("lang") or [None])[0]) or accepted(
            Headers(scope=scope).get("accept-language")
        )
        token = request_language.set(chosen)
        try:
            await self.app(scope, receive, send)
        finally:
            request_language.reset(token)
