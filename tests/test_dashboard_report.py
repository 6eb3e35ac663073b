"""The annual report read back with openpyxl, python-docx and pypdf: its numbers are numbers and
equal the summary's; `geo-service report` and `geo-service targets`."""

from __future__ import annotations

import datetime as dt
import io
import shutil

import pytest
from docx import Document
from openpyxl import load_workbook
from pypdf import PdfReader

from geo_service.clock import today_in_vietnam
from geo_service.dashboard.report import report_period
from geo_service.locations import CHECKOUT_DIR
from geo_service.pipeline.documents import EventDocument
from geo_service.pipeline.projects import ProjectFilters

from .command_line import Ran, geo_service
from .conftest import error_document
from .dashboard_data import random_pipeline, random_pipeline_client
from .pipeline_app import pipeline_client

YEAR = 2026


@pytest.fixture
def client(pipeline_dir, records_url, filled_records):
    with random_pipeline_client(
        filled_records, pipeline_dir, records_url, 7, then=two_obstacles
    ) as client:
        yield client


def two_obstacles(store) -> None:
    obstacle(store, dt.date(2026, 3, 2), "Chưa có mặt bằng sạch", public=True)
    obstacle(store, dt.date(2026, 4, 2), "Nội bộ: thiếu vốn đối ứng", public=False)


def obstacle(store, day: dt.date, note: str, public: bool) -> None:
    """Note an obstacle on the first project that is not revoked."""
    for record in store.search(ProjectFilters(), 100, 0, dt.date(2026, 11, 30))[0]:
        if record.values["stage"] != "revoked":
            document = EventDocument(kind="note", date=day, note=note, obstacle=True, public=public)
            store.append_event(record.id, document, "test", dt.date(2026, 11, 30))
            return
    raise AssertionError("every project is revoked")


def fetch(client, fmt: str, lang: str = "vi", **headers) -> bytes:
    response = client.get(
        "/dashboard/report", params={"year": YEAR, "f": fmt, "lang": lang}, headers=headers
    )
    assert response.status_code == 200, response.text
    assert f"{YEAR}-{lang}.{fmt}" in response.headers["content-disposition"]
    return response.content


def report_end() -> str:
    """The last day the report of YEAR counts: today in Vietnam, or the year's end."""
    return report_period(YEAR, today_in_vietnam()).end.isoformat()


def test_the_xlsx_has_a_sheet_per_section_with_real_numbers(client, editor):
    summary = client.get(
        "/dashboard/summary",
        params={"from": f"{YEAR}-01-01", "to": report_end(), "group_by": "investment_form"},
    ).json()
    book = load_workbook(io.BytesIO(fetch(client, "xlsx", "en")))
    assert book.sheetnames == [
        "Targets", "Same period", "By form", "By stage", "Late projects", "Enquiries", "Obstacles"
    ]  # fmt: skip
    same = {row[0].value: row for row in book["Same period"].iter_rows(min_row=2)}
    totals = summary["totals"]
    new = same["New projects"]
    assert new[1].value == totals["current"]["new_projects"]
    assert new[2].value == totals["previous"]["new_projects"]
    assert isinstance(new[1].value, int | float) and new[1].number_format == "#,##0.0"
    capital = same["Registered capital of new projects (billion VND)"]
    assert capital[1].value == pytest.approx(totals["current"]["capital_registered_billion_vnd"])
    forms = {row[0].value: [c.value for c in row] for row in book["By form"].iter_rows(min_row=2)}
    for group in summary["groups"]:
        assert forms[group["label"]["en"]][1:3] == [
            group["current"]["projects"], group["current"]["new_projects"]
        ]  # fmt: skip
    late = list(book["Late projects"].iter_rows(min_row=2, values_only=True))
    assert len(late) == summary["late_projects"]["total"]
    assert all(isinstance(row[4], int) and row[4] > 0 for row in late)
    assert all(isinstance(row[3], dt.datetime) for row in late)  # dates are dates
    targets = {row[1].value: row for row in book["Targets"].iter_rows(min_row=2)}
    share = targets["New investment projects"][5]
    assert isinstance(share.value, float) and share.number_format == "0.0%"
    obstacles = [r[4] for r in book["Obstacles"].iter_rows(min_row=2, values_only=True) if r[0]]
    assert "Chưa có mặt bằng sạch" in obstacles
    assert "Nội bộ: thiếu vốn đối ứng" not in obstacles  # public answer: public notes only
    with_token = load_workbook(io.BytesIO(fetch(client, "xlsx", "en", **editor)))
    internal = [r[4] for r in with_token["Obstacles"].iter_rows(min_row=2, values_only=True)]
    assert "Nội bộ: thiếu vốn đối ứng" in internal


def test_the_docx_and_pdf_hold_the_same_tables(client):
    summary = client.get(
        "/dashboard/summary", params={"from": f"{YEAR}-01-01", "to": report_end()}
    ).json()
    document = Document(io.BytesIO(fetch(client, "docx")))
    headings = [p.text for p in document.paragraphs if p.style.name.startswith("Heading")]
    assert "Dự án chậm tiến độ (tại ngày lập báo cáo)" in headings
    assert len(document.tables) == 7
    same = {row.cells[0].text: row.cells[1].text for row in document.tables[1].rows}
    assert same["Dự án mới"] == f"{summary['totals']['current']['new_projects']:,}".replace(
        ",", "."
    )
    late_rows = document.tables[4].rows[1:]
    assert len(late_rows) == summary["late_projects"]["total"]
    text = "\n".join(
        page.extract_text() for page in PdfReader(io.BytesIO(fetch(client, "pdf"))).pages
    )
    assert "Báo cáo kết quả thu hút đầu tư năm 2026" in text
    assert "Khó khăn, vướng mắc ghi nhận trên hồ sơ dự án" in text
    first_late = summary["late_projects"]["projects"][0]
    assert first_late["id"] in text


def test_bad_report_parameters_get_400(client):
    for params in ({"year": 1999}, {"year": 2999}, {"year": "x"}, {"year": 2026, "f": "odt"}, {}):
        response = client.get("/dashboard/report", params=params)
        assert response.status_code == 400, params
        error_document(response)


def cli(*args: str, env: dict | None = None) -> Ran:
    return geo_service(*args, env=env)


def test_geo_service_report_writes_the_file(tmp_path, pipeline_dir, records_url):
    with pipeline_client(pipeline_dir, records_url) as client:
        random_pipeline(client.app.state.projects, 5, count=15)
    env = {"GEO_SERVICE_DATABASE_URL": records_url}
    target = tmp_path / "bao-cao.xlsx"
    done = cli(
        "report",
        "--year",
        "2026",
        "-o",
        str(target),
        "--data-dir",
        str(pipeline_dir),
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert load_workbook(target)["Mục tiêu"].max_row > 1
    bad = cli("report", "--year", "2026", "-o", str(tmp_path / "x.odt"), env=env)
    assert bad.returncode == 2 and "format" in bad.stderr


def test_geo_service_targets_checks_the_files(tmp_path):
    ok = cli("targets")
    assert ok.returncode == 0, ok.stderr
    assert "sonla-2025-2030: ok — 4 targets (3 measurable)" in ok.stdout
    folder = tmp_path / "targets"
    shutil.copytree(CHECKOUT_DIR / "targets", folder)
    plan = folder / "sonla-2025-2030.toml"
    plan.write_text(
        plan.read_text().replace(
            'metric = "new_projects"\nmin = 100', 'metric = "new_projects"\nmin = 200'
        )
    )
    (folder / "broken.toml").write_text("title_vi = [")
    env = {"GEO_SERVICE_TARGETS_DIR": str(folder)}
    bad = cli("targets", env=env)
    assert bad.returncode == 1
    assert "broken.toml: not valid TOML" in bad.stderr
    assert "sonla-2025-2030.toml: targets.0: min 200 is above max 150" in bad.stderr
