"""A period's figures by at most one of form, sector, stage and commune, read through what is
indexed by date instead of every state span on the period's last day (which is how `summary`
counts groupings by two or more, and the log of changes):

- the projects in the pipeline on the last day (`pipeline_statements`): those on an earlier
  day, plus the spans starting after it up to the last day, less those ending then. The earlier
  day is a day whose count is kept (see `summary.Dashboard._day_figures`), else the last day of
  the month before, whose count is the month counts the database keeps
  (`records.schema.project_state_months`) added up;
- new projects and their capital, completed and revoked projects (`dated_statement`): the
  spans on the last day whose selection, completion or revocation date falls within the period,
  each read through the index on that date.

So a period costs in proportion to the projects dated within it and the months before it, not
to every project the pipeline ever held.
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from sqlalchemy import CompoundSelect, Select, and_, func, literal_column, select, union_all
from sqlalchemy.sql import ColumnElement

from ..records.schema import open_after, project_state_months
from .periods import CAPITALS, EARLIER, END, FIGURES, PROJECTION, START

DIMENSIONS = ("investment_form", "sector", "stage", "commune_code")
"""The dimensions the database keeps month counts for."""
DATED_FIGURES = tuple(n for n in FIGURES if n != "projects")


def month_before(day: dt.date) -> dt.date:
    """The last day of the month before `day`'s: the latest the month counts give a count on."""
    return day.replace(day=1) - dt.timedelta(days=1)


@lru_cache(maxsize=8)
def pipeline_statements(dimension: str | None) -> tuple[Select, CompoundSelect]:
    """The projects in the pipeline on `EARLIER`, the last day of a month, from the month counts;
    and the spans starting after `EARLIER` up to `END`, with (negative) those ending then: by
    the value of `dimension` first (labelled `key`), or in total. A value's count on `END` is
    what both give for it added up; the second alone gives what changed from `EARLIER` (one
    statement, each part read through its own index: one round trip less)."""
    months = project_state_months.c
    state = PROJECTION.c
    month_key = [func.nullif(months.value, "").label("key")] if dimension else []
    key = [state[dimension].label("key")] if dimension else []
    before = select(*month_key, func.coalesce(func.sum(months.delta), 0).label("projects")).where(
        months.dimension == (dimension or DIMENSIONS[0]), months.month <= EARLIER
    )
    started = select(*key, func.count().label("projects")).where(
        state.since > EARLIER, state.since <= END
    )
    ended = select(*key, (-func.count()).label("projects")).where(
        state.until > EARLIER, state.until <= END
    )
    if not dimension:
        return before, union_all(started, ended)
    return before.group_by(months.value), union_all(
        started.group_by(key[0]), ended.group_by(key[0])
    )


@lru_cache(maxsize=8)
def dated_statement(dimension: str | None) -> CompoundSelect:
    """A period's figures (named as in `periods.FIGURES`) but the projects in the pipeline, by
    the value of `dimension` first (labelled `key`) or in total: a value's figures are what its
    rows give added up. One statement of three parts (new, completed, revoked), each read
    through the index on its own date (which holds the spans `open_after` it): one round trip
    instead of three."""
    spans = PROJECTION
    state = spans.c
    key = [state[dimension].label("key")] if dimension else []
    on_end, alive = spans.on(END), spans.alive(END)

    def part(milestone: str, condition: ColumnElement[bool], **figures: ColumnElement) -> Select:
        """The spans dated `milestone` within the period meeting `condition`, read through the
        milestone's index (`open_after`): their `figures`, the others 0."""
        columns = (figures.get(n, literal_column("0")).label(n) for n in DATED_FIGURES)
        dated = and_(state[milestone].between(START, END), open_after(state, milestone))
        found = select(*key, *columns).where(dated, condition)
        return found.group_by(key[0]) if dimension else found

    capital = {n: func.coalesce(func.sum(state[n]), 0.0) for n in CAPITALS}
    return union_all(
        part("selected_on", and_(on_end, alive), new_projects=func.count(), **capital),
        part("completed_on", and_(on_end, alive), completed=func.count()),
        part("revoked_on", on_end, revoked=func.count()),
    )
