"""GIS staff's uploads: read safely, validate with a report, publish atomically."""

from .service import UploadRequest, ingest
from .validate import Report

__all__ = ["Report", "UploadRequest", "ingest"]
