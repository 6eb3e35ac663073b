"""Exports of any query to the formats planners and GIS staff use."""

from .export import export_query, export_shortlist, shortlist_query
from .formats import FORMATS

__all__ = ["FORMATS", "export_query", "export_shortlist", "shortlist_query"]
