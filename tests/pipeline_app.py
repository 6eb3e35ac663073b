"""Helpers for the pipeline tests: a data directory with a site layer, an app on a given records
database, and a valid project document to vary."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient

from geo_service.app import create_app
from geo_service.layer_frame import records_to_frame
from geo_service.settings import Settings
from geo_service.store import open_store, uses_postgis
from geo_service.store.gpkg import GeoPackageStore

MAI_SON_POINT = {"type": "Point", "coordinates": [104.08, 21.25]}
"""Near the centre of Xã Chiềng Mung (04123), where the Mai Sơn industrial zone lies."""


def pipeline_data_dir(folder: Path) -> Path:
    """A data directory holding the `grid` test layer."""
    from .conftest import grid_layer

    meta, records, geometries = grid_layer()
    GeoPackageStore(folder).publish(meta, records_to_frame(meta, records, geometries))
    return folder


def with_grid(data_dir: Path, records_url: str) -> None:
    """The `grid` layer in the store a records database brings: `pipeline_data_dir` put it in the
    data directory's GeoPackage store; a PostgreSQL database keeps its own layers (PostGIS)."""
    from .conftest import grid_layer

    settings = Settings(data_dir=data_dir, database_url=records_url)
    if not uses_postgis(settings):
        return
    store = open_store(settings)
    try:
        if not store.version_numbers("grid"):
            meta, records, geometries = grid_layer()
            store.publish(meta, records_to_frame(meta, records, geometries))
    finally:
        store.dispose()


@contextlib.contextmanager
def pipeline_client(data_dir: Path, records_url: str, **settings: Any) -> Iterator[TestClient]:
    """An app on `records_url` (and on the layers it brings, with the grid among them)."""
    with_grid(data_dir, records_url)
    app = create_app(Settings(data_dir=data_dir, database_url=records_url, **settings))
    try:
        yield TestClient(app)
    finally:
        app.state.records.dispose()


def project_body(**changes: Any) -> dict[str, Any]:
    body = {
        "id": "SL-DA-0001",
        "name_vi": "Nhà máy chế biến xoài Mai Sơn",
        "name_en": "Mai Son mango processing plant",
        "summary_vi": "Chế biến sâu nông sản.",
        "sector": "agro_processing",
        "investment_form": "policy_approval",
        "location": MAI_SON_POINT,
        "commune_code": "04123",
        "sites": [{"collection": "grid", "id": "G-1-2"}],
        "area_ha": 12.5,
        "capital_planned_billion_vnd": 350.0,
        "responsible_agency": "Cơ quan đăng ký đầu tư cấp tỉnh",
        "public_contact": "Bộ phận một cửa, 0212 000 000",
        "source": "test",
        "data_quality": "synthetic_demo",
    }
    body.update(changes)
    return {k: v for k, v in body.items() if v is not None}
