"""Every dependency the routers share, declared once: the stores and services the application
holds (`create_app` puts them on `app.state`, and only this module reads it back), the settings,
and the answer's language and format, each decided here for every route that takes it.

They do no I/O, so they are `async`: FastAPI then runs them on the event loop instead of handing
each one to the thread pool.
"""

from typing import Annotated, Any, Literal

from fastapi import Depends, Query, Request

from ..admin_store import AdminStore
from ..errors import InvalidParameter
from ..exports import FORMATS, PdfCache
from ..rasters.store import RasterStore
from ..settings import Settings
from ..shortlists import ShortlistStore
from ..store import Store
from .heavy import HeavyExports

Lang = Literal["vi", "en"]


async def get_store(request: Request) -> Store:
    return request.app.state.store


async def get_rasters(request: Request) -> RasterStore:
    return request.app.state.rasters


async def get_settings(request: Request) -> Settings:
    return request.app.state.settings


async def get_admin_store(request: Request) -> AdminStore:
    return request.app.state.admin


async def get_shortlists(request: Request) -> ShortlistStore:
    return request.app.state.shortlists


async def get_pdf_cache(request: Request) -> PdfCache:
    return request.app.state.pdf_cache


async def get_heavy(request: Request) -> HeavyExports:
    return request.app.state.heavy


async def get_openapi_30(request: Request) -> dict[str, Any]:
    """The service description as OpenAPI 3.0, made once at start-up."""
    return request.app.state.openapi_30


async def get_lang(
    request: Request,
    lang: Annotated[
        Lang | None, Query(description="vi or en (default: Accept-Language, then vi)")
    ] = None,
) -> Lang:
    if lang:
        return lang
    accepted = request.headers.get("accept-language", "").lower()
    return "en" if accepted.startswith("en") else "vi"


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
                    f"f={f!r} is not offered here; use one of: {', '.join(allowed)}"
                )
            return f
        accept = request.headers.get("accept", "")
        if html and "html" in allowed and accept.startswith("text/html"):
            return "html"
        return allowed[0]

    return negotiate


StoreDep = Annotated[Store, Depends(get_store)]
RasterStoreDep = Annotated[RasterStore, Depends(get_rasters)]
SettingsDep = Annotated[Settings, Depends(get_settings)]
AdminStoreDep = Annotated[AdminStore, Depends(get_admin_store)]
ShortlistsDep = Annotated[ShortlistStore, Depends(get_shortlists)]
PdfCacheDep = Annotated[PdfCache, Depends(get_pdf_cache)]
HeavyDep = Annotated[HeavyExports, Depends(get_heavy)]
OpenAPI30Dep = Annotated[dict[str, Any], Depends(get_openapi_30)]
LangDep = Annotated[Lang, Depends(get_lang)]

# the formats each kind of answer offers, the first being the default
JsonOnly = Annotated[str, Depends(output_format(("json",)))]
JsonOrHtml = Annotated[str, Depends(output_format(("json", "html"), html=True))]
ItemFormat = Annotated[str, Depends(output_format(("json", "geojson", "pdf")))]
PageOrExport = Annotated[str, Depends(output_format(("json", *FORMATS)))]
RankFormat = Annotated[str, Depends(output_format(("json", "csv", "xlsx")))]
ShortlistFormat = Annotated[str, Depends(output_format((*FORMATS, "pdf")))]
