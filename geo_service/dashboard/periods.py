"""Periods of days and the SQL that counts the pipeline within one, as of its last day.

Definitions (the README's "Counting by period" says the same):

- a project is **in the pipeline** at the end of a period when it was recorded, or had a dated
  event, on or before that day; its stage and investment form are those it had that day;
- it is **new** in a period when its policy was approved or its investor selected (`selected_on`)
  within the period and it was not revoked on or before the period's end;
- it is **completed** in a period when it came into operation (`completed_on`) within the period
  and was not revoked by its end; **revoked** when its `revoked` event is dated within it;
- capital planned / registered / disbursed are summed over the new projects, from the amounts
  the project record holds now (the record keeps no history of amounts).

Everything is computed by the database (SQLAlchemy Core, the same statements on SQLite and
PostgreSQL) over the projection `pipeline.history` keeps: each project's state spans, each
carrying the project's milestone dates and counted values, so a period is one covering-index
read of the spans on its last day.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import and_, case, func, or_
from sqlalchemy.sql import ColumnElement

from ..errors import InvalidParameter
from ..i18n import _l
from ..records.schema import project_states

CAPITALS = (
    "capital_planned_billion_vnd",
    "capital_registered_billion_vnd",
    "capital_disbursed_billion_vnd",
)
COUNTS = ("projects", "new_projects", "completed", "revoked")
FIGURES = (*COUNTS, *CAPITALS)
MAX_DAYS = 366 * 20


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise InvalidParameter(
                _l(
                    "the period ends ({end}) before it starts ({start})",
                    end=self.end,
                    start=self.start,
                )
            )
        if (self.end - self.start).days > MAX_DAYS:
            raise InvalidParameter(_l("a period covers at most 20 years"))

    def previous(self) -> Period:
        """The same days a year earlier (29 February becomes the 28th)."""
        return Period(year_earlier(self.start), year_earlier(self.end))

    def years(self) -> list[tuple[int, Period]]:
        """The period cut at the turn of each calendar year."""
        return [
            (
                year,
                Period(max(self.start, dt.date(year, 1, 1)), min(self.end, dt.date(year, 12, 31))),
            )
            for year in range(self.start.year, self.end.year + 1)
        ]

    def as_json(self) -> dict[str, str]:
        return {"from": self.start.isoformat(), "to": self.end.isoformat()}


def year_earlier(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year - 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year - 1, day=28)


STATE = project_states.c


def spans_on(day: dt.date) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
    """Each project's state span on `day`, in two parts every span on that day is in exactly one
    of (still open; closed after `day`): each part is one range of the period index, so a part
    is counted within that index (an OR of both is not, on SQLite nor PostgreSQL)."""
    started = STATE.since <= day
    return and_(STATE.until.is_(None), started), and_(STATE.until > day, started)


def not_revoked_by(day: dt.date) -> ColumnElement[bool]:
    return or_(STATE.revoked_on.is_(None), STATE.revoked_on > day)


def new_in(period: Period) -> ColumnElement[bool]:
    return and_(STATE.selected_on.between(period.start, period.end), not_revoked_by(period.end))


def completed_in(period: Period) -> ColumnElement[bool]:
    return and_(STATE.completed_on.between(period.start, period.end), not_revoked_by(period.end))


def revoked_in(period: Period) -> ColumnElement[bool]:
    return STATE.revoked_on.between(period.start, period.end)


def count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def sum_where(condition: ColumnElement[bool], column: ColumnElement) -> ColumnElement[float]:
    return func.coalesce(func.sum(case((condition, func.coalesce(column, 0.0)), else_=0.0)), 0.0)
