"""Checks of an installation (`geo-service doctor`) and of a running service (`/ready`).

Each check says what it found and, when that is wrong, the fix: the geospatial libraries and
the GDAL drivers that uploads and exports use, the VN-2000 transformations, the pages' assets,
the definition folders, the data directory and the records database.
"""

from __future__ import annotations

import platform
import sqlite3
import tempfile
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy.engine import make_url
from sqlalchemy.exc import SQLAlchemyError

from . import __version__
from .errors import ServiceError
from .i18n import LANGUAGES
from .i18n.catalogues import DOMAIN, LOCALE_DIR
from .records import Records, current_revision, database_url, head_revision
from .settings import Settings
from .store import Store


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    found: str
    fix: str = ""
    """What to do about it, when not `ok`."""


def library_versions() -> list[tuple[str, str]]:
    """(library, version and where it comes from), for `--version` and bug reports."""
    import pyogrio
    import pyproj
    import rasterio
    import shapely

    return [
        ("geo-service", __version__),
        ("Python", platform.python_version()),
        ("GDAL", f"{pyogrio.__gdal_version_string__} (pyogrio {pyogrio.__version__}: vectors)"),
        ("GDAL", f"{rasterio.__gdal_version__} (rasterio {rasterio.__version__}: rasters)"),
        ("PROJ", f"{pyproj.proj_version_str} (pyproj {pyproj.__version__})"),
        ("GEOS", f"{shapely.geos_version_string} (shapely {shapely.__version__})"),
        ("SQLite", f"{sqlite3.sqlite_version} (Python's sqlite3: layers, shortlists, tokens)"),
    ]


def version_text() -> str:
    return "\n".join(f"{name} {version}" for name, version in library_versions())


MIN_GDAL = (3, 8)
"""pyogrio writes exports from Arrow streams (`write_arrow`), which needs GDAL 3.8."""


def check_libraries() -> Check:
    import pyogrio

    versions = ", ".join(f"{name} {version.split(' ')[0]}" for name, version in library_versions())
    problems, fixes = [], []
    if pyogrio.__gdal_version__[:2] < MIN_GDAL:
        problems.append(f"pyogrio's GDAL {pyogrio.__gdal_version_string__} is older than 3.8")
        fixes.append("`pip install -U pyogrio` (its wheels bundle a recent GDAL)")
    try:
        with sqlite3.connect(":memory:") as db:
            db.execute("CREATE VIRTUAL TABLE words USING fts5(text, tokenize='trigram')")
            db.execute("CREATE VIRTUAL TABLE boxes USING rtree(id, minx, maxx, miny, maxy)")
    except sqlite3.Error as exc:
        problems.append(f"SQLite {sqlite3.sqlite_version} lacks what the store uses: {exc}")
        fixes.append(
            "use a Python whose SQLite (3.34 or newer) has FTS5 with the trigram tokenizer "
            "and R*Tree (python.org builds and Debian's have both)"
        )
    if problems:
        return Check("libraries", False, f"{versions}; " + "; ".join(problems), "; ".join(fixes))
    return Check("libraries", True, versions)


VECTOR_DRIVERS: tuple[tuple[tuple[str, ...], str, str], ...] = (
    (("GPKG",), "rw", "the layer store, uploads, exports"),
    (("ESRI Shapefile",), "rw", "uploads, exports"),
    (("FlatGeobuf",), "rw", "uploads, exports"),
    (("GeoJSON",), "rw", "uploads, exports"),
    (("KML", "LIBKML"), "r", "KML and KMZ uploads"),
    (("KML",), "rw", "KML exports"),
    (("CSV",), "rw", "uploads, exports, project spreadsheets"),
    (("XLSX",), "rw", "spreadsheet exports, project spreadsheets"),
    (("OAPIF",), "r", "OGC API – Features clients (QGIS, ogr2ogr) read this service with it"),
)
"""(drivers, one of which must offer the mode, what needs it)."""
RASTER_DRIVERS = {"GTiff": "raster uploads", "COG": "stored rasters", "PNG": "raster tiles"}


def check_vector_drivers() -> Check:
    import pyogrio

    available = pyogrio.list_drivers()
    missing = [
        f"{' or '.join(names)} ({'read and write' if mode == 'rw' else 'read'}: {used})"
        for names, mode, used in VECTOR_DRIVERS
        if not any(set(mode) <= set(available.get(name, "")) for name in names)
    ]
    names = sorted({name for names, _, _ in VECTOR_DRIVERS for name in names if name in available})
    if missing:
        return Check(
            "GDAL vector drivers",
            False,
            "missing: " + "; ".join(missing),
            "install pyogrio from its wheels (`pip install --force-reinstall pyogrio`), which "
            "bundle GDAL with these drivers, or a GDAL built with them",
        )
    return Check("GDAL vector drivers", True, ", ".join(names))


def check_raster_drivers() -> Check:
    import rasterio

    with rasterio.Env() as env:
        available = env.drivers()
    missing = [f"{name} ({used})" for name, used in RASTER_DRIVERS.items() if name not in available]
    if missing:
        return Check(
            "GDAL raster drivers",
            False,
            "missing: " + "; ".join(missing),
            "install rasterio from its wheels (`pip install --force-reinstall rasterio`)",
        )
    return Check("GDAL raster drivers", True, ", ".join(RASTER_DRIVERS))


VN2000_POINTS = (("Sơn La", 9206, 103.91, 21.33), ("Quảng Ninh", 5899, 107.08, 20.95))
"""(province, its VN-2000 TM-3 zone, a point in it: longitude, latitude)."""
ROUND_TRIP_TOLERANCE_M = 0.01
MIN_DATUM_SHIFT_M = 1.0
"""VN-2000 lies about 220 m from WGS 84 here; a transformation without the datum shift (PROJ's
'ballpark' when its database lacks the parameters) moves nothing, and every export is off."""


def check_vn2000() -> list[Check]:
    """WGS 84 → VN-2000 TM-3 → WGS 84 for a point in each zone, the way exports transform."""
    from pyproj import CRS, Geod, Transformer

    from .exports.table import WGS84

    geod = Geod(ellps="WGS84")
    checks = []
    for province, epsg, lon, lat in VN2000_POINTS:
        name = f"VN-2000 EPSG:{epsg} ({province})"
        try:
            zone = CRS.from_epsg(epsg)
            x, y = Transformer.from_crs(WGS84, zone, always_xy=True).transform(lon, lat)
            back = Transformer.from_crs(zone, WGS84, always_xy=True).transform(x, y)
            shifted = Transformer.from_crs(WGS84, zone.geodetic_crs, always_xy=True).transform(
                lon, lat
            )
        except Exception as exc:  # pyproj raises CRSError, ProjError and others
            checks.append(Check(name, False, f"cannot transform: {exc}", PROJ_FIX))
            continue
        error = geod.inv(lon, lat, *back)[2]
        shift = geod.inv(lon, lat, *shifted)[2]
        found = (
            f"({lon}, {lat}) → ({x:.2f}, {y:.2f}) and back within {error * 1000:.1f} mm; "
            f"datum shift {shift:.0f} m"
        )
        if error > ROUND_TRIP_TOLERANCE_M or shift < MIN_DATUM_SHIFT_M:
            problem = (
                f"the round trip misses by {error:.3f} m"
                if error > ROUND_TRIP_TOLERANCE_M
                else "PROJ applies no VN-2000 datum shift (exports would be about 220 m off)"
            )
            checks.append(Check(name, False, f"{found}: {problem}", PROJ_FIX))
        else:
            checks.append(Check(name, True, found))
    return checks


PROJ_FIX = (
    "reinstall pyproj from its wheels (`pip install --force-reinstall pyproj`), whose PROJ "
    "database holds the VN-2000 parameters, or point PROJ_DATA at a complete PROJ data folder"
)


def check_assets(assets_dir: Path) -> Check:
    from .maps.assets import assets_fix, missing_summary, required_files

    missing = missing_summary(assets_dir)
    if missing:
        return Check("web assets", False, missing, assets_fix())
    return Check("web assets", True, f"{len(required_files())} scripts and styles in {assets_dir}")


def check_catalogues(locale_dir: Path = LOCALE_DIR) -> Check:
    """Each language's compiled catalogue (`.mo`) and pages' catalogue (`messages.json`):
    without them every text would read in English."""
    missing = [
        f"{lang}/LC_MESSAGES/{DOMAIN}{suffix}"
        for lang in LANGUAGES
        for suffix in (".mo", ".json")
        if not (locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}{suffix}").exists()
    ]
    if missing:
        fix = "compile them: `scripts/catalogues.sh compile` in a checkout (a wheel carries them)"
        return Check("catalogues", False, f"not compiled: {', '.join(missing)}", fix)
    return Check("catalogues", True, f"{', '.join(LANGUAGES)} in {locale_dir}")


def check_maps(maps_dir: Path) -> Check:
    from .maps.definition import DEFAULT_MAP, load_map, map_ids

    fix = (
        "correct the named definitions (`geo-service maps` also checks them against the "
        "layers), or set GEO_SERVICE_MAPS_DIR to a folder of map definitions"
    )
    if not Path(maps_dir).is_dir():
        return Check("map definitions", False, f"no folder {maps_dir}", fix)
    ids = map_ids(maps_dir)
    problems = []
    for map_id in ids:
        try:
            load_map(maps_dir, map_id)
        except ServiceError as exc:
            problems.append(exc.description)
    if DEFAULT_MAP not in ids:
        problems.append(f"no {DEFAULT_MAP}.toml, the map served at /map")
    if problems:
        return Check("map definitions", False, f"in {maps_dir}: " + "; ".join(problems), fix)
    return Check("map definitions", True, f"{', '.join(ids)} in {maps_dir}")


def _definitions_check(name: str, problems: list[str], command: str, setting: str) -> Check:
    """A failed check of a folder of definitions, naming the command that checks them."""
    return Check(
        name,
        False,
        "; ".join(problems),
        f"correct the named files (`geo-service {command}` checks them), or set "
        f"GEO_SERVICE_{setting}_DIR to a folder of {command}",
    )


def check_procedures(procedures_dir: Path) -> Check:
    from .pipeline.procedures import read_procedures

    procedures, problems = read_procedures(procedures_dir)
    if procedures is None:
        return _definitions_check("procedures", problems, "procedures", "PROCEDURES")
    return Check(
        "procedures",
        True,
        f"{len(procedures.forms)} investment forms and {len(procedures.sectors)} sectors "
        f"in {procedures_dir}",
    )


def check_kinds(kinds_dir: Path) -> Check:
    from .kinds import read_kinds

    kinds, problems = read_kinds(kinds_dir)
    if kinds is None:
        return _definitions_check("layer kinds", problems, "kinds", "KINDS")
    return Check("layer kinds", True, f"{', '.join(sorted(kinds.kinds))} in {kinds_dir}")


def check_data_dir(settings: Settings) -> Check:
    """The data directory is there and writable (rasters, uploads and caches are kept there),
    and how many layers the store lists."""
    from .store import open_store

    data_dir = settings.data_dir
    if not data_dir.is_dir():
        return Check(
            "data directory",
            False,
            f"no folder {data_dir}",
            f"build the sample catalogue there (`geo-service sample --data-dir {data_dir}`), "
            "or create it and upload layers, or set GEO_SERVICE_DATA_DIR",
        )
    try:
        with tempfile.TemporaryFile(dir=data_dir):
            pass
    except OSError as exc:
        return Check(
            "data directory",
            False,
            f"{data_dir} is not writable: {exc.strerror}",
            "give the service's user write access to it (uploads, shortlists and the PDF "
            "cache are written there)",
        )
    try:
        layers = open_store(settings, migrate=False).layers()
    except (ServiceError, SQLAlchemyError):  # the records database's check says why
        return Check("data directory", True, f"{data_dir} is writable; layers not listed")
    unreadable = "".join(f"; unreadable: {s.id} ({s.reason})" for s in layers.skipped)
    return Check(
        "data directory", True, f"{data_dir} is writable; {len(layers)} layers{unreadable}"
    )


def shown_url(url: str) -> str:
    """A database URL fit to print: its password hidden."""
    return make_url(url).render_as_string(hide_password=True)


def unreachable(records: Records) -> str | None:
    """None when the records database answers, else the reason it does not (first line)."""
    try:
        with records.engine.connect() as connection:
            connection.exec_driver_sql("SELECT 1")
    except SQLAlchemyError as exc:
        return str(getattr(exc, "orig", None) or exc).strip().splitlines()[0]
    return None


def check_records(records: Records, fix_upgrade: str) -> Check:
    """The records database answers and is at the newest migration (`fix_upgrade`: how to
    migrate it from where the check is made)."""
    shown = shown_url(records.url)
    reason = unreachable(records)
    if reason is not None:
        return Check(
            "records database",
            False,
            f"cannot reach {shown}: {reason}",
            "start the database server, or correct GEO_SERVICE_DATABASE_URL (host, port, "
            f"user, password, database); then {fix_upgrade}",
        )
    current = current_revision(records)
    head = head_revision()
    if current != head:
        return Check(
            "records database",
            False,
            f"{shown} is at revision {current or 'none (empty)'}, the newest is {head}",
            fix_upgrade,
        )
    return Check("records database", True, f"{shown} at revision {head}")


def check_records_of(settings: Settings) -> Check:
    """The records database the settings name; an SQLite file that does not exist yet is
    reported, not created."""
    url = database_url(settings.database_url, settings.data_dir)
    upgrade = (
        f"`geo-service db upgrade --data-dir {settings.data_dir}` (the service also does it "
        "when it starts)"
    )
    parsed = make_url(url)
    sqlite_file = parsed.database if parsed.get_backend_name() == "sqlite" else None
    if sqlite_file and not Path(sqlite_file).is_file():
        return Check("records database", False, f"no file {sqlite_file} yet", upgrade)
    records = Records(url)
    try:
        return check_records(records, upgrade)
    finally:
        records.dispose()


def check_store(data_dir: Path, store: Store) -> Check:
    """The layer store answers: its folder is there and its layers can be listed."""
    if not Path(data_dir).is_dir():
        return Check("layer store", False, f"no folder {data_dir}", "mount or restore it")
    try:
        listing = store.layers()
    except (OSError, ServiceError) as exc:
        return Check("layer store", False, f"cannot list the layers: {exc}", "see the log")
    skipped = (
        f" ({len(listing.skipped)} unreadable, see GET /collections)" if listing.skipped else ""
    )
    return Check("layer store", True, f"{len(listing)} layers{skipped}")


def readiness(settings: Settings, store: Store, records: Records) -> list[Check]:
    """What a running service needs to answer: its layer store and its records database."""
    return [
        check_store(settings.data_dir, store),
        check_records(
            records, "restart the service once the database is migrated (`geo-service db upgrade`)"
        ),
    ]


def run_checks(settings: Settings) -> list[Check]:
    """Every check of an installation, in the order `geo-service doctor` prints them."""
    return [
        check_libraries(),
        check_vector_drivers(),
        check_raster_drivers(),
        *check_vn2000(),
        check_assets(settings.assets_dir),
        check_catalogues(),
        check_maps(settings.maps_dir),
        check_procedures(settings.procedures_dir),
        check_kinds(settings.kinds_dir),
        check_data_dir(settings),
        check_records_of(settings),
    ]
