"""Export formats: each writes a query's whole result to a file, batch by batch.

GDAL's drivers (through pyogrio) write CSV, GeoPackage, Shapefile, FlatGeobuf, KML and GeoJSON
from a stream of Arrow batches; openpyxl writes XLSX in write-only mode. Memory stays bounded
by the batch size whatever the result's size.
"""

from __future__ import annotations

import csv
import itertools
import zipfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyogrio
from openpyxl import Workbook
from pyproj import CRS

from ..catalogue import LayerMeta
from ..errors import InvalidParameter
from ..store import Feature
from .table import WGS84, ExportColumns, geometry_batches, spreadsheet_header, spreadsheet_rows

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
        _write_arrow(path, driver, meta, columns, batches, crs, layer_options)
        return path

    return write


def _write_arrow(
    path: Path,
    driver: str,
    meta: LayerMeta,
    columns: ExportColumns,
    batches: Batches,
    crs: CRS,
    layer_options: dict[str, str],
    names: list[str] | None = None,
) -> None:
    """Stream Arrow batches into one GDAL write; `names` renames the property columns."""
    stream = geometry_batches(columns, batches, crs)
    first = next(stream, None) or next(geometry_batches(columns, [[]], crs))
    schema = first.schema
    if names is not None:
        schema = pa.schema(
            [
                field.with_name(name)
                for field, name in zip(schema, [*names, "geometry"], strict=True)
            ]
        )
    reader = pa.RecordBatchReader.from_batches(
        schema, (batch.rename_columns(schema.names) for batch in itertools.chain([first], stream))
    )
    pyogrio.write_arrow(
        reader,
        path,
        layer=meta.id,
        driver=driver,
        geometry_name="geometry",
        geometry_type="Unknown",
        crs=crs.to_wkt(),
        layer_options=layer_options or None,
    )


def write_csv(
    folder: Path, meta: LayerMeta, columns: ExportColumns, batches: Batches, crs: CRS
) -> Path:
    """UTF-8 with a byte-order mark (Excel then reads Vietnamese right), labelled headers."""
    path = folder / f"{meta.id}.csv"
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(spreadsheet_header(columns, crs))
        writer.writerows(spreadsheet_rows(columns, batches, crs))
    return path


def write_xlsx(
    folder: Path, meta: LayerMeta, columns: ExportColumns, batches: Batches, crs: CRS
) -> Path:
    path = folder / f"{meta.id}.xlsx"
    book = Workbook(write_only=True)
    sheet = book.create_sheet(meta.id[:31])
    header = spreadsheet_header(columns, crs)
    sheet.freeze_panes = "A2"
    sheet.append(header)
    count = 0
    for row in spreadsheet_rows(columns, batches, crs):
        sheet.append(row)
        count += 1
    sheet.auto_filter.ref = f"A1:{_column_letter(len(header))}{count + 1}"
    book.save(path)
    return path


def _column_letter(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


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
    _write_arrow(
        parts / f"{meta.id}.shp",
        "ESRI Shapefile",
        meta,
        columns,
        batches,
        crs,
        {"ENCODING": "UTF-8"},
        names,
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
