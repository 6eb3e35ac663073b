"""Exports of any query to the formats planners and GIS staff use."""

from .export import (
    export_features,
    export_query,
    export_shortlist,
    export_table,
    shortlist_query,
    shortlist_site_sheets,
)
from .formats import FORMATS
from .site_sheet import Site, site_sheets

__all__ = [
    "FORMATS",
    "Site",
    "export_features",
    "export_query",
    "export_shortlist",
    "export_table",
    "shortlist_query",
    "shortlist_site_sheets",
    "site_sheets",
]
