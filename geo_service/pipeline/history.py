"""Each project's life on the calendar, replayed from its dated events, for counting by period.

`progress.derive` says where a project stands today; the dashboard and the annual report ask where
it stood on another day (the end of a period, the same day a year before). `replay` answers that
from the events alone, never from today's row:

- the project is in the pipeline from the earlier of the day it was recorded and its first dated
  event (the start of its first span);
- its stage and investment form change on the date of the event that changed them; an undated
  event (a note) or one dated before an event already replayed takes effect on the latest date
  replayed so far, so a state never starts before the events that led to it;
- `selected_on` is the date the step that selects the investor or approves the investment policy
  (the step whose milestone is `policy_approved` or `investor_selected`) was first completed;
  `completed_on` the date the step whose milestone is `operating` was first completed;
  `revoked_on` the date of the `revoked` event.

The results are kept in the projection table `project_states`, one row per span with the
milestone dates and the project's counted values beside it, rewritten with the progress row in
the same transaction as every event (and its project values whenever the project is changed),
so that periods are counted from one covering index.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import delete, insert, select, update

from ..clock import VIETNAM
from ..records.schema import dossier_events, project_states, projects
from .procedures import Procedures
from .progress import DossierEvent, stages

SELECTION_MILESTONES = frozenset({"policy_approved", "investor_selected"})
"""A project is new (its investor selected, its policy approved, its auction won) when a step
with one of these milestones is completed."""
COMPLETION_MILESTONE = "operating"
"""A project is completed when the step bringing it into operation is completed."""
CHUNK = 500


@dataclass(frozen=True)
class StateSpan:
    since: dt.date
    until: dt.date | None
    stage: str
    investment_form: str | None


@dataclass(frozen=True)
class Milestones:
    selected_on: dt.date | None = None
    completed_on: dt.date | None = None
    revoked_on: dt.date | None = None


def recorded_day(stamp: str) -> dt.date:
    """The day (in Vietnam) of a stored UTC timestamp such as `2026-05-01T20:30:00Z`."""
    moment = dt.datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    return moment.astimezone(VIETNAM).date()


def replay(
    procedures: Procedures,
    form_now: str | None,
    created_on: dt.date,
    events: Sequence[DossierEvent],
) -> tuple[list[StateSpan], Milestones]:
    """The project's states over time and its milestone dates (events oldest first)."""
    changes = [e for e in events if e.kind == "form_changed"]
    form = changes[0].form_before if changes else form_now
    # steps are only recorded under the form the project has kept since (it cannot change after)
    procedure = procedures.procedure(form_now)
    start = min([created_on, *(e.date for e in events if e.date is not None)])
    points: list[tuple[dt.date, str, str | None]] = [(start, "unknown", form)]
    reached = start
    selected = completed = revoked = None
    for event, stage in zip(events, stages(procedure, events, dt.date.max), strict=True):
        if event.date is not None:
            reached = max(reached, event.date)
        if event.kind == "form_changed":
            form = event.form_after
        elif event.kind == "revoked":
            revoked = event.date
        elif event.kind == "step_completed":
            milestone = procedure.steps[procedure.index(event.step)].milestone
            if milestone in SELECTION_MILESTONES and selected is None:
                selected = event.date
            elif milestone == COMPLETION_MILESTONE and completed is None:
                completed = event.date
        points.append((reached, stage, form))
    return _spans(points), Milestones(selected, completed, revoked)


def _spans(points: list[tuple[dt.date, str, str | None]]) -> list[StateSpan]:
    """One span per distinct state, the last state of a day winning."""
    by_day: dict[dt.date, tuple[str, str | None]] = {}
    for day, stage, form in points:
        by_day[day] = (stage, form)
    merged: list[tuple[dt.date, str, str | None]] = []
    for day, state in by_day.items():
        if not merged or merged[-1][1:] != state:
            merged.append((day, *state))
    return [
        StateSpan(day, merged[n + 1][0] if n + 1 < len(merged) else None, stage, form)
        for n, (day, stage, form) in enumerate(merged)
    ]


PROJECT_VALUES = (
    "sector",
    "commune_code",
    "capital_planned_billion_vnd",
    "capital_registered_billion_vnd",
    "capital_disbursed_billion_vnd",
)
"""The project's columns each of its spans carries."""


def write(executor: Any, histories: dict[str, tuple[list[StateSpan], Milestones]]) -> None:
    """Replace the projection rows of these projects (`executor`: a Session or Connection;
    the projects' own rows must be written already)."""
    ids = list(histories)
    values: dict[str, dict[str, Any]] = {}
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        executor.execute(delete(project_states).where(project_states.c.project_id.in_(chunk)))
        rows = executor.execute(
            select(projects.c.id, *[projects.c[n] for n in PROJECT_VALUES]).where(
                projects.c.id.in_(chunk)
            )
        )
        values.update({row.id: {n: row._mapping[n] for n in PROJECT_VALUES} for row in rows})
    spans = [
        {
            **values[i],
            "project_id": i,
            **asdict(span),
            "selected_on": dates.selected_on,
            "completed_on": dates.completed_on,
            "revoked_on": dates.revoked_on,
        }
        for i, (found, dates) in histories.items()
        for span in found
    ]
    if spans:
        executor.execute(insert(project_states), spans)


def copy_project_values(executor: Any, ids: list[str]) -> None:
    """Copy these projects' counted values (`PROJECT_VALUES`) onto their spans again, after
    the projects' rows changed."""
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        executor.execute(
            update(project_states)
            .where(project_states.c.project_id.in_(chunk))
            .values(
                {
                    name: select(projects.c[name])
                    .where(projects.c.id == project_states.c.project_id)
                    .scalar_subquery()
                    for name in PROJECT_VALUES
                }
            )
        )


def rebuild(executor: Any, procedures: Procedures) -> int:
    """Replay every project's events again and rewrite the projection; returns how many."""
    ids = list(executor.execute(select(projects.c.id).order_by(projects.c.id)).scalars())
    for start in range(0, len(ids), CHUNK):
        chunk = ids[start : start + CHUNK]
        rows = executor.execute(
            select(projects.c.id, projects.c.investment_form, projects.c.created_at).where(
                projects.c.id.in_(chunk)
            )
        ).all()
        grouped: dict[str, list[DossierEvent]] = {i: [] for i in chunk}
        for row in executor.execute(
            select(dossier_events)
            .where(dossier_events.c.project_id.in_(chunk))
            .order_by(dossier_events.c.project_id, dossier_events.c.seq)
        ):
            grouped[row.project_id].append(DossierEvent.from_row(row))
        write(
            executor,
            {
                r.id: replay(
                    procedures, r.investment_form, recorded_day(r.created_at), grouped[r.id]
                )
                for r in rows
            },
        )
    return len(ids)
