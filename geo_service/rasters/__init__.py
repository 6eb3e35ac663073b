"""Raster layers (Cloud Optimised GeoTIFFs with metadata): registration, map tiles and legends,
and exact zonal statistics (with slope derived from DEMs) over the catalogue's sites."""
