"""What a refused document or parameter is told, in the reader's language: pydantic's own
English ("Field required", "Input should be …", "Value error, …", a regular expression) said
again from each error's type, a named pattern by what it stands for, our validators' messages
in the language asked for rather than as `English / Tiếng Việt`."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from geo_service.app import create_app
from geo_service.i18n import render
from geo_service.i18n.validation import described
from geo_service.pipeline.documents import EnquiryDocument, EventDocument
from geo_service.settings import Settings

from .conftest import error_document
from .staff import bearer, staff_token

ENQUIRY = {"name": "Nhà đầu tư", "email": "investor@example.com", "message": "Còn đất không?"}
PYDANTIC_ENGLISH = (
    "Field required",
    "Input should",
    "String should",
    "Value error",
    "Extra inputs",
)


@pytest.fixture(scope="module")
def client(tmp_path_factory) -> TestClient:
    return TestClient(create_app(Settings(data_dir=tmp_path_factory.mktemp("data"))))


def refusal(client: TestClient, lang: str | None, method: str, path: str, **request) -> str:
    headers = request.pop("headers", {})
    if lang:
        headers["Accept-Language"] = lang
    response = client.request(method, path, headers=headers, **request)
    assert response.status_code == 400, response.text
    return error_document(response)["description"]


def problems(document: dict, model=EnquiryDocument) -> object:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(document)
    return described(caught.value)


@pytest.mark.parametrize(
    ("changes", "english", "vietnamese"),
    [
        ({"email": None}, "give an email address or a phone number to be answered on",
         "hãy cho biết thư điện tử hoặc số điện thoại để được trả lời"),
        ({"email": "not-an-address"}, "email: must be an email address",
         "email: phải là một địa chỉ thư điện tử"),
        ({"email": None, "phone": "call me"},
         "phone: must be a phone number, such as +84 212 3456 789",
         "phone: phải là một số điện thoại, ví dụ +84 212 3456 789"),
        ({"message": ""}, "message: must not be empty", "message: không được để trống"),
        ({"language": "fr"}, "language: must be one of: 'vi', 'en', 'ja', 'ko', 'zh'",
         "language: phải là một trong: 'vi', 'en', 'ja', 'ko', 'zh'"),
        ({"project": "not an id"}, "project: must be a project id, such as SL-DA-0001",
         "project: phải là một mã dự án, ví dụ SL-DA-0001"),
        ({"colour": "blue"}, "colour: not accepted here (an unknown member)",
         "colour: không được nhận ở đây (thành phần không xác định)"),
        ({"name": None}, "name: required", "name: bắt buộc"),
        ({"message": 7}, "message: must be text", "message: phải là văn bản"),
    ],
)  # fmt: skip
def test_an_enquiry_refused_says_why_in_the_language_asked(client, changes, english, vietnamese):
    body = {k: v for k, v in {**ENQUIRY, **changes}.items() if v is not None}
    assert refusal(client, "en", "POST", "/enquiries", json=body) == english
    assert refusal(client, "vi", "POST", "/enquiries", json=body) == vietnamese
    assert refusal(client, None, "POST", "/enquiries", json=body) == f"{english} / {vietnamese}"
    japanese = refusal(client, "ja", "POST", "/enquiries", json=body)
    assert japanese not in (english, vietnamese, f"{english} / {vietnamese}")


def test_every_problem_of_a_document_is_told_one_after_another():
    found = problems({"name": "", "email": "x", "message": "m", "zz": 1})
    assert render(found, "en") == (
        "name: must not be empty; email: must be an email address; "
        "zz: not accepted here (an unknown member)"
    )
    assert render(found, "vi").startswith("name: không được để trống; email: phải là")


@pytest.mark.parametrize(
    ("document", "english"),
    [
        ({"kind": "step_completed", "step": "x", "date": "31/01/2026"}, "date: must be a date, YYYY-MM-DD"),
        ({"kind": "note", "note": "n", "public": "yes"}, "public: must be true or false"),
        ({"kind": "suspended", "date": "0001-01-01"}, "date: must be at least 1988-01-01"),
        ({"kind": "step_completed", "step": "Not A Code", "date": "2026-01-31"},
         "step: must be lower-case letters, digits and _ (at most 63), beginning with a letter"),
        ({"kind": "party"}, "kind: must be one of: "),
    ],
)  # fmt: skip
def test_types_dates_booleans_and_codes_are_said_in_words(document, english):
    told = render(problems(document, EventDocument), "en")
    assert told.startswith(english), told
    assert not any(phrase in told for phrase in PYDANTIC_ENGLISH), told


@pytest.mark.parametrize(
    ("query", "english", "vietnamese"),
    [
        ("offset=-1", "offset: must be at least 0", "offset: phải từ 0 trở lên"),
        ("offset=x", "offset: must be a whole number", "offset: phải là số nguyên"),
        ("behind=maybe", "behind: must be true or false", "behind: phải là true hoặc false"),
        ("commune_code=123", "commune_code: must be a commune code of 5 digits, such as 04123",
         "commune_code: phải là một mã xã gồm 5 chữ số, ví dụ 04123"),
    ],
)  # fmt: skip
def test_a_query_parameter_refused_says_why_in_the_language_asked(
    client, query, english, vietnamese
):
    assert refusal(client, "en", "GET", f"/projects?{query}") == english
    assert refusal(client, "vi", "GET", f"/projects?{query}") == vietnamese


def test_a_kind_refused_names_each_place_in_the_language_asked(client, tmp_path):
    admin = bearer(staff_token(client.app.state.settings.data_dir, "admin"))
    kind = {"title_vi": "Vùng", "title_en": "Areas", "fields": [{"name": "crop", "type": "text"}]}
    told = refusal(client, "en", "PUT", "/admin/kinds/crop_area", json=kind, headers=admin)
    assert "fields[0] (crop).type: must be one of: 'string', 'integer'" in told
    assert not any(phrase in told for phrase in PYDANTIC_ENGLISH), told
    told = refusal(client, "vi", "PUT", "/admin/kinds/crop_area", json=kind, headers=admin)
    assert "fields[0] (crop).type: phải là một trong:" in told
    other = {"id": "orchards", "label_vi": "Vùng", "label_en": "Areas", "geometry": ["polygon"],
             "fields": [{"name": "crop", "type": "string", "label_vi": "Cây", "label_en": "Crop"}]}  # fmt: skip
    told = refusal(client, "vi", "PUT", "/admin/kinds/crop_area", json=other, headers=admin)
    assert "id: 'orchards' không phải mã của loại lớp 'crop_area'" in told, told


def test_each_problem_is_listed_by_name_for_a_form_to_mark_its_field(client):
    body = {**ENQUIRY, "email": "not-an-address", "phone": "call me", "colour": "blue"}
    response = client.post("/enquiries", json=body, headers={"Accept-Language": "vi"})
    assert response.status_code == 400
    assert error_document(response)["invalid-params"] == [
        {"name": "email", "reason": "phải là một địa chỉ thư điện tử"},
        {"name": "phone", "reason": "phải là một số điện thoại, ví dụ +84 212 3456 789"},
        {"name": "colour", "reason": "không được nhận ở đây (thành phần không xác định)"},
    ]
    whole = {k: v for k, v in ENQUIRY.items() if k != "email"}  # neither email nor phone
    response = client.post("/enquiries", json=whole, headers={"Accept-Language": "en"})
    assert error_document(response)["invalid-params"] == [
        {"reason": "give an email address or a phone number to be answered on"}
    ]


def test_each_query_parameter_refused_is_listed_by_name(client):
    response = client.get("/projects?offset=-1&behind=maybe", headers={"Accept-Language": "en"})
    assert response.status_code == 400
    assert error_document(response)["invalid-params"] == [
        {"name": "offset", "reason": "must be at least 0"},
        {"name": "behind", "reason": "must be true or false"},
    ]


@pytest.mark.parametrize("path", ["/enquiries", "/shortlists"])
@pytest.mark.parametrize("body", [b'{"name": NaN}', b'{"name": '])
def test_an_unreadable_body_is_said_in_the_language_asked_alone(client, path, body):
    told = refusal(
        client, "vi", "POST", path, content=body, headers={"Content-Type": "application/json"}
    )
    assert "JSON hợp lệ" in told, told
    assert "JSON number" not in told and "not valid JSON" not in told, told
