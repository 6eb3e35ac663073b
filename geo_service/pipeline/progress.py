"""A project's progress, derived from its dossier events and its form's procedure.

`derive(procedure, events, today)` is the one place that knows what events mean: it replays them
in order and gives the stage, each step's state and dates, the current step and how far behind
plan the project is. It is pure (no I/O) and refuses an event the procedure does not allow
(`EventRefused`, 409) or whose dates contradict the record (`InvalidEvent`, 400), so appending an
event is "derive with the new event added": if that succeeds, the event is valid and the result
is the new progress. The database keeps that result as a projection row for fast filters.

A step is late when its planned date has passed and it is not completed; `days_behind` is the
largest such delay (today − the earliest open planned date), so it grows with the calendar.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields, replace
from typing import Any, Literal

from ..errors import Conflict, InvalidParameter
from ..i18n import _l
from .procedures import Procedure

EventKind = Literal[
    "listed",
    "step_started",
    "step_completed",
    "step_reopened",
    "document_received",
    "document_issued",
    "note",
    "suspended",
    "resumed",
    "revoked",
    "form_changed",
]
EVENT_KINDS: dict[str, tuple[str, str]] = {
    "listed": ("Công bố trong danh mục kêu gọi đầu tư", "Listed as calling for investment"),
    "step_started": ("Bắt đầu bước", "Step started"),
    "step_completed": ("Hoàn thành bước", "Step completed"),
    "step_reopened": ("Mở lại bước", "Step reopened"),
    "document_received": ("Tiếp nhận văn bản, hồ sơ", "Document received"),
    "document_issued": ("Ban hành văn bản", "Document issued"),
    "note": ("Ghi chú", "Note"),
    "suspended": ("Tạm dừng dự án", "Project suspended"),
    "resumed": ("Tiếp tục dự án", "Project resumed"),
    "revoked": ("Thu hồi, chấm dứt dự án", "Project revoked"),
    "form_changed": ("Đổi hình thức đầu tư", "Investment form changed"),
}
STEP_KINDS = frozenset({"step_started", "step_completed", "step_reopened"})
DATED_KINDS = frozenset(EVENT_KINDS) - {"listed", "note"}
"""Kinds that must say when they happened."""
RECORDED_KINDS = frozenset({"form_changed"})
"""Kinds the store records itself (a change of `investment_form`), never posted by clients."""
StepState = Literal["pending", "in_progress", "completed"]


class EventRefused(Conflict):
    code = "EventNotAllowed"


class InvalidEvent(InvalidParameter):
    code = "InvalidEvent"


@dataclass(frozen=True)
class DossierEvent:
    kind: str
    step: str | None = None
    date: dt.date | None = None
    """When it happened (for a step: started, completed or reopened)."""
    planned_date: dt.date | None = None
    """For a step: when it is planned to be completed."""
    document: str | None = None
    note: str = ""
    public: bool = True
    actor: str = ""
    recorded_at: str = ""
    seq: int = 0
    obstacle: bool = False
    """A difficulty or obstacle (khó khăn, vướng mắc) the annual report lists."""
    form_before: str | None = None
    """For `form_changed`: the investment form the project left …"""
    form_after: str | None = None
    """… and the one it took."""

    @classmethod
    def from_row(cls, row: Any) -> DossierEvent:
        """The event of a `dossier_events` row (or any row with its columns)."""
        return cls(**{name: row._mapping[name] for name in EVENT_COLUMNS})


EVENT_COLUMNS = tuple(f.name for f in fields(DossierEvent))


@dataclass(frozen=True)
class StepProgress:
    code: str
    state: StepState = "pending"
    started: dt.date | None = None
    completed: dt.date | None = None
    planned: dt.date | None = None
    reopened: int = 0

    def days_late(self, today: dt.date) -> int:
        """Days past its planned date without completion (0 when not late)."""
        if self.state == "completed":
            return 0
        return days_behind(self.planned, today)

    @property
    def delay_days(self) -> int | None:
        """For a completed step: days it finished after its planned date (negative: early)."""
        if self.completed is None or self.planned is None:
            return None
        return (self.completed - self.planned).days


@dataclass(frozen=True)
class Progress:
    stage: str
    steps: tuple[StepProgress, ...]
    current_step: str | None
    listed: bool
    earliest_open_planned: dt.date | None
    """The earliest planned date of a step not completed (None when revoked)."""
    events: int
    days_behind: int

    @property
    def steps_completed(self) -> int:
        return sum(s.state == "completed" for s in self.steps)


def days_behind(earliest_open_planned: dt.date | None, today: dt.date) -> int:
    """How many days the earliest open planned date lies before today (0 if not passed)."""
    if earliest_open_planned is None or earliest_open_planned >= today:
        return 0
    return (today - earliest_open_planned).days


@dataclass
class _Dossier:
    """The state replayed so far (internal to `derive`)."""

    procedure: Procedure | None
    today: dt.date
    steps: list[StepProgress] = field(default_factory=list)
    listed: bool = False
    suspended_on: dt.date | None = None
    revoked: bool = False
    events: int = 0

    def apply(self, event: DossierEvent) -> None:
        if self.revoked:
            raise EventRefused(_l("the project has been revoked: no event can follow"))
        if event.date is not None and event.date > self.today:
            raise InvalidEvent(
                _l("date {date} is in the future; record what has happened", date=event.date)
            )
        index = self._step_index(event)
        if event.kind in STEP_KINDS:
            if index is None:
                raise InvalidEvent(_l("a {kind} event names its step", kind=event.kind))
            if self.suspended_on is not None:
                raise EventRefused(
                    _l("the project is suspended: record `resumed` before its steps move")
                )
            getattr(self, f"_{event.kind}")(index, event)
        elif event.kind == "listed":
            if self.listed:
                raise EventRefused(_l("the project is already listed"))
            self.listed = True
        elif event.kind == "suspended":
            if self.suspended_on is not None:
                raise EventRefused(_l("the project is already suspended"))
            self.suspended_on = event.date
        elif event.kind == "resumed":
            if self.suspended_on is None:
                raise EventRefused(_l("the project is not suspended, so it cannot resume"))
            _in_order(self.suspended_on, event.date, "suspended", "resumed")
            self.suspended_on = None
        elif event.kind == "revoked":
            self.revoked = True
        self.events += 1

    def _step_index(self, event: DossierEvent) -> int | None:
        if event.step is None:
            return None
        if self.procedure is None:
            raise EventRefused(
                _l(
                    "the project has no investment form, so no procedure steps: set its investment_form first"
                )
            )
        index = self.procedure.index(event.step)
        if index is None:
            codes = ", ".join(s.code for s in self.procedure.steps)
            raise InvalidEvent(
                _l(
                    "step {step!r} is not a step of the {form} procedure ({codes})",
                    step=event.step,
                    form=self.procedure.form,
                    codes=codes,
                )
            )
        return index

    def _name(self, index: int) -> str:
        step = self.procedure.steps[index]
        return f"{step.code} ({step.name_en} / {step.name_vi})"

    def _earlier_required(self, index: int) -> list[int]:
        return [i for i in range(index) if not self.procedure.steps[i].optional]

    def _step_started(self, index: int, event: DossierEvent) -> None:
        current = self.steps[index]
        if current.state != "pending":
            raise EventRefused(_l("step {value} has already started", value=self._name(index)))
        for earlier in self._earlier_required(index):
            if self.steps[earlier].state == "pending":
                raise EventRefused(
                    _l(
                        "step {value} has not started, so step {code!r} cannot start before it",
                        value=self._name(earlier),
                        code=self.procedure.steps[index].code,
                    )
                )
        planned = event.planned_date or self._standard_end(index, event.date)
        _in_order(event.date, planned, "started", "planned completion")
        self.steps[index] = replace(
            current, state="in_progress", started=event.date, planned=planned
        )

    def _step_completed(self, index: int, event: DossierEvent) -> None:
        current = self.steps[index]
        if current.state == "completed":
            raise EventRefused(_l("step {value} is already completed", value=self._name(index)))
        for earlier in self._earlier_required(index):
            if self.steps[earlier].state != "completed":
                raise EventRefused(
                    _l(
                        "step {value} is not completed, so step {code!r} cannot be completed before it",
                        value=self._name(earlier),
                        code=self.procedure.steps[index].code,
                    )
                )
        started = current.started or event.date
        _in_order(started, event.date, "started", "completed")
        planned = current.planned or event.planned_date
        self.steps[index] = replace(
            current, state="completed", started=started, completed=event.date, planned=planned
        )

    def _step_reopened(self, index: int, event: DossierEvent) -> None:
        current = self.steps[index]
        if current.state != "completed":
            raise EventRefused(
                _l(
                    "step {value} is not completed, so it cannot be reopened",
                    value=self._name(index),
                )
            )
        later = [i for i in range(index + 1, len(self.steps)) if self.steps[i].state != "pending"]
        if later:
            raise EventRefused(
                _l(
                    "step {value} has already started after it: a step cannot be reopened behind later ones",
                    value=self._name(later[0]),
                )
            )
        _in_order(current.completed, event.date, "completed", "reopened")
        planned = event.planned_date or current.planned
        _in_order(event.date, event.planned_date, "reopened", "planned completion")
        self.steps[index] = replace(
            current,
            state="in_progress",
            completed=None,
            planned=planned,
            reopened=current.reopened + 1,
        )

    def _standard_end(self, index: int, start: dt.date | None) -> dt.date | None:
        days = self.procedure.steps[index].duration_days
        return None if days is None or start is None else start + dt.timedelta(days=days)

    def stage(self) -> str:
        if self.revoked:
            return "revoked"
        if self.suspended_on is not None:
            return "suspended"
        moved = [i for i, s in enumerate(self.steps) if s.state != "pending"]
        if not moved:
            return "calling_investment" if self.listed else "unknown"
        furthest = self.procedure.steps[moved[-1]]
        if self.steps[moved[-1]].state == "completed" and furthest.milestone:
            return furthest.milestone
        return furthest.stage

    def current_step(self) -> str | None:
        """The first step in progress, else the next required step not completed."""
        if self.revoked or self.procedure is None:
            return None
        for state, step in zip(self.steps, self.procedure.steps, strict=True):
            if state.state == "in_progress":
                return step.code
        done = [i for i, s in enumerate(self.steps) if s.state == "completed"]
        after = done[-1] + 1 if done else 0
        return next(
            (s.code for s in self.procedure.steps[after:] if not s.optional),
            None,
        )


def _in_order(first: dt.date | None, then: dt.date | None, first_name: str, then_name: str):
    if first is not None and then is not None and then < first:
        raise InvalidEvent(
            _l(
                "dates in the wrong order: {then_name} {then} is before {first_name} {first}",
                then_name=then_name,
                then=then,
                first_name=first_name,
                first=first,
            )
        )


def _dossier(procedure: Procedure | None, today: dt.date) -> _Dossier:
    dossier = _Dossier(procedure, today)
    if procedure is not None:
        dossier.steps = [StepProgress(s.code) for s in procedure.steps]
    return dossier


def stages(
    procedure: Procedure | None, events: Iterable[DossierEvent], today: dt.date
) -> Iterator[str]:
    """The project's stage after each of `events` in turn (oldest first)."""
    dossier = _dossier(procedure, today)
    for event in events:
        dossier.apply(event)
        yield dossier.stage()


def derive(procedure: Procedure | None, events: Iterable[DossierEvent], today: dt.date) -> Progress:
    """Replay `events` (oldest first) against the form's procedure (None: no form yet)."""
    dossier = _dossier(procedure, today)
    for event in events:
        dossier.apply(event)
    open_planned = [
        s.planned for s in dossier.steps if s.state != "completed" and s.planned is not None
    ]
    earliest = None if dossier.revoked or not open_planned else min(open_planned)
    return Progress(
        stage=dossier.stage(),
        steps=tuple(dossier.steps),
        current_step=dossier.current_step(),
        listed=dossier.listed,
        earliest_open_planned=earliest,
        events=dossier.events,
        days_behind=days_behind(earliest, today),
    )
