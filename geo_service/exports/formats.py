"""Export formats: each writes a query's whole result to a file, batch by batch.

GDAL's drivers (through pyogrio) write every format from a stream of Arrow batches, so memory
stays bounded by the batch size whatever the result's size.
"""

from __future__ import annotations

import csv
import itertools
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyogrio
from pyproj import CRS

from ..catalogue import LayerMeta
from ..errors import InvalidParameter
from ..store import Feature
from .spreadsheet import freeze_header_and_filter
from .table import WGS84, ExportColumns, geometry_batches, spreadsheet_batches

Batches = Iterable[list[Feature]]
Writer = Callable[[Path, LayerMeta, ExportColumns, Batches, CRS], Path]


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str
    write: Writer
    wgs84_only: bool = False


def _vector_writer(driver: str, extension: str, **layer_options: str) -> Writer:
    def write(
        folder: Path, meta: LayerMeta, columns: ExportColumns, batches: Batches, crs: CRS
    ) -> Path:
        path = folder / f"{meta.id}.{extension}"
        stream = geometry_batches(columns, _at_least_one(batches), crs)
        _write_arrow(path, driver, meta.id, stream, crs, layer_options)
        return path

    return write


def _write_arrow(
    path: Path,
    driver: str,
    layer: str,
    stream: Iterator[pa.RecordBatch],
    crs: CRS | None,
    layer_options: dict[str, str],
    rename: list[str] | None = None,
) -> None:
    """Stream Arrow batches into one GDAL write; a `geometry` column, if any, is WKB in `crs`.

    `stream` must yield at least one (possibly empty) batch; `rename` renames the columns.
    """
    first = next(stream)
    schema = first.schema
    if rename is not None:
        schema = pa.schema(
            [field.with_name(name) for field, name in zip(schema, rename, strict=True)]
        )
    reader = pa.RecordBatchReader.from_batches(
        schema, (batch.rename_columns(schema.names) for batch in itertools.chain([first], stream))
    )
    spatial = "geometry" in schema.names
    pyogrio.write_arrow(
        reader,
        path,
        layer=layer,
        driver=driver,
        geometry_name="geometry" if spatial else None,
        geometry_type="Unknown" if spatial else None,
        crs=crs.to_wkt() if spatial else None,
        layer_options=layer_options or None,
    )


def _at_least_one(batches: Batches) -> Iterator[list[Feature]]:
    """The batches, or one empty batch when there are none (so an empty export has its columns)."""
    empty = True
    for batch in batches:
        empty = False
        yield batch
    if empty:
        yield []


def write_csv(
    folder: Path, meta: LayerMeta, columns: ExportColumns, batches: Batches, crs: CRS
) -> Path:
    """UTF-8 with a byte-order mark (Excel then reads Vietnamese right), labelled headers."""
    path = folder / f"{meta.id}.csv"
    rows = spreadsheet_batches(columns, _at_least_one(batches), crs)
    _write_arrow(path, "CSV", meta.id, rows, None, {"WRITE_BOM": "YES"})
    return path


def write_xlsx(
    folder: Path, meta: LayerMeta, columns: ExportColumns, batches: Batches, crs: CRS
) -> Path:
    """One sheet, labelled header row frozen, an autofilter over every column."""
    path = folder / f"{meta.id}.xlsx"
    rows = spreadsheet_batches(columns, _at_least_one(batches), crs)
    _write_arrow(path, "XLSX", meta.id[:31], rows, None, {})
    freeze_header_and_filter(path)
    return path


def shapefile_names(fields: list[str]) -> list[str]:
    """dBASE's 10-character field names: truncated, then numbered where two would clash."""
    names: list[str] = []
    for name in fields:
        candidate, n = name[:10], 1
        while candidate in names:
            suffix = str(n)
            candidate, n = name[: 10 - len(suffix)] + suffix, n + 1
        names.append(candidate)
    return names


def write_shapefile(
    folder: Path, meta: LayerMeta, columns: ExportColumns, batches: Batches, crs: CRS
) -> Path:
    """A zip of .shp/.shx/.dbf/.prj/.cpg (UTF-8) and fields.csv mapping names to the originals."""
    parts = folder / "shapefile"
    parts.mkdir()
    names = shapefile_names([s.name for s in columns.fields])
    stream = geometry_batches(columns, _at_least_one(batches), crs)
    options = {"ENCODING": "UTF-8"}
    _write_arrow(
        parts / f"{meta.id}.shp",
        "ESRI Shapefile",
        meta.id,
        stream,
        crs,
        options,
        [*names, "geometry"],
    )
    with (parts / "fields.csv").open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["shapefile_field", "field", "label_vi", "label_en", "unit"])
        for short, spec in zip(names, columns.fields, strict=True):
            writer.writerow([short, spec.name, spec.label_vi, spec.label_en, spec.unit or ""])
    path = folder / f"{meta.id}.zip"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(parts.iterdir()):
            archive.write(part, part.name)
    return path


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("csv", "text/csv; charset=utf-8", "csv", write_csv),
        ExportFormat(
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
            write_xlsx,
        ),
        ExportFormat(
            "gpkg", "application/geopackage+sqlite3", "gpkg", _vector_writer("GPKG", "gpkg")
        ),
        ExportFormat("shp", "application/zip", "zip", write_shapefile),
        ExportFormat("fgb", "application/flatgeobuf", "fgb", _vector_writer("FlatGeobuf", "fgb")),
        ExportFormat(
            "kml", "application/vnd.google-earth.kml+xml", "kml", _vector_writer("KML", "kml"), True
        ),
        ExportFormat(
            "geojson",
            "application/geo+json",
            "geojson",
            _vector_writer("GeoJSON", "geojson", RFC7946="YES", WRITE_NAME="NO"),
            True,
        ),
    )
}


def export_format(name: str, crs: CRS) -> ExportFormat:
    chosen = FORMATS[name]
    if chosen.wgs84_only and crs != WGS84:
        raise InvalidParameter(f"{name} is WGS 84 only; leave out crs or choose another format")
    return chosen
