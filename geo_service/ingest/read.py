"""Read an uploaded file safely: check what it really is, unpack archives with care, then let
GDAL (through pyogrio) read it.

Every refusal is a `ServiceError` with a clear message: 413 for a size limit (the limit named),
400 for anything malformed or hostile (zip slip, absolute paths, symlinks, zip bombs, XML
entities, a file that claims one format and is another, a corrupt GeoPackage).
"""

from __future__ import annotations

import re
import sqlite3
import stat
import zipfile
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import geopandas as gpd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from ..errors import InvalidParameter, TooLarge

FORMATS = ("gpkg", "shp", "geojson", "kml", "kmz", "csv", "fgb")
_EXTENSIONS = {
    ".gpkg": "gpkg",
    ".zip": "shp",
    ".geojson": "geojson",
    ".json": "geojson",
    ".kml": "kml",
    ".kmz": "kmz",
    ".csv": "csv",
    ".fgb": "fgb",
}
_XML_DANGER = re.compile(rb"<!(DOCTYPE|ENTITY)", re.IGNORECASE)


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 200 * 2**20
    max_features: int = 1_000_000
    max_zip_members: int = 50
    max_uncompressed: int = 1 * 2**30
    max_ratio: int = 200
    """Largest uncompressed/compressed ratio of an archive member (zip bombs go far beyond)."""


@dataclass(frozen=True)
class ReadOptions:
    table: str | None = None
    wkt_field: str | None = None
    x_field: str | None = None
    y_field: str | None = None


def sniff(path: Path) -> str:
    """What the bytes say the file is."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"fgb\x03"):
        return "fgb"
    if head.startswith(b"PK\x03\x04"):
        with zipfile.ZipFile(path) as archive:
            names = [n.lower() for n in archive.namelist()]
        if any(n.endswith(".kml") for n in names) and not any(n.endswith(".shp") for n in names):
            return "kmz"
        return "shp"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return "geojson"
    if text.startswith(b"<"):
        return "kml"
    return "csv"


def claimed_suffix(filename: str) -> str:
    """The file's suffix if it is one we read (so GDAL recognises the saved upload), else ''."""
    suffix = Path(filename).suffix.lower()
    return suffix if suffix in _EXTENSIONS else ""


def claimed_format(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise InvalidParameter(
            f"{filename!r}: unsupported file type; send one of .gpkg, .zip (Shapefile), .geojson, "
            ".kml, .kmz, .csv, .fgb"
        )
    return _EXTENSIONS[suffix]


def read_upload(
    path: Path, filename: str, options: ReadOptions, limits: UploadLimits, workdir: Path
) -> gpd.GeoDataFrame:
    """The uploaded features as a GeoDataFrame in the file's own CRS (None if it has none)."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise TooLarge(
            f"the file is {size:,} bytes; the upload limit is {limits.max_bytes:,} bytes"
        )
    claimed, actual = claimed_format(filename), sniff(path)
    if claimed != actual:
        raise InvalidParameter(f"{filename!r} is named as {claimed} but its content is {actual}")
    source = path
    if actual in ("shp", "kmz"):
        source = _unpack(path, workdir / "unpacked", limits, ".shp" if actual == "shp" else ".kml")
    if actual in ("kml", "kmz"):
        _refuse_xml_entities(source)
    if actual == "gpkg":
        _check_geopackage(path)
    open_options = _csv_options(options) if actual == "csv" else {}
    try:
        layers = [name for name, _ in pyogrio.list_layers(source)]
        layer = _choose_layer(layers, options.table, actual)
        info = pyogrio.read_info(source, layer=layer, **open_options)
        if info["features"] > limits.max_features:
            raise TooLarge(
                f"the file holds {info['features']:,} features; the limit is {limits.max_features:,}"
            )
        return pyogrio.read_dataframe(source, layer=layer, **open_options)
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise InvalidParameter(f"{filename!r} cannot be read as {actual}: {exc}") from None


def _choose_layer(layers: list[str], table: str | None, kind: str) -> str | None:
    if table is not None:
        if table not in layers:
            raise InvalidParameter(f"no table {table!r} in the file; it has: {', '.join(layers)}")
        return table
    if len(layers) > 1 and kind == "gpkg":
        raise InvalidParameter(
            f"the GeoPackage has several tables ({', '.join(layers)}); say which with `table`"
        )
    return layers[0] if layers else None


def _csv_options(options: ReadOptions) -> dict[str, str]:
    if options.wkt_field:
        return {"GEOM_POSSIBLE_NAMES": options.wkt_field, "KEEP_GEOM_COLUMNS": "NO"}
    if options.x_field and options.y_field:
        return {
            "X_POSSIBLE_NAMES": options.x_field,
            "Y_POSSIBLE_NAMES": options.y_field,
            "KEEP_GEOM_COLUMNS": "NO",
        }
    raise InvalidParameter(
        "a CSV needs `wkt_field`, or `x_field` and `y_field`, to locate its geometry"
    )


def _check_geopackage(path: Path) -> None:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True) as db:
            (result,) = db.execute("PRAGMA quick_check").fetchone()
            db.execute("SELECT count(*) FROM gpkg_contents").fetchone()
    except sqlite3.DatabaseError as exc:
        raise InvalidParameter(f"the GeoPackage is corrupt or not a GeoPackage: {exc}") from None
    if result != "ok":
        raise InvalidParameter(f"the GeoPackage is corrupt: {result}")


def _refuse_xml_entities(path: Path) -> None:
    files = [path] if path.is_file() else sorted(path.rglob("*.kml"))
    for kml in files:
        with kml.open("rb") as handle:
            while chunk := handle.read(1 << 20):
                if _XML_DANGER.search(chunk):
                    raise InvalidParameter(
                        "the KML declares a DOCTYPE or ENTITY; XML entities are refused"
                    )


def _unpack(archive_path: Path, target: Path, limits: UploadLimits, wanted: str) -> Path:
    """Extract a zip after checking every member; returns the file GDAL should open."""
    with zipfile.ZipFile(archive_path) as archive:
        members = archive.infolist()
        if len(members) > limits.max_zip_members:
            raise TooLarge(
                f"the archive has {len(members)} members; the limit is {limits.max_zip_members}"
            )
        total = sum(m.file_size for m in members)
        if total > limits.max_uncompressed:
            raise TooLarge(
                f"the archive unpacks to {total:,} bytes; the limit is {limits.max_uncompressed:,} bytes"
            )
        for member in members:
            name = PurePosixPath(member.filename)
            if name.is_absolute() or ".." in name.parts or member.filename.startswith(("/", "\\")):
                raise InvalidParameter(
                    f"the archive member {member.filename!r} points outside the archive"
                )
            if stat.S_ISLNK(member.external_attr >> 16):
                raise InvalidParameter(f"the archive member {member.filename!r} is a symbolic link")
            if member.compress_size and member.file_size / member.compress_size > limits.max_ratio:
                raise InvalidParameter(
                    f"the archive member {member.filename!r} expands {member.file_size // member.compress_size}"
                    "-fold: refused as a zip bomb"
                )
        target.mkdir(parents=True)
        budget = limits.max_uncompressed  # headers can lie: count the bytes really written
        for member in members:
            if member.is_dir():
                continue
            destination = target / PurePosixPath(member.filename).name
            with archive.open(member) as source, destination.open("wb") as out:
                while chunk := source.read(1 << 20):
                    budget -= len(chunk)
                    if budget < 0:
                        raise TooLarge(
                            f"the archive unpacks to more than {limits.max_uncompressed:,} bytes"
                        )
                    out.write(chunk)
    found = sorted(target.glob(f"*{wanted}"))
    if len(found) != 1:
        raise InvalidParameter(
            f"the archive must hold exactly one {wanted} file; it holds {len(found)}"
        )
    return found[0]
