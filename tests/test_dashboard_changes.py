"""Kept dashboard summaries brought up to date from the log of the state spans' changes, on both
databases: after writes of every kind (by this process, another engine, another process), each
equals the same summary counted afresh and a brute-force recount from the rows, and the log's
rows carry the change counter of the transaction that wrote them."""

from __future__ import annotations

import csv
import datetime as dt
from collections import Counter

import pytest
import sqlalchemy as sa

from geo_service.clock import today_in_vietnam
from geo_service.dashboard.dated import DIMENSIONS
from geo_service.dashboard.periods import Period
from geo_service.dashboard.summary import LOG_FROM, PIPELINE_CHANGES, Dashboard
from geo_service.pipeline.documents import EventDocument
from geo_service.records import Records
from geo_service.records.schema import (
    change_counters,
    project_state_changes,
    project_state_months,
    project_states,
)

from .dashboard_data import Recount, random_pipeline, random_pipeline_client
from .migrations import downgraded
from .pipeline_app import pipeline_client
from .staff import cli
from .test_dashboard_summary import close, same

LAST_DAY = dt.date(2026, 11, 30)
VIEWS = [
    (Period(dt.date(2025, 1, 1), dt.date(2025, 12, 31)), ("investment_form",)),
    (Period(dt.date(2024, 2, 29), dt.date(2026, 6, 30)), ("stage", "investment_form")),
    (Period(dt.date(2024, 6, 1), dt.date(2026, 11, 30)), ("year",)),
    (Period(dt.date(2026, 3, 15), dt.date(2026, 11, 30)), ("commune_code", "year")),
    (Period(dt.date(2023, 1, 1), dt.date(2026, 11, 30)), ("sector",)),
    (Period(dt.date(2025, 3, 3), dt.date(2026, 4, 14)), ("stage",)),
    (Period(dt.date(2024, 12, 20), dt.date(2025, 1, 20)), ()),
    (Period(dt.date(2026, 1, 1), dt.date(2026, 11, 30)), ()),
]


@pytest.fixture
def pipeline(pipeline_dir, records_url, filled_records):
    with random_pipeline_client(
        filled_records, pipeline_dir, records_url, 2026, count=40, enquiry_count=10
    ) as client:
        yield client


def afresh(dashboard: Dashboard, **options) -> Dashboard:
    """A dashboard keeping nothing yet, as another process's would be."""
    return Dashboard(dashboard.projects, dashboard.targets_dir, dashboard.province, **options)


def summaries(dashboard: Dashboard) -> list[dict]:
    today = today_in_vietnam()
    return [dashboard.summary(period, group_by, today) for period, group_by in VIEWS]


def recounted(recount: Recount, period: Period, group_by: tuple) -> dict:
    """(current, previous) figures by group key, counted in Python from the rows."""
    others = [d for d in group_by if d != "year"]

    def key(life, stage, form):
        known = {"stage": stage, "investment_form": form}
        return tuple(known[d] if d in known else life.values[d] for d in others)

    parts = period.years() if "year" in group_by else [(None, period)]
    found = {}
    for year, part in parts:
        before = part.previous()
        now = recount.figures(part.start, part.end, key)
        then = recount.figures(before.start, before.end, key)
        for k in now.keys() | then.keys():
            if year is not None:
                at = group_by.index("year")
                k_full = (*k[:at], year, *k[at:])
            else:
                k_full = k
            found[k_full] = (now.get(k), then.get(k))
    return found


def equals_a_recount(document: dict, recount: Recount, period: Period, group_by: tuple) -> None:
    expected = recounted(recount, period, group_by)
    found = {tuple(g["key"][d] for d in group_by): g for g in document["groups"]}
    assert set(expected) <= set(found)
    for k, group in found.items():
        now, then = expected.get(k, (None, None))
        for figures, values in ((group["current"], now), (group["previous"], then)):
            if values is None:
                assert not any(figures.values()), (k, figures)
            else:
                close(figures, values)


def brought_up(client, *, recount: bool = True) -> list[dict]:
    """Every view, brought up to date by the client's dashboard from the log (asserted), equals
    the same counted afresh, and (unless the projection was changed behind the rows' back) a
    recount from the rows."""
    dashboard = client.app.state.dashboard
    before = Counter(dashboard.computed)
    kept = summaries(dashboard)
    assert dashboard.computed["brought_up"] - before["brought_up"] == len(VIEWS)
    assert dashboard.computed["afresh"] == before["afresh"]
    same(kept, summaries(afresh(dashboard)))
    month_counts_equal_a_recount(dashboard.records)
    if recount:
        rows = Recount(dashboard.projects)
        for document, (period, group_by) in zip(kept, VIEWS, strict=True):
            equals_a_recount(document, rows, period, group_by)
    return kept


def month_counts_equal_a_recount(records: Records) -> None:
    """The month counts the database's triggers keep equal the spans counted in Python."""
    with records.engine.connect() as connection:
        kept = {(r.dimension, r.value, r.month): r.delta
                for r in connection.execute(sa.select(project_state_months)) if r.delta}  # fmt: skip
        spans = connection.execute(sa.select(project_states)).all()
    expected = Counter()
    for span in spans:
        for dimension in DIMENSIONS:
            value = getattr(span, dimension) or ""
            expected[(dimension, value, span.since.replace(day=1))] += 1
            if span.until is not None:
                expected[(dimension, value, span.until.replace(day=1))] -= 1
    assert kept == {k: v for k, v in expected.items() if v}
    assert sum(v for (d, *_), v in kept.items() if d == "stage") == sum(
        span.until is None for span in spans
    )


def open_step(recount: Recount, store) -> tuple[str, str]:
    """A project and a step it started and has not completed, that the procedure lets it
    complete now."""
    for project, life in sorted(recount.lives.items()):
        started = [e.step for e in life.events if e.kind == "step_started"]
        completed = {e.step for e in life.events if e.kind == "step_completed"}
        kinds = {e.kind for e in life.events}
        if started and started[-1] not in completed and not kinds & {"revoked", "suspended"}:
            return project, started[-1]
    raise AssertionError("no project with an open step")


def patched(client, editor, project: str, body: dict) -> None:
    etag = client.get(f"/projects/{project}").headers["ETag"]
    response = client.patch(
        f"/projects/{project}",
        json=body,
        headers={**editor, "If-Match": etag, "Content-Type": "application/merge-patch+json"},
    )
    assert response.status_code == 200, response.text


def test_kept_summaries_brought_up_to_date_equal_a_count_afresh_and_a_recount(
    pipeline, pipeline_dir, records_url, editor, tmp_path
):
    client = pipeline
    store = client.app.state.projects
    dashboard = client.app.state.dashboard
    first = summaries(dashboard)
    assert dashboard.computed["afresh"] == len(VIEWS)
    recount = Recount(store)

    # an event that changes a project's stage
    project, step = open_step(recount, store)
    store.append_event(
        project, EventDocument(kind="step_completed", step=step, date="2026-11-30"), "t", LAST_DAY
    )
    after_step = brought_up(client)
    assert after_step != first

    # a revoked project
    alive = [p for p, life in recount.lives.items()
             if not any(e.kind == "revoked" for e in life.events) and p != project]  # fmt: skip
    store.append_event(alive[0], EventDocument(kind="revoked", date="2026-11-30"), "t", LAST_DAY)
    brought_up(client)

    # a project whose form changes (one with no step recorded yet)
    formless = next(p for p in alive[1:] if recount.lives[p].values["investment_form"] is None)
    patched(client, editor, formless, {"investment_form": "policy_approval"})
    brought_up(client)

    # its capital, sector and commune
    selected = next(
        p for p, life in sorted(recount.lives.items())
        if recount.first_completion(life, {"policy_approved", "investor_selected"})
        and p in alive[1:]
    )  # fmt: skip
    patched(client, editor, selected, {"capital_registered_billion_vnd": 1234.5,
                                       "capital_planned_billion_vnd": None})  # fmt: skip
    brought_up(client)
    patched(client, editor, selected, {"sector": "tourism", "commune_code": "03781"})
    brought_up(client)

    # an enquiry: no span changes, the enquiries are counted again
    asked = {"name": "An", "email": "an@example.vn", "language": "vi", "message": "Giá thuê?"}
    assert client.post("/enquiries", json=asked).status_code == 201
    counted = brought_up(client)
    assert counted[-1]["enquiries"]["current"]["received"] >= 1

    # another engine deletes a project's spans (as removing the project would): the kept
    # summaries follow the projection
    other = sa.create_engine(records_url)
    try:
        with other.begin() as connection:
            connection.execute(
                sa.text(f"DELETE FROM project_states WHERE project_id = '{selected}'")
            )
    finally:
        other.dispose()
    brought_up(client, recount=False)

    # another process rewrites every span, then re-imports every project with new capital
    done = cli("projects", "rebuild-progress", data_dir=pipeline_dir, url=records_url)
    assert done.returncode == 0, done.stderr
    brought_up(client)
    exported = tmp_path / "projects.csv"
    done = cli("projects", "export", "-o", str(exported), "--lang", "en",
               data_dir=pipeline_dir, url=records_url)  # fmt: skip
    assert done.returncode == 0, done.stderr
    with exported.open(encoding="utf-8-sig", newline="") as source:
        rows = list(csv.DictReader(source))
    capital = next(h for h in rows[0] if "registered" in h.lower())
    for n, row in enumerate(rows):
        row[capital] = str(100 + n)
    with exported.open("w", encoding="utf-8-sig", newline="") as target:
        writer = csv.DictWriter(target, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    done = cli("projects", "import", str(exported), data_dir=pipeline_dir, url=records_url)
    assert done.returncode == 0, done.stdout + done.stderr
    imported = brought_up(client)
    assert imported != counted


def counters(records_url: str) -> dict[str, int]:
    records = Records(records_url)
    try:
        with records.reading() as session:
            return dict(session.execute(sa.select(change_counters)).all())
    finally:
        records.dispose()


def test_too_many_changes_or_a_pruned_log_count_afresh(pipeline, records_url):
    client = pipeline
    store = client.app.state.projects
    dashboard = client.app.state.dashboard
    summaries(dashboard)
    recount = Recount(store)
    projects = sorted(recount.lives)

    # another process prunes the whole log (after counting afresh): this one counts afresh too
    store.append_event(projects[0], EventDocument(kind="note", note="n"), "t", LAST_DAY)
    other = afresh(dashboard, log_kept=0)
    other.summary(*VIEWS[0], today_in_vietnam())
    assert other.computed["pruned"] == 1
    found = counters(records_url)
    assert 0 < found[LOG_FROM] <= found[PIPELINE_CHANGES]
    with store.records.reading() as session:
        assert not session.scalar(sa.select(sa.func.count()).select_from(project_state_changes))
    before = Counter(dashboard.computed)
    same(summaries(dashboard), summaries(afresh(dashboard)))
    assert dashboard.computed["afresh"] - before["afresh"] == len(VIEWS)
    assert dashboard.computed["brought_up"] == before["brought_up"]
    # the log goes on from there
    store.append_event(projects[1], EventDocument(kind="revoked", date="2026-11-29"), "t", LAST_DAY)
    brought_up(client)

    # more changed rows than a dashboard takes from the log: it counts afresh
    small = afresh(dashboard, max_changed=1)
    kept = summaries(small)
    store.append_event(projects[2], EventDocument(kind="note", note="n"), "t", LAST_DAY)
    assert summaries(small) == kept  # a note changes no figure, yet two log rows or more
    assert small.computed["afresh"] == 2 * len(VIEWS) and not small.computed["brought_up"]


def test_the_month_counts_follow_a_truncate_and_a_rebuild(pipeline, pipeline_dir, records_url):
    """PostgreSQL's TRUNCATE fires no row or statement trigger of an insert or delete: its own
    trigger empties the month counts; a rebuild counts every span again."""
    records = pipeline.app.state.dashboard.records
    if records.dialect != "postgresql":
        pytest.skip("SQLite has no TRUNCATE")
    with records.engine.begin() as connection:
        connection.execute(sa.text("TRUNCATE project_states"))
    month_counts_equal_a_recount(records)
    done = cli("projects", "rebuild-progress", data_dir=pipeline_dir, url=records_url)
    assert done.returncode == 0, done.stderr
    month_counts_equal_a_recount(records)
    with records.engine.connect() as connection:
        assert connection.scalar(sa.select(sa.func.count()).select_from(project_state_months))


def test_log_rows_carry_their_transactions_change(records_url):
    """On PostgreSQL each writing transaction's rows carry the one value it bumped the counter
    to (the row trigger bumps first; the statement triggers after it find it bumped); on SQLite
    (one writer at a time) each row the value after its own bump. Values follow commit order."""
    records = Records(records_url)
    from geo_service.records import upgrade

    upgrade(records)
    project = (
        "INSERT INTO projects (id, name_vi, name_en, summary_vi, summary_en, source, "
        "data_quality, search_text, created_at, updated_at, version) VALUES "
        "('{id}', 'a', '', '', '', 's', 'indicative', 'a', 't', 't', 1)"
    )
    span = (
        "INSERT INTO project_states (project_id, since, until, stage, capital_planned_billion_vnd)"
        " VALUES ('{id}', '{since}', {until}, 'unknown', 5.0)"
    )
    try:
        seen = []
        for n in range(2):
            with records.writing() as session:
                session.execute(sa.text(project.format(id=f"SL-LOG-{n}")))
            # the transaction's first write is a span's: its row trigger bumps the counter
            before = counters(records_url)[PIPELINE_CHANGES]
            with records.writing() as session:
                for since, until in (("2025-01-01", "'2025-06-01'"), ("2025-06-01", "NULL")):
                    session.execute(
                        sa.text(span.format(id=f"SL-LOG-{n}", since=since, until=until))
                    )
                session.execute(
                    sa.text(
                        f"UPDATE project_states SET stage = 'preparation' "
                        f"WHERE project_id = 'SL-LOG-{n}' AND until IS NULL"
                    )  # fmt: skip
                )
            after = counters(records_url)[PIPELINE_CHANGES]
            with records.reading() as session:
                rows = session.execute(
                    sa.select(project_state_changes.c.change, project_state_changes.c.sign,
                              project_state_changes.c.stage)
                    .where(project_state_changes.c.change > before)
                    .order_by(project_state_changes.c.change, project_state_changes.c.sign)
                ).all()  # fmt: skip
            assert sorted((r.sign, r.stage) for r in rows) == [
                (-1, "unknown"), (1, "preparation"), (1, "unknown"), (1, "unknown")
            ]  # fmt: skip
            assert all(before < r.change <= after for r in rows)
            if records.dialect == "postgresql":
                assert after == before + 1 and {r.change for r in rows} == {after}
            seen.append((before, after))
        assert seen[0][1] <= seen[1][0]
    finally:
        records.dispose()


def test_the_migration_upgrades_a_database_holding_projects(pipeline_dir, records_url):
    """Revision 0010 on a database already holding projects: no log rows for the spans stored,
    the log counted from the counter's value then; kept summaries start after it."""
    with pipeline_client(pipeline_dir, records_url) as client:
        random_pipeline(client.app.state.projects, 13, count=20)
    with downgraded(records_url, "0009_project_texts_per_language") as (connection, _):
        assert "project_state_changes" not in sa.inspect(connection).get_table_names()
    with pipeline_client(pipeline_dir, records_url) as client:  # upgrades at start-up
        found = counters(records_url)
        assert found[LOG_FROM] == found[PIPELINE_CHANGES] > 0
        dashboard = client.app.state.dashboard
        summaries(dashboard)
        store = client.app.state.projects
        recount = Recount(store)
        project = next(p for p, life in sorted(recount.lives.items())
                       if not any(e.kind == "revoked" for e in life.events))  # fmt: skip
        store.append_event(project, EventDocument(kind="revoked", date="2026-11-30"), "t", LAST_DAY)
        brought_up(client)
