"""The application factory: `create_app(settings)` wires a store and the routers."""

from __future__ import annotations

import contextlib
import gc
import logging
import threading
from collections.abc import AsyncIterator

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.middleware.gzip import GZipMiddleware
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from . import __version__
from .admin_store import AdminStore
from .api import (
    admin,
    analysis,
    collections,
    dashboard,
    edits,
    enquiries,
    facets,
    features,
    grid,
    health,
    kinds,
    landing,
    maps,
    projects,
    rasters,
    shortlists,
    tiles,
)
from .api.errors import install_error_handlers
from .api.heavy import HeavyExports
from .api.language import RequestLanguage
from .api.read_slots import ReadSlots
from .api.request_reads import OneCatalogueReadPerRequest
from .api.security import SecurityHeaders
from .dashboard.summary import Dashboard
from .exports import PdfCache
from .kind_versions import KindRegistry
from .memory_cache import MemoryCache
from .pipeline.enquiries import EnquiryStore
from .pipeline.layer import with_projects
from .pipeline.projects import ProjectStore
from .rasters.store import RasterStore
from .records import Records, upgrade
from .settings import Settings
from .shortlists import ShortlistStore
from .store import Store, open_store
from .vector_tiles import VectorTiles

log = logging.getLogger(__name__)


@contextlib.asynccontextmanager
async def lifespan(app: FastAPI) -> AsyncIterator[None]:
    """Warm the store in the background: the service answers at once, large layers get faster;
    and spare requests the collector's passes over what start-up made."""

    def warm() -> None:
        try:
            app.state.store.warm()
        except Exception:  # a broken layer is reported by the requests that touch it
            log.exception("warming the store failed")

    threading.Thread(target=warm, name="warm-store", daemon=True).start()
    try:
        app.state.dashboard.warm()
    except Exception:  # a broken targets file is reported by the requests that read it
        log.exception("warming the dashboard failed")
    # what start-up made (modules, catalogue, settings) lives as long as the process: keep it
    # out of the collector's full passes, which over some 300,000 objects take 100-175 ms and
    # stall whichever request triggers one
    gc.collect()
    gc.freeze()
    async with app.state.store.awaited_reads():
        yield
    gc.unfreeze()
    app.state.records.dispose()
    app.state.store.dispose()


def create_app(settings: Settings | None = None, store: Store | None = None) -> FastAPI:
    """The service over `settings`; `store` keeps the layers (the data directory's GeoPackages
    by default), the records database the pipeline's projects, served as a layer too."""
    settings = settings or Settings()
    app = FastAPI(
        title=f"{settings.title_vi} / {settings.title_en}",
        version=__version__,
        description="OGC API – Features over the investment-site catalogue.",
        docs_url=None,  # served by the maps router, with our own copy of Swagger UI
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.rasters = RasterStore(settings.data_dir)
    app.state.kinds = KindRegistry(settings.kinds_dir, settings.data_dir)
    app.state.pdf_cache = PdfCache(settings.data_dir / "_cache" / "pdf", settings.pdf_cache_bytes)
    app.state.heavy = HeavyExports(settings.heavy_exports, settings.heavy_export_wait)
    app.state.page_reads = ReadSlots(settings.read_threads)
    app.state.feature_reads = ReadSlots(settings.read_threads)
    app.state.tile_reads = ReadSlots(settings.read_threads)
    app.state.records = Records.from_settings(settings)
    # several workers may start at once: it takes a lock
    upgrade(app.state.records, settings.data_dir)
    app.state.admin = AdminStore(app.state.records)
    app.state.shortlists = ShortlistStore.from_settings(app.state.records, settings)
    app.state.projects = ProjectStore(app.state.records, settings.procedures_dir)
    app.state.project_pages = MemoryCache(settings.pipeline_cache_bytes, lambda a: len(a.body))
    # pipeline projects are the `investment_projects` collection, read from the records
    app.state.store = with_projects(store or open_store(settings), app.state.projects)
    app.state.tiles = VectorTiles(
        app.state.store, settings.tile_max_features, settings.tile_cache_bytes
    )
    app.state.enquiries = EnquiryStore(app.state.records, settings.enquiries_per_client_hour)
    app.state.dashboard = Dashboard(app.state.projects, settings.targets_dir, settings.province)
    app.add_middleware(OneCatalogueReadPerRequest)
    # zlib's default level: level 9 costs twice its CPU (1.7 ms for a page of 100 parcels, as
    # much as the rest of the answer) for an answer 3 % smaller
    app.add_middleware(GZipMiddleware, minimum_size=4096, compresslevel=6)
    if settings.trusted_proxies:
        # the client's own address from a trusted proxy's X-Forwarded-For (the right-most one
        # not itself a trusted proxy); from anyone else the header is ignored
        app.add_middleware(ProxyHeadersMiddleware, trusted_hosts=settings.trusted_proxies)
    app.add_middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=["GET", "POST", "PATCH", "PUT", "DELETE"],
        allow_headers=["*"],
    )
    app.add_middleware(SecurityHeaders)
    app.add_middleware(RequestLanguage)
    install_error_handlers(app)
    for router in (
        health.router,
        landing.router,
        collections.router,
        kinds.router,
        features.router,
        edits.router,
        facets.router,
        grid.router,
        tiles.router,
        shortlists.router,
        admin.router,
        rasters.router,
        analysis.router,
        projects.router,
        enquiries.router,
        dashboard.router,
        maps.router,
    ):
        app.include_router(router)
    maps.mount_static(app, settings.assets_dir)
    projects.mount_static(app)
    dashboard.mount_static(app)
    return app
