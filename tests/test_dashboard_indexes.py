"""The dashboard's statements are written so that each database can read them through the
indexes of the spans' dates, whose milestone indexes hold only some spans (a partial index is
read only by a statement that says as much): a change in either wording would count the same,
only slower, and no recount would notice."""

from __future__ import annotations

import datetime as dt

import pytest

from geo_service.dashboard.dated import dated_statement
from geo_service.dashboard.periods import PROJECTION
from geo_service.dashboard.plan_figures import plan_change_statement, plan_statement
from geo_service.records import Records, upgrade

VALUES = {"start": dt.date(2026, 1, 1), "end": dt.date(2026, 4, 10), "earlier": dt.date(2026, 4, 8)}
MILESTONE_INDEXES = [
    "ix_project_states_selected",
    "ix_project_states_completed",
    "ix_project_states_revoked",
]


def plan_text(records: Records, statement) -> str:
    """The database's plan for `statement` (PostgreSQL told to avoid reading whole tables,
    which it prefers for the few rows of an empty database)."""
    with records.reading() as session:
        connection = session.connection()
        compiled = statement.compile(dialect=connection.dialect)
        params = {name: VALUES.get(name, value) for name, value in compiled.params.items()}
        if records.dialect == "sqlite":
            positional = tuple(params[name] for name in compiled.positiontup)
            rows = connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {compiled}", positional)
            return "\n".join(str(row[-1]) for row in rows)
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql(f"EXPLAIN {compiled}", params)
        return "\n".join(row[0] for row in rows)


@pytest.fixture
def records(records_url: str):
    records = Records(records_url)
    upgrade(records)
    yield records
    records.dispose()


@pytest.mark.parametrize("dimension", [None, "stage", "commune_code"])
def test_a_periods_new_completed_and_revoked_read_their_milestones_indexes(records, dimension):
    plan = plan_text(records, dated_statement(dimension))
    assert all(name in plan for name in MILESTONE_INDEXES), plan


def test_a_plans_figures_read_the_selection_index(records):
    assert "ix_project_states_selected" in plan_text(records, plan_statement(PROJECTION))


def test_a_plans_change_between_two_days_reads_every_dates_index(records):
    plan = plan_text(records, plan_change_statement(records.dialect))
    if records.dialect == "sqlite":  # one index range per date (PostgreSQL's choice varies)
        assert all(name in plan for name in [*MILESTONE_INDEXES, "ix_project_states_since"]), plan
    assert "ix_project_states_selected" in plan, plan
