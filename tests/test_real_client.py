"""A real OGC API – Features client (GDAL's OAPIF driver, through pyogrio) reads every collection."""

from __future__ import annotations

import math

import pandas as pd
import pyogrio
import pytest
import shapely

from geo_service.pipeline.layer import with_projects
from geo_service.pipeline.projects import ProjectStore
from geo_service.query import Query
from geo_service.records import Records
from geo_service.settings import Settings

from .conftest import settings_of, store_of
from .server import running_server


@pytest.fixture(scope="module")
def server_url(sample_dir):
    with running_server(sample_dir, workers=2) as url:
        yield url


def catalogue(data_dir):
    """The catalogue's store as the server has it: the layers and the pipeline's projects."""
    records = Records.from_settings(settings_of(data_dir))
    store = with_projects(store_of(data_dir), ProjectStore(records, Settings().procedures_dir))
    return store, records


def test_gdal_reads_every_collection_like_the_store(server_url, sample_dir):
    store, records = catalogue(sample_dir)
    layers = store.layers()
    assert {m.id for m in layers} >= {"communes", "land_auction_plots", "investment_projects"}
    try:
        for meta in layers:
            compare_with_gdal(server_url, store, meta)
    finally:
        records.dispose()


def compare_with_gdal(server_url, store, meta) -> None:
    """GDAL reads the collection with the store's count, attributes and geometries."""
    expected = store.query(meta.id, Query(limit=None))
    frame = pyogrio.read_dataframe(f"OAPIF:{server_url}/collections/{meta.id}")
    assert len(frame) == expected.number_matched, meta.id
    by_code = frame.set_index("code")
    for feature in expected.features:
        row = by_code.loc[feature.id]
        for name, value in feature.properties.items():
            if name == "code":
                continue
            got = row[name]
            got = (
                None
                if got is None or got is pd.NaT or (isinstance(got, float) and math.isnan(got))
                else got
            )
            if meta.field(name).type == "date" and got is not None:
                got = str(got)[:10]
            if isinstance(value, float) or isinstance(got, float):
                assert got == pytest.approx(value), (meta.id, feature.id, name)
            else:
                assert got == value, (meta.id, feature.id, name)
        if feature.geometry is None:  # a project not located yet
            assert row.geometry is None, (meta.id, feature.id)
        else:
            assert shapely.from_wkb(feature.geometry).equals_exact(row.geometry, 1e-9)


def test_gdal_pushes_bbox_filters_to_the_server(server_url, sample_dir):
    bbox = (104.0, 21.2, 104.1, 21.3)
    frame = pyogrio.read_dataframe(f"OAPIF:{server_url}/collections/communes", bbox=bbox)
    expected = store_of(sample_dir).query("communes", Query(bbox=bbox, limit=None))
    assert sorted(frame["code"]) == sorted(f.id for f in expected.features)
