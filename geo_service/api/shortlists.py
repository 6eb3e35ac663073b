"""Shortlists: create, read, change (with the edit key) and export a planner's list of sites."""

from __future__ import annotations

import contextlib
import dataclasses
from typing import Annotated, Any

from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, Response
from pydantic import BaseModel, Field

from ..catalogue import LAYER_ID_PATTERN
from ..errors import LayerUnavailable, NotFound
from ..exports import (
    FORMATS,
    export_shortlist,
    layer_groups,
    shortlist_query,
    shortlist_sites,
)
from ..i18n import _l
from ..shortlists import ItemRef, Shortlist
from ..store import Store
from ..text import Text, TextId
from .deps import HeavyDep, LangDep, PdfCacheDep, ShortlistFormat, ShortlistsDep, StoreDep
from .downloads import file_download, sheets_download
from .links import GEOJSON, JSON, base_url, link
from .strict_input import StrictRoute

router = APIRouter(tags=["Shortlists"], route_class=StrictRoute)


class Item(BaseModel):
    collection: str = Field(pattern=LAYER_ID_PATTERN.pattern, examples=["industrial_zones"])
    id: TextId = Field(min_length=1, max_length=200, examples=["SL-KCN-MAISON-1"])

    def ref(self) -> ItemRef:
        return ItemRef(self.collection, self.id)


class ShortlistIn(BaseModel):
    name: Text = Field(min_length=1, max_length=200)
    note: Text = Field("", max_length=4000)
    items: list[Item] = Field(default_factory=list)


class ShortlistChange(BaseModel):
    name: Text | None = Field(None, min_length=1, max_length=200)
    note: Text | None = Field(None, max_length=4000)
    add: list[Item] = Field(default_factory=list)
    remove: list[Item] = Field(default_factory=list)


def describe(request: Request, store: Store, shortlist: Shortlist) -> dict[str, Any]:
    """The list with each item resolved: its names and link, or `found: false` if it has gone."""
    root = base_url(request)
    found: dict[ItemRef, dict] = {}
    for meta, ids in layer_groups(store, shortlist):
        query = dataclasses.replace(shortlist_query(ids), properties=("name_vi", "name_en"))
        with contextlib.suppress(NotFound, LayerUnavailable):  # archived or damaged meanwhile
            for feature in store.query(meta.id, query).features:
                found[ItemRef(meta.id, feature.id)] = feature.properties
    items = []
    for item in shortlist.items:
        entry: dict[str, Any] = {
            "collection": item.collection,
            "id": item.id,
            "found": item in found,
        }
        if item in found:
            entry.update(found[item])
            entry["href"] = f"{root}/collections/{item.collection}/items/{item.id}"
        else:
            entry["reason"] = _l("the site is no longer in the catalogue")
        items.append(entry)
    url = f"{root}/shortlists/{shortlist.id}"
    return {
        "id": shortlist.id,
        "name": shortlist.name,
        "note": shortlist.note,
        "created": shortlist.created,
        "updated": shortlist.updated,
        "items": items,
        "links": [
            link(url, "self", JSON, _l("This shortlist")),
            *(
                link(
                    f"{url}/export?f={f}",
                    "enclosure",
                    FORMATS[f].media_type,
                    _l("Export as {f}", f=f),
                )
                for f in FORMATS
            ),
            link(f"{root}/collections", "data", GEOJSON, _l("Collections")),
        ],
    }


@router.post("/shortlists", status_code=201, summary="Create a shortlist / Tạo danh sách")
def create(request: Request, body: ShortlistIn, shortlists: ShortlistsDep, store: StoreDep) -> dict:
    client = request.client.host if request.client else "unknown"
    shortlist, key = shortlists.create(body.name, body.note, [i.ref() for i in body.items], client)
    return {**describe(request, store, shortlist), "edit_key": key}


@router.get("/shortlists/{shortlist_id}", summary="Read a shortlist / Xem danh sách")
def read(request: Request, shortlist_id: str, shortlists: ShortlistsDep, store: StoreDep) -> dict:
    return describe(request, store, shortlists.get(shortlist_id))


@router.patch("/shortlists/{shortlist_id}", summary="Change a shortlist (edit key) / Sửa danh sách")
def change(
    request: Request,
    shortlist_id: str,
    body: ShortlistChange,
    shortlists: ShortlistsDep,
    store: StoreDep,
    key: Annotated[str | None, Header(alias="X-Shortlist-Key")] = None,
) -> dict:
    shortlist = shortlists.update(
        shortlist_id,
        key,
        name=body.name,
        note=body.note,
        add=[i.ref() for i in body.add],
        remove=[i.ref() for i in body.remove],
    )
    return describe(request, store, shortlist)


@router.delete(
    "/shortlists/{shortlist_id}",
    status_code=204,
    summary="Delete a shortlist (edit key) / Xóa danh sách",
)
def delete(
    shortlist_id: str,
    shortlists: ShortlistsDep,
    key: Annotated[str | None, Header(alias="X-Shortlist-Key")] = None,
) -> Response:
    shortlists.delete(shortlist_id, key)
    return Response(status_code=204)


@router.get("/shortlists/{shortlist_id}/export", summary="Export a shortlist / Xuất danh sách")
def export(
    request: Request,
    shortlist_id: str,
    shortlists: ShortlistsDep,
    store: StoreDep,
    lang: LangDep,
    f: ShortlistFormat,
    pdf_cache: PdfCacheDep,
    heavy: HeavyDep,
    crs: Annotated[str | None, Query(description="output CRS, e.g. EPSG:9206")] = None,
) -> FileResponse:
    shortlist = shortlists.get(shortlist_id)
    if f == "pdf":
        items = [(item.collection, item.id) for item in shortlist.items]
        return sheets_download(
            request, store, pdf_cache, heavy, lang, f"shortlist-{shortlist.id}",
            ("shortlist", shortlist.id, shortlist.updated, items),
            lambda: shortlist_sites(store, shortlist, base_url(request)),
        )  # fmt: skip
    return file_download(*export_shortlist(store, shortlist, f, crs, lang))
