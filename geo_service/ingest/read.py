"""Read an uploaded file safely: check what it really is, unpack archives with care, then let
GDAL (through pyogrio) read it.

Every refusal is a `ServiceError` with a clear, bilingual message: 413 for a size limit (the
limit named), 400 for anything malformed or hostile (zip slip, absolute paths, symlinks, zip
bombs, a corrupt archive or one whose headers lie, a KML with a DOCTYPE, a file that claims one
format and is another, a GeoPackage that is corrupt or holds programs (`geopackage.py`), a
column GDAL or the GeoPackage reserves).
"""

from __future__ import annotations

import stat
import zipfile
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import TypeVar
from xml.parsers import expat

import geopandas as gpd
import pyogrio
from pyogrio.errors import DataLayerError, DataSourceError

from ..errors import InvalidParameter, TooLarge
from ..i18n import _l
from ..settings import Settings
from .geopackage import check_geopackage

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
_MAGIC = {
    b"\x89PNG": "a PNG image",
    b"\xff\xd8\xff": "a JPEG image",
    b"GIF8": "a GIF image",
    b"%PDF": "a PDF document",
    b"II*\x00": "a TIFF image",
    b"MM\x00*": "a TIFF image",
    b"\x1f\x8b": "a gzip archive",
    b"7z\xbc\xaf": "a 7-Zip archive",
    b"Rar!": "a RAR archive",
    b"BZh": "a bzip2 archive",
    b"\xd0\xcf\x11\xe0": "an old Office document",
    b"\xff\xfe": "UTF-16 text (save it as UTF-8)",
    b"\xfe\xff": "UTF-16 text (save it as UTF-8)",
}
"""Magic bytes of files people send by mistake, so the refusal can say what was sent."""
_ARCHIVE_ERRORS = (
    zipfile.BadZipFile,
    zipfile.LargeZipFile,
    EOFError,
    NotImplementedError,
    RuntimeError,
    ValueError,
    zlib.error,
)
"""What `zipfile` raises on a corrupt, encrypted or lying archive."""
RESERVED_COLUMNS = {"fid", "geom", "geometry"}
"""Names the GeoPackage a layer is published as keeps for its own id and geometry columns."""
XML_CHUNK = 1 << 20
"""Bytes of a KML fed to the XML parser at a time."""
T = TypeVar("T")


@dataclass(frozen=True)
class UploadLimits:
    max_bytes: int = 200 * 2**20
    max_features: int = 1_000_000
    max_zip_members: int = 50
    max_uncompressed: int = 1 * 2**30
    max_ratio: int = 200
    """Largest uncompressed/compressed ratio of an archive member (zip bombs go far beyond)."""
    check_seconds: float = 30.0
    """Longest an uploaded GeoPackage's own SQL may run while it is checked."""
    max_geometry_bytes: int = 64 * 2**20
    """Largest single geometry (and any value) an uploaded GeoPackage may hold."""

    @classmethod
    def from_settings(cls, settings: Settings) -> UploadLimits:
        return cls(
            max_bytes=settings.upload_max_bytes,
            max_features=settings.upload_max_features,
            max_zip_members=settings.upload_max_zip_members,
            max_uncompressed=settings.upload_max_uncompressed,
            check_seconds=settings.upload_check_seconds,
            max_geometry_bytes=settings.upload_max_geometry_bytes,
        )


@dataclass(frozen=True)
class ReadOptions:
    table: str | None = None
    wkt_field: str | None = None
    x_field: str | None = None
    y_field: str | None = None


def sniff(path: Path) -> str:
    """What the bytes say the file is: one of FORMATS, or words naming something else."""
    with path.open("rb") as handle:
        head = handle.read(4096)
    if head.startswith(b"SQLite format 3\x00"):
        return "gpkg"
    if head.startswith(b"fgb\x03"):
        return "fgb"
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        names = [n.lower() for n in _archive_call(path, zipfile.ZipFile.namelist)]
        if any(n.endswith(".shp") for n in names):
            return "shp"
        return "kmz" if any(n.endswith(".kml") for n in names) else "a zip archive without a .shp"
    for magic, what in _MAGIC.items():
        if head.startswith(magic):
            return what
    if b"\x00" in head:
        return "binary data"
    text = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if text.startswith(b"{"):
        return "geojson"
    if text.startswith(b"<"):
        return "kml"
    return "csv"


def _archive_call(path: Path, action: Callable[[zipfile.ZipFile], T]) -> T:
    """`action(archive)` on the zip at `path`; a corrupt archive is a 400."""
    try:
        with zipfile.ZipFile(path) as archive:
            return action(archive)
    except _ARCHIVE_ERRORS as exc:
        raise InvalidParameter(
            _l("the archive is corrupt or its headers are wrong ({exc})", exc=exc)
        ) from None


def claimed_suffix(filename: str) -> str:
    """The file's suffix if it is one we read (so GDAL recognises the saved upload), else ''."""
    suffix = Path(filename).suffix.lower()
    return suffix if suffix in _EXTENSIONS else ""


def claimed_format(filename: str) -> str:
    suffix = Path(filename).suffix.lower()
    if suffix not in _EXTENSIONS:
        raise InvalidParameter(
            _l(
                "{filename!r}: unsupported file type; send one of .gpkg, .zip (Shapefile), .geojson, .kml, .kmz, .csv, .fgb",
                filename=filename,
            )
        )
    return _EXTENSIONS[suffix]


def read_upload(
    path: Path, filename: str, options: ReadOptions, limits: UploadLimits, workdir: Path
) -> gpd.GeoDataFrame:
    """The uploaded features as a GeoDataFrame in the file's own CRS (None if it has none)."""
    size = path.stat().st_size
    if size > limits.max_bytes:
        raise TooLarge(
            _l(
                "the file is {size:,} bytes; the upload limit is {max_bytes:,} bytes",
                size=size,
                max_bytes=limits.max_bytes,
            )
        )
    claimed, actual = claimed_format(filename), sniff(path)
    if claimed != actual:
        raise InvalidParameter(
            _l(
                "{filename!r} is named as {claimed} but its content is {actual}",
                filename=filename,
                claimed=claimed,
                actual=actual,
            )
        )
    source, layer = path, None
    if actual in ("shp", "kmz"):
        source = _unpack(path, workdir / "unpacked", limits, ".shp" if actual == "shp" else ".kml")
    if actual in ("kml", "kmz"):
        refuse_xml_doctype(source)
    if actual == "gpkg":
        layer = check_geopackage(
            path, options.table, limits.check_seconds, limits.max_geometry_bytes
        )
    open_options = _csv_options(options) if actual == "csv" else {}
    try:
        if layer is None:
            layer = _choose_layer([name for name, _ in pyogrio.list_layers(source)], options.table)
        info = pyogrio.read_info(source, layer=layer, **open_options)
        _refuse_reserved_columns(info["fields"])
        if info["features"] > limits.max_features:
            raise TooLarge(
                _l(
                    "the file holds {features:,} features; the limit is {max_features:,}",
                    features=info["features"],
                    max_features=limits.max_features,
                )
            )
        frame = pyogrio.read_dataframe(source, layer=layer, **open_options)
    except (DataSourceError, DataLayerError, OSError, ValueError) as exc:
        raise InvalidParameter(
            _l(
                "{filename!r} cannot be read as {actual}: {exc}",
                filename=filename,
                actual=actual,
                exc=exc,
            )
        ) from None
    if not isinstance(frame, gpd.GeoDataFrame):
        raise InvalidParameter(_l("{filename!r} has no geometry column", filename=filename))
    return frame


def _choose_layer(layers: list[str], table: str | None) -> str | None:
    if table is not None:
        if table not in layers:
            raise InvalidParameter(
                _l(
                    "no table {table!r} in the file; it has: {value}",
                    table=table,
                    value=", ".join(layers),
                )
            )
        return table
    return layers[0] if layers else None


def _refuse_reserved_columns(names: Iterable[str]) -> None:
    reserved = [str(name) for name in names if str(name).lower() in RESERVED_COLUMNS]
    if reserved:
        raise InvalidParameter(
            _l(
                "the file has a column named {value}, a name the layer keeps for its own id or geometry; rename it",
                value=", ".join(reserved),
            )
        )


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
        _l("a CSV needs `wkt_field`, or `x_field` and `y_field`, to locate its geometry")
    )


def refuse_xml_doctype(path: Path) -> None:
    """Parse the KML with expat, refusing any DOCTYPE (entities, external references) before
    GDAL reads it. The parser is fed in chunks and keeps its state between them, so a
    `<!DOCTYPE` split across two chunks is seen whole; any encoding XML allows is understood."""

    def refuse(*_) -> None:
        raise InvalidParameter(_l("the KML declares a DOCTYPE or ENTITY; XML entities are refused"))

    parser = expat.ParserCreate()
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(XML_CHUNK):
                parser.Parse(chunk, False)
            parser.Parse(b"", True)
    except expat.ExpatError as exc:
        raise InvalidParameter(_l("the KML is not well-formed XML: {exc}", exc=exc)) from None


def _unpack(archive_path: Path, target: Path, limits: UploadLimits, wanted: str) -> Path:
    """Extract a zip after checking every member; returns the file GDAL should open."""
    _archive_call(archive_path, lambda archive: _extract(archive, target, limits))
    found = sorted(target.glob(f"*{wanted}"))
    if len(found) != 1:
        raise InvalidParameter(
            _l(
                "the archive must hold exactly one {wanted} file; it holds {count}",
                wanted=wanted,
                count=len(found),
            )
        )
    return found[0]


def _extract(archive: zipfile.ZipFile, target: Path, limits: UploadLimits) -> None:
    members = archive.infolist()
    if len(members) > limits.max_zip_members:
        raise TooLarge(
            _l(
                "the archive has {count} members; the limit is {max_zip_members}",
                count=len(members),
                max_zip_members=limits.max_zip_members,
            )
        )
    total = sum(m.file_size for m in members)
    if total > limits.max_uncompressed:
        raise TooLarge(
            _l(
                "the archive unpacks to {total:,} bytes; the limit is {max_uncompressed:,} bytes",
                total=total,
                max_uncompressed=limits.max_uncompressed,
            )
        )
    for member in members:
        name = PurePosixPath(member.filename)
        if name.is_absolute() or ".." in name.parts or member.filename.startswith(("/", "\\")):
            raise InvalidParameter(
                _l(
                    "the archive member {filename!r} points outside the archive",
                    filename=member.filename,
                )
            )
        if stat.S_ISLNK(member.external_attr >> 16):
            raise InvalidParameter(
                _l("the archive member {filename!r} is a symbolic link", filename=member.filename)
            )
        if member.compress_size and member.file_size / member.compress_size > limits.max_ratio:
            ratio = member.file_size // member.compress_size
            raise InvalidParameter(
                _l(
                    "the archive member {filename!r} expands {ratio}-fold: refused as a zip bomb",
                    filename=member.filename,
                    ratio=ratio,
                )
            )
    target.mkdir(parents=True)
    budget = limits.max_uncompressed  # headers can lie: count the bytes really written
    for member in members:
        name = PurePosixPath(member.filename).name
        if member.is_dir() or not name:
            continue
        with archive.open(member) as source, (target / name).open("wb") as out:
            while chunk := source.read(1 << 20):
                budget -= len(chunk)
                if budget < 0:
                    raise TooLarge(
                        _l(
                            "the archive unpacks to more than {max_uncompressed:,} bytes",
                            max_uncompressed=limits.max_uncompressed,
                        )
                    )
                out.write(chunk)
