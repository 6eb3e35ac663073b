"""The plans' figures on a day, by investment form and sector: the projects whose policy was
approved or investor selected from the plan's start to that day, those of them not revoked by
then, those completed by then and not revoked, and the registered capital of those not revoked
(`summary.Dashboard._plan_figures` lays them out and keeps them per day).

A day's figures are counted in full (`plan_statement`), or from those of an earlier day plus
what the spans dated in between change (`plan_change_statement`).
"""

from __future__ import annotations

import datetime as dt
from functools import lru_cache

from sqlalchemy import Select, and_, select
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from ..records.schema import open_after
from .periods import EARLIER, END, PROJECTION, START, Spans

PLAN_FIGURES = ("approved", "new_projects", "completed", "capital")


def _approved(spans: Spans, day: ColumnElement) -> ColumnElement[bool]:
    """The span is the project's state on `day`, its policy approved or investor selected from
    `START` to that day."""
    return and_(spans.on(day), spans.c.selected_on.between(START, day))


def _counts(spans: Spans, day: ColumnElement) -> tuple[ColumnElement, ...]:
    """The plan's figures on `day` (`PLAN_FIGURES`): the projects approved (`_approved`),
    those of them not revoked by then, those completed by then and not revoked, and the
    registered capital of those not revoked."""
    approved = _approved(spans, day)
    new = and_(approved, spans.alive(day))
    return (
        spans.count_where(approved),
        spans.count_where(new),
        spans.count_where(and_(new, spans.c.completed_on <= day)),
        spans.sum_where(new, "capital_registered_billion_vnd"),
    )


@lru_cache(maxsize=4)
def plan_statement(spans: Spans) -> Select:
    """The plan's figures on the `END` day by investment form and sector (read through the
    selection index: the spans counted are open after their selection, `open_after`)."""
    state = spans.c
    counts = _counts(spans, END)
    return (
        select(
            state.investment_form,
            state.sector,
            *(count.label(name) for name, count in zip(PLAN_FIGURES, counts, strict=True)),
        )
        .where(spans.rows(_approved(spans, END), open_after(state, "selected_on")))
        .group_by(state.investment_form, state.sector)
    )


@lru_cache(maxsize=2)
def plan_change_statement(dialect: str) -> Select:
    """By investment form and sector: the plan's figures on `END` less those on `EARLIER`,
    read from the spans dated between (`Spans.dated_after`). Only spans open after their
    selection can count (`open_after`), and saying so lets the databases read the selection
    index.

    On PostgreSQL the statement also says that only spans selected within the plan's period so
    far count: its planner then reads them through their index when fewer than those dated
    between (a day when thousands of projects were recorded: 8 ms to 0.9 ms here). SQLite's
    would read them so on every day (0.8 ms to 6 ms), so it is not told."""
    spans = PROJECTION
    state = spans.c
    now, then = _counts(spans, END), _counts(spans, EARLIER)
    statement = select(
        state.investment_form,
        state.sector,
        *((a - b).label(name) for name, a, b in zip(PLAN_FIGURES, now, then, strict=True)),
    ).where(spans.dated_after(), open_after(state, "selected_on"))
    if dialect != "sqlite":
        statement = statement.where(state.selected_on.between(START, END))
    return statement.group_by(state.investment_form, state.sector)


def plan_rows(session: Session, statement: Select, values: dict) -> dict[tuple, dict[str, float]]:
    return {
        (row.investment_form, row.sector): {
            name: float(row.capital) if name == "capital" else int(row._mapping[name])
            for name in PLAN_FIGURES
        }
        for row in session.execute(statement, values)
    }


def checkpoint_day(day: dt.date) -> dt.date:
    """The latest checkpoint on or before `day`: the 10th, the 20th and the last day of each
    month."""
    if (day + dt.timedelta(days=1)).day == 1:
        return day
    if day.day >= 10:
        return day.replace(day=20 if day.day >= 20 else 10)
    return day.replace(day=1) - dt.timedelta(days=1)
