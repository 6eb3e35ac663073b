"""Export a query's whole result to a file in a temporary folder, within the configured limit."""

from __future__ import annotations

import dataclasses
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from ..errors import TooLarge
from ..query import Query
from ..store import Feature, Store
from .formats import export_format
from .table import ExportColumns, parse_crs


def export_query(
    store: Store,
    layer_id: str,
    query: Query,
    format_name: str,
    crs_text: str | None,
    lang: str,
    max_features: int,
    progress: Callable[[int, int], None] | None = None,
) -> tuple[Path, str]:
    """Write every feature the query matches (not one page); returns (file, media type).

    The caller owns the file's folder (`file.parent`) and removes it when sent. `progress`,
    if given, is called with (features written so far, features in all) after each batch.
    """
    meta = store.layer(layer_id)
    crs = parse_crs(crs_text)
    chosen = export_format(format_name, crs)
    whole = dataclasses.replace(query, limit=None, offset=0)
    matched = store.query(layer_id, dataclasses.replace(whole, limit=0)).number_matched
    if matched > max_features:
        raise TooLarge(
            f"{matched:,} features match, more than the export limit of {max_features:,}; "
            "narrow the request with bbox, filter or q / "
            f"{matched:,} đối tượng vượt giới hạn xuất {max_features:,}; hãy thu hẹp bằng bbox, filter hoặc q"
        )
    columns = ExportColumns.of(meta, query.properties, lang)
    folder = Path(tempfile.mkdtemp(prefix="geo-service-export-"))
    try:
        batches = store.iter_features(layer_id, whole)
        if progress is not None:
            batches = _reporting(batches, matched, progress)
        path = folder / f"{meta.id}.{chosen.extension}"
        chosen.write(path, meta, columns, batches, crs, False)
        if chosen.finish is not None:
            chosen.finish(path)
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise
    return path, chosen.media_type


def _reporting(
    batches: Iterator[list[Feature]], total: int, progress: Callable[[int, int], None]
) -> Iterator[list[Feature]]:
    done = 0
    for batch in batches:
        yield batch
        done += len(batch)
        progress(done, total)
