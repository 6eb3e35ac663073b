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
carrying the project's milestone dates and counted values, so a period is a covering-index read
of the spans on its last day (and, grouped by at most one dimension, of the spans dated within
it: see `dated`). The same statements over the log of the projection's changes (`LOG`) give
what changed in them since a given change.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import BigInteger, Date, Table, and_, bindparam, case, func, or_
from sqlalchemy.sql import ColumnElement

from ..errors import InvalidParameter
from ..i18n import _l
from ..records.schema import STATE_MILESTONES, open_after, project_state_changes, project_states

CAPITALS = (
    "capital_planned_billion_vnd",
    "capital_registered_billion_vnd",
    "capital_disbursed_billion_vnd",
)
COUNTS = ("projects", "new_projects", "completed", "revoked")
DATED = ("since", "until", "selected_on", "completed_on", "revoked_on")
"""The dates of a span that decide how it counts as of a day."""
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


START = bindparam("start", type_=Date)
END = bindparam("end", type_=Date)
EARLIER = bindparam("earlier", type_=Date)
"""A day before `END` whose figures those on `END` are brought forward from (`Spans.dated_after`)."""
AFTER = bindparam("after", type_=BigInteger)
UP_TO = bindparam("up_to", type_=BigInteger)


def period_values(start: dt.date, end: dt.date) -> dict[str, dt.date]:
    """The values of `START` and `END` for the statements built here."""
    return {"start": start, "end": end}


def log_values(after: int, up_to: int) -> dict[str, int]:
    """The values of the log's `AFTER` and `UP_TO`: the changes (after, up_to] counted."""
    return {"after": after, "up_to": up_to}


@dataclass(frozen=True)
class Spans:
    """The state spans a figure statement counts, and the conditions on them: the projection
    `project_states` itself, or the log of its changes (`LOG`) where each row counts `sign`
    times (a span inserted once, deleted minus once), so that the same statement over the
    changes since a summary was computed gives what to add to it.

    Conditions name the period's days and the log's changes as bound parameters (`START`,
    `END`, `AFTER`, `UP_TO`), so a statement is built once and run with the values of each
    request (building one costs more than running it over a short log)."""

    table: Table = project_states
    logged: bool = False

    @property
    def c(self):
        return self.table.c

    @property
    def weight(self) -> ColumnElement[int] | int:
        return self.c.sign if self.logged else 1

    def on_end(self) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        """Each project's state span on the `END` day, in two parts every span on that day is
        in exactly one of (still open; closed after it): each part is one range of the period
        index, so a part is counted within that index (an OR of both is not, on SQLite nor
        PostgreSQL)."""
        started = self.rows(self.c.since <= END)
        return and_(self.c.until.is_(None), started), and_(self.c.until > END, started)

    def rows(self, *conditions: ColumnElement[bool]) -> ColumnElement[bool]:
        """`conditions` on the rows counted (of the log: those of the changes asked)."""
        if not self.logged:
            return and_(*conditions)
        return and_(self.c.change > AFTER, self.c.change <= UP_TO, *conditions)

    def count(self) -> ColumnElement[int]:
        return func.coalesce(func.sum(self.weight), 0) if self.logged else func.count()

    def count_where(self, condition: ColumnElement[bool]) -> ColumnElement[int]:
        return count_where(condition, self.weight)

    def sum_where(self, condition: ColumnElement[bool], column: str) -> ColumnElement[float]:
        value = func.coalesce(self.c[column], 0.0)
        if self.logged:
            value = value * self.weight
        return func.coalesce(func.sum(case((condition, value), else_=0.0)), 0.0)

    def on(self, day: ColumnElement) -> ColumnElement[bool]:
        """The span is the project's state on `day`."""
        return and_(self.c.since <= day, or_(self.c.until.is_(None), self.c.until > day))

    def alive(self, day: ColumnElement) -> ColumnElement[bool]:
        """The project was not revoked on or before `day`."""
        return or_(self.c.revoked_on.is_(None), self.c.revoked_on > day)

    def new(self) -> ColumnElement[bool]:
        """Policy approved or investor selected within the period, not revoked by its end."""
        return and_(self.c.selected_on.between(START, END), self.alive(END))

    def completed(self) -> ColumnElement[bool]:
        return and_(self.c.completed_on.between(START, END), self.alive(END))

    def revoked(self) -> ColumnElement[bool]:
        return self.c.revoked_on.between(START, END)

    def dated_after(self) -> ColumnElement[bool]:
        """The span has a date (its start or end, the project's selection, completion or
        revocation) after `EARLIER`, up to `END`: only such spans count differently as of
        the two days, so figures on `END` are those on `EARLIER` plus what these give on `END`
        less what they give on `EARLIER`. A span whose milestone falls between the two days
        but which ended by that day is on neither day, or is read for its end date: so the
        milestone's index, which holds only the spans `open_after` it, is enough."""
        return or_(*(and_(self.c[n] > EARLIER, self.c[n] <= END, *self._held(n)) for n in DATED))

    def _held(self, date: str) -> tuple[ColumnElement[bool], ...]:
        return (open_after(self.c, date),) if date in STATE_MILESTONES else ()


PROJECTION = Spans()
LOG = Spans(project_state_changes, logged=True)


def count_where(
    condition: ColumnElement[bool], weight: ColumnElement[int] | int = 1
) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, weight), else_=0)), 0)
