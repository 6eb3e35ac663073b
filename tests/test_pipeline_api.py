"""The pipeline API on SQLite and on PostgreSQL: projects, dossier events, derived progress,
optimistic concurrency, what the public may see, and bad input refused with nothing stored."""

from __future__ import annotations

import datetime as dt
import io
import json
import os
import random
import shutil
import threading
import time

import openpyxl
import pytest

from geo_service.clock import today_in_vietnam
from geo_service.pipeline.documents import EventDocument
from geo_service.pipeline.progress import EventRefused, derive
from geo_service.pipeline.projects import ProjectStore
from geo_service.records import Records
from geo_service.settings import Settings

from .pipeline_app import MAI_SON_POINT, pipeline_client, project_body


@pytest.fixture
def client(pipeline_dir, records_url):
    with pipeline_client(pipeline_dir, records_url) as client:
        yield client


def days_ago(n: int) -> str:
    return (today_in_vietnam() - dt.timedelta(days=n)).isoformat()


def create(client, editor, **changes) -> dict:
    response = client.post("/projects", json=project_body(**changes), headers=editor)
    assert response.status_code == 201, response.text
    return response.json()


def event(client, editor, project="SL-DA-0001", **body):
    return client.post(f"/projects/{project}/events", json=body, headers=editor)


def stored_counts(client, editor) -> tuple[int, int]:
    projects = client.get("/projects").json()["numberMatched"]
    events = sum(
        len(client.get(f"/projects/{p['id']}/events", headers=editor).json()["events"])
        for p in client.get("/projects", params={"limit": 1000}).json()["projects"]
    )
    return projects, events


def test_create_and_read_a_project(client, editor):
    response = client.post("/projects", json=project_body(), headers=editor)
    assert response.status_code == 201
    assert response.headers["location"].endswith("/projects/SL-DA-0001")
    assert response.headers["etag"] == '"v1"'
    read = client.get("/projects/SL-DA-0001")
    assert read.headers["etag"] == '"v1"'
    project = read.json()
    assert project["name_vi"] == "Nhà máy chế biến xoài Mai Sơn"
    assert project["commune_name"] == "Xã Chiềng Mung"
    assert project["location"] == MAI_SON_POINT
    assert project["bbox"] == [104.08, 21.25, 104.08, 21.25]
    assert project["sites"][0]["href"].endswith("/collections/grid/items/G-1-2")
    assert project["stage"] == "unknown"
    assert project["investment_form_name"]["en"].startswith("Projects with investment policy")
    assert [s["step"] for s in project["timeline"]][:2] == ["dossier_received", "appraisal"]
    assert client.post("/projects", json=project_body(), headers=editor).status_code == 409
    assert client.post("/projects", json=project_body()).status_code == 401


def test_the_commune_comes_from_an_old_address_and_must_fit_the_location(client, editor):
    body = project_body(commune_code=None, address="Xã Mường Bằng, Huyện Mai Sơn, Tỉnh Sơn La")
    assert client.post("/projects", json=body, headers=editor).json()["commune_code"] == "04123"
    far = project_body(id="SL-DA-0002", location={"type": "Point", "coordinates": [107.0, 21.0]})
    response = client.post("/projects", json=far, headers=editor)
    assert response.status_code == 400
    assert "km from the centre of Xã Chiềng Mung" in response.json()["description"]


def test_each_place_problem_is_listed_in_the_language_asked(client, editor):
    body = project_body(sector="casinos", commune_code="99999")
    answer = client.post("/projects", json=body, headers=editor | {"Accept-Language": "vi"})
    assert answer.status_code == 400
    listed = answer.json()["invalid-params"]
    assert [p["name"] for p in listed] == ["sector", "commune_code"]
    assert listed[0]["reason"].startswith("lĩnh vực không xác định 'casinos'")
    assert listed[1]["reason"] == "không có xã hoặc phường năm 2025 nào có mã '99999'"
    assert answer.json()["description"] == "; ".join(f"{p['name']}: {p['reason']}" for p in listed)
    vast = client.post(
        "/projects", json=project_body(area_ha=2e6), headers=editor | {"Accept-Language": "en"}
    )
    (problem,) = vast.json()["invalid-params"]
    assert problem["name"] == "area_ha"
    assert problem["reason"].startswith(
        "2,000,000 ha is more than the whole of Tỉnh Sơn La (1,385,9"
    )


def test_a_nearby_project_is_named_in_each_language_it_has(client, editor):
    create(client, editor)
    other = project_body(id="SL-DA-0002", name_ja="マイソン・マンゴー第二工場")
    assert client.post("/projects", json=other, headers=editor).status_code == 201
    found = client.get(
        "/collections/investment_projects/items/SL-DA-0001/nearby",
        params={"layers": "investment_projects", "k": 1},
    ).json()
    (near,) = found["nearby"]["investment_projects"]
    assert near["id"] == "SL-DA-0002" and near["name_ja"] == "マイソン・マンゴー第二工場"
    assert near["name_vi"] == "Nhà máy chế biến xoài Mai Sơn" and "name_ko" not in near


def test_events_give_the_stage_and_the_delay(client, editor):
    create(client, editor)
    assert event(client, editor, kind="listed", note="Danh mục 2026").status_code == 201
    assert client.get("/projects/SL-DA-0001").json()["stage"] == "calling_investment"
    started = event(
        client, editor, kind="step_started", step="dossier_received",
        date=days_ago(50), planned_date=days_ago(35),
    )  # fmt: skip
    assert started.status_code == 201
    assert (started.json()["stage"], started.json()["days_behind"]) == ("dossier", 35)
    project = client.get("/projects/SL-DA-0001").json()
    assert (project["stage"], project["days_behind"], project["current_step"]) == (
        "dossier",
        35,
        "dossier_received",
    )
    step = project["timeline"][0]
    assert (step["state"], step["days_late"], step["planned"]) == ("in_progress", 35, days_ago(35))
    assert client.get("/projects", params={"behind": "true"}).json()["numberMatched"] == 1
    assert client.get("/projects", params={"stage": "dossier"}).json()["numberMatched"] == 1
    assert client.get("/projects", params={"stage": "operating"}).json()["numberMatched"] == 0
    event(client, editor, kind="step_completed", step="dossier_received", date=days_ago(30))
    project = client.get("/projects/SL-DA-0001").json()
    assert project["days_behind"] == 0
    assert project["timeline"][0]["delay_days"] == 5
    assert project["current_step"] == "appraisal"
    assert client.get("/projects", params={"behind": "true"}).json()["numberMatched"] == 0


def test_a_change_needs_the_current_etag(client, editor):
    create(client, editor)
    patch = {"name_en": "Renamed", "investor": "Công ty A"}
    missing = client.patch("/projects/SL-DA-0001", json=patch, headers=editor)
    assert missing.status_code == 428
    assert missing.json()["code"] == "PreconditionRequired"
    etag = client.get("/projects/SL-DA-0001").headers["etag"]
    changed = client.patch("/projects/SL-DA-0001", json=patch, headers={**editor, "If-Match": etag})
    assert changed.status_code == 200
    assert changed.json()["name_en"] == "Renamed"
    assert changed.headers["etag"] != etag
    stale = client.patch(
        "/projects/SL-DA-0001", json={"name_en": "Lost"}, headers={**editor, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert stale.json()["code"] == "PreconditionFailed"
    weak = client.patch(
        "/projects/SL-DA-0001",
        json={"name_en": "Lost"},
        headers={**editor, "If-Match": f"W/{changed.headers['etag']}"},
    )
    assert weak.status_code == 412  # If-Match compares strongly
    assert client.get("/projects/SL-DA-0001").json()["name_en"] == "Renamed"


def test_a_merge_patch_removes_with_null_and_replaces_geometry(client, editor):
    create(client, editor)
    etag = client.get("/projects/SL-DA-0001").headers["etag"]
    polygon = {
        "type": "Polygon",
        "coordinates": [[[104.07, 21.24], [104.09, 21.24], [104.09, 21.26], [104.07, 21.24]]],
    }
    response = client.patch(
        "/projects/SL-DA-0001",
        content=json.dumps({"area_ha": None, "location": polygon, "sites": []}),
        headers={**editor, "If-Match": etag, "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text
    project = response.json()
    assert project["area_ha"] is None
    assert project["location"]["type"] == "Polygon"
    assert project["bbox"] == [104.07, 21.24, 104.09, 21.26]
    assert project["sites"] == []
    assert project["capital_planned_billion_vnd"] == 350.0  # untouched


def test_events_the_procedure_does_not_allow_get_409(client, editor):
    create(client, editor)
    early = event(client, editor, kind="step_completed", step="appraisal", date=days_ago(3))
    assert early.status_code == 409
    assert early.json()["code"] == "EventNotAllowed"
    assert "dossier_received" in early.json()["description"]
    assert " / " in early.json()["description"]  # English / Vietnamese
    assert event(client, editor, kind="revoked", date=days_ago(1)).status_code == 201
    after = event(client, editor, kind="note", note="after revocation")
    assert after.status_code == 409
    assert "thu hồi" in after.json()["description"]
    project = client.get("/projects/SL-DA-0001").json()
    assert (project["stage"], project["current_step"]) == ("revoked", None)
    assert len(client.get("/projects/SL-DA-0001/events").json()["events"]) == 1


def test_two_officers_recording_the_same_step_at_once(client, editor, records_url):
    """Two workers (two engines) append the same step together: one succeeds, the other is
    refused cleanly (409), never a database error or a duplicate."""
    create(client, editor)
    today = today_in_vietnam()
    first = client.app.state.projects
    second = ProjectStore(Records(records_url), first.procedures_dir)
    start = EventDocument(kind="step_started", step="dossier_received", date=today)
    barrier, outcomes = threading.Barrier(2), []

    def record(store: ProjectStore) -> None:
        barrier.wait()
        try:
            store.append_event("SL-DA-0001", start, "officer", today)
            outcomes.append("stored")
        except EventRefused:
            outcomes.append("refused")

    try:
        workers = [threading.Thread(target=record, args=(s,)) for s in (first, second)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join()
    finally:
        second.records.dispose()
    assert sorted(outcomes) == ["refused", "stored"]
    assert len(first.events("SL-DA-0001", include_internal=True)) == 1


def test_the_form_cannot_change_once_steps_are_recorded(client, editor):
    create(client, editor)
    event(client, editor, kind="step_started", step="dossier_received", date=days_ago(3))
    etag = client.get("/projects/SL-DA-0001").headers["etag"]
    response = client.patch(
        "/projects/SL-DA-0001",
        json={"investment_form": "ppp"},
        headers={**editor, "If-Match": etag},
    )
    assert response.status_code == 409
    assert client.get("/projects/SL-DA-0001").json()["investment_form"] == "policy_approval"


def test_public_answers_never_show_internal_events_or_contact_details(client, editor, admin):
    create(client, editor)
    event(client, editor, kind="note", note="Công khai: đã nhận hồ sơ", public=True)
    event(client, editor, kind="note", note="NỘI BỘ: chờ ý kiến", public=False)
    enquiry = {
        "name": "Nguyễn Văn Bí Mật",
        "organisation": "Công ty Riêng Tư",
        "email": "bimat@example.vn",
        "phone": "+84 912 345 678",
        "message": "Dự án còn nhận hồ sơ không?",
        "project": "SL-DA-0001",
    }
    sent = client.post("/enquiries", json=enquiry)
    assert sent.status_code == 201
    assert set(sent.json()) == {"id", "status", "created_at"}
    public = client.get("/projects/SL-DA-0001/events").json()["events"]
    assert [e["note"] for e in public] == ["Công khai: đã nhận hồ sơ"]
    assert "actor" not in public[0]
    internal = client.get("/projects/SL-DA-0001/events", headers=editor).json()["events"]
    assert [e["note"] for e in internal][1] == "NỘI BỘ: chờ ý kiến"
    assert internal[1]["actor"] == "Phòng Đầu tư (thử nghiệm)"
    bad_token = {"Authorization": "Bearer nope"}
    assert client.get("/projects/SL-DA-0001/events", headers=bad_token).status_code == 401
    answers = [
        client.get("/projects/SL-DA-0001").text,
        client.get("/projects/SL-DA-0001", params={"f": "html"}).text,
        client.get("/projects/SL-DA-0001/events").text,
        client.get("/projects").text,
        client.get("/projects", params={"f": "csv"}).text,
        json.dumps(client.get("/admin/audit", headers=admin).json(), ensure_ascii=False),
    ]
    for text in answers:
        assert "NỘI BỘ" not in text
        for secret in ("Bí Mật", "Riêng Tư", "bimat@example.vn", "912 345 678", "còn nhận"):
            assert secret not in text
    assert "Công khai: đã nhận hồ sơ" in answers[1]
    assert client.get("/enquiries").status_code == 401
    listed = client.get("/enquiries", headers=editor).json()["enquiries"]
    assert listed[0]["email"] == "bimat@example.vn"


BAD_PROJECTS = [
    ("unknown form", {"investment_form": "concession"}),
    ("unknown sector", {"sector": "casinos"}),
    ("unknown commune", {"commune_code": "99999"}),
    ("unknown site", {"sites": [{"collection": "grid", "id": "NOPE"}]}),
    ("id that is not an id", {"id": "sl da 1"}),
    ("negative capital", {"capital_planned_billion_vnd": -1}),
    ("larger than its province", {"area_ha": 1e20}),
    ("unknown member", {"colour": "red"}),
    ("not a geometry", {"location": {"type": "Point", "coordinates": [500, 21]}}),
    ("self-crossing polygon", {"location": {"type": "Polygon", "coordinates": [
        [[104.07, 21.24], [104.09, 21.26], [104.09, 21.24], [104.07, 21.26], [104.07, 21.24]]]}}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "changes"), BAD_PROJECTS, ids=[c for c, _ in BAD_PROJECTS])
def test_bad_projects_get_400_and_nothing_is_stored(client, editor, case, changes):
    response = client.post("/projects", json=project_body(**changes), headers=editor)
    assert response.status_code == 400, case
    assert set(response.json()) >= {"code", "description"}
    assert stored_counts(client, editor) == (0, 0)


BAD_BODIES = [
    ("malformed JSON", b'{"id": "SL-DA-0001",'),
    ("NaN", b'{"id": "SL-DA-0001", "name_vi": "a", "source": "s", "area_ha": NaN}'),
    ("lone surrogate", b'{"id": "SL-DA-0001", "name_vi": "\\ud800", "source": "s"}'),
    ("not an object", b"[1, 2]"),
    ("empty", b""),
]


@pytest.mark.parametrize(("case", "body"), BAD_BODIES, ids=[c for c, _ in BAD_BODIES])
def test_malformed_bodies_get_400(client, editor, case, body):
    response = client.post(
        "/projects", content=body, headers={**editor, "Content-Type": "application/json"}
    )
    assert response.status_code == 400, case
    assert set(response.json()) >= {"code", "description"}
    assert stored_counts(client, editor) == (0, 0)


BAD_EVENTS = [
    ("dates in the wrong order", {"kind": "step_started", "step": "dossier_received",
                                  "date": days_ago(5), "planned_date": days_ago(9)}),
    ("a date in the future", {"kind": "step_started", "step": "dossier_received",
                              "date": days_ago(-3)}),
    ("a slip of the year", {"kind": "step_started", "step": "dossier_received",
                            "date": "0001-01-01"}),
    ("a planned date before 1988", {"kind": "step_started", "step": "dossier_received",
                                    "date": days_ago(5), "planned_date": "0202-05-01"}),
    ("unknown step", {"kind": "step_started", "step": "blessing", "date": days_ago(1)}),
    ("unknown kind", {"kind": "celebrated", "date": days_ago(1)}),
    ("no date", {"kind": "suspended"}),
    ("not a date", {"kind": "suspended", "date": "2026-02-30"}),
    ("public as text", {"kind": "note", "note": "x", "public": "yes"}),
]  # fmt: skip


@pytest.mark.parametrize(("case", "body"), BAD_EVENTS, ids=[c for c, _ in BAD_EVENTS])
def test_bad_events_get_400_and_nothing_is_stored(client, editor, case, body):
    create(client, editor)
    etag = client.get("/projects/SL-DA-0001").headers["etag"]
    response = event(client, editor, **body)
    assert response.status_code == 400, case
    assert set(response.json()) >= {"code", "description"}
    assert stored_counts(client, editor) == (1, 0)
    assert client.get("/projects/SL-DA-0001").headers["etag"] == etag


def test_ids_that_are_not_ids_and_unknown_filters_get_400(client, editor):
    create(client, editor)
    assert client.get("/projects/sl-da-0001").status_code == 400
    assert client.get("/projects/SL DA").status_code == 400
    assert client.get("/projects/SL-DA-9999").status_code == 404
    for name, value in (
        ("stage", "flying"),
        ("investment_form", "gift"),
        ("sector", "casinos"),
        ("commune_code", "abc"),
        ("behind", "maybe"),
        ("limit", "0"),
    ):
        response = client.get("/projects", params={name: value})
        assert response.status_code == 400, name
        assert set(response.json()) >= {"code", "description"}


def test_bodies_over_64_kb_get_413(client, editor):
    create(client, editor)
    big = project_body(summary_vi="x" * 70_000)
    assert client.post("/projects", json=big, headers=editor).status_code == 413
    note = {"kind": "note", "note": "y" * 70_000}
    assert event(client, editor, **note).status_code == 413
    assert client.post("/enquiries", json={"message": "z" * 70_000}).status_code == 413
    assert stored_counts(client, editor) == (1, 0)


def test_search_filters_and_pages(client, editor):
    names = ["Khu du lịch Mộc Châu", "Nhà máy chè Vân Hồ", "Trung tâm logistics Mai Sơn"]
    forms = ["ppp", "land_auction", "policy_approval"]
    sectors = ["tourism", "agro_processing", "logistics_trade"]
    for n, (name, form, sector) in enumerate(zip(names, forms, sectors, strict=True), start=1):
        create(
            client, editor, id=f"SL-DA-{n:04d}", name_vi=name, investment_form=form, sector=sector
        )
    found = lambda **p: [x["id"] for x in client.get("/projects", params=p).json()["projects"]]  # noqa: E731
    assert found(q="moc chau") == ["SL-DA-0001"]
    assert found(q="VÂN HỒ") == ["SL-DA-0002"]
    assert found(q="sl-da-0003") == ["SL-DA-0003"]
    assert found(q="mai son trung tam") == ["SL-DA-0003"]  # every word, in any order
    assert found(q="%") == ["SL-DA-0001", "SL-DA-0002", "SL-DA-0003"]  # no word: no condition
    assert found(investment_form="land_auction") == ["SL-DA-0002"]
    assert found(sector="logistics_trade") == ["SL-DA-0003"]
    assert found(commune_code="04123") == ["SL-DA-0001", "SL-DA-0002", "SL-DA-0003"]
    assert found(commune_code="03979") == []
    first = client.get("/projects", params={"limit": 2}).json()
    assert (first["numberMatched"], first["numberReturned"]) == (3, 2)
    following = next(x["href"] for x in first["links"] if x["rel"] == "next")
    second = client.get(following).json()
    assert [p["id"] for p in second["projects"]] == ["SL-DA-0003"]
    assert "next" not in {x["rel"] for x in second["links"]}
    assert "prev" in {x["rel"] for x in second["links"]}


def test_kept_pages_follow_every_change_and_the_day(client, editor, records_url, monkeypatch):
    """A page of `/projects` is kept per worker until the pipeline changes, whoever changes it
    (here another engine, as another process would), or the day changes (days behind)."""
    create(client, editor, id="SL-DA-0001")
    searched = []
    search = ProjectStore.search
    monkeypatch.setattr(
        ProjectStore, "search", lambda self, *a: searched.append(a) or search(self, *a)
    )
    first = client.get("/projects", params={"behind": "true"}).json()
    assert client.get("/projects", params={"behind": "true"}).json() == first
    assert len(searched) == 1  # the second answer was the kept one
    assert first["numberMatched"] == 0
    project = client.get("/projects/SL-DA-0001")
    again = client.get("/projects/SL-DA-0001")
    assert again.json() == project.json() and again.headers["etag"] == project.headers["etag"]
    assert project.json()["timeline"][0]["state"] == "pending"
    other = ProjectStore(Records(records_url), client.app.state.projects.procedures_dir)
    try:  # a step planned for yesterday and not done, written by another engine
        started = EventDocument(
            kind="step_started", step="dossier_received", date=days_ago(3), planned_date=days_ago(1)
        )
        other.append_event("SL-DA-0001", started, "officer", today_in_vietnam())
    finally:
        other.records.dispose()
    behind = client.get("/projects", params={"behind": "true"}).json()
    assert [(p["id"], p["days_behind"]) for p in behind["projects"]] == [("SL-DA-0001", 1)]
    assert len(searched) == 2
    (step, *_) = client.get("/projects/SL-DA-0001").json()["timeline"]
    assert (step["state"], step["planned"], step["days_late"]) == ("in_progress", days_ago(1), 1)
    # the next day in Vietnam: a day more behind, though nothing was written
    tomorrow = today_in_vietnam() + dt.timedelta(days=1)
    monkeypatch.setattr("geo_service.api.projects.today_in_vietnam", lambda: tomorrow)
    later = client.get("/projects", params={"behind": "true"}).json()
    assert [p["days_behind"] for p in later["projects"]] == [2]
    assert len(searched) == 3


def test_kept_pages_follow_the_procedures_files(pipeline_dir, records_url, editor, tmp_path):
    """A procedure's names edited on disk show in the next answer, though no record changed."""
    folder = tmp_path / "procedures"
    shutil.copytree(Settings().procedures_dir, folder)
    with pipeline_client(pipeline_dir, records_url, procedures_dir=folder) as client:
        create(client, editor, investment_form="policy_approval")
        name = lambda: client.get("/projects/SL-DA-0001").json()["investment_form_name"]["en"]  # noqa: E731
        listed = lambda: client.get("/projects").json()["projects"][0]["investment_form_name"]  # noqa: E731
        assert name() == listed()["en"] == "Projects with investment policy approval"
        path = folder / "policy_approval.toml"
        path.write_text(
            path.read_text(encoding="utf-8").replace(
                'title_en = "Projects with investment policy approval"',
                'title_en = "Projects approved in principle"',
            ),
            encoding="utf-8",
        )
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))  # a later stamp, surely
        assert name() == listed()["en"] == "Projects approved in principle"


def test_exports_through_the_catalogue_writers(client, editor):
    create(client, editor)
    create(client, editor, id="SL-DA-0002", name_vi="Dự án thứ hai", location=None, sites=[])
    csv_text = client.get("/projects", params={"f": "csv", "lang": "en"}).content.decode(
        "utf-8-sig"
    )
    header, *rows = csv_text.strip().splitlines()
    assert header.startswith("Project id,Name (Vietnamese)")
    assert "Planned capital (tỷ VND)" in header and "WKT (EPSG:4326)" in header
    assert len(rows) == 2
    workbook = openpyxl.load_workbook(
        io.BytesIO(client.get("/projects", params={"f": "xlsx", "q": "thu hai"}).content)
    )
    sheet = workbook.active
    assert [c.value for c in sheet[1]][:2] == ["Mã dự án", "Tên dự án"]
    assert [c.value for c in sheet["A"]][1:] == ["SL-DA-0002"]


def test_the_progress_row_equals_the_derivation(client, editor):
    """A random walk of allowed and refused events: after each, the stored projection (what the
    filters read) equals a derivation from scratch, and a rebuild changes nothing."""
    store = client.app.state.projects
    today = today_in_vietnam()
    procedure = store.procedures.procedure("land_auction")
    fields = ("stage", "current_step", "steps_completed", "earliest_open_planned", "events")

    def projection(project_id: str) -> dict:
        return {k: store.get(project_id).values[k] for k in fields}

    def derived(project_id: str) -> dict:
        progress = derive(procedure, store.events(project_id, include_internal=True), today)
        return {k: getattr(progress, k) for k in fields}

    rng = random.Random(7)
    steps = [s.code for s in procedure.steps]
    kinds = ["step_started", "step_completed", "step_reopened", "suspended", "resumed", "note"]
    weights = [6, 6, 1, 1, 2, 1]
    elapsed = {f"SL-DA-{n:04d}": 200 for n in range(1, 4)}  # days ago, moving towards today
    for project in elapsed:
        create(client, editor, id=project, investment_form="land_auction")
    outcomes, stages = set(), set()
    for _ in range(150):
        project = rng.choice(sorted(elapsed))
        current = projection(project)["current_step"] or steps[0]
        step = steps[max(0, min(len(steps) - 1, steps.index(current) + rng.choice([-1, 0, 0, 1])))]
        elapsed[project] = max(elapsed[project] - rng.randint(0, 6), 0)
        kind = rng.choices(kinds, weights)[0]
        body = {"kind": kind, "date": days_ago(elapsed[project])}
        if kind.startswith("step"):
            body["step"] = step
            if kind != "step_completed":
                body["planned_date"] = days_ago(elapsed[project] - rng.randint(0, 60))
        if kind == "note":
            body = {"kind": "note", "note": "n"}
        status = event(client, editor, project=project, **body).status_code
        outcomes.add(status)
        assert projection(project) == derived(project)
        stages.add(projection(project)["stage"])
    assert outcomes == {201, 409}
    assert {"dossier", "suspended", "land_handover"} <= stages  # the walk went somewhere
    before = {p: projection(p) for p in elapsed}
    assert store.rebuild_progress(today) == 3
    assert {p: projection(p) for p in elapsed} == before


def test_writes_are_audited(client, editor, admin):
    create(client, editor, id="SL-DA-0077")
    event(client, editor, project="SL-DA-0077", kind="listed")
    etag = client.get("/projects/SL-DA-0077").headers["etag"]
    client.patch(
        "/projects/SL-DA-0077", json={"name_en": "X"}, headers={**editor, "If-Match": etag}
    )
    entries = client.get("/admin/audit", params={"layer": "investment_projects"}, headers=admin)
    mine = [e for e in entries.json()["entries"] if e["details"].get("project") == "SL-DA-0077"]
    assert [e["action"] for e in mine][:3] == ["project.update", "project.event", "project.create"]
    assert mine[0]["details"]["fields"] == ["name_en"]


def test_procedures_are_served(client):
    everything = client.get("/procedures").json()
    assert [f["form"] for f in everything["forms"]] == [
        "investor_bidding",
        "land_auction",
        "policy_approval",
        "ppp",
    ]
    assert {"tourism", "renewable_energy"} <= {s["code"] for s in everything["sectors"]}
    assert "calling_investment" in {s["code"] for s in everything["stages"]}
    ppp = client.get("/procedures/ppp").json()
    assert "64/2020/QH14" in ppp["legal_basis"]
    assert all(s["duration_days"] is None for s in ppp["steps"])
    assert client.get("/procedures/gift").status_code == 404


def test_the_printable_page(client, editor):
    create(client, editor)
    event(client, editor, kind="step_started", step="dossier_received",
          date=days_ago(20), planned_date=days_ago(10))  # fmt: skip
    event(client, editor, kind="note", note="<script>alert(1)</script>")
    page = client.get("/projects/SL-DA-0001", headers={"Accept": "text/html"})
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    html = page.text
    assert "Nhà máy chế biến xoài Mai Sơn" in html
    assert "Chậm 10 ngày so với kế hoạch" in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "<h2>Hỏi về dự án này</h2>" in html
    # a visitor who reads another language finds it in the menu, the page's address kept
    assert '<a href="?f=html&amp;lang=ja" hreflang="ja" lang="ja">日本語</a>' in html
    assert "style=" not in html
    scripts = [line.strip() for line in html.splitlines() if "<script" in line]
    assert scripts[1:] == [
        '<script src="/static/map/i18n.js" defer></script>',
        '<script src="/static/map/forms.js" defer></script>',
        '<script src="/static/pipeline/project.js" defer></script>',
    ]
    assert scripts[0].startswith('<script type="application/json" id="i18n-catalogue">')
    english = client.get("/projects/SL-DA-0001", params={"f": "html", "lang": "en"}).text
    assert '<html lang="en">' in english and "10 days behind plan" in english
    # labels, not codes: the data quality, and each event's step by its name
    assert '<td class="quality">Dữ liệu mô phỏng</td>' in html and "synthetic_demo" not in html
    assert '<span class="step-name">Tiếp nhận hồ sơ' in html and "· dossier_received" not in html
    assert '<td class="quality">Synthetic demo data</td>' in english
    assert '<span class="step-name">Investment policy approval dossier received' in english
    assert client.get("/static/pipeline/project.css").status_code == 200


def test_request_bodies_are_documented(client):
    document = client.get("/openapi.json").json()
    body = document["paths"]["/projects"]["post"]["requestBody"]["content"]["application/json"]
    assert {"id", "name_vi", "investment_form", "sites"} <= set(body["schema"]["properties"])
