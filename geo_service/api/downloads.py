"""File downloads of exports: the temporary folder goes once the file is sent."""

from __future__ import annotations

import shutil
from pathlib import Path

from fastapi.responses import FileResponse
from starlette.background import BackgroundTask


def file_download(path: Path, media_type: str) -> FileResponse:
    return FileResponse(
        path,
        media_type=media_type,
        filename=path.name,
        background=BackgroundTask(shutil.rmtree, path.parent, ignore_errors=True),
    )
