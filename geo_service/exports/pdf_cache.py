"""Generated PDFs kept on disk, so that the same sheets are not drawn twice.

A PDF is filed under a key naming everything it shows (see `site_sheet.sheets_key`), so any
change to what it shows is a new key and an old file is never served for new data. Files live in
`DATA_DIR/_cache/pdf/` (no layer id starts with `_`), are written atomically and shared by every
worker process; their total size is bounded, least recently used out first. Each download gets a
hard link of its own, removed once sent, so evicting a file never cuts a download short.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

SERVING = ".serving"
STALE_SERVING_SECONDS = 3600
"""A download's link left behind (the process died while sending) is removed after this."""
_STRIPES = 64


def cache_key(*parts: object) -> str:
    return hashlib.sha256(json.dumps(parts, default=str).encode()).hexdigest()


class PdfCache:
    def __init__(self, folder: Path, max_bytes: int) -> None:
        self.folder = Path(folder)
        self.max_bytes = max_bytes
        self._locks = [threading.Lock() for _ in range(_STRIPES)]
        """Requests for one key wait for the first one's PDF instead of drawing it again."""

    def download(self, key: str, filename: str, make: Callable[[], Path]) -> Path:
        """The PDF filed under `key`, as `filename` in a folder of its own that the caller removes
        once sent; `make()` draws it on a miss (returning a file whose folder is then removed)."""
        cached = self.folder / f"{key}.pdf"
        with self._locks[int(key[:8], 16) % _STRIPES]:
            try:
                os.utime(cached)  # a hit: now the most recently used
                return self._link(cached, filename)
            except FileNotFoundError:
                pass
            made = make()
            if made.stat().st_size > self.max_bytes:  # caching off, or larger than the cache
                return made.rename(made.with_name(filename))
            self.folder.mkdir(parents=True, exist_ok=True)
            staged = self.folder / f".{key}.{os.getpid()}.{threading.get_ident()}.partial"
            try:
                shutil.copyfile(made, staged)
                os.replace(staged, cached)
            finally:
                staged.unlink(missing_ok=True)
                shutil.rmtree(made.parent, ignore_errors=True)
            served = self._link(cached, filename)
        self._evict(keep=cached)
        return served

    def _link(self, cached: Path, filename: str) -> Path:
        serving = self.folder / SERVING
        serving.mkdir(parents=True, exist_ok=True)
        folder = Path(tempfile.mkdtemp(dir=serving))
        try:
            os.link(cached, folder / filename)
        except OSError:
            folder.rmdir()
            raise
        return folder / filename

    def _evict(self, keep: Path) -> None:
        """Remove the least recently used files until the cache fits its bound again."""
        files = []
        for path in self.folder.glob("*.pdf"):
            try:
                files.append((path.stat().st_mtime, path.stat().st_size, path))
            except FileNotFoundError:  # removed by another process meanwhile
                continue
        total = sum(size for _, size, _ in files)
        for _, size, path in sorted(files):
            if total <= self.max_bytes:
                break
            if path != keep:
                path.unlink(missing_ok=True)
                total -= size
        self._remove_stale_links()

    def _remove_stale_links(self) -> None:
        limit = time.time() - STALE_SERVING_SECONDS
        for folder in (self.folder / SERVING).iterdir():
            try:
                if folder.stat().st_mtime < limit:
                    shutil.rmtree(folder, ignore_errors=True)
            except FileNotFoundError:
                continue
