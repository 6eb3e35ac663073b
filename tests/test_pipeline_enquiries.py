"""Investors' enquiries on SQLite and PostgreSQL: sending, the rate limit and the robot trap,
references checked, officers following them up, and the audit log kept free of contact details."""

from __future__ import annotations

import json

import pytest

from .conftest import error_document
from .pipeline_app import pipeline_client, project_body

ENQUIRY = {
    "name": "Trần Thị Nhà Đầu Tư",
    "organisation": "Công ty TNHH Thử Nghiệm",
    "email": "investor@example.com",
    "language": "en",
    "message": "Is the site still available? <b>not html</b>",
}


@pytest.fixture
def client(pipeline_dir, records_url):
    with pipeline_client(pipeline_dir, records_url, enquiries_per_client_hour=3) as client:
        yield client


def listed(client, editor) -> list[dict]:
    return client.get("/enquiries", headers=editor).json()["enquiries"]


def test_an_enquiry_about_a_site_reaches_the_officers(client, editor):
    sent = client.post(
        "/enquiries", json={**ENQUIRY, "site": {"collection": "grid", "id": "G-3-4"}}
    )
    assert sent.status_code == 201
    assert set(sent.json()) == {"id", "status", "created_at"}
    assert sent.headers["location"].endswith(f"/enquiries/{sent.json()['id']}")
    (stored,) = listed(client, editor)
    assert stored["id"] == sent.json()["id"]
    assert stored["site"] == {"collection": "grid", "id": "G-3-4"}
    assert stored["message"] == ENQUIRY["message"]  # kept as text, returned only as JSON
    answer = client.get(f"/enquiries/{stored['id']}", headers=editor)
    assert answer.headers["content-type"] == "application/json"
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert client.get(f"/enquiries/{stored['id']}").status_code == 401


def test_enquiries_about_a_project(client, editor):
    client.post("/projects", json=project_body(), headers=editor)
    sent = client.post("/enquiries", json={**ENQUIRY, "project": "SL-DA-0001"})
    assert sent.status_code == 201
    found = client.get("/enquiries", params={"project": "SL-DA-0001"}, headers=editor).json()
    assert [e["id"] for e in found["enquiries"]] == [sent.json()["id"]]


@pytest.mark.parametrize(
    "changes",
    [
        {"email": None},
        {"email": "not-an-address"},
        {"phone": "call me"},
        {"message": ""},
        {"language": "fr"},
        {"project": "SL-DA-9999"},
        {"project": "not an id"},
        {"site": {"collection": "grid", "id": "NOPE"}},
        {"site": {"collection": "nowhere", "id": "G-1-1"}},
        {"colour": "blue"},
    ],
)
def test_bad_enquiries_get_400_and_nothing_is_stored(client, editor, changes):
    body = {k: v for k, v in {**ENQUIRY, **changes}.items() if v is not None}
    response = client.post("/enquiries", json=body)
    assert response.status_code == 400
    assert set(response.json()) >= {"code", "description"}
    assert listed(client, editor) == []


def test_a_phone_number_is_enough(client, editor):
    body = {**ENQUIRY, "email": None, "phone": "+84 212 3456 789"}
    assert client.post("/enquiries", json=body).status_code == 201
    assert listed(client, editor)[0]["phone"] == "+84 212 3456 789"


def test_the_robot_trap_stores_nothing(client, editor):
    trapped = client.post("/enquiries", json={**ENQUIRY, "website": "http://spam.example"})
    assert trapped.status_code == 201  # a robot is not told
    assert listed(client, editor) == []


def test_each_client_address_sends_a_few_an_hour(client, editor):
    for _ in range(3):
        assert client.post("/enquiries", json=ENQUIRY).status_code == 201
    refused = client.post("/enquiries", json=ENQUIRY)
    assert refused.status_code == 429
    assert refused.json()["code"] == "TooManyEnquiries"
    assert len(listed(client, editor)) == 3


def test_officers_page_through_the_enquiries(client, editor):
    sent = [client.post("/enquiries", json=ENQUIRY).json()["id"] for _ in range(3)]
    page = client.get("/enquiries", params={"limit": 2}, headers=editor).json()
    assert (page["numberMatched"], page["numberReturned"]) == (3, 2)
    rels = {x["rel"]: x["href"] for x in page["links"]}
    assert "prev" not in rels
    second = client.get(rels["next"], headers=editor).json()
    rels = {x["rel"]: x["href"] for x in second["links"]}
    assert "next" not in rels
    assert client.get(rels["prev"], headers=editor).json()["enquiries"] == page["enquiries"]
    assert {e["id"] for e in page["enquiries"] + second["enquiries"]} == set(sent)


@pytest.mark.parametrize("path", ["/enquiries", "/projects"])
def test_an_offset_past_64_bits_is_a_400_and_the_last_one_an_empty_page(client, editor, path):
    refused = client.get(path, params={"offset": 2**63}, headers=editor)
    assert refused.status_code == 400
    assert "offset" in error_document(refused)["description"]
    last = client.get(path, params={"offset": 2**63 - 1}, headers=editor)
    assert last.status_code == 200
    assert last.json()["numberReturned"] == 0
    assert {x["rel"] for x in last.json()["links"]} >= {"self", "prev"}


def test_officers_assign_answer_and_close(client, editor, admin):
    enquiry_id = client.post("/enquiries", json=ENQUIRY).json()["id"]
    url = f"/enquiries/{enquiry_id}"
    taken = client.patch(url, json={"officer": "Chị Lan", "status": "in_progress"}, headers=editor)
    assert taken.status_code == 200
    assert (taken.json()["officer"], taken.json()["status"]) == ("Chị Lan", "in_progress")
    assert taken.json()["in_progress_at"] is not None
    skipped = client.patch(url, json={"status": "new"}, headers=editor)
    assert skipped.status_code == 409
    answered = client.patch(
        url, json={"status": "answered", "reply_note": "Đã gửi thư trả lời"}, headers=editor
    )
    assert answered.json()["answered_at"] is not None
    closed = client.patch(url, json={"status": "closed"}, headers=editor).json()
    assert closed["closed_at"] >= closed["answered_at"] >= closed["in_progress_at"]
    assert client.patch(url, json={"status": "answered"}, headers=editor).status_code == 409
    assert client.patch(url, json={"status": "lost"}, headers=editor).status_code == 400
    assert client.patch(url, json={"status": "closed"}).status_code == 401
    assert client.patch("/enquiries/EQ-000000000000", json={}, headers=editor).status_code == 404
    assert (
        client.get("/enquiries", params={"status": "closed"}, headers=editor).json()[
            "numberMatched"
        ]
        == 1
    )
    audit = json.dumps(client.get("/admin/audit", headers=admin).json(), ensure_ascii=False)
    assert enquiry_id in audit
    for secret in ("Trần Thị", "investor@example.com", "Thử Nghiệm", "still available"):
        assert secret not in audit
