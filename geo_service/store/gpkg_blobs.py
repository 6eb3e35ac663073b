"""GeoPackage geometry blobs: the standard binary header (magic, flags, SRS id, optional
envelope) before ISO WKB. Uploads are written by GDAL; change sets add rows one by one, so they
write the header themselves, as GDAL does."""

from __future__ import annotations

import struct

import shapely

_ENVELOPE_BYTES = {0: 0, 1: 32, 2: 48, 3: 48, 4: 64}
_EMPTY = 0b10000
_LITTLE_ENDIAN = 0b1
_XY_ENVELOPE = 0b10


def gpkg_to_wkb(blob: bytes | None) -> bytes | None:
    """Strip the GeoPackage binary header, leaving standard WKB."""
    if blob is None:
        return None
    flags = blob[3]
    return blob[8 + _ENVELOPE_BYTES[(flags >> 1) & 0b111] :]


def header_envelope(blob: bytes) -> tuple[float, float, float, float] | None:
    """(minx, miny, maxx, maxy) as the header stores it; None when it stores none."""
    if (blob[3] >> 1) & 0b111 == 0:
        return None
    minx, maxx, miny, maxy = struct.unpack("<dddd" if blob[3] & 1 else ">dddd", blob[8:40])
    return minx, miny, maxx, maxy


def bounds(blob: bytes) -> tuple[float, float, float, float] | None:
    """(minx, miny, maxx, maxy) of a blob's geometry, from its header where it has an envelope
    (all but points); None for an empty geometry."""
    if blob[3] & _EMPTY:
        return None
    envelope = header_envelope(blob)
    if envelope is not None:
        return envelope
    geometry = shapely.from_wkb(gpkg_to_wkb(blob))
    return None if geometry.is_empty else geometry.bounds


def wkb_to_gpkg(wkb: bytes, srs_id: int) -> bytes:
    """A blob for WKB: little-endian header, with an xy envelope but for points (whose
    coordinates are their envelope) and empty geometries, as GDAL writes them."""
    geometry = shapely.from_wkb(wkb)
    if geometry.is_empty:
        return struct.pack("<2sBBi", b"GP", 0, _EMPTY | _LITTLE_ENDIAN, srs_id) + wkb
    if shapely.get_type_id(geometry) == 0:
        return struct.pack("<2sBBi", b"GP", 0, _LITTLE_ENDIAN, srs_id) + wkb
    minx, miny, maxx, maxy = geometry.bounds
    flags = _XY_ENVELOPE | _LITTLE_ENDIAN
    return struct.pack("<2sBBi4d", b"GP", 0, flags, srs_id, minx, maxx, miny, maxy) + wkb
