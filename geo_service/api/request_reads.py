"""Each HTTP request is one request of the store's reads (`store.request_reads`): whatever the
routes ask of a layer, the catalogue says which version is served once per request."""

from __future__ import annotations

import contextlib

from starlette.types import ASGIApp, Receive, Scope, Send

from ..store.request_reads import one_request


class OneCatalogueReadPerRequest:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        with one_request() if scope["type"] == "http" else contextlib.nullcontext():
            await self.app(scope, receive, send)
