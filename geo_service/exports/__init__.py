"""Exports of any query to the formats planners and GIS staff use."""

from .export import (
    export_features,
    export_query,
    export_shortlist,
    export_table,
    layer_groups,
    shortlist_query,
    shortlist_sites,
)
from .formats import FORMATS
from .pdf_cache import PdfCache
from .site_sheet import Site, sheets_key, site_sheets

__all__ = [
    "FORMATS",
    "PdfCache",
    "Site",
    "export_features",
    "export_query",
    "export_shortlist",
    "export_table",
    "layer_groups",
    "shortlist_query",
    "sheets_key",
    "shortlist_sites",
    "site_sheets",
]
