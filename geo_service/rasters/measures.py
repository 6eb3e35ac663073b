"""What statistics can be asked of: each raster by its id, and the slope of each DEM as
`<id>:slope` (degrees, derived on the fly by Horn's method, never stored)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from shapely.geometry.base import BaseGeometry

from ..errors import InvalidParameter
from ..i18n import _l
from .meta import RasterMeta
from .store import RasterStore, reading_cog
from .zonal import to_raster_crs, zonal_stats

SLOPE = "slope"


@dataclass(frozen=True)
class Measure:
    name: str
    """The raster's id, or `<id>:slope`."""
    meta: RasterMeta
    path: Path
    slope: bool = False

    def describe(self) -> dict:
        """Titles, unit and CRS of what is measured, for a response."""
        if self.slope:
            titles = {
                "title_vi": f"Độ dốc (tính từ {self.meta.title_vi})",
                "title_en": f"Slope (derived from {self.meta.title_en})",
                "unit": "°",
                "derived_from": f"{self.meta.id}, by Horn's method",
            }
        else:
            titles = {
                "title_vi": self.meta.title_vi,
                "title_en": self.meta.title_en,
                "unit": self.meta.unit,
                "derived_from": self.meta.derived_from,
            }
        return {"raster": self.name, **titles, "crs": self.meta.crs}

    def stats(self, geometries: list[BaseGeometry]) -> list[dict]:
        """Zonal statistics of each WGS 84 geometry, in one pass over the raster."""
        with reading_cog(self.meta.id):
            return zonal_stats(self.path, to_raster_crs(geometries, self.meta), self.slope)


def measure(store: RasterStore, name: str) -> Measure:
    """The measure called `name`; an unknown raster is `NotFound`, a bad suffix a 400."""
    raster_id, _, derived = name.partition(":")
    meta, path = store.get(raster_id)
    if not derived:
        return Measure(name, meta, path)
    if derived != SLOPE:
        raise InvalidParameter(
            _l(
                "{name!r}: the only derived measure is '{raster_id}:{slope}'",
                name=name,
                raster_id=raster_id,
                slope=SLOPE,
            )
        )
    if meta.kind != "dem":
        raise InvalidParameter(
            _l(
                "{name!r}: slope is derived from DEMs only, and {raster_id!r} is not one",
                name=name,
                raster_id=raster_id,
            )
        )
    return Measure(name, meta, path, slope=True)


def all_measures(store: RasterStore) -> list[Measure]:
    """Every raster, each DEM followed by its slope."""
    found = []
    for meta in store.rasters():
        found.append(measure(store, meta.id))
        if meta.kind == "dem":
            found.append(measure(store, f"{meta.id}:{SLOPE}"))
    return found
