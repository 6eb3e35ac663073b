"""Absolute links for OGC API documents, built from the request's own base URL."""

from __future__ import annotations

from typing import Any

from fastapi import Request

from ..i18n import _l, render

JSON = "application/json"
GEOJSON = "application/geo+json"
OPENAPI = "application/vnd.oai.openapi+json;version=3.0"
HTML = "text/html"
PDF = "application/pdf"


NEXT_PAGE, PREVIOUS_PAGE = _l("Next page"), _l("Previous page")
"""Made once: paging links are on every page answered."""


def base_url(request: Request) -> str:
    return str(request.base_url).rstrip("/")


def link(href: str, rel: str, media_type: str, title: str | None = None) -> dict[str, Any]:
    """A link; its title (a `Text`) in the request's language."""
    item = {"href": href, "rel": rel, "type": media_type}
    if title:
        item["title"] = render(title)
    return item


def with_params(request: Request, **changes: Any) -> str:
    """This request's URL with some query parameters set to new values."""
    return str(request.url.include_query_params(**changes))


def paging_links(
    request: Request, media_type: str, limit: int, offset: int, returned: int, matched: int
) -> list[dict[str, Any]]:
    """`next` and `prev`, where there is such a page: this request at another offset."""
    links = []
    if offset + returned < matched:
        links.append(
            link(with_params(request, offset=offset + limit), "next", media_type, NEXT_PAGE)
        )
    if offset > 0:
        previous = with_params(request, offset=max(offset - limit, 0))
        links.append(link(previous, "prev", media_type, PREVIOUS_PAGE))
    return links
