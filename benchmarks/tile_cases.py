"""The vector-tile cases of the PostGIS benchmark (run_postgis.py): tiles at zoom 8, 12 and 14
over the parcels, each asked of this service (PostGIS store and GeoPackage store) and of TiPG.

"new" cases are tiles never seen before: our servers for them run without the tile cache
(`GEO_SERVICE_TILE_CACHE_BYTES=0`), since a zoom-8 view of Sơn La has only four tiles to ask.
"repeat" cases are the views a map asks again (a few tiles, cycled): our servers for them keep
the cache. TiPG keeps none, so its repeat figures are its new ones again.

Both servers are asked for the same properties (ours: the fields a tile carries by default;
TiPG: the same and the id column), at most 10,000 features a tile (both defaults).
"""

from __future__ import annotations

import math
import random
import urllib.parse
import urllib.request

import mapbox_vector_tile
from make_parcels import BOUNDS, LAYER_ID, parcel_meta

from geo_service.vector_tiles import tile_properties

ZOOMS = (8, 12, 14)
DISTINCT = 500
REPEATED = 20
"""Tiles a repeat case cycles through (a map view's worth)."""
CASES = [f"tiles z{z} {kind}" for z in ZOOMS for kind in ("new", "repeat")]


def tile_at(lon: float, lat: float, z: int) -> tuple[int, int]:
    n = 2**z
    x = int((lon + 180) / 360 * n)
    y = int((1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n)
    return x, y


def properties() -> list[str]:
    return list(tile_properties(parcel_meta()))


def request_lists(seed: int) -> dict[str, dict[str, list[str]]]:
    """Per case, our tile paths ('timed', 'warmup'); `for_tipg` turns them into TiPG's."""
    rng = random.Random(seed)
    minx, miny, maxx, maxy = BOUNDS
    query = "?" + urllib.parse.urlencode({"properties": ",".join(properties())})
    cases = {}
    for z in ZOOMS:
        tiles = [tile_at(rng.uniform(minx, maxx), rng.uniform(miny, maxy), z) for _ in range(5000)]
        distinct = list(dict.fromkeys(tiles))
        rng.shuffle(distinct)
        paths = [
            f"/collections/{LAYER_ID}/tiles/WebMercatorQuad/{z}/{x}/{y}{query}" for x, y in distinct
        ]
        new = paths[:DISTINCT]
        cases[f"tiles z{z} new"] = {"timed": new, "warmup": new[-50:]}
        repeated = paths[:REPEATED]
        cases[f"tiles z{z} repeat"] = {"timed": repeated, "warmup": repeated}
    return cases


def for_tipg(path: str, collection: str) -> str:
    ours = f"/collections/{LAYER_ID}/"
    query = "?" + urllib.parse.urlencode({"properties": ",".join(["code", *properties()])})
    return path.replace(ours, f"/collections/{collection}/", 1).split("?")[0] + query


def features_of(url: str) -> tuple[set[str], int, bool]:
    """The feature ids (ours: `id`, TiPG: `code`) in a tile, its size in bytes, and whether it
    was cut at the feature limit (ours says so; TiPG's is taken as cut at 10,000)."""
    with urllib.request.urlopen(url, timeout=300) as response:
        data = response.read() if response.status == 200 else b""
        cut = response.headers.get("Geo-Service-Tile-Truncated") is not None
    ids: set[str] = set()
    for layer in mapbox_vector_tile.decode(data).values() if data else []:
        for feature in layer["features"]:
            properties = feature["properties"]
            ids.add(str(properties.get("id", properties.get("code"))))
    return ids, len(data), cut


def check_tiles(ours_base: str, peer_base: str, ours: list[str], peer: list[str]) -> dict:
    """The first tiles of a case from both: where ours was not cut at its limit, every feature
    of TiPG's is in ours (ours also holds those reaching only its 64-unit buffer); their
    sizes either way."""
    notes, same = [], True
    for path_a, path_b in list(zip(ours, peer, strict=True))[:5]:
        a, size_a, cut = features_of(ours_base + path_a)
        b, size_b, _ = features_of(peer_base + path_b)
        notes.append(
            f"{len(a)}/{len(b)} features{' (cut)' if cut else ''}, "
            f"{size_a / 1000:.0f}/{size_b / 1000:.0f} kB"
        )
        if not cut and not b <= a:
            same = False
            notes.append(f"{path_a}: {len(b - a)} of TiPG's features not in ours")
    return {"same": same, "checked": min(5, len(ours)), "notes": notes}
