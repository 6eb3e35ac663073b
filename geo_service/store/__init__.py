"""The store boundary: every reader (API, map, exports) asks a `Store`, never a file."""

from .base import Facet, Feature, FeaturePage, GridCell, Store

__all__ = ["Facet", "Feature", "FeaturePage", "GridCell", "Store"]
