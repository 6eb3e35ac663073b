"""The store boundary: every reader (API, map, exports) asks a `Store`, never a file."""

from .base import Feature, FeaturePage, Store

__all__ = ["Feature", "FeaturePage", "Store"]
