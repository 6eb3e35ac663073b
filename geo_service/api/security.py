"""Security headers: every response is `nosniff`, sends no full URL to other sites and may not be
framed; every HTML page carries a Content-Security-Policy.

A page's policy lets scripts and styles come from this service only. Folium writes a few inline
`<script>` and `<style>` blocks; rather than allowing inline code at all (`'unsafe-inline'`),
the policy names each block by its SHA-256, computed from the page as it is sent, so an
injected script or style would not run. Nothing needs `eval`. Images may also come from the
basemap tile hosts the page's map definition uses.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from fastapi.responses import HTMLResponse
from starlette.datastructures import MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

CSP = "Content-Security-Policy"
ALWAYS = {
    "X-Content-Type-Options": "nosniff",
    # the origin only, to other sites: tile servers (OpenStreetMap's policy asks for a Referer)
    # learn which site asks, never which page, filter or shortlist
    "Referrer-Policy": "strict-origin-when-cross-origin",
    "X-Frame-Options": "DENY",
}
_INLINE = re.compile(r"<(script|style)(\s[^>]*)?>(.*?)</\1\s*>", re.S | re.I)
_SRC = re.compile(r"\bsrc\s*=", re.I)
_TYPE = re.compile(r"\btype\s*=\s*[\"']?([^\"'\s>]+)", re.I)
_SCRIPT_TYPES = {"text/javascript", "application/javascript", "module"}


def _digest(text: str) -> str:
    return "'sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode() + "'"


def _runs(attributes: str) -> bool:
    """Whether a `<script>` with these attributes runs inline code."""
    kind = _TYPE.search(attributes)
    return not _SRC.search(attributes) and (kind is None or kind[1].lower() in _SCRIPT_TYPES)


def inline_hashes(html: str) -> tuple[list[str], list[str]]:
    """The CSP hashes of the page's inline scripts and of its inline style blocks; a `<script>`
    with a `src`, or of a data type (`application/json`), runs nothing and needs none."""
    scripts, styles = [], []
    for tag, attributes, body in _INLINE.findall(html):
        if tag.lower() == "style":
            styles.append(_digest(body))
        elif _runs(attributes):
            scripts.append(_digest(body))
    return sorted(set(scripts)), sorted(set(styles))


def tile_source(url_template: str) -> str:
    """A tile URL template's origin as a CSP source (`{s}` subdomains as a wildcard)."""
    parts = urlsplit(url_template)
    labels = parts.hostname.split(".") if parts.hostname else []
    if labels and "{" in labels[0]:
        labels[0] = "*"
    return f"{parts.scheme}://{'.'.join(labels)}"


def content_security_policy(html: str, image_sources: Iterable[str] = ()) -> str:
    scripts, styles = inline_hashes(html)
    directives = {
        "default-src": ["'self'"],
        "script-src": ["'self'", *scripts],
        "style-src": ["'self'", *styles],
        "img-src": ["'self'", "data:", *sorted(set(image_sources))],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "object-src": ["'none'"],
        "base-uri": ["'none'"],
        "form-action": ["'self'"],
        "frame-ancestors": ["'none'"],
    }
    return "; ".join(" ".join([name, *sources]) for name, sources in directives.items())


def html_page(html: str, image_sources: Iterable[str] = ()) -> HTMLResponse:
    """An HTML answer with the policy its own inline code needs."""
    return HTMLResponse(html, headers={CSP: content_security_policy(html, image_sources)})


class SecurityHeaders:
    """Adds ALWAYS to every response, and to an HTML one sent without a policy the strictest
    (nothing but its own markup)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in ALWAYS.items():
                    headers.setdefault(name, value)
                if headers.get("content-type", "").startswith("text/html"):
                    headers.setdefault(CSP, "default-src 'none'; frame-ancestors 'none'")
            await send(message)

        await self.app(scope, receive, with_headers)
