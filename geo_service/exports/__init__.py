"""Exports of any query to the formats planners and GIS staff use."""

from .export import (
    export_query,
    export_shortlist,
    export_table,
    layer_groups,
    shortlist_query,
    shortlist_site_sheets,
)
from .formats import FORMATS
from .site_sheet import Site, site_sheets

__all__ = [
    "FORMATS",
    "Site",
    "export_query",
    "export_shortlist",
    "export_table",
    "layer_groups",
    "shortlist_query",
    "shortlist_site_sheets",
    "site_sheets",
]
