"""What PDF site sheets and large exports may cost: sheets are drawn once per state of what they
show (then served from a bounded disk cache), and a few heavy exports run at once per process;
beyond that a request waits briefly, then gets 429 with Retry-After."""

from __future__ import annotations

import io
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import shapely
from fastapi.testclient import TestClient
from pypdf import PdfReader

from geo_service.api import downloads
from geo_service.app import create_app
from geo_service.catalogue import LayerMeta
from geo_service.exports import PdfCache
from geo_service.kinds import fields_for_kind
from geo_service.layer_frame import records_to_frame

from .conftest import grid_layer, publish, settings_of

SITES = [f"G-{i}-{j}" for i in range(3) for j in range(2)]


def publish_communes(data_dir: Path) -> None:
    """Two commune centres among the grid's squares: the sheets' maps name them."""
    meta = LayerMeta(id="centres", title_vi="Xã", title_en="Communes", kind="commune",
                     geometry_type="point", fields=fields_for_kind("commune"),
                     updated="2026-01-01", data_quality="synthetic_demo")  # fmt: skip
    records = [{"code": "C1", "name_vi": "Xã Thử Nghiệm"}, {"code": "C2", "name_vi": "Xã Ở Xa"}]
    points = [shapely.Point(104.012, 21.012), shapely.Point(105.5, 22.5)]
    publish(data_dir, meta, records_to_frame(meta, records, points))


@pytest.fixture()
def data_dir(tmp_path: Path, backend) -> Path:
    backend.claim(tmp_path)
    meta, records, geometries = grid_layer()
    publish(tmp_path, meta, records_to_frame(meta, records, geometries))
    publish_communes(tmp_path)
    return tmp_path


@pytest.fixture()
def drawn(monkeypatch) -> list[int]:
    """The number of sites of each PDF actually drawn (not served from the cache)."""
    calls: list[int] = []
    draw = downloads.site_sheets

    def counting(store, sites, lang, stem):
        calls.append(len(sites))
        return draw(store, sites, lang, stem)

    monkeypatch.setattr(downloads, "site_sheets", counting)
    return calls


def client_for(data_dir: Path, **settings) -> TestClient:
    return TestClient(create_app(settings_of(data_dir, **settings)))


def pages(response) -> list[str]:
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/pdf"
    return [page.extract_text() for page in PdfReader(io.BytesIO(response.content)).pages]


def new_shortlist(client: TestClient, codes: list[str]) -> tuple[str, str]:
    items = [{"collection": "grid", "id": code} for code in codes]
    created = client.post("/shortlists", json={"name": "Cho nhà đầu tư", "items": items}).json()
    return created["id"], created["edit_key"]


def cache_files(data_dir: Path) -> list[Path]:
    return sorted((data_dir / "_cache" / "pdf").glob("*.pdf"))


def test_sheets_are_drawn_once_per_state_of_what_they_show(data_dir, drawn):
    client = client_for(data_dir)
    shortlist, key = new_shortlist(client, SITES)
    url = f"/shortlists/{shortlist}/export"
    first = client.get(url, params={"f": "pdf"})
    assert len(pages(first)) == len(SITES) and drawn == [len(SITES)]
    assert "Xã Thử Nghiệm" in pages(first)[0]  # the map is drawn as text and paths, offline
    again = client.get(url, params={"f": "pdf"})
    assert again.content == first.content and drawn == [len(SITES)]
    assert 'filename="shortlist-' in again.headers["content-disposition"]
    assert not list((data_dir / "_cache" / "pdf" / ".serving").iterdir()), "links removed"
    # another language, a change to the list, and a new version of any layer: drawn afresh
    assert pages(client.get(url, params={"f": "pdf", "lang": "en"})) and len(drawn) == 2
    changed = client.patch(f"/shortlists/{shortlist}", headers={"X-Shortlist-Key": key},
                           json={"remove": [{"collection": "grid", "id": SITES[0]}]})  # fmt: skip
    assert changed.status_code == 200
    assert len(pages(client.get(url, params={"f": "pdf"}))) == len(SITES) - 1
    publish_communes(data_dir)  # a layer the shortlist does not name, but its maps draw
    assert len(pages(client.get(url, params={"f": "pdf"}))) == len(SITES) - 1
    assert drawn == [len(SITES), len(SITES), len(SITES) - 1, len(SITES) - 1]
    # one feature's sheet is cached the same way
    feature = "/collections/grid/items/G-1-1"
    assert pages(client.get(feature, params={"f": "pdf"})) == pages(
        client.get(feature, params={"f": "pdf"})
    )
    assert drawn[-1] == 1 and len(drawn) == 5


def test_the_cache_stays_within_its_bound(data_dir, drawn):
    probe = client_for(data_dir)
    one = probe.get("/collections/grid/items/G-0-0", params={"f": "pdf"})
    bound = int(len(one.content) * 2.5)
    client = client_for(data_dir, pdf_cache_bytes=bound)
    for code in ("G-1-0", "G-2-0", "G-3-0", "G-4-0"):
        assert client.get(f"/collections/grid/items/{code}", params={"f": "pdf"}).status_code == 200
    kept = cache_files(data_dir)
    assert 1 <= len(kept) <= 2 and sum(p.stat().st_size for p in kept) <= bound
    # the most recent is still there: asking again draws nothing
    count = len(drawn)
    client.get("/collections/grid/items/G-4-0", params={"f": "pdf"})
    assert len(drawn) == count
    # with no cache at all, every sheet is drawn, and nothing is left behind
    uncached = client_for(data_dir, pdf_cache_bytes=0)
    for _ in range(2):
        assert uncached.get("/collections/grid/items/G-5-0", params={"f": "pdf"}).status_code == 200
    assert len(drawn) == count + 2 and len(cache_files(data_dir)) == len(kept)


def test_a_pdf_asked_for_twice_at_once_is_drawn_once(tmp_path):
    cache = PdfCache(tmp_path / "cache", 10**6)
    started, release = threading.Event(), threading.Event()
    made = []

    def make() -> Path:
        made.append(1)
        started.set()
        assert release.wait(10)
        folder = tmp_path / f"made-{len(made)}"
        folder.mkdir()
        (folder / "x.pdf").write_bytes(b"%PDF-1.4 test")
        return folder / "x.pdf"

    with ThreadPoolExecutor(2) as pool:
        first = pool.submit(cache.download, "ab" * 32, "sheet.pdf", make)
        assert started.wait(10)
        second = pool.submit(cache.download, "ab" * 32, "sheet.pdf", make)
        release.set()
        paths = [first.result(), second.result()]
    assert len(made) == 1 and [p.read_bytes() for p in paths] == [b"%PDF-1.4 test"] * 2
    assert paths[0] != paths[1] and all(p.name == "sheet.pdf" for p in paths)


def busy(response) -> None:
    assert response.status_code == 429, response.text
    assert int(response.headers["retry-after"]) > 0
    body = response.json()
    assert body["code"] == "TooManyExports" and "try again" in body["description"]


def test_heavy_exports_wait_briefly_then_429_with_retry_after(data_dir):
    app = create_app(settings_of(data_dir, heavy_exports=1, heavy_export_wait=0.1, large_export=20))
    client = TestClient(app)
    cached = client.get("/collections/grid/items/G-0-0", params={"f": "pdf"})
    assert cached.status_code == 200
    with app.state.heavy.slot():  # every slot taken, as by a long export
        busy(client.get("/collections/grid/items/G-0-1", params={"f": "pdf"}))
        shortlist, _ = new_shortlist(client, SITES)
        busy(client.get(f"/shortlists/{shortlist}/export", params={"f": "pdf"}))
        busy(client.get("/collections/grid/items", params={"f": "csv"}))  # 101 features
        # a small export, and a sheet already drawn, need no slot
        small = client.get("/collections/grid/items", params={"f": "csv", "status": "planned",
                                                              "area_ha": 10})  # fmt: skip
        assert small.status_code == 200
        again = client.get("/collections/grid/items/G-0-0", params={"f": "pdf"})
        assert again.status_code == 200 and again.content == cached.content
    assert client.get("/collections/grid/items/G-0-1", params={"f": "pdf"}).status_code == 200
    assert client.get("/collections/grid/items", params={"f": "csv"}).status_code == 200
