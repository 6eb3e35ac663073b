"""GET /dashboard/summary against a brute-force recount from the rows, on both databases:
randomised pipelines (seeded) with forms that change and projects revoked inside the periods."""

from __future__ import annotations

import datetime as dt
import itertools
import shutil
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

import pytest
import sqlalchemy as sa

from geo_service.dashboard.periods import Period
from geo_service.pipeline.documents import EventDocument
from geo_service.pipeline.procedures import FORMS
from geo_service.pipeline.stages import STAGES
from geo_service.records.schema import enquiries
from geo_service.settings import Settings

from .conftest import error_document
from .dashboard_data import Recount, random_pipeline, random_pipeline_client
from .migrations import downgraded
from .pipeline_app import pipeline_client

LAST_DAY = dt.date(2026, 11, 30)
PERIODS = [
    ("2025-01-01", "2025-12-31"),
    ("2026-03-15", "2026-11-30"),
    ("2024-02-29", "2026-06-30"),
    ("2025-01-10", "2026-02-17"),
]
GROUPINGS = {
    "investment_form": lambda life, stage, form: (form,),
    "sector": lambda life, stage, form: (life.values["sector"],),
    "stage": lambda life, stage, form: (stage,),
    "commune_code": lambda life, stage, form: (life.values["commune_code"],),
    "stage,investment_form": lambda life, stage, form: (stage, form),
}


@pytest.fixture(scope="module")
def seeds() -> list[int]:
    return [13, 2026]


@pytest.fixture(params=[13, 2026], ids=lambda s: f"seed{s}")
def pipeline(request, pipeline_dir, records_url, filled_records):
    with random_pipeline_client(filled_records, pipeline_dir, records_url, request.param) as client:
        yield client, Recount(client.app.state.projects)


def summary(client, **params) -> dict:
    response = client.get("/dashboard/summary", params=params)
    assert response.status_code == 200, response.text
    return response.json()


def close(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for name in a:
        assert a[name] == pytest.approx(b[name], abs=1e-6), name


def same(found, expected) -> None:
    """Equal documents, floats to rounding (the database may add capital in another order)."""
    if isinstance(expected, dict):
        assert found.keys() == expected.keys()
        for key in expected:
            same(found[key], expected[key])
    elif isinstance(expected, list):
        assert len(found) == len(expected)
        for a, b in zip(found, expected, strict=True):
            same(a, b)
    elif isinstance(expected, float):
        assert found == pytest.approx(expected, rel=1e-9, abs=1e-9)
    else:
        assert found == expected


def year_before(text: str) -> dt.date:
    day = dt.date.fromisoformat(text)
    return day.replace(year=day.year - 1, day=28 if (day.month, day.day) == (2, 29) else day.day)


def test_every_figure_equals_a_recount_from_the_rows(pipeline):
    client, recount = pipeline
    lives = recount.lives.values()
    assert any(e.kind == "form_changed" for life in lives for e in life.events)
    assert any(e.kind == "revoked" for life in lives for e in life.events)
    whole = recount.figures(dt.date(2024, 2, 29), dt.date(2026, 6, 30), lambda *_: ())[()]
    assert whole["new_projects"] >= 5 and whole["completed"] >= 1 and whole["revoked"] >= 1
    for start, end in PERIODS:
        previous = (year_before(start), year_before(end))
        for group_by, key in GROUPINGS.items():
            document = summary(client, **{"from": start, "to": end, "group_by": group_by})
            assert document["previous_period"] == {
                "from": previous[0].isoformat(), "to": previous[1].isoformat()
            }  # fmt: skip
            expected = recount.figures(
                dt.date.fromisoformat(start), dt.date.fromisoformat(end), key
            )
            expected_before = recount.figures(*previous, key)
            dims = group_by.split(",")
            found = {tuple(g["key"][d] for d in dims): g for g in document["groups"]}
            assert len(found) == len(document["groups"])
            for k, values in expected.items():
                close(found[k]["current"], values)
            for k, values in expected_before.items():
                close(found[k]["previous"], values)
            for k, group in found.items():  # every other group is zeros
                if k not in expected:
                    assert not any(group["current"].values()), (k, group)
                if k not in expected_before:
                    assert not any(group["previous"].values()), (k, group)
            totals = document["totals"]
            assert totals["current"]["projects"] == sum(v["projects"] for v in expected.values())
            assert totals["previous"]["new_projects"] == sum(
                v["new_projects"] for v in expected_before.values()
            )


def test_groups_with_no_project_are_present_with_zeros(pipeline):
    client, _ = pipeline
    stages = summary(client, **{"from": "2023-01-01", "to": "2023-01-31", "group_by": "stage"})
    assert [g["key"]["stage"] for g in stages["groups"]][: len(STAGES)] == list(STAGES)
    forms = summary(client, group_by="investment_form,commune_code")
    keys = {(g["key"]["investment_form"], g["key"]["commune_code"]) for g in forms["groups"]}
    assert len(keys) >= len(FORMS) * 75
    communes = summary(client, group_by="commune_code")
    assert all(g["commune"] is not None for g in communes["groups"] if g["key"]["commune_code"])


def test_by_year_each_year_is_its_own_period_beside_the_year_before(pipeline):
    client, recount = pipeline
    document = summary(client, **{"from": "2024-06-01", "to": "2026-11-30", "group_by": "year"})
    assert [g["key"]["year"] for g in document["groups"]] == [2024, 2025, 2026]
    for group in document["groups"]:
        year = group["key"]["year"]
        start = max(dt.date(2024, 6, 1), dt.date(year, 1, 1))
        end = min(dt.date(2026, 11, 30), dt.date(year, 12, 31))
        whole = recount.figures(start, end, lambda *_: ())
        close(group["current"], whole.get((), group["current"] | {k: 0 for k in group["current"]}))
        before = recount.figures(year_before(start.isoformat()), year_before(end.isoformat()),
                                 lambda *_: ())  # fmt: skip
        if () in before:
            close(group["previous"], before[()])


@pytest.mark.parametrize("end", ["2026-06-30", "2026-06-17", "2025-01-20", "2023-05-15"])
def test_targets_enquiries_and_late_projects_equal_a_recount(pipeline, end):
    """Targets on a month's last day and within a month (counted from the month before's)."""
    client, recount = pipeline
    day = dt.date.fromisoformat(end)
    start = f"{day.year}-01-01"
    document = summary(client, **{"from": start, "to": end})
    targets = {(t["plan"], t["id"]): t for t in document["targets"]}
    plan = targets[("sonla-2025-2030", "new_projects")]
    three = ("policy_approval", "land_auction", "investor_bidding")
    plan_start = dt.date(2025, 1, 1)
    if day < plan_start:
        assert plan["status"] == "not_started" and plan["achieved"] == 0.0
    else:
        assert plan["achieved"] == recount.target("new_projects", three, plan_start, day)
        assert plan["expected_by_now"] == pytest.approx(100 * ((day - plan_start).days + 1) / 2191)
        assert plan["on_track"] == (plan["achieved"] >= plan["expected_by_now"])
        capital = targets[("sonla-2025-2030", "registered_capital")]
        assert capital["achieved"] == pytest.approx(
            recount.target("registered_capital", three, plan_start, day)
        )
        share = targets[("sonla-2025-2030", "completed_share")]
        expected_share = recount.target("completed_share", ("policy_approval",), plan_start, day)
        assert share["achieved"] == pytest.approx(expected_share or 0.0)
    not_measured = targets[("sonla-2025-2030", "realised_capital_share")]
    assert not_measured["status"] == "not_measurable" and not_measured["achieved"] is None
    assert "25%" in not_measured["quote"]
    year_2023 = targets[("sonla-2023", "new_projects")]
    as_of = min(day, dt.date(2023, 12, 31))  # a plan that ended before the summary's end
    assert year_2023["as_of"] == as_of.isoformat()
    assert year_2023["achieved"] == recount.target(
        "new_projects", FORMS, dt.date(2023, 1, 1), as_of
    )
    for key, period in (
        ("current", (dt.date.fromisoformat(start), day)),
        ("previous", (year_before(start), year_before(end))),
    ):
        expected = recount.enquiry_figures(*period)
        found = document["enquiries"][key]
        assert found["received"] == expected["received"]
        assert found["answered"] == expected["answered"]
        assert found["median_hours_to_answer"] == pytest.approx(
            expected["median_hours_to_answer"], abs=1e-3
        )
    late = recount.late(_today())
    assert document["late_projects"]["total"] == len(late)
    assert [(p["id"], p["days_late"]) for p in document["late_projects"]["projects"]] == late[:20]


def test_targets_on_the_day_of_each_kind_of_change_equal_a_recount(pipeline):
    """Within a month a plan's figures are those of the month before's last day plus the spans
    dated since: on the day of a selection, completion, revocation and change of form, each
    target equals a recount."""
    client, recount = pipeline
    plan_start = dt.date(2025, 1, 1)
    three = ("policy_approval", "land_auction", "investor_bidding")
    revoked_on = dt.date(2026, 11, 17)
    revocable = next(  # a project approved in the plan and revoked mid-month
        p for p, life in sorted(recount.lives.items())
        if plan_start <= (recount.first_completion(life, {"policy_approved", "investor_selected"})
                          or dt.date.min)
        and recount.revoked_on(life) is None and max(e.date for e in life.events) < revoked_on
    )  # fmt: skip
    store = client.app.state.projects
    store.append_event(
        revocable, EventDocument(kind="revoked", date=str(revoked_on)), "t", LAST_DAY
    )
    recount = Recount(store)
    days = {}
    for life in recount.lives.values():
        selected = recount.first_completion(life, {"policy_approved", "investor_selected"})
        if selected is None or selected < plan_start:
            continue
        dated = {
            "selected": selected,
            "completed": recount.first_completion(life, {"operating"}),
            "revoked": recount.revoked_on(life),
            "form_changed": next(
                (e.date for e in life.events if e.kind == "form_changed" and e.date > selected),
                None,
            ),
        }
        for kind, day in dated.items():
            if day is not None and day.day > 1 and (day + dt.timedelta(days=1)).day != 1:
                days.setdefault(kind, day)
    assert {"selected", "completed", "revoked"} <= days.keys(), days
    for day in days.values():
        document = summary(client, **{"from": day.replace(day=1).isoformat(), "to": str(day)})
        targets = {(t["plan"], t["id"]): t for t in document["targets"]}
        for metric, forms in (
            ("new_projects", three),
            ("registered_capital", three),
            ("completed_share", ("policy_approval",)),
        ):
            found = targets[("sonla-2025-2030", metric)]["achieved"]
            assert found == pytest.approx(recount.target(metric, forms, plan_start, day) or 0.0)


def test_days_asked_one_after_another_equal_a_recount(pipeline):
    """Each day's figures are brought forward from those of a day kept shortly before (the
    projects in the pipeline, the plans' figures): periods ending on the days around the
    busiest one, asked in turn, each equal a recount, whether they start on a day of their own
    or all on the same day."""
    client, recount = pipeline
    busiest = Counter(
        e.date for life in recount.lives.values() for e in life.events
        if dt.date(2025, 2, 1) <= e.date <= dt.date(2026, 10, 31)
    ).most_common(1)[0][0]  # fmt: skip
    three = ("policy_approval", "land_auction", "investor_bidding")
    for back in range(-3, 12, 1):
        day = busiest + dt.timedelta(days=back)
        for start, group_by in itertools.product(
            (day - dt.timedelta(days=40), busiest - dt.timedelta(days=30)),
            ("stage", "commune_code", None),
        ):
            params = {"from": str(start), "to": str(day)} | (
                {"group_by": group_by} if group_by else {}
            )
            document = summary(client, **params)
            key_of = GROUPINGS[group_by] if group_by else lambda *_: ()
            for which, period in (
                ("current", (start, day)),
                ("previous", (year_before(str(start)), year_before(str(day)))),
            ):
                expected = recount.figures(*period, key_of)
                found = {tuple(g["key"].values()): g[which] for g in document["groups"]}
                for key in found.keys() | expected.keys():
                    close(found[key], expected.get(key, dict.fromkeys(found[key], 0)))
        targets = {(t["plan"], t["id"]): t["achieved"] for t in document["targets"]}
        for metric, forms in (("new_projects", three), ("completed_share", ("policy_approval",))):
            expected_target = recount.target(metric, forms, dt.date(2025, 1, 1), day) or 0.0
            assert targets[("sonla-2025-2030", metric)] == pytest.approx(expected_target), day


def test_days_asked_together_equal_a_recount(pipeline):
    """Summaries of nearby days asked at once by several threads of one process (as a worker's
    do) wait for one another's figures of a day instead of counting them twice: each equals a
    recount, and the pipeline's and plans' figures of each day were counted once."""
    client, recount = pipeline
    dashboard = client.app.state.dashboard
    busiest = Counter(
        e.date for life in recount.lives.values() for e in life.events
        if dt.date(2025, 2, 1) <= e.date <= dt.date(2026, 10, 31)
    ).most_common(1)[0][0]  # fmt: skip
    start = busiest - dt.timedelta(days=30)
    days = [busiest + dt.timedelta(days=k) for k in range(-2, 10)]
    made = Counter()
    making = dashboard._shared_values.get_or_make

    def counting(key, make):
        def counted():
            made[key] += 1
            return make()

        return making(key, counted)

    dashboard._shared_values.get_or_make = counting
    with ThreadPoolExecutor(8) as pool:
        found = list(
            pool.map(lambda day: dashboard.summary(Period(start, day), ("stage",), _today()), days)
        )
    for day, document in zip(days, found, strict=True):
        expected = recount.figures(start, day, GROUPINGS["stage"])
        groups = {(g["key"]["stage"],): g["current"] for g in document["groups"]}
        for key in groups.keys() | expected.keys():
            close(groups[key], expected.get(key, dict.fromkeys(groups[key], 0)))
        targets = {(t["plan"], t["id"]): t["achieved"] for t in document["targets"]}
        three = ("policy_approval", "land_auction", "investor_bidding")
        expected_target = recount.target("new_projects", three, dt.date(2025, 1, 1), day)
        assert targets[("sonla-2025-2030", "new_projects")] == expected_target
    assert made and max(made.values()) == 1, made


def test_a_targets_file_changed_shows_in_the_next_summary(pipeline_dir, records_url, tmp_path):
    """Summaries are kept under the targets files' stamp: a plan removed or added shows in the
    next answer of the same period."""
    folder = tmp_path / "targets"
    shutil.copytree(Settings().targets_dir, folder)

    def plans(document: dict) -> set[str]:
        return {t["plan"] for t in document["targets"]}

    with pipeline_client(pipeline_dir, records_url, targets_dir=folder) as client:
        period = {"from": "2026-01-01", "to": "2026-06-30"}
        assert plans(summary(client, **period)) == {"sonla-2023", "sonla-2025-2030"}
        kept = (folder / "sonla-2023.toml").read_text(encoding="utf-8")
        (folder / "sonla-2023.toml").unlink()
        assert plans(summary(client, **period)) == {"sonla-2025-2030"}
        (folder / "sonla-2023.toml").write_text(kept, encoding="utf-8")
        assert plans(summary(client, **period)) == {"sonla-2023", "sonla-2025-2030"}


def _today() -> dt.date:
    from geo_service.clock import today_in_vietnam

    return today_in_vietnam()


@pytest.mark.parametrize(
    ("params", "word"),
    [
        ({"from": "2026-05-01", "to": "2026-01-01"}, "before"),
        ({"from": "2026-13-01"}, "from"),
        ({"to": "yesterday"}, "to"),
        ({"group_by": "province"}, "province"),
        ({"group_by": "sector,sector"}, "twice"),
        ({"from": "1990-01-01", "to": "2026-01-01"}, "20 years"),
        ({"to": "2999-01-01"}, "after today"),
    ],
)
def test_bad_parameters_get_400(pipeline_dir, records_url, params, word):
    with pipeline_client(pipeline_dir, records_url) as client:
        response = client.get("/dashboard/summary", params=params)
    assert response.status_code == 400
    assert word in error_document(response)["description"]


def test_a_change_by_another_process_is_seen_on_the_next_request(pipeline_dir, records_url, editor):
    """Two apps on one database stand for two processes: the reader keeps its answers, the
    other writes through the pipeline (an event, a merge patch, an enquiry), then a third engine
    writes plain SQL; each change shows in the reader's very next answer, which equals a
    recount (no time limit is involved)."""
    period = {"from": "2023-01-01", "to": "2026-11-30"}
    with (
        pipeline_client(pipeline_dir, records_url) as reader,
        pipeline_client(pipeline_dir, records_url) as writer,
    ):
        store = writer.app.state.projects
        random_pipeline(store, 13, count=25)

        def check(group_by: str) -> dict:
            document = summary(reader, **period, group_by=group_by)
            assert summary(reader, **period, group_by=group_by) == document
            expected = Recount(reader.app.state.projects).figures(
                dt.date(2023, 1, 1), dt.date(2026, 11, 30), GROUPINGS[group_by]
            )
            found = {(g["key"][group_by],): g["current"] for g in document["groups"]}
            for k, values in expected.items():
                close(found[k], values)
            assert document["totals"]["current"]["projects"] == sum(
                v["projects"] for v in expected.values()
            )
            return document

        before = check("investment_form")
        recount = Recount(store)
        alive = [
            p for p, life in recount.lives.items()
            if recount.state_on(life, dt.date(2026, 11, 30)) is not None
            and recount.revoked_on(life) is None
        ]  # fmt: skip
        store.append_event(
            alive[0], EventDocument(kind="revoked", date="2026-11-30"), "test", LAST_DAY
        )
        after = check("investment_form")
        assert after["totals"]["current"]["revoked"] == before["totals"]["current"]["revoked"] + 1

        check("commune_code")
        etag = writer.get(f"/projects/{alive[1]}").headers["ETag"]
        patched = writer.patch(
            f"/projects/{alive[1]}",
            json={"commune_code": "03646" if recount.lives[alive[1]].values["commune_code"]
                  != "03646" else "04144"},
            headers={**editor, "If-Match": etag, "Content-Type": "application/merge-patch+json"},
        )  # fmt: skip
        assert patched.status_code == 200, patched.text
        check("commune_code")

        def received() -> int:
            document = summary(reader, **{"from": "2026-01-01"})
            return document["enquiries"]["current"]["received"]

        before_enquiries = received()
        asked = {"name": "An", "email": "an@example.vn", "language": "vi", "message": "Giá thuê?"}
        assert writer.post("/enquiries", json=asked).status_code == 201
        assert received() == before_enquiries + 1
        other = sa.create_engine(records_url)
        try:
            with other.begin() as connection:
                connection.execute(sa.delete(enquiries))
        finally:
            other.dispose()
        assert received() == 0


def test_the_migration_builds_the_states_from_the_rows_already_stored(pipeline_dir, records_url):
    """Revision 0008 copies each project's counted values and milestones onto its spans, and
    replays projects that have no spans (recorded before 0003): the summaries stay the same."""
    groupings = ("investment_form", "sector", "stage", "commune_code")
    period = {"from": "2024-02-29", "to": "2026-06-30"}

    def summaries() -> list[dict]:
        with pipeline_client(pipeline_dir, records_url) as client:
            if not client.app.state.projects.count():
                random_pipeline(client.app.state.projects, 2026, count=30)
            return [summary(client, **period, group_by=g) for g in groupings]

    expected = summaries()
    for forget_states in (False, True):
        with downgraded(records_url, "0007_pipeline_changes") as (connection, _):
            if forget_states:
                connection.execute(sa.text("DELETE FROM project_states"))
                connection.commit()
        same(summaries(), expected)
