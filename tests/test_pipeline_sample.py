"""The sample pipeline on SQLite and PostgreSQL: the plans' projects with nothing invented, a
synthetic demo set that shows timelines and delays, and loading twice adds nothing."""

from __future__ import annotations

import re

import shapely

from geo_service.clock import today_in_vietnam
from geo_service.pipeline.projects import ProjectFilters, ProjectStore
from geo_service.records import Records, upgrade
from geo_service.sample.projects import load_pipeline_sample, sample_projects
from geo_service.settings import Settings


def test_the_sample_pipeline(sample_dir, backend, records_url):
    records = Records(records_url)
    upgrade(records)
    try:
        store = backend.store(sample_dir)
        projects = ProjectStore(records, Settings().procedures_dir)
        today = today_in_vietnam()
        named = {p["id"]: p for p in sample_projects()["projects"]}
        assert load_pipeline_sample(projects, store, today) == len(named) + 12
        everything = {r.id: r for b in projects.batches(ProjectFilters(), today) for r in b}

        for project_id, item in named.items():
            record = everything[project_id].values
            assert record["data_quality"] == "indicative"
            assert "[[" not in record["source"] and ".txt" not in record["source"]
            for unknown in ("investment_form", "capital_planned_billion_vnd", "investor",
                            "responsible_agency", "area_ha"):  # fmt: skip
                assert record[unknown] is None, (project_id, unknown)
            assert record["stage"] == ("calling_investment" if item["listed"] else "unknown")
            assert record["commune_code"]
            events = projects.events(project_id, include_internal=True)
            assert all(e.date is None for e in events)  # no invented dates
            notes = [e.note for e in events if e.kind == "note" and e.public]
            assert notes == ([item["progress"]] if item["progress"] else []), project_id
            assert re.search(r"«[^»]+»", record["source"]), project_id  # the passage naming it
            if item["site"]:
                collection, feature_id = item["site"].split("/")
                site = store.feature(collection, feature_id)
                assert shapely.from_wkb(record["location"]).equals(shapely.from_wkb(site.geometry))
        assert everything["SL-DA-HATANG-KCN-MAISON-2"].sites == [
            ("industrial_zones", "SL-KCN-MAISON-2")
        ]

        demo = {i: r.values for i, r in everything.items() if i.startswith("SL-DA-DEMO-")}
        assert len(demo) == 12
        assert {r["data_quality"] for r in demo.values()} == {"synthetic_demo"}
        assert all("synthetic" in r["source"] and "mô phỏng" in r["name_vi"] for r in demo.values())
        stages = {r["stage"] for r in demo.values()}
        assert {
            "calling_investment",
            "dossier",
            "operating",
            "suspended",
            "revoked",
            "unknown",
        } <= stages
        behind, _ = projects.search(ProjectFilters(behind=True), 100, 0, today)
        assert behind and {r.id for r in behind} <= set(demo)
        internal = [
            e for i in demo for e in projects.events(i, include_internal=True) if not e.public
        ]
        assert internal and all("synthetic" in e.note for e in internal)

        assert load_pipeline_sample(projects, store, today) == 0
        assert projects.count() == len(everything)
    finally:
        records.dispose()
