"""Raster layers: anyone lists them, draws their map tiles and reads their legend; GIS staff
register GeoTIFFs (stored as COGs) and administer their versions (`version_admin`)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi import Path as PathParam
from fastapi.responses import Response

from ..catalogue import LAYER_ID_PATTERN
from ..errors import LayerUnavailable
from ..i18n import _l
from ..rasters.ingest import ingest_raster
from ..rasters.meta import RasterMeta
from ..rasters.store import RasterStore, reading_cog
from ..rasters.tiles import legend, native_zoom, render_tile
from ..store import VersionSummary
from .deps import RasterStoreDep, get_rasters
from .links import JSON, base_url, link
from .strict_input import StrictRoute
from .upload_body import ReceivedForm, UploadForm, parse_metadata
from .version_admin import Route, Uploading, VersionAdmin

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
        link(url, "self", JSON, _l("This raster")),
        link(tiles, "tiles", PNG, _l("Web-mercator tiles (XYZ)")) | {"templated": True},
        link(f"{url}/legend", "legend", JSON, _l("Legend")),
    ]
    return document


@router.get("/rasters", summary="Raster layers / Các lớp raster")
def list_rasters(request: Request, rasters: RasterStoreDep) -> dict:
    """Every raster served; those whose files cannot be read are named in `skipped`."""
    listing = rasters.rasters()
    return {
        "rasters": [raster_document(request, meta) for meta in listing],
        "skipped": [s.to_dict() for s in listing.skipped],
        "links": [link(f"{base_url(request)}/rasters", "self", JSON, _l("Raster layers"))],
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


class RasterAdmin(VersionAdmin):
    """Rasters: an upload is checked and turned into a COG (`rasters.ingest`), and published at
    once (rasters have no drafts)."""

    def upload(
        self, sent: Uploading, item_id: str, form: ReceivedForm, new: bool
    ) -> tuple[dict[str, Any], bool]:
        store: RasterStore = sent.store
        fields = {} if new else self._kept(store, item_id)
        fields |= parse_metadata(form.fields.get("metadata"))
        settings = sent.settings
        meta = ingest_raster(
            form.file,
            item_id,
            fields,
            form.fields.get("crs"),
            settings.raster_max_pixels,
            settings.province,
            store,
            sent.dry_run,
            new,
        )
        if not sent.dry_run:
            details = {"version": meta.version, "file": form.filename}
            sent.admin.record(sent.actor, "raster.publish", item_id, details)
        document = raster_document(sent.request, meta)
        return {"published": not sent.dry_run, "raster": document}, not sent.dry_run

    @staticmethod
    def _kept(store: RasterStore, raster_id: str) -> dict[str, Any]:
        """What a new version keeps of the served one; nothing if that cannot be read (the new
        one must then say it all). Whether the raster still exists is asked again as it is published."""
        try:
            return store.get(raster_id)[0].model_dump(include=KEPT_ACROSS_VERSIONS)
        except LayerUnavailable:
            return {}

    def saved_as(self, filename: str) -> str:
        return "upload.tif"

    def details(self, summary: VersionSummary) -> dict[str, Any]:
        meta = summary.meta
        return {"width": meta.width, "height": meta.height, "value_range": list(meta.value_range)}

    def rollback_answer(
        self, request: Request, store: RasterStore, raster_id: str, version: int
    ) -> dict[str, Any]:
        return {"document": raster_document(request, store.version_meta(raster_id, version)[0])}


administration = RasterAdmin(
    kind="raster",
    prefix="/admin/rasters",
    id_name="raster_id",
    store=get_rasters,
    new_item=NEW_RASTER,
    new_version=NEW_RASTER_VERSION,
    tags=["Administration"],
    routes={
        "create": Route("create_raster", "Register a raster / Đăng ký lớp raster"),
        "replace": Route("replace_raster", "A new version of a raster / Phiên bản mới"),
        "versions": Route("raster_versions", "Versions of a raster / Các phiên bản lớp raster"),
        "rollback": Route(
            "rollback_raster", "Serve an earlier raster version / Quay lại phiên bản"
        ),
        "archive": Route("archive_raster", "Archive a raster (admin) / Lưu trữ lớp raster"),
    },
)
router.include_router(administration.router)
