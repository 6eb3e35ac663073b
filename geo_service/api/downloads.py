"""File downloads of exports: the temporary folder goes once the file is sent. Site sheets come
from the PDF cache, or are drawn in a heavy-export slot."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

from fastapi import Request
from fastapi.responses import FileResponse
from starlette.background import BackgroundTask

from ..exports import PdfCache, Site, sheets_key, site_sheets
from ..store import Store
from .heavy import HeavyExports
from .links import PDF, base_url


def file_download(path: Path, media_type: str) -> FileResponse:
    return FileResponse(
        path,
        media_type=media_type,
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True),
    )


def sheets_download(
    request: Request,
    store: Store,
    cache: PdfCache,
    heavy: HeavyExports,
    lang: str,
    stem: str,
    what: tuple,
    sites: Callable[[], list[Site]],
) -> FileResponse:
    """The site sheets of `sites()` as `<stem>.pdf`; `what` names the sites for the cache."""
    root = base_url(request)

    def draw() -> Path:
        with heavy.slot():
            return site_sheets(store, sites(), lang, stem)

    key = sheets_key(store.layers(), lang, root, *what)
    return file_download(cache.download(key, f"{stem}.pdf", draw), PDF)
