"""The store boundary: whoever reads or publishes layers asks a `Store` (see `base.py`), and
`open_store` is the one place that picks which store the settings name."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .base import Facet, Feature, FeaturePage, GridCell, Store, VectorTile, VersionSummary

if TYPE_CHECKING:
    from ..settings import Settings

__all__ = [
    "Facet",
    "Feature",
    "FeaturePage",
    "GridCell",
    "Store",
    "VectorTile",
    "VersionSummary",
    "open_store",
    "uses_postgis",
]


def uses_postgis(settings: Settings) -> bool:
    """Whether the settings' database is PostgreSQL, whose layers the PostGIS store keeps."""
    from sqlalchemy.engine import make_url

    from ..records import database_url

    url = database_url(settings.database_url, settings.data_dir)
    return make_url(url).get_backend_name() == "postgresql"


def open_store(settings: Settings, migrate: bool = True) -> Store:
    """The layer store the settings name: PostGIS in the database of `GEO_SERVICE_DATABASE_URL`
    when that is PostgreSQL (migrated first unless `migrate` is False), else the GeoPackage
    files of the data directory."""
    if not uses_postgis(settings):
        from .gpkg import GeoPackageStore

        return GeoPackageStore(settings.data_dir)
    from ..records import Records, database_url, upgrade
    from .postgis import PostGISStore

    url = database_url(settings.database_url, settings.data_dir)
    if migrate:
        records = Records(url)
        try:
            upgrade(records)  # at once when it is up to date
        finally:
            records.dispose()
    read_url = database_url(settings.database_read_url, settings.data_dir)
    return PostGISStore(url, read_url if settings.database_read_url else None)
