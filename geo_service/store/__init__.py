"""The store boundary: whoever reads or publishes layers asks a `Store` (see `base.py`)."""

from .base import Facet, Feature, FeaturePage, GridCell, Store, VersionSummary

__all__ = ["Facet", "Feature", "FeaturePage", "GridCell", "Store", "VersionSummary"]
