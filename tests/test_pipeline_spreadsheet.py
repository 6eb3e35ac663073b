"""Projects to and from a planner's spreadsheet, on SQLite and PostgreSQL: the export's file
imports back unchanged, headers in either language, a report naming row and column, and nothing
stored when any row is wrong."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import openpyxl
import pytest

from geo_service.clock import today_in_vietnam
from geo_service.i18n import render
from geo_service.pipeline.documents import site_checker
from geo_service.pipeline.projects import ProjectFilters
from geo_service.pipeline.spreadsheet import export_projects, import_projects

from .command_line import Ran, geo_service
from .pipeline_app import pipeline_client, project_body, with_grid

POLYGON = {
    "type": "Polygon",
    "coordinates": [[[104.07, 21.24], [104.09, 21.24], [104.09, 21.26], [104.07, 21.24]]],
}


@pytest.fixture
def client(pipeline_dir, records_url):
    with pipeline_client(pipeline_dir, records_url) as client:
        yield client


def fill(client, editor) -> None:
    bodies = [
        project_body(),
        project_body(
            id="SL-DA-0002",
            name_vi="Khu du lịch sinh thái «Tà Xùa»",
            name_en="Ta Xua eco-tourism area",
            summary_vi="Dòng 1\nDòng 2, có dấu phẩy; và chấm phẩy",
            sector="tourism",
            investment_form="ppp",
            location=POLYGON,
            sites=[{"collection": "grid", "id": "G-0-0"}, {"collection": "grid", "id": "G-9-9"}],
            capital_registered_billion_vnd=1234.5,
            investor="Công ty Cổ phần A&B",
            name_ja="タスア・エコツーリズム地区",
            summary_zh="第一行\n第二行",
        ),
        project_body(id="SL-DA-0003", location=None, sites=[], investment_form=None, sector=None),
    ]
    for body in bodies:
        assert client.post("/projects", json=body, headers=editor).status_code == 201
    client.post("/projects/SL-DA-0002/events", json={"kind": "listed", "note": "x"}, headers=editor)


def documents(client) -> dict[str, dict]:
    store = client.app.state.projects
    return {
        r.id: r.document() for b in store.batches(ProjectFilters(), today_in_vietnam()) for r in b
    }


def export_into(folder: Path, *args) -> Path:
    """`export_projects(*args)`'s file moved into `folder`, and the temporary folder it was
    written in removed (its caller's task, as the API's and the command line's)."""
    path, _ = export_projects(*args)
    moved = Path(shutil.move(path, folder / path.name))
    shutil.rmtree(path.parent)
    return moved


@pytest.mark.parametrize(("fmt", "lang"), [("xlsx", "vi"), ("csv", "en")])
def test_an_export_imports_back_unchanged(client, editor, tmp_path, fmt, lang):
    fill(client, editor)
    store = client.app.state.projects
    today = today_in_vietnam()
    before = documents(client)
    exported = export_into(tmp_path, store, ProjectFilters(), today, fmt, lang)
    checker = site_checker(client.app.state.store)
    report = import_projects(exported, store, checker, today)
    assert report.ok, report.to_text()
    assert (report.created, report.updated, report.rows) == (0, 3, 3)
    assert documents(client) == before
    renamed = tmp_path / f"renamed.{fmt}"
    _rename_ids(exported, renamed)
    report = import_projects(renamed, store, checker, today)
    assert (report.created, report.updated) == (3, 0), report.to_text()
    after = documents(client)
    for project_id, document in before.items():
        copy = after[project_id.replace("SL-DA-", "SL-DA-9")]
        assert {**copy, "id": project_id} == document
    assert client.get("/projects/SL-DA-90002").json()["stage"] == "unknown"  # events stay behind


def _rename_ids(source: Path, target: Path) -> None:
    """The same rows under new ids (SL-DA-0001 → SL-DA-90001)."""
    if source.suffix == ".csv":
        rows = list(csv.reader(source.read_text(encoding="utf-8-sig").splitlines(keepends=True)))
        for row in rows[1:]:
            row[0] = row[0].replace("SL-DA-", "SL-DA-9")
        with target.open("w", encoding="utf-8-sig", newline="") as out:
            csv.writer(out).writerows(rows)
        return
    workbook = openpyxl.load_workbook(source)
    for cell in list(workbook.active["A"])[1:]:
        cell.value = cell.value.replace("SL-DA-", "SL-DA-9")
    workbook.save(target)


def write_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        csv.writer(out).writerows(rows)
    return path


def test_a_planners_sheet_with_names_old_addresses_and_coordinates(client, tmp_path):
    sheet = write_csv(
        tmp_path / "planner.csv",
        [
            ["Mã dự án", "Tên dự án", "Hình thức đầu tư", "Lĩnh vực", "Địa chỉ", "Kinh độ",
             "Vĩ độ", "Vốn dự kiến (tỷ VND)", "Nguồn", "Ghi chú riêng"],
            ["SL-DA-0101", "Nhà máy chè", "Đấu giá quyền sử dụng đất", "chế biến nông sản",
             "Xã Mường Bằng, Huyện Mai Sơn, Tỉnh Sơn La", "104.08", "21.25", "12,5", "Sở", "x"],
        ],
    )  # fmt: skip
    report = import_projects(
        sheet, client.app.state.projects, site_checker(client.app.state.store), today_in_vietnam()
    )
    assert report.ok, report.to_text()
    assert [render(p.message, "en") for p in report.problems] == ["unknown column, ignored"]
    project = client.get("/projects/SL-DA-0101").json()
    assert (project["investment_form"], project["sector"]) == ("land_auction", "agro_processing")
    assert (project["commune_code"], project["capital_planned_billion_vnd"]) == ("04123", 12.5)
    assert project["location"] == {"type": "Point", "coordinates": [104.08, 21.25]}


def test_names_in_further_languages_have_columns_headed_in_either_language(
    client, editor, tmp_path
):
    fill(client, editor)
    store, checker = client.app.state.projects, site_checker(client.app.state.store)
    exported = export_into(tmp_path, store, ProjectFilters(), today_in_vietnam(), "xlsx", "vi")
    rows = list(openpyxl.load_workbook(exported).active.iter_rows(values_only=True))
    headers = list(rows[0])
    assert {"Tên tiếng Nhật", "Tên tiếng Hàn", "Tóm tắt tiếng Trung"} <= set(headers)
    by_id = {row[0]: dict(zip(headers, row, strict=True)) for row in rows[1:]}
    assert by_id["SL-DA-0002"]["Tên tiếng Nhật"] == "タスア・エコツーリズム地区"
    assert by_id["SL-DA-0001"]["Tên tiếng Nhật"] in (None, "")
    sheet = write_csv(
        tmp_path / "korean.csv",
        [["Project id", "Name (Vietnamese)", "Name (Korean)", "Summary (Japanese)", "Source"],
         ["SL-DA-0401", "Nhà máy chè", "차 공장", "茶工場。", "test"]],
    )  # fmt: skip
    report = import_projects(sheet, store, checker, today_in_vietnam())
    assert report.ok and not report.problems, report.to_text()
    project = client.get("/projects/SL-DA-0401", params={"lang": "ko"}).json()
    assert (project["name"], project["name_lang"], project["summary_ja"]) == (
        "차 공장",
        "ko",
        "茶工場。",
    )


def test_a_report_names_row_and_column_and_nothing_is_stored(client, tmp_path):
    sheet = write_csv(
        tmp_path / "bad.csv",
        [
            ["id", "name_vi", "source", "investment_form", "sector", "area_ha", "sites",
             "commune_code", "WKT"],
            ["SL-DA-0201", "Tốt", "s", "ppp", "tourism", "3", "", "04123", ""],
            ["SL-DA-0202", "Hình thức lạ", "s", "gift", "tourism", "", "", "", ""],
            ["sl 203", "Mã sai", "s", "", "", "-4", "grid/NOPE", "99999", "POINT (1 2"],
            ["SL-DA-0201", "Trùng mã", "s", "", "", "", "", "", ""],
            ["SL-DA-0202", "Trùng mã một dòng lỗi", "s", "", "", "", "", "", ""],
        ],
    )  # fmt: skip
    store = client.app.state.projects
    report = import_projects(sheet, store, site_checker(client.app.state.store), today_in_vietnam())
    assert not report.ok and not report.stored
    found = {(p.row, p.column) for p in report.problems}
    assert {(3, "investment_form"), (4, "id"), (4, "area_ha"), (4, "WKT"), (5, "id")} <= found
    assert "row 3, column 'investment_form'" in report.to_text()
    said = {(p.row, p.column): render(p.message, "en") for p in report.problems}
    assert said[(4, "area_ha")] == "must be at least 0"  # in words, not pydantic's English
    assert said[(4, "id")] == "must be a project id, such as SL-DA-0001"
    assert said[(5, "id")] == "id SL-DA-0201 is also on row 2"
    assert said[(6, "id")] == "id SL-DA-0202 is also on row 3"  # row 3 itself has an error
    assert store.count() == 0
    half = write_csv(tmp_path / "half.csv", [["id", "name_vi", "source", "Kinh độ"],
                                             ["SL-DA-0202", "A", "s", "104.08"]])  # fmt: skip
    report = import_projects(half, store, site_checker(client.app.state.store), today_in_vietnam())
    (problem,) = report.problems
    assert (problem.row, problem.column) == (2, "Kinh độ"), report.to_text()
    assert render(problem.message, "en") == "give both the longitude and the latitude, or neither"
    dry = write_csv(tmp_path / "dry.csv", [["id", "name_vi", "source"], ["SL-DA-0301", "A", "s"]])
    report = import_projects(
        dry, store, site_checker(client.app.state.store), today_in_vietnam(), True
    )
    assert report.ok and not report.stored
    assert store.count() == 0


def test_missing_columns_and_unreadable_files(client, tmp_path):
    store, checker = client.app.state.projects, site_checker(client.app.state.store)
    sheet = write_csv(tmp_path / "short.csv", [["name_vi"], ["A"]])
    report = import_projects(sheet, store, checker, today_in_vietnam())
    assert {render(p.message, "en") for p in report.problems} == {
        "missing column 'id'",
        "missing column 'source'",
    }
    told = report.to_text("vi").splitlines()
    assert told[0] == "short.csv: 0 dòng; 2 lỗi, không lưu gì", told
    assert told[1].split()[0] == "LỖI" and told[1].endswith(": thiếu cột 'id'"), told
    (tmp_path / "broken.xlsx").write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(Exception, match="cannot read it as a spreadsheet"):
        import_projects(tmp_path / "broken.xlsx", store, checker, today_in_vietnam())


def test_the_projects_commands(pipeline_dir, records_url, tmp_path):
    with_grid(pipeline_dir, records_url)
    where = ["--data-dir", str(pipeline_dir)]

    def run(*args: str) -> Ran:
        return geo_service("projects", *args, env={"GEO_SERVICE_DATABASE_URL": records_url})

    good = write_csv(tmp_path / "good.csv", [["id", "name_vi", "source"], ["SL-DA-0401", "A", "s"]])
    bad = write_csv(tmp_path / "bad.csv", [["id", "name_vi", "source"], ["nope", "A", "s"]])
    refused = run("import", str(bad), *where)  # told in Vietnamese unless asked otherwise
    assert refused.returncode == 1 and "phải là một mã dự án" in refused.stdout, refused.stdout
    dry = run("import", str(good), "--dry-run", "--lang", "en", *where)
    assert dry.returncode == 0 and "nothing stored" in dry.stdout
    stored = run("import", str(good), "--lang", "en", *where)
    assert stored.returncode == 0 and "1 created" in stored.stdout
    assert run("import", str(tmp_path / "missing.csv"), *where).returncode == 2
    target = tmp_path / "all.xlsx"
    assert run("export", "-o", str(target), *where).returncode == 0
    assert [c.value for c in openpyxl.load_workbook(target).active["A"]] == [
        "Mã dự án",
        "SL-DA-0401",
    ]
    rebuilt = run("rebuild-progress", *where)
    assert rebuilt.returncode == 0 and "1 projects" in rebuilt.stdout
