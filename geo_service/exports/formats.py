"""Export formats: each writes a query's whole result to a file, batch by batch.

GDAL's drivers (through pyogrio) write every format from a stream of Arrow batches, so memory
stays bounded by the batch size whatever the result's size.
"""

from __future__ import annotations

import csv
import itertools
import shutil
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyogrio
import shapely
from pyproj import CRS

from ..catalogue import LayerMeta
from ..errors import InvalidParameter
from ..i18n import _l
from ..store import Feature
from .spreadsheet import freeze_header_and_filter
from .table import WGS84, ExportColumns, geometry_batches, spreadsheet_batches

Batches = Iterable[list[Feature]]
Writer = Callable[[Path, LayerMeta, ExportColumns, Batches, CRS, bool], None]
"""write(target, meta, columns, batches, crs, append): one layer into `target`; with `append`,
as a further layer of a file that already holds others (formats with `multi_layer` only)."""


@dataclass(frozen=True)
class ExportFormat:
    name: str
    media_type: str
    extension: str
    write: Writer
    wgs84_only: bool = False
    multi_layer: bool = False
    finish: Callable[[Path], None] | None = None
    """Run once on the finished file, after every layer is written."""


def _vector_writer(driver: str, **layer_options: str) -> Writer:
    def write(
        target: Path,
        meta: LayerMeta,
        columns: ExportColumns,
        batches: Batches,
        crs: CRS,
        append: bool,
    ) -> None:
        stream = geometry_batches(columns, _at_least_one(batches), crs)
        _write_arrow(target, driver, meta.id, stream, crs, layer_options, append=append)

    return write


def _write_arrow(
    path: Path,
    driver: str,
    layer: str,
    stream: Iterator[pa.RecordBatch],
    crs: CRS | None,
    layer_options: dict[str, str],
    rename: list[str] | None = None,
    append: bool = False,
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
        append=append,
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
    target: Path, meta: LayerMeta, columns: ExportColumns, batches: Batches, crs: CRS, append: bool
) -> None:
    """UTF-8 with a byte-order mark (Excel then reads Vietnamese right), labelled headers."""
    rows = spreadsheet_batches(columns, _at_least_one(batches), crs)
    _write_arrow(target, "CSV", meta.id, rows, None, {"WRITE_BOM": "YES"})


def write_xlsx(
    target: Path, meta: LayerMeta, columns: ExportColumns, batches: Batches, crs: CRS, append: bool
) -> None:
    """A sheet of labelled columns (the header is frozen and filtered by `finish`)."""
    rows = spreadsheet_batches(columns, _at_least_one(batches), crs)
    _write_arrow(target, "XLSX", meta.id[:31], rows, None, {}, append=append)


def write_sheet(target: Path, name: str, header: list[str], rows: list[list], append: bool) -> None:
    """A plain sheet (e.g. a summary) of text columns."""
    columns = [pa.array([str(r[i]) for r in rows], type=pa.string()) for i in range(len(header))]
    batch = pa.RecordBatch.from_arrays(columns, names=header)
    _write_arrow(target, "XLSX", name[:31], iter([batch]), None, {}, append=append)


def write_table(target: Path, format_name: str, name: str, columns: dict[str, list]) -> None:
    """Rows without geometry (e.g. a ranking) as CSV (UTF-8 with BOM) or XLSX (header frozen
    and filtered), typed from the values: numbers stay numbers."""
    batch = pa.RecordBatch.from_pydict(columns)
    # a column without a single value is of Arrow's null type, for which GDAL has no field type
    batch = pa.RecordBatch.from_arrays(
        [c.cast(pa.string()) if pa.types.is_null(c.type) else c for c in batch.columns],
        names=batch.schema.names,
    )
    if format_name == "csv":
        _write_arrow(target, "CSV", name, iter([batch]), None, {"WRITE_BOM": "YES"})
    elif format_name == "xlsx":
        _write_arrow(target, "XLSX", name[:31], iter([batch]), None, {})
        freeze_header_and_filter(target)
    else:
        raise InvalidParameter(
            _l("a table exports as csv or xlsx, not {format_name!r}", format_name=format_name)
        )


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
    target: Path, meta: LayerMeta, columns: ExportColumns, batches: Batches, crs: CRS, append: bool
) -> None:
    """A zip of .shp/.shx/.dbf/.prj/.cpg (UTF-8) and fields.csv mapping names to the originals.

    A shapefile holds one kind of geometry: features of another (a collection of points and
    areas, such as pipeline projects) go to one more shapefile each, `<id>_<family>.shp`.
    """
    parts = target.with_name(target.stem + "-parts")
    parts.mkdir()
    names = shapefile_names([s.name for s in columns.fields])
    files: dict[str | None, Path] = {}
    for batch in geometry_batches(columns, _at_least_one(batches), crs):
        for family, rows in _by_family(batch, next(iter(files), None)):
            path = files.setdefault(family, parts / f"{meta.id}_{family}.shp")
            if len(files) == 1:
                path = files[family] = parts / f"{meta.id}.shp"
            _write_arrow(path, "ESRI Shapefile", path.stem, iter([rows]), crs,
                         {"ENCODING": "UTF-8"}, [*names, "geometry"], append=path.exists())  # fmt: skip
    with (parts / "fields.csv").open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out)
        writer.writerow(["shapefile_field", "field", "label_vi", "label_en", "unit"])
        for short, spec in zip(names, columns.fields, strict=True):
            writer.writerow([short, spec.name, spec.label_vi, spec.label_en, spec.unit or ""])
    with zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as archive:
        for part in sorted(parts.iterdir()):
            archive.write(part, part.name)
    shutil.rmtree(parts)


_FAMILIES = {0: "point", 4: "point", 1: "line", 2: "line", 5: "line", 3: "polygon", 6: "polygon"}


def _by_family(
    batch: pa.RecordBatch, first: str | None
) -> Iterator[tuple[str | None, pa.RecordBatch]]:
    """The batch's rows by geometry family, in the order met; rows without geometry (or with
    a collection of several) join `first`, the family already written, else the batch's first."""
    types = shapely.get_type_id(shapely.from_wkb(batch.column("geometry").to_numpy(False)))
    families = [_FAMILIES.get(int(t)) for t in types]
    first = first or next((f for f in families if f), None)
    families = [f or first for f in families]
    for family in dict.fromkeys(families) or [first]:
        yield family, batch.filter(pa.array([f == family for f in families], type=pa.bool_()))


FORMATS: dict[str, ExportFormat] = {
    f.name: f
    for f in (
        ExportFormat("csv", "text/csv; charset=utf-8", "csv", write_csv),
        ExportFormat(
            "xlsx",
            "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            "xlsx",
            write_xlsx,
            multi_layer=True,
            finish=freeze_header_and_filter,
        ),
        ExportFormat(
            "gpkg",
            "application/geopackage+sqlite3",
            "gpkg",
            _vector_writer("GPKG"),
            multi_layer=True,
        ),
        ExportFormat("shp", "application/zip", "zip", write_shapefile),
        # no spatial index: it cannot hold a record without geometry (a project not located yet)
        ExportFormat(
            "fgb", "application/flatgeobuf", "fgb", _vector_writer("FlatGeobuf", SPATIAL_INDEX="NO")
        ),
        ExportFormat(
            "kml", "application/vnd.google-earth.kml+xml", "kml", _vector_writer("KML"), True
        ),
        ExportFormat(
            "geojson",
            "application/geo+json",
            "geojson",
            _vector_writer("GeoJSON", RFC7946="YES", WRITE_NAME="NO"),
            True,
        ),
    )
}


def export_format(name: str, crs: CRS) -> ExportFormat:
    chosen = FORMATS[name]
    if chosen.wgs84_only and crs != WGS84:
        raise InvalidParameter(
            _l("{name} is WGS 84 only; leave out crs or choose another format", name=name)
        )
    return chosen
