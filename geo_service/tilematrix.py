"""WebMercatorQuad, the one tile matrix set served (OGC Two Dimensional Tile Matrix Set 2.0,
its registered definition): 256 × 256 tiles in EPSG:3857, zoom 0 one tile for the world, rows
counted from the north. Raster map tiles and vector tiles both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyproj import Transformer

from .errors import NotFound
from .i18n import _l

TILE_MATRIX_SET = "WebMercatorQuad"
TILE_MATRIX_SET_URI = "http://www.opengis.net/def/tilematrixset/OGC/1.0/WebMercatorQuad"
TILE_SIZE = 256
MAX_ZOOM = 24
"""The deepest tile matrix the registered definition has."""
HALF_WORLD = 20037508.342789244
"""Half the width of the web-mercator square, in metres."""
MERCATOR_LATITUDE = 85.0511287798
"""The latitude of the square's north and south edges."""
SCALE_AT_ZOOM_0 = 559082264.028717
"""The registered scale denominator of tile matrix 0 (0.28 mm pixels)."""

_TO_WGS84 = Transformer.from_crs("EPSG:3857", "EPSG:4326", always_xy=True)


@dataclass(frozen=True)
class Tile:
    """One tile of WebMercatorQuad: zoom (tile matrix), column from the west, row from the north."""

    z: int
    x: int
    y: int

    @classmethod
    def checked(cls, z: int, x: int, y: int) -> Tile:
        """The tile, or `NotFound` (404, as OGC API – Tiles asks) when the tile matrix set has no
        such tile."""
        if not 0 <= z <= MAX_ZOOM:
            raise NotFound(
                _l(
                    "no tile matrix {z} in {tms}: zoom is 0–{max_zoom}",
                    z=z,
                    tms=TILE_MATRIX_SET,
                    max_zoom=MAX_ZOOM,
                )
            )
        if not (0 <= x < 2**z and 0 <= y < 2**z):
            raise NotFound(
                _l(
                    "no tile {z}/{x}/{y}: at zoom {z} columns and rows are 0–{last}",
                    z=z,
                    x=x,
                    y=y,
                    last=2**z - 1,
                )
            )
        return cls(z, x, y)

    @property
    def size(self) -> float:
        """Width (and height) of the tile in metres of EPSG:3857."""
        return 2 * HALF_WORLD / 2**self.z

    def bounds(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        """(minx, miny, maxx, maxy) in EPSG:3857, widened by `margin` tile widths each side."""
        size = self.size
        west, north = -HALF_WORLD + self.x * size, HALF_WORLD - self.y * size
        pad = margin * size
        return west - pad, north - size - pad, west + size + pad, north + pad

    def wgs84_bounds(self, margin: float = 0.0) -> tuple[float, float, float, float]:
        """The same box in longitude/latitude, kept within the world's."""
        minx, miny, maxx, maxy = self.bounds(margin)
        clamp = HALF_WORLD
        (west, east), (south, north) = _TO_WGS84.transform(
            [max(minx, -clamp), min(maxx, clamp)], [max(miny, -clamp), min(maxy, clamp)]
        )
        return west, south, east, north


def tile_matrix_set() -> dict[str, Any]:
    """The tile matrix set as OGC's JSON encoding describes it."""
    matrices = []
    for z in range(MAX_ZOOM + 1):
        count = 2**z
        matrices.append(
            {
                "id": str(z),
                "scaleDenominator": SCALE_AT_ZOOM_0 / count,
                "cellSize": 2 * HALF_WORLD / TILE_SIZE / count,
                "cornerOfOrigin": "topLeft",
                "pointOfOrigin": [-HALF_WORLD, HALF_WORLD],
                "tileWidth": TILE_SIZE,
                "tileHeight": TILE_SIZE,
                "matrixWidth": count,
                "matrixHeight": count,
            }
        )
    return {
        "id": TILE_MATRIX_SET,
        "title": "Google Maps Compatible for the World",
        "uri": TILE_MATRIX_SET_URI,
        "crs": "http://www.opengis.net/def/crs/EPSG/0/3857",
        "orderedAxes": ["E", "N"],
        "wellKnownScaleSet": "http://www.opengis.net/def/wkss/OGC/1.0/GoogleMapsCompatible",
        "tileMatrices": matrices,
    }
