"""Content in Japanese, Korean and Chinese beside Vietnamese and English: layer metadata sent
with an upload and stored by either layer store, a kind's labels, projects on SQLite and
PostgreSQL (POST, PATCH, the page, search, the collection, the migration that adds them); each
shown in the request's language, else English, else Vietnamese, and the fallback visible."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa
from alembic import command
from fastapi.testclient import TestClient

from geo_service.app import create_app
from geo_service.catalogue import CodedValue, FieldSpec
from geo_service.i18n import pick_marked
from geo_service.kinds import KindField
from geo_service.layer_frame import records_to_frame

from .conftest import grid_layer
from .migrations import downgraded
from .pipeline_app import pipeline_client, project_body
from .staff import staff_token
from .test_upload import as_file, upload, zones_frame

TITLES = {
    "title_vi": "Khu thử",
    "title_en": "Test zones",
    "title_ja": "試験区域",
    "description_en": "Zones for a test",
    "description_ja": "試験用の区域",
    "kind": "industrial_zone",
    "data_quality": "indicative",
}


@pytest.fixture()
def staff(tmp_path, backend):
    data = tmp_path / "data"
    data.mkdir()
    editor = staff_token(backend.claim(data), "editor")
    client = TestClient(create_app(backend.settings(data)))
    return client, {"Authorization": f"Bearer {editor}"}


def test_a_layers_title_in_japanese_is_stored_served_and_falls_back(staff, tmp_path):
    client, headers = staff
    path = as_file(zones_frame(), tmp_path, "zones.gpkg", "GPKG")
    response = upload(client, headers, path, metadata=json.dumps(TITLES))
    assert response.status_code == 201, response.text

    japanese = client.get("/collections/zones", params={"lang": "ja"}).json()
    assert (japanese["title"], japanese["title_lang"]) == ("試験区域", "ja")
    assert (japanese["description"], japanese["description_lang"]) == ("試験用の区域", "ja")
    assert japanese["title_ja"] == "試験区域" and japanese["title_en"] == "Test zones"
    assert "title_ko" not in japanese  # only the languages it has
    korean = client.get("/collections/zones", params={"lang": "ko"}).json()
    assert (korean["title"], korean["title_lang"]) == ("Test zones", "en")
    assert (korean["description"], korean["description_lang"]) == ("Zones for a test", "en")
    listed = client.get("/collections", headers={"Accept-Language": "ja"}).json()
    (zones,) = [c for c in listed["collections"] if c["id"] == "zones"]
    assert zones["title"] == "試験区域"
    queryables = client.get("/collections/zones/queryables", params={"lang": "ja"}).json()
    assert queryables["title"] == "試験区域"

    # a new version keeps the titles it does not give, and may clear one
    again = upload(client, headers, path, method="put", metadata=json.dumps({}))
    assert again.status_code == 200, again.text
    assert "metadata title_ja = '試験区域' (kept from version 1)" in again.json()["defaulted"]
    assert client.get("/collections/zones", params={"lang": "ja"}).json()["title"] == "試験区域"
    cleared = upload(client, headers, path, method="put", metadata=json.dumps({"title_ja": ""}))
    assert cleared.status_code == 200, cleared.text
    document = client.get("/collections/zones", params={"lang": "ja"}).json()
    assert (document["title"], document["title_lang"]) == ("Test zones", "en")
    assert "title_ja" not in document


def test_unknown_or_wrong_texts_in_metadata_are_refused(staff, tmp_path):
    client, headers = staff
    path = as_file(zones_frame(), tmp_path, "zones.gpkg", "GPKG")
    unknown = upload(client, headers, path, metadata=json.dumps({**TITLES, "title_fr": "x"}))
    assert unknown.status_code == 400 and "title_fr" in unknown.json()["description"]
    wrong = upload(client, headers, path, metadata=json.dumps({**TITLES, "title_ko": 5}))
    assert wrong.status_code == 400 and "title_ko" in wrong.json()["description"]
    assert client.get("/collections/zones").status_code == 404  # nothing stored


def test_field_and_code_labels_per_language_reach_queryables_facets_and_the_schema(
    backend, tmp_path
):
    """The grid's `status` labelled in Japanese (its codes too, one of them only in English)."""
    meta, records, geometries = grid_layer()
    fields = []
    for spec in meta.fields:
        if spec.name == "status":
            codes = [
                c.model_copy(update={"label_ja": None if i == 0 else f"状態{i}"})
                for i, c in enumerate(spec.codes)
            ]
            spec = spec.model_copy(update={"label_ja": "状況", "codes": codes})
        fields.append(spec)
    meta = meta.model_copy(update={"id": "labelled", "fields": fields, "title_zh": "测试网格"})
    data = tmp_path / "data"
    data.mkdir()
    backend.claim(data)
    backend.publish(data, meta, records_to_frame(meta, records, geometries))
    client = TestClient(create_app(backend.settings(data)))

    queryables = client.get("/collections/labelled/queryables", params={"lang": "ja"}).json()
    assert queryables["properties"]["status"]["title"] == "状況"
    assert queryables["title"] == "Test grid"  # no Japanese title: English
    status = next(
        f for f in client.get("/collections/labelled").json()["fields"] if f["name"] == "status"
    )
    assert status["label_ja"] == "状況"
    assert "label_ja" not in status["codes"][0] and status["codes"][1]["label_ja"] == "状態1"
    facets = client.get(
        "/collections/labelled/facets", params={"fields": "status", "lang": "ja"}
    ).json()["facets"]["status"]
    assert facets["label"] == "状況"
    by_value = {v["value"]: v for v in facets["values"]}
    assert by_value[meta.field("status").codes[1].code]["label_ja"] == "状態1"
    chinese = client.get("/collections/labelled", params={"lang": "zh"}).json()
    assert (chinese["title"], chinese["title_lang"]) == ("测试网格", "zh")


def test_a_kind_may_label_its_fields_and_codes_in_further_languages():
    field = KindField(
        name="status", type="string", label_vi="Tình trạng", label_en="Status",
        label_ko="상태", codes=[{"code": "a", "label_vi": "A", "label_en": "A", "label_zh": "甲"}],
    )  # fmt: skip
    spec = field.spec()
    assert spec.label_ko == "상태" and spec.codes[0].label_zh == "甲"
    with pytest.raises(ValueError, match="label_ja"):
        KindField(name="x", type="string", label_vi="X", label_en="X", label_ja="")
    with pytest.raises(ValueError, match="label_fr"):
        KindField(name="x", type="string", label_vi="X", label_en="X", label_fr="X")


def test_plain_text_marks_a_fallback_with_its_language():
    spec = FieldSpec(name="n", type="string", label_vi="Tên", label_en="Name", label_ja="名前")
    values = {"label_vi": spec.label_vi, "label_en": spec.label_en, "label_ja": spec.label_ja}
    assert pick_marked(values, "ja", "label") == "名前"
    assert pick_marked(values, "ko", "label") == "Name (English)"
    assert pick_marked({"name_vi": "Tên"}, "en", "name") == "Tên (Tiếng Việt)"
    assert CodedValue(code="c", label_vi="x", label_en="y").label_ja is None


# -- projects ---------------------------------------------------------------------------------


@pytest.fixture
def client(pipeline_dir, records_url):
    with pipeline_client(pipeline_dir, records_url) as client:
        yield client


def test_a_projects_names_per_language_through_post_patch_page_search_and_layer(client, editor):
    body = project_body(name_ja="マイソン・マンゴー加工工場", summary_zh="农产品深加工。")
    created = client.post("/projects", json=body, headers={**editor, "Accept-Language": "ja"})
    assert created.status_code == 201, created.text
    answer = created.json()
    assert (answer["name"], answer["name_lang"]) == ("マイソン・マンゴー加工工場", "ja")
    assert (answer["summary"], answer["summary_lang"]) == ("Chế biến sâu nông sản.", "vi")
    assert answer["name_ko"] is None and answer["summary_zh"] == "农产品深加工。"

    korean = client.get("/projects/SL-DA-0001", params={"lang": "ko"})
    assert (korean.json()["name"], korean.json()["name_lang"]) == (
        "Mai Son mango processing plant",
        "en",
    )
    page = client.get("/projects/SL-DA-0001", params={"f": "html", "lang": "ko"}).text
    assert '<span lang="en">Mai Son mango processing plant</span>' in page
    assert '<small class="fallback-lang" lang="en">(English)</small>' in page
    page = client.get("/projects/SL-DA-0001", params={"f": "html", "lang": "ja"}).text
    assert "<h1>マイソン・マンゴー加工工場</h1>" in page
    listed = client.get("/projects", params={"lang": "zh"}).json()["projects"][0]
    assert (listed["summary"], listed["summary_lang"]) == ("农产品深加工。", "zh")
    assert client.get("/projects", params={"q": "マンゴー"}).json()["numberMatched"] == 1

    etag = korean.headers["etag"]
    patch = {"name_ko": "마이선 망고 가공 공장", "name_ja": None}
    changed = client.patch(
        "/projects/SL-DA-0001",
        json=patch,
        headers={**editor, "If-Match": etag},
        params={"lang": "ko"},
    )
    assert changed.status_code == 200, changed.text
    assert (changed.json()["name"], changed.json()["name_lang"]) == ("마이선 망고 가공 공장", "ko")
    japanese = client.get("/projects/SL-DA-0001", params={"lang": "ja"}).json()
    assert (japanese["name_lang"], japanese["name_ja"]) == ("en", None)

    feature = client.get("/collections/investment_projects/items/SL-DA-0001").json()
    assert feature["properties"]["name_ko"] == "마이선 망고 가공 공장"
    too_long = client.patch(
        "/projects/SL-DA-0001",
        json={"summary_ja": "あ" * 4001},
        headers={**editor, "If-Match": changed.headers["etag"]},
    )
    assert too_long.status_code == 400


def test_the_migration_adds_empty_names_to_the_projects_stored(client, editor, records_url):
    assert client.post("/projects", json=project_body(), headers=editor).status_code == 201
    with downgraded(records_url, "0008_states_counted_alone") as (connection, config):
        columns = {c["name"] for c in sa.inspect(connection).get_columns("projects")}
        assert "name_ja" not in columns and "name_vi" in columns
        command.upgrade(config, "head")
        connection.commit()
        row = connection.execute(
            sa.text("SELECT name_vi, name_ja, name_ko, summary_zh FROM projects")
        ).one()
    assert tuple(row) == ("Nhà máy chế biến xoài Mai Sơn", None, None, None)
    project = client.get("/projects/SL-DA-0001", params={"lang": "ja"}).json()
    assert (project["name"], project["name_lang"]) == ("Mai Son mango processing plant", "en")
