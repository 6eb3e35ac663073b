"""2025 communes and wards, and old (district-based) addresses converted to them.

Backed by `vietnamadminunits`. Since 1 July 2025 there are two levels, province and commune;
source documents still use old names, so both are accepted and the 2025 unit is what we store.
"""

from __future__ import annotations

import contextlib
import importlib.util
import sqlite3
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from .i18n import _l


@lru_cache(maxsize=1)
def _admin_database() -> Path:
    """`vietnamadminunits`' own SQLite dataset. Found without importing the package, whose
    address parsers compile their patterns at import: 0.4 s of every process's start, which
    only `resolve_commune` needs."""
    spec = importlib.util.find_spec("vietnamadminunits")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError("vietnamadminunits is not installed", name="vietnamadminunits")
    return Path(next(iter(spec.submodule_search_locations))) / "data" / "dataset.db"


def _admin_rows(sql: str) -> list[dict]:
    """Rows of the dataset, as the package's own `database.main.query` reads them."""
    uri = f"{_admin_database().as_uri()}?mode=ro"
    with contextlib.closing(sqlite3.connect(uri, uri=True)) as connection:
        connection.row_factory = sqlite3.Row
        return [dict(row) for row in connection.execute(sql)]


class UnmatchedPlace(ValueError):
    """An address that matches no 2025 commune or ward."""


@dataclass(frozen=True)
class Commune:
    code: str
    name: str
    province_code: str
    province_name: str
    unit_type: str
    lon: float
    lat: float
    area_km2: float | None


def _unit_type(ward_type: str | None) -> str:
    return {"Phường": "ward", "Đặc khu": "special_zone"}.get(ward_type or "", "commune")


@lru_cache(maxsize=1)
def _communes_by_code() -> dict[str, Commune]:
    rows = _admin_rows(
        "SELECT province, provinceCode, ward, wardType, wardCode, wardLat, wardLon, wardAreaKm2 "
        "FROM admin_units"
    )
    return {
        r["wardCode"]: Commune(
            code=r["wardCode"],
            name=unicodedata.normalize("NFC", r["ward"]),
            province_code=r["provinceCode"],
            province_name=unicodedata.normalize("NFC", r["province"]),
            unit_type=_unit_type(r["wardType"]),
            lon=r["wardLon"],
            lat=r["wardLat"],
            area_km2=r["wardAreaKm2"],
        )
        for r in rows
    }


def communes_of_province(province_code: str) -> list[Commune]:
    """Every 2025 commune and ward of a province, ordered by code."""
    return sorted(
        (c for c in _communes_by_code().values() if c.province_code == province_code),
        key=lambda c: c.code,
    )


@lru_cache(maxsize=64)
def province_area_ha(province_code: str) -> float | None:
    """A 2025 province's area in hectares, the sum of its communes'; None where one of them has
    no area in the dataset."""
    areas = [c.area_km2 for c in communes_of_province(province_code)]
    if not areas or None in areas:
        return None
    return sum(areas) * 100  # type: ignore[arg-type]


def commune_by_code(code: str) -> Commune:
    try:
        return _communes_by_code()[code]
    except KeyError:
        raise UnmatchedPlace(_l("no 2025 commune or ward has code {code!r}", code=code)) from None


def resolve_commune(address: str) -> Commune:
    """The 2025 commune of an address, old («Xã Mường Bằng, Huyện Mai Sơn, Tỉnh Sơn La») or new.

    `convert_address` answers the province centre with no ward when it cannot match; that is
    treated as unmatched, never as a location.
    """
    from vietnamadminunits import convert_address, parse_address

    text = unicodedata.normalize("NFC", address).strip()
    is_old = "huyện" in text.lower() or "thị xã" in text.lower() or "thành phố" in text.lower()
    try:
        unit = convert_address(text) if is_old else parse_address(text)
    except Exception as exc:  # the library raises bare errors on unknown provinces
        raise UnmatchedPlace(
            _l("cannot read address {address!r}: {exc}", address=address, exc=exc)
        ) from None
    if not unit.ward_code:
        raise UnmatchedPlace(
            _l("address {address!r} matches no 2025 commune or ward", address=address)
        )
    return commune_by_code(unit.ward_code)


@lru_cache(maxsize=64)
def province_bounds(province_code: str) -> tuple[float, float, float, float]:
    """A province's extent (lon/lat): the bounds of the pre-2025 provinces merged into it, joined
    with its 2025 communes' centres (some published bounds are too small)."""
    communes = communes_of_province(province_code)
    if not communes:
        raise UnmatchedPlace(_l("no 2025 province has code {code!r}", code=province_code))
    xs, ys = [c.lon for c in communes], [c.lat for c in communes]
    rows = _admin_rows(
        "SELECT DISTINCT l.provinceBounds FROM admin_units_legacy l JOIN admin_units n "
        f"ON l.wardCode = n.wardCode WHERE n.provinceCode = '{province_code}'"
        if province_code.isdigit()
        else "SELECT NULL"
    )
    for row in rows:
        text = row.get("provinceBounds") or ""
        corners = [part.split(",") for part in text.replace(" ", "").split("–") if part]
        for lat, lon in (c for c in corners if len(c) == 2):
            ys.append(float(lat))
            xs.append(float(lon))
    return min(xs), min(ys), max(xs), max(ys)


@lru_cache(maxsize=64)
def province_centre(province_code: str) -> tuple[float, float, str]:
    """(lon, lat, name) of a 2025 province's centre as `vietnamadminunits` gives it."""
    rows = _admin_rows(
        "SELECT DISTINCT province, provinceLat, provinceLon FROM admin_units "
        f"WHERE provinceCode = '{province_code}'"
        if province_code.isdigit()
        else "SELECT NULL"
    )
    if not rows or rows[0].get("provinceLat") is None:
        raise UnmatchedPlace(_l("no 2025 province has code {code!r}", code=province_code))
    row = rows[0]
    return row["provinceLon"], row["provinceLat"], unicodedata.normalize("NFC", row["province"])


BOUNDS_MARGIN_DEGREES = 0.05
"""About 5 km: how far outside its province's bounds a feature or raster uploaded for it may lie."""


def province_extent(province_code: str) -> tuple[float, float, float, float]:
    """The extent (lon/lat) uploads for the province must fall within: its bounds and a margin."""
    minx, miny, maxx, maxy = province_bounds(province_code)
    m = BOUNDS_MARGIN_DEGREES
    return minx - m, miny - m, maxx + m, maxy + m
