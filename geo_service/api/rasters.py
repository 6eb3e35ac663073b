"""Raster layers: GIS staff register GeoTIFFs (stored as COGs); anyone lists them, draws their
map tiles and reads their legend."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool

from ..admin_store import AdminStore
from ..catalogue import LAYER_ID_PATTERN
from ..errors import LayerUnavailable
from ..rasters.ingest import ingest_raster
from ..rasters.meta import RasterMeta
from ..rasters.store import RasterStore, reading_cog
from ..rasters.tiles import legend, native_zoom, render_tile
from .auth import Admin, Editor
from .deps import AdminStoreDep, RasterStoreDep
from .links import JSON, base_url, link
from .strict_input import StrictRoute
from .upload_body import ReceivedForm, UploadForm, receive_form, refuse_an_existing_id
from .uploads import parse_metadata

router = APIRouter(tags=["Rasters"], route_class=StrictRoute)
PNG = "image/png"
TILE_CACHE_SECONDS = 3600
"""Tile URLs carry the raster's version (`?v=`), so a new version is new URLs."""


def raster_document(request: Request, meta: RasterMeta) -> dict[str, Any]:
    """A raster's metadata (all but the CRS's WKT) with its tile template and links."""
    url = f"{base_url(request)}/rasters/{meta.id}"
    tiles = f"{url}/tiles/{{z}}/{{x}}/{{y}}.png?v={meta.version}"
    document = meta.model_dump(exclude={"crs_wkt"})
    document["bbox"] = document.pop("bounds_wgs84")
    document["derived"] = [f"{meta.id}:slope"] if meta.kind == "dem" else []
    document["tiles"] = tiles
    document["max_native_zoom"] = native_zoom(meta)
    document["links"] = [
        link(url, "self", JSON, "This raster / Lớp raster này"),
        link(tiles, "tiles", PNG, "Web-mercator tiles (XYZ) / Ô bản đồ") | {"templated": True},
        link(f"{url}/legend", "legend", JSON, "Legend / Chú giải"),
    ]
    return document


@router.get("/rasters", summary="Raster layers / Các lớp raster")
def list_rasters(request: Request, rasters: RasterStoreDep) -> dict:
    """Every raster served; those whose files cannot be read are named in `skipped`."""
    listing = rasters.rasters()
    return {
        "rasters": [raster_document(request, meta) for meta in listing],
        "skipped": [s.to_dict() for s in listing.skipped],
        "links": [link(f"{base_url(request)}/rasters", "self", JSON, "Raster layers")],
    }


@router.get("/rasters/{raster_id}", summary="One raster layer / Một lớp raster")
def get_raster(request: Request, raster_id: str, rasters: RasterStoreDep) -> dict:
    return raster_document(request, rasters.get(raster_id)[0])


@router.get("/rasters/{raster_id}/legend", summary="A raster's legend / Chú giải")
def get_legend(raster_id: str, rasters: RasterStoreDep) -> dict:
    return legend(rasters.get(raster_id)[0])


@router.get(
    "/rasters/{raster_id}/tiles/{z}/{x}/{y}.png",
    summary="A web-mercator map tile / Một ô bản đồ",
    response_class=Response,
    responses={200: {"content": {PNG: {}}, "description": "a 256 × 256 RGBA PNG"}},
)
def get_tile(
    raster_id: str,
    z: Annotated[int, PathParam(description="zoom")],
    x: Annotated[int, PathParam(description="column, from the west")],
    y: Annotated[int, PathParam(description="row, from the north")],
    rasters: RasterStoreDep,
) -> Response:
    meta, path = rasters.get(raster_id)
    with reading_cog(raster_id):
        tile = render_tile(path, meta, z, x, y)
    return Response(
        tile,
        media_type=PNG,
        headers={"Cache-Control": f"public, max-age={TILE_CACHE_SECONDS}"},
    )


def _register(
    request: Request,
    raster_id: str,
    form: ReceivedForm,
    new: bool,
    dry_run: bool,
    token_id: str,
    admin: AdminStore,
    previous: dict | None = None,
) -> dict:
    settings = request.app.state.settings
    fields = (previous or {}) | parse_metadata(form.fields.get("metadata"))
    meta = ingest_raster(
        form.file,
        raster_id,
        fields,
        form.fields.get("crs"),
        settings.raster_max_pixels,
        settings.province,
        request.app.state.rasters,
        dry_run,
        new,
    )
    if not dry_run:
        admin.record(
            f"token:{token_id}",
            "raster.publish",
            raster_id,
            {"version": meta.version, "file": form.filename},
        )
    return {"published": not dry_run, "raster": raster_document(request, meta)}


RASTER_FIELDS = {
    "metadata": {
        "type": "string",
        "description": "JSON: title_vi, title_en, kind (dem|continuous), unit, source, licence, "
        "derived_from, colormap [[value, '#rrggbb'], …], value_range, nodata",
    },
    "crs": {"type": "string", "description": "CRS of a file that declares none"},
}
NEW_RASTER = UploadForm(
    "a single-band GeoTIFF",
    {"id": {"type": "string", "pattern": LAYER_ID_PATTERN.pattern}} | RASTER_FIELDS,
    ("id",),
)
NEW_RASTER_VERSION = UploadForm("a single-band GeoTIFF", RASTER_FIELDS)
KEPT_ACROSS_VERSIONS = {
    "title_vi", "title_en", "description_vi", "description_en", "kind", "unit", "source",
    "licence", "derived_from",
}  # fmt: skip
"""What a new version keeps of the previous one's metadata unless `metadata` says otherwise;
colours, value range and nodata follow the new data."""


def _saved_as(filename: str) -> str:
    return "upload.tif"


@router.post(
    "/admin/rasters",
    summary="Register a raster / Đăng ký lớp raster",
    tags=["Administration"],
    openapi_extra=NEW_RASTER.openapi(),
)
async def create_raster(
    request: Request,
    token: Editor,
    admin: AdminStoreDep,
    dry_run: bool = False,
) -> JSONResponse:
    rasters: RasterStore = request.app.state.rasters
    early = refuse_an_existing_id(lambda id_: bool(rasters.version_numbers(id_)), "raster")
    limit = request.app.state.settings.upload_max_bytes
    async with receive_form(request, NEW_RASTER, limit, _saved_as, early) as form:
        result = await run_in_threadpool(
            _register, request, form.fields["id"], form, True, dry_run, token.id, admin
        )
    return JSONResponse(result, status_code=200 if dry_run else 201)


@router.put(
    "/admin/rasters/{raster_id}",
    summary="A new version of a raster / Phiên bản mới",
    tags=["Administration"],
    openapi_extra=NEW_RASTER_VERSION.openapi(),
)
async def replace_raster(
    request: Request,
    raster_id: str,
    token: Editor,
    admin: AdminStoreDep,
    rasters: RasterStoreDep,
    dry_run: bool = False,
) -> dict:
    # before the body: the metadata it keeps; whether it still exists is asked again under the lock
    try:
        previous = rasters.get(raster_id)[0].model_dump(include=KEPT_ACROSS_VERSIONS)
    except LayerUnavailable:  # the version served is damaged: this one must say it all
        previous = None
    limit = request.app.state.settings.upload_max_bytes
    async with receive_form(request, NEW_RASTER_VERSION, limit, _saved_as) as form:
        return await run_in_threadpool(
            _register, request, raster_id, form, False, dry_run, token.id, admin, previous
        )


@router.get(
    "/admin/rasters/{raster_id}/versions",
    summary="Versions of a raster / Các phiên bản lớp raster",
    tags=["Administration"],
)
def raster_versions(raster_id: str, token: Editor, rasters: RasterStoreDep) -> dict:
    listed = []
    for summary in rasters.versions(raster_id):
        entry = {"version": summary.number, "current": summary.current}
        meta = summary.meta
        if meta is None:
            listed.append(entry | {"problem": summary.problem})
            continue
        listed.append(
            entry
            | {
                "written": summary.written,
                "title_vi": meta.title_vi,
                "title_en": meta.title_en,
                "updated": meta.updated,
                "width": meta.width,
                "height": meta.height,
                "value_range": list(meta.value_range),
            }
        )
    return {"raster": raster_id, "versions": listed}


@router.post(
    "/admin/rasters/{raster_id}/rollback",
    summary="Serve an earlier raster version / Quay lại phiên bản",
    tags=["Administration"],
)
def rollback_raster(
    request: Request,
    raster_id: str,
    token: Editor,
    admin: AdminStoreDep,
    rasters: RasterStoreDep,
    version: Annotated[int, Query(ge=1, description="the version to serve")],
) -> dict:
    rasters.activate(raster_id, version)
    meta = rasters.version_meta(raster_id, version)[0]
    admin.record(f"token:{token.id}", "raster.rollback", raster_id, {"version": version})
    return {"raster": raster_id, "current": version, "document": raster_document(request, meta)}


@router.delete(
    "/admin/rasters/{raster_id}",
    summary="Archive a raster (admin) / Lưu trữ lớp raster",
    tags=["Administration"],
)
def archive_raster(
    raster_id: str, token: Admin, admin: AdminStoreDep, rasters: RasterStoreDep
) -> dict:
    archived = rasters.archive(raster_id)
    admin.record(f"token:{token.id}", "raster.archive", raster_id, {"archive": archived})
    return {"raster": raster_id, "archived": archived}
