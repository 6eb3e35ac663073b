"""Export a query's whole result to a file in a temporary folder, within the configured limit."""

from __future__ import annotations

import contextlib
import dataclasses
import shutil
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ..catalogue import ID_FIELD, LayerMeta
from ..errors import TooLarge
from ..i18n import _l, per_language, pick, tr
from ..query import In, Literal, Property, Query
from ..shortlists import Shortlist
from ..store import Feature, Store
from .formats import FORMATS, export_format, write_sheet, write_table
from .site_sheet import Site
from .table import WGS84, ExportColumns, parse_crs


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
            _l(
                "{matched:,} features match, more than the export limit of {max_features:,}; narrow the request with bbox, filter or q",
                matched=matched,
                max_features=max_features,
            )
        )
    columns = ExportColumns.of(meta, query.properties, lang)
    with _temporary_folder() as folder:
        batches = store.iter_features(layer_id, whole)
        if progress is not None:
            batches = _reporting(batches, matched, progress)
        path = folder / f"{meta.id}.{chosen.extension}"
        chosen.write(path, meta, columns, batches, crs, False)
        if chosen.finish is not None:
            chosen.finish(path)
    return path, chosen.media_type


def export_features(
    meta: LayerMeta, batches: Iterable[list[Feature]], format_name: str, lang: str
) -> tuple[Path, str]:
    """Features that are not read from the store (e.g. pipeline records) to a file in WGS 84,
    with the same writers and labelled columns as a layer's export: (file, media type); the
    caller removes `file.parent` once sent."""
    chosen = FORMATS[format_name]
    with _temporary_folder() as folder:
        path = folder / f"{meta.id}.{chosen.extension}"
        chosen.write(path, meta, ExportColumns.of(meta, None, lang), iter(batches), WGS84, False)
        if chosen.finish is not None:
            chosen.finish(path)
    return path, chosen.media_type


def export_table(name: str, columns: dict[str, list], format_name: str) -> tuple[Path, str]:
    """A table of results (not a layer) as a CSV or XLSX download: (file, media type); the
    caller removes `file.parent` once sent."""
    with _temporary_folder() as folder:
        path = folder / f"{name}.{FORMATS[format_name].extension}"
        write_table(path, format_name, name, columns)
    return path, FORMATS[format_name].media_type


def shortlist_query(ids: list[str]) -> Query:
    return Query(filter=In(Property(ID_FIELD), tuple(Literal(i) for i in ids)), limit=None)


def export_shortlist(
    store: Store, shortlist: Shortlist, format_name: str, crs_text: str | None, lang: str
) -> tuple[Path, str]:
    """Every site of a shortlist, grouped by layer: one table or sheet per layer where the format
    holds several (GeoPackage; XLSX after a summary sheet), else a zip of one file per layer."""
    crs = parse_crs(crs_text)
    chosen = export_format(format_name, crs)
    layers = layer_groups(store, shortlist)
    stem = f"shortlist-{shortlist.id}"
    with _temporary_folder() as folder:
        if chosen.multi_layer:
            path = folder / f"{stem}.{chosen.extension}"
            append = False
            if chosen.name == "xlsx":
                write_sheet(
                    path, "shortlist", *_summary(store, shortlist, layers, lang), append=False
                )
                append = True
            for meta, ids in layers:
                batches = store.iter_features(meta.id, shortlist_query(ids))
                chosen.write(path, meta, ExportColumns.of(meta, None, lang), batches, crs, append)
                append = True
            if chosen.finish is not None:
                chosen.finish(path)
            return path, chosen.media_type
        parts = folder / "parts"
        parts.mkdir()
        for meta, ids in layers:
            target = parts / f"{meta.id}.{chosen.extension}"
            batches = store.iter_features(meta.id, shortlist_query(ids))
            chosen.write(target, meta, ExportColumns.of(meta, None, lang), batches, crs, False)
        path = folder / f"{stem}.zip"
        with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
            for part in sorted(parts.iterdir()):
                archive.write(part, part.name)
        return path, "application/zip"


def shortlist_sites(store: Store, shortlist: Shortlist, root_url: str) -> list[Site]:
    """Every site of the shortlist still in the catalogue, for its printable sheets."""
    return [
        Site(meta, feature, f"{root_url}/collections/{meta.id}/items/{feature.id}")
        for meta, ids in layer_groups(store, shortlist)
        for batch in store.iter_features(meta.id, shortlist_query(ids))
        for feature in batch
    ]


def layer_groups(store: Store, shortlist: Shortlist) -> list[tuple[LayerMeta, list[str]]]:
    """The shortlist's ids grouped by layer, in first-seen order; layers that are gone are left out."""
    groups: dict[str, list[str]] = {}
    for item in shortlist.items:
        groups.setdefault(item.collection, []).append(item.id)
    known = {meta.id: meta for meta in store.layers()}
    return [(known[c], ids) for c, ids in groups.items() if c in known]


def _summary(
    store: Store, shortlist: Shortlist, layers: list, lang: str
) -> tuple[list[str], list[list]]:
    rows: list[list] = [
        [tr(lang, "Shortlist"), shortlist.name],
        [tr(lang, "Note"), shortlist.note],
        [tr(lang, "Created"), shortlist.created],
        [tr(lang, "Updated"), shortlist.updated],
    ]
    for meta, ids in layers:
        found = store.query(
            meta.id, dataclasses.replace(shortlist_query(ids), limit=0)
        ).number_matched
        title = pick(per_language(meta, "title"), lang, "title")
        missing = len(ids) - found
        rows.append(
            [title, tr(lang, "{found} ({missing} missing)", found=found, missing=missing)]
            if missing
            else [title, f"{found}"]
        )
    return ([tr(lang, "Item"), tr(lang, "Value")], rows)


@contextlib.contextmanager
def _temporary_folder() -> Iterator[Path]:
    """A folder for the export; removed here only if writing fails (else the caller removes it)."""
    folder = Path(tempfile.mkdtemp(prefix="geo-service-export-"))
    try:
        yield folder
    except BaseException:
        shutil.rmtree(folder, ignore_errors=True)
        raise


def _reporting(
    batches: Iterator[list[Feature]], total: int, progress: Callable[[int, int], None]
) -> Iterator[list[Feature]]:
    done = 0
    for batch in batches:
        yield batch
        done += len(batch)
        progress(done, total)
