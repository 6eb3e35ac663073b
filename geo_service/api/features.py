"""Features: pages of a collection's items, and one item by its stable id."""

from __future__ import annotations

import contextlib
import dataclasses

from fastapi import APIRouter, Request
from fastapi.responses import FileResponse, Response, StreamingResponse
from starlette.concurrency import run_in_threadpool

from ..clock import utc_now
from ..exports import PdfCache, Site, export_query
from ..geojson import (
    CHUNK_FEATURES,
    feature_collection,
    feature_document,
    kept_batches,
    written_batches,
)
from ..i18n import _l
from ..query import Query
from ..query_text import check_crs84
from ..settings import Settings
from ..store import Feature, Store
from .deps import (
    FeatureReadsDep,
    HeavyDep,
    ItemFormat,
    LangDep,
    PageOrExport,
    PageReadsDep,
    PdfCacheDep,
    SettingsDep,
    StoreDep,
)
from .downloads import file_download, sheets_download
from .edits import etag_header
from .heavy import HeavyExports
from .links import GEOJSON, JSON, base_url, link, paging_links
from .params import FEATURE_PARAMETERS, FeatureParams, FeatureQueryParams
from .strict_input import StrictRoute

router = APIRouter(tags=["Features"], route_class=StrictRoute)
# made once: a page or a feature is the busiest answer, and a `Text` is translated when made
THIS_PAGE, THE_COLLECTION = _l("This page"), _l("The collection")
THIS_FEATURE, ITS_HISTORY = _l("This feature"), _l("Its history")


@router.get(
    "/collections/{collection_id}/items",
    summary="Features of a collection / Các đối tượng",
    response_class=Response,
    responses={200: {"content": {GEOJSON: {}}, "description": "a GeoJSON FeatureCollection"}},
    openapi_extra=FEATURE_PARAMETERS,
)
async def items(
    request: Request,
    collection_id: str,
    params: FeatureParams,
    store: StoreDep,
    settings: SettingsDep,
    lang: LangDep,
    f: PageOrExport,
    heavy: HeavyDep,
    reads: PageReadsDep,
) -> Response:
    if f != "json":
        return await run_in_threadpool(
            export_response, store, collection_id, params, f, lang, settings, heavy
        )
    return await reads.run(page_response, request, store, collection_id, params, settings)


def page_response(
    request: Request,
    store: Store,
    collection_id: str,
    params: FeatureQueryParams,
    settings: Settings,
) -> Response:
    query = params.to_query(store.layer(collection_id), settings)
    check_crs84("crs", params.crs)
    kept = store.geojson_page(collection_id, query)
    if kept is not None:
        returned, matched, batches = len(kept.members), kept.number_matched, kept_batches(kept)
    else:
        page = store.query(collection_id, query)
        returned, matched = len(page.features), page.number_matched
        batches = written_batches(page.features)
    members = {
        "numberMatched": matched,
        "numberReturned": returned,
        "timeStamp": utc_now(),
        "links": page_links(request, collection_id, query, returned, matched),
    }
    chunks = feature_collection(batches, members)
    if returned > CHUNK_FEATURES:
        return StreamingResponse(chunks, media_type=GEOJSON)
    return Response(b"".join(chunks), media_type=GEOJSON)


def page_links(
    request: Request, collection_id: str, query: Query, returned: int, matched: int
) -> list[dict]:
    """self and collection, then next and prev where there is such a page."""
    return [
        link(str(request.url), "self", GEOJSON, THIS_PAGE),
        link(
            f"{base_url(request)}/collections/{collection_id}",
            "collection",
            JSON,
            THE_COLLECTION,
        ),
        *paging_links(request, GEOJSON, query.limit, query.offset, returned, matched),
    ]


@router.get(
    "/collections/{collection_id}/items/{feature_id}",
    summary="One feature / Một đối tượng",
    response_class=Response,
    responses={
        200: {"content": {GEOJSON: {}}, "description": "a GeoJSON Feature, with its ETag"},
        304: {"description": "unchanged since the ETag sent in If-None-Match"},
    },
)
async def item(
    request: Request,
    collection_id: str,
    feature_id: str,
    store: StoreDep,
    lang: LangDep,
    f: ItemFormat,
    pdf_cache: PdfCacheDep,
    heavy: HeavyDep,
    reads: FeatureReadsDep,
) -> Response:
    if f == "pdf":
        return await run_in_threadpool(
            site_sheet, request, store, collection_id, feature_id, lang, pdf_cache, heavy
        )
    feature = await store.awaited_feature(collection_id, feature_id)
    if feature is None:
        feature = await reads.run(store.feature, collection_id, feature_id)
    return feature_response(request, feature, collection_id, feature_id)


def site_sheet(
    request: Request,
    store: Store,
    collection_id: str,
    feature_id: str,
    lang: str,
    pdf_cache: PdfCache,
    heavy: HeavyExports,
) -> Response:
    """The feature's PDF site sheet."""
    feature = store.feature(collection_id, feature_id)
    url = f"{base_url(request)}/collections/{collection_id}/items/{feature_id}"
    site = Site(store.layer(collection_id), feature, url)
    return sheets_download(
        request, store, pdf_cache, heavy, lang, f"{collection_id}-{feature_id}",
        ("feature", collection_id, feature_id), lambda: [site],
    )  # fmt: skip


def feature_response(
    request: Request, feature: Feature, collection_id: str, feature_id: str
) -> Response:
    """The feature as GeoJSON, with its ETag (a 304 where the client holds it)."""
    collection_url = f"{base_url(request)}/collections/{collection_id}"
    etag = etag_header(feature)
    if if_none_match(request, etag):
        return Response(status_code=304, headers={"ETag": etag})
    links = {
        "links": [
            link(f"{collection_url}/items/{feature_id}", "self", GEOJSON, THIS_FEATURE),
            link(f"{collection_url}/items/{feature_id}/history", "version-history", JSON,
                 ITS_HISTORY),
            link(collection_url, "collection", JSON, THE_COLLECTION),
        ]
    }  # fmt: skip
    return Response(feature_document(feature, links), media_type=GEOJSON, headers={"ETag": etag})


def if_none_match(request: Request, etag: str) -> bool:
    """Whether the request's If-None-Match names `etag` (or `*`), compared weakly: the client
    holds what would be sent, so a 304 answers."""
    header = request.headers.get("if-none-match", "")
    tags = {tag.strip().removeprefix("W/") for tag in header.split(",") if tag.strip()}
    return etag in tags or "*" in tags


def export_response(
    store: Store,
    layer_id: str,
    params: FeatureQueryParams,
    f: str,
    lang: str,
    settings: Settings,
    heavy: HeavyExports,
) -> FileResponse:
    """The whole result as a download; one of more than `settings.large_export` features takes
    a heavy-export slot while it is written."""
    query = params.to_query(store.layer(layer_id), settings)
    matched = store.query(layer_id, dataclasses.replace(query, limit=0, offset=0)).number_matched
    with heavy.slot() if matched > settings.large_export else contextlib.nullcontext():
        return file_download(
            *export_query(store, layer_id, query, f, params.crs, lang, settings.max_export)
        )
