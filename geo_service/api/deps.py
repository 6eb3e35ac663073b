"""Every dependency the routers share, declared once: the stores and services the application
holds (`create_app` puts them on `app.state`, and only this module reads it back), the settings,
and the answer's language and format, each decided here for every route that takes it.

They do no I/O, so they are `async`: FastAPI then runs them on the event loop instead of handing
each one to the thread pool.
"""

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import Depends, Query, Request

from ..admin_store import AdminStore
from ..dashboard.summary import Dashboard
from ..edits import Editing
from ..errors import InvalidParameter
from ..exports import FORMATS, PdfCache
from ..i18n import Lang, _l, negotiate
from ..kind_versions import KindRegistry
from ..memory_cache import MemoryCache
from ..pipeline.enquiries import EnquiryStore
from ..pipeline.projects import KeptAnswer, ProjectStore
from ..query import MAX_INTEGER
from ..rasters.store import RasterStore
from ..records import Records
from ..review import Review
from ..settings import Settings
from ..shortlists import ShortlistStore
from ..store import Store
from ..vector_tiles import VectorTiles
from .heavy import HeavyExports
from .openapi30 import to_openapi_30
from .read_slots import ReadSlots


def held(name: str) -> Callable[[Request], Awaitable[Any]]:
    """A dependency giving what `create_app` holds as `app.state.<name>`."""

    async def dependency(request: Request) -> Any:
        return getattr(request.app.state, name)

    dependency.__name__ = f"get_{name}"
    return dependency


get_store = held("store")
get_rasters = held("rasters")


async def get_lang(
    request: Request,
    lang: Annotated[
        Lang | None,
        Query(description="vi, en, ja, ko or zh (default: Accept-Language, then vi)"),
    ] = None,
) -> Lang:
    return negotiate(lang, request.headers.get("accept-language"))


def output_format(allowed: tuple[str, ...], html: bool = False):
    """A dependency choosing the response format from `f=` or the Accept header.

    JSON is the default; HTML only when asked for explicitly (`f=html`, or Accept preferring
    text/html) and only where the endpoint has an HTML view.
    """

    async def negotiate(
        request: Request,
        f: Annotated[
            str | None, Query(description=f"response format: {', '.join(allowed)}")
        ] = None,
    ) -> str:
        if f is not None:
            if f not in allowed:
                raise InvalidParameter(
                    _l(
                        "f={f!r} is not offered here; use one of: {value}",
                        f=f,
                        value=", ".join(allowed),
                    )
                )
            return f
        accept = request.headers.get("accept", "")
        if html and "html" in allowed and accept.startswith("text/html"):
            return "html"
        return allowed[0]

    return negotiate


StoreDep = Annotated[Store, Depends(get_store)]
RasterStoreDep = Annotated[RasterStore, Depends(get_rasters)]
SettingsDep = Annotated[Settings, Depends(held("settings"))]
AdminStoreDep = Annotated[AdminStore, Depends(held("admin"))]
ShortlistsDep = Annotated[ShortlistStore, Depends(held("shortlists"))]
PdfCacheDep = Annotated[PdfCache, Depends(held("pdf_cache"))]
HeavyDep = Annotated[HeavyExports, Depends(held("heavy"))]
PageReadsDep = Annotated[ReadSlots, Depends(held("page_reads"))]
FeatureReadsDep = Annotated[ReadSlots, Depends(held("feature_reads"))]
TileReadsDep = Annotated[ReadSlots, Depends(held("tile_reads"))]
RecordsDep = Annotated[Records, Depends(held("records"))]
DashboardDep = Annotated[Dashboard, Depends(held("dashboard"))]
ProjectsDep = Annotated[ProjectStore, Depends(held("projects"))]
ProjectPagesDep = Annotated[MemoryCache[KeptAnswer], Depends(held("project_pages"))]
EnquiriesDep = Annotated[EnquiryStore, Depends(held("enquiries"))]
VectorTilesDep = Annotated[VectorTiles, Depends(held("tiles"))]


def get_openapi_30(request: Request) -> dict[str, Any]:
    """The service description as OpenAPI 3.0, made on the first request for it and kept: made
    at start-up, it took most of the time an app takes to start."""
    state = request.app.state
    if getattr(state, "openapi_30", None) is None:
        state.openapi_30 = to_openapi_30(request.app.openapi())
    return state.openapi_30


OpenAPI30Dep = Annotated[dict[str, Any], Depends(get_openapi_30)]
LangDep = Annotated[Lang, Depends(get_lang)]
KindsDep = Annotated[KindRegistry, Depends(held("kinds"))]
"""The layer kinds in force: the kinds files' and those admins put."""


def kinds_of(request: Request) -> KindRegistry:
    """The kinds registry, for code that holds the request but takes no dependencies."""
    return request.app.state.kinds


async def get_editing(store: StoreDep, admin: AdminStoreDep, settings: SettingsDep) -> Editing:
    return Editing(store, admin, settings)


async def get_review(store: StoreDep, admin: AdminStoreDep, settings: SettingsDep) -> Review:
    return Review(store, admin, settings)


EditingDep = Annotated[Editing, Depends(get_editing)]
ReviewDep = Annotated[Review, Depends(get_review)]


@dataclass(frozen=True)
class RecordPage:
    """Which page of a list of records (projects, enquiries) is asked: `limit` within the
    settings' bounds, `offset` one the records database can be asked for (64 bits)."""

    limit: int
    offset: int


async def get_record_page(
    settings: SettingsDep,
    limit: Annotated[
        int | None, Query(ge=1, description="records per page (default and maximum: the settings)")
    ] = None,
    offset: Annotated[int, Query(ge=0, le=MAX_INTEGER, description="records skipped")] = 0,
) -> RecordPage:
    return RecordPage(min(limit or settings.default_limit, settings.max_limit), offset)


RecordPageDep = Annotated[RecordPage, Depends(get_record_page)]

# the formats each kind of answer offers, the first being the default
JsonOnly = Annotated[str, Depends(output_format(("json",)))]
JsonOrHtml = Annotated[str, Depends(output_format(("json", "html"), html=True))]
ItemFormat = Annotated[str, Depends(output_format(("json", "geojson", "pdf")))]
PageOrExport = Annotated[str, Depends(output_format(("json", *FORMATS)))]
RankFormat = Annotated[str, Depends(output_format(("json", "csv", "xlsx")))]
ShortlistFormat = Annotated[str, Depends(output_format((*FORMATS, "pdf")))]
