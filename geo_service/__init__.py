"""Geospatial catalogue of investment sites: store, OGC API - Features, sample catalogue."""

__version__ = "0.1.0"
