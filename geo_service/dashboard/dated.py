"""A period's figures by at most one of form, sector, stage and commune, read through what is
indexed by date instead of every state span on the period's last day (which is how `summary`
counts groupings by two or more, and the log of changes):

- the projects in the pipeline on the last day: the month counts the database keeps
  (`records.schema.project_state_months`) added up over the months before that day's month, plus
  the spans starting in its month by that day less those ending in it;
- new projects and their capital, completed and revoked projects: the spans on the last day
  whose selection, completion or revocation date falls within the period, each read through the
  index on that date.

So a period costs in proportion to the projects dated within it and the months before it, not
to every project the pipeline ever held.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from sqlalchemy import Date, Select, bindparam, func, select

from ..records.schema import project_state_months
from .periods import CAPITALS, END, PROJECTION, START

MONTH = bindparam("month", type_=Date)
"""The first day of the month of `END`."""
DIMENSIONS = ("investment_form", "sector", "stage", "commune_code")
"""The dimensions the database keeps month counts for."""


def month_values(end: dt.date) -> dict[str, dt.date]:
    """The value of `MONTH` for a period ending on `end`."""
    return {"month": end.replace(day=1)}


@lru_cache(maxsize=8)
def dated_statements(dimension: str | None) -> tuple[Select, ...]:
    """Statements each giving some of a period's figures (named as in `periods.FIGURES`), by the
    value of `dimension` first (labelled `key`) or in total; a value's figures are what they
    give for it added up. (Separate statements, not one union: PostgreSQL plans each part better
    alone, and SQLite runs them as fast.)"""
    months = project_state_months.c
    spans = PROJECTION
    state = spans.c
    month_key = [func.nullif(months.value, "").label("key")] if dimension else []
    key = [state[dimension].label("key")] if dimension else []
    before = select(*month_key, func.coalesce(func.sum(months.delta), 0).label("projects")).where(
        months.dimension == (dimension or DIMENSIONS[0]), months.month < MONTH
    )
    started = select(*key, func.count().label("projects")).where(state.since.between(MONTH, END))
    ended = select(*key, (-func.count()).label("projects")).where(state.until.between(MONTH, END))
    on_end, alive = spans.on(END), spans.alive(END)
    new = select(
        *key,
        func.count().label("new_projects"),
        *(func.coalesce(func.sum(state[name]), 0.0).label(name) for name in CAPITALS),
    ).where(state.selected_on.between(START, END), on_end, alive)
    completed = select(*key, func.count().label("completed")).where(
        state.completed_on.between(START, END), on_end, alive
    )
    revoked = select(*key, func.count().label("revoked")).where(spans.revoked(), on_end)
    if not dimension:
        return before, started, ended, new, completed, revoked
    return (
        before.group_by(months.value),
        *(s.group_by(state[dimension]) for s in (started, ended, new, completed, revoked)),
    )
