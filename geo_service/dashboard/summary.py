"""The dashboard's figures: counts and capital by group for a period and the same period a year
earlier, progress against the plans' targets, late projects, enquiries and obstacles.

Every figure is one SQL statement over the records database (see `periods` for what is counted);
Python only lays the rows out, fills the groups no project falls in with zeros and adds the
groups up into totals.
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import OrderedDict
from collections.abc import Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import TIMESTAMP, and_, cast, func, or_, select, true
from sqlalchemy.orm import Session

from ..clock import VIETNAM, utc_stamp
from ..errors import InvalidParameter
from ..i18n import _l
from ..i18n.content import names_per_language
from ..pipeline.procedures import FORMS, Procedures
from ..pipeline.projects import ProjectStore
from ..pipeline.stages import STAGES
from ..places import communes_of_province
from ..records.schema import (
    dossier_events,
    enquiries,
    project_progress,
    projects,
)
from .periods import (
    CAPITALS,
    FIGURES,
    STATE,
    Period,
    completed_in,
    count_where,
    new_in,
    not_revoked_by,
    revoked_in,
    spans_on,
    sum_where,
)
from .targets import UNIT_NAMES, Plan, Target, load_targets

DIMENSIONS = ("investment_form", "sector", "stage", "commune_code", "year")
LATE_SHOWN = 20
Key = tuple

PROJECT_NAMES = [projects.c[name] for name in names_per_language("name")]
"""A project's name in each language it has one in, where the dashboard lists projects."""


def parse_group_by(text: str | None) -> tuple[str, ...]:
    """`sector,year` → ("sector", "year"); unknown or repeated names are a 400."""
    if not text:
        return ()
    names = tuple(n.strip() for n in text.split(","))
    for name in names:
        if name not in DIMENSIONS:
            raise InvalidParameter(
                _l(
                    "cannot group by {name!r}; group_by takes one or more of {value}, separated by commas",
                    name=name,
                    value=", ".join(DIMENSIONS),
                )
            )
    if len(set(names)) != len(names):
        raise InvalidParameter(_l("group_by names a dimension twice"))
    return names


@dataclass(frozen=True)
class Dashboard:
    """Counts the pipeline for the dashboard and the annual report.

    A summary is kept (a few dozen, per process) while the records do not change: its key holds
    the pipeline's change counter (`records.schema.change_counters`, bumped by the database in
    the same transaction as every write to the tables counted here, by any process), read with
    one primary-key lookup per request before anything is counted, so an answer never misses a
    change committed before the request; and today's date and the targets files' state.
    """

    projects: ProjectStore
    targets_dir: Path
    province: str
    cache_size: int = 64
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _computing: dict = field(default_factory=dict, repr=False)
    _targets: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def records(self):
        return self.projects.records

    @property
    def procedures(self) -> Procedures:
        return self.projects.procedures

    def plans(self) -> list[Plan]:
        """The province's plans, the latest first."""
        plans = load_targets(self.targets_dir).for_province(self.province)
        return sorted(plans, key=lambda p: (p.period_end, p.period_start), reverse=True)

    # -- the summary ------------------------------------------------------------------------
    def summary(self, period: Period, group_by: Sequence[str], today: dt.date) -> dict[str, Any]:
        """The summary (see `api.dashboard.summary`): a dict of the caller's own, whose values
        are shared with other callers and must not be changed. Requests for a summary another
        thread of this process is computing wait for its answer."""
        changes = self.changes()
        targets = load_targets(self.targets_dir)
        key = (changes, period, tuple(group_by), today, id(targets))
        with self._lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
                return dict(found)
            computing = self._computing.get(key)
            if computing is None:
                computing = self._computing[key] = Future()
                owner = True
            else:
                owner = False
        if not owner:
            return dict(computing.result())
        try:
            document = self._summary(period, group_by, today, (changes, id(targets)))
        except BaseException as error:
            computing.set_exception(error)
            raise
        finally:
            with self._lock:
                del self._computing[key]
        with self._lock:
            for stale in [k for k in self._cache if k[0] != changes]:
                del self._cache[stale]
            self._cache[key] = document
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        computing.set_result(document)
        return dict(document)

    def changes(self) -> int:
        """The pipeline's change counter now."""
        return self.projects.changes()

    def _summary(
        self, period: Period, group_by: Sequence[str], today: dt.date, version: tuple
    ) -> dict[str, Any]:
        previous = period.previous()
        with self.records.reading() as session:
            current_rows = self.figures(session, period, group_by)
            previous_rows = self.figures(session, previous, group_by)
            targets = self._kept_targets(session, period.end, version)
            received = self.enquiry_figures(session, period)
            received_before = self.enquiry_figures(session, previous)
            late, late_total = self.late_projects(session, today, LATE_SHOWN)
        groups = self.groups(group_by, period, current_rows, previous_rows)
        return {
            "period": period.as_json(),
            "previous_period": previous.as_json(),
            "group_by": list(group_by),
            "totals": {
                "current": add_up(current_rows.values()),
                "previous": add_up(previous_rows.values()),
            },
            "groups": groups,
            "targets": targets,
            "enquiries": {"current": received, "previous": received_before},
            "late_projects": {"total": late_total, "as_of": today.isoformat(), "projects": late},
        }

    def groups(
        self,
        group_by: Sequence[str],
        period: Period,
        current_rows: dict[Key, dict[str, float]],
        previous_rows: dict[Key, dict[str, float]],
    ) -> list[dict[str, Any]]:
        """Every group (see `group_keys`) with its label, its figures and the year before's."""
        return [
            {
                "key": dict(zip(group_by, key, strict=True)),
                "label": self.label(group_by, key),
                **({"commune": self.commune_point(key[group_by.index("commune_code")])}
                   if "commune_code" in group_by else {}),
                "current": current_rows.get(key, zeros()),
                "previous": previous_rows.get(_year_before(group_by, key), zeros()),
            }
            for key in self.group_keys(group_by, period, current_rows, previous_rows)
        ]  # fmt: skip

    def figures(
        self, session: Session, period: Period, group_by: Sequence[str]
    ) -> dict[Key, dict[str, float]]:
        """The figures of each group with at least one project, by group key."""
        if "year" not in group_by:
            return self._figures(session, period, group_by)
        at = group_by.index("year")
        others = tuple(d for d in group_by if d != "year")
        found: dict[Key, dict[str, float]] = {}
        for year, part in period.years():
            for key, values in self._figures(session, part, others).items():
                found[(*key[:at], year, *key[at:])] = values
        return found

    def _figures(
        self, session: Session, period: Period, group_by: Sequence[str]
    ) -> dict[Key, dict[str, float]]:
        keys = [STATE[d].label(f"key_{d}") for d in group_by]
        new = new_in(period)
        figures = [
            func.count().label("projects"),
            count_where(new).label("new_projects"),
            count_where(completed_in(period)).label("completed"),
            count_where(revoked_in(period)).label("revoked"),
            *[sum_where(new, STATE[c]).label(c) for c in CAPITALS],
        ]
        found: dict[Key, dict[str, float]] = {}
        for part in spans_on(period.end):
            statement = select(*keys, *figures).where(part).group_by(*keys)
            for row in session.execute(statement):
                key = tuple(row[: len(keys)])
                values = _numbers(row._mapping)
                found[key] = add_up([found[key], values]) if key in found else values
        return found

    def group_keys(
        self, group_by: Sequence[str], period: Period, *found: dict[Key, Any]
    ) -> list[Key]:
        """Every combination of the coded lists' codes, then any other key a project has
        (no code recorded, a code from elsewhere)."""
        if not group_by:
            return [()]
        codes = {
            "investment_form": list(FORMS),
            "sector": list(self.procedures.sectors),
            "stage": list(STAGES),
            "commune_code": [c.code for c in communes_of_province(self.province)],
            "year": [year for year, _ in period.years()],
        }
        keys = list(itertools.product(*(codes[d] for d in group_by)))
        known = set(keys)
        extra = {k for k in found[0] if k not in known}
        if len(found) > 1:
            extra |= {k for k in (_year_after(group_by, p) for p in found[1]) if k not in known}
        return keys + sorted(extra, key=lambda k: tuple((v is None, str(v)) for v in k))

    def label(self, group_by: Sequence[str], key: Key) -> dict[str, str]:
        names = [self.code_name(d, v) for d, v in zip(group_by, key, strict=True)]
        return {lang: " · ".join(n[i] for n in names) for i, lang in enumerate(("vi", "en"))}

    def code_name(self, dimension: str, code: Any) -> tuple[str, str]:
        if code is None:
            return ("Chưa ghi", "Not recorded")
        if dimension == "investment_form":
            procedure = self.procedures.procedure(code)
            return (procedure.title_vi, procedure.title_en) if procedure else (code, code)
        if dimension == "sector":
            sector = self.procedures.sectors.get(code)
            return (sector.name_vi, sector.name_en) if sector else (code, code)
        if dimension == "stage":
            return STAGES.get(code, (code, code))
        if dimension == "commune_code":
            name = _commune_names(self.province).get(code, code)
            return (name, name)
        return (str(code), str(code))

    def commune_point(self, code: str | None) -> dict[str, float] | None:
        commune = _communes(self.province).get(code)
        return None if commune is None else {"lon": commune.lon, "lat": commune.lat}

    # -- targets ----------------------------------------------------------------------------
    def target_progress(self, session: Session, as_of: dt.date) -> list[dict[str, Any]]:
        return [
            self._target(plan, target, as_of, self._plan_figures(session, plan, as_of))
            for plan in self.plans()
            for target in plan.targets
        ]

    def _kept_targets(
        self, session: Session, as_of: dt.date, version: tuple
    ) -> list[dict[str, Any]]:
        """`target_progress`, kept per process for each day while `version` (the change
        counter and the targets files) holds: summaries of other periods ending that day share
        it (read-only)."""
        key = (version, as_of)
        with self._lock:
            found = self._targets.get(key)
        if found is None:
            found = self.target_progress(session, as_of)
            with self._lock:
                for stale in [k for k in self._targets if k[0] != version]:
                    del self._targets[stale]
                self._targets[key] = found
                while len(self._targets) > self.cache_size:
                    self._targets.popitem(last=False)
        return found

    def _plan_figures(self, session: Session, plan: Plan, as_of: dt.date) -> list[Any]:
        """By investment form and sector (on the plan's last counted day): the projects whose
        policy was approved or investor selected within the plan's period so far, those of them
        not revoked, those completed and not revoked, and the registered capital of those not
        revoked. Empty before the plan starts."""
        day = min(as_of, plan.period_end)
        if day < plan.period_start:
            return []
        alive = not_revoked_by(day)
        statement = (
            select(
                STATE.investment_form,
                STATE.sector,
                func.count().label("approved"),
                count_where(alive).label("new_projects"),
                count_where(and_(STATE.completed_on <= day, alive)).label("completed"),
                sum_where(alive, STATE.capital_registered_billion_vnd).label("capital"),
            )
            .where(
                STATE.selected_on.between(plan.period_start, day),
                STATE.since <= day,
                or_(STATE.until.is_(None), STATE.until > day),
            )
            .group_by(STATE.investment_form, STATE.sector)
        )
        return session.execute(statement).all()

    def _target(
        self, plan: Plan, target: Target, as_of: dt.date, plan_rows: list[Any]
    ) -> dict[str, Any]:
        day = min(as_of, plan.period_end)
        total_days = (plan.period_end - plan.period_start).days + 1
        elapsed = max(0, min(total_days, (day - plan.period_start).days + 1))
        pace = target.goal * elapsed / total_days
        document = {
            "plan": plan.id,
            "plan_title": {"vi": plan.title_vi, "en": plan.title_en},
            "plan_period": {
                "from": plan.period_start.isoformat(),
                "to": plan.period_end.isoformat(),
            },
            "source": plan.document.model_dump(mode="json"),
            "id": target.id,
            "name": {"vi": target.name_vi, "en": target.name_en},
            "quote": target.quote,
            "how": {"vi": target.how_vi, "en": target.how_en},
            "measurable": target.measurable,
            "metric": target.metric,
            "value": target.value,
            "min": target.min,
            "max": target.max,
            "approximate": target.approximate,
            "unit": target.unit,
            "unit_name": dict(zip(("vi", "en"), UNIT_NAMES[target.unit], strict=True)),
            "forms": list(target.forms),
            "sectors": list(target.sectors),
        }
        if not target.measurable:
            return {**document, "as_of": None, "achieved": None, "status": "not_measurable"}
        achieved = None
        if day >= plan.period_start:
            achieved = _achieved(target, plan_rows)
        status = "not_started" if day < plan.period_start else (
            "on_track" if achieved is not None and achieved >= pace else "behind"
        )  # fmt: skip
        return {
            **document,
            "as_of": day.isoformat(),
            "achieved": achieved if achieved is not None else 0.0,
            "share_of_goal": None if achieved is None else achieved / target.goal,
            "share_of_max": None
            if achieved is None or target.max is None
            else achieved / target.max,
            "elapsed_share": elapsed / total_days,
            "expected_by_now": pace,
            "on_track": status == "on_track",
            "status": status,
        }

    # -- enquiries --------------------------------------------------------------------------
    def enquiry_figures(self, session: Session, period: Period) -> dict[str, Any]:
        """Enquiries received in the period, how many were answered by its end, and the median
        time from receipt to answer (hours) of those."""
        low, high = day_bounds(period)
        received = and_(enquiries.c.created_at >= low, enquiries.c.created_at < high)
        answered = and_(
            received, enquiries.c.answered_at.is_not(None), enquiries.c.answered_at < high
        )
        count, answered_count = session.execute(
            select(func.count(), count_where(answered)).select_from(enquiries).where(received)
        ).one()
        median = None
        if answered_count:
            hours = self._hours(enquiries.c.created_at, enquiries.c.answered_at).label("hours")
            middle = list(
                session.scalars(
                    select(hours)
                    .where(answered)
                    .order_by(hours)
                    .limit(2 - answered_count % 2)
                    .offset((answered_count - 1) // 2)
                )
            )
            median = sum(float(h) for h in middle) / len(middle)
        return {"received": count, "answered": answered_count, "median_hours_to_answer": median}

    def _hours(self, start, end):
        if self.records.dialect == "sqlite":
            return (func.julianday(end) - func.julianday(start)) * 24.0
        stamp = TIMESTAMP(timezone=True)
        return func.extract("epoch", cast(end, stamp) - cast(start, stamp)) / 3600.0

    # -- late projects ----------------------------------------------------------------------
    def late_projects(
        self, session: Session, today: dt.date, limit: int | None
    ) -> tuple[list[dict[str, Any]], int]:
        """Projects with a step past its planned date today, latest first, and how many."""
        late = project_progress.c.earliest_open_planned < today
        total = session.scalar(select(func.count()).select_from(project_progress).where(late))
        statement = (
            select(
                projects.c.id,
                *PROJECT_NAMES,
                projects.c.investment_form,
                projects.c.responsible_agency,
                projects.c.commune_code,
                project_progress.c.stage,
                project_progress.c.current_step,
                project_progress.c.earliest_open_planned,
            )
            .join(project_progress)
            .where(late)
            .order_by(project_progress.c.earliest_open_planned, projects.c.id)
            .limit(limit)
        )
        found = []
        for row in session.execute(statement):
            procedure = self.procedures.procedure(row.investment_form)
            index = None if procedure is None or row.current_step is None else (
                procedure.index(row.current_step)
            )  # fmt: skip
            step = None if index is None else procedure.steps[index]
            found.append(
                {
                    "id": row.id,
                    **{c.name: row._mapping[c.name] for c in PROJECT_NAMES},
                    "investment_form": row.investment_form,
                    "stage": row.stage,
                    "commune_code": row.commune_code,
                    "planned": row.earliest_open_planned.isoformat(),
                    "days_late": (today - row.earliest_open_planned).days,
                    "responsible_agency": row.responsible_agency,
                    "current_step": row.current_step,
                    "step_name": None if step is None else {"vi": step.name_vi, "en": step.name_en},
                    "step_agency": None
                    if step is None
                    else {"vi": step.agency_vi, "en": step.agency_en},
                }
            )
        return found, total

    # -- obstacles --------------------------------------------------------------------------
    def obstacles(
        self, session: Session, period: Period, include_internal: bool, limit: int | None = None
    ) -> tuple[list[dict[str, Any]], int]:
        """The latest `limit` events flagged as obstacles and dated within the period (oldest
        first), and how many there are."""
        condition = and_(
            dossier_events.c.obstacle.is_(True),
            dossier_events.c.date.between(period.start, period.end),
            true() if include_internal else dossier_events.c.public.is_(True),
        )
        statement = (
            select(
                dossier_events.c.project_id,
                *PROJECT_NAMES,
                projects.c.responsible_agency,
                dossier_events.c.date,
                dossier_events.c.kind,
                dossier_events.c.step,
                dossier_events.c.note,
                dossier_events.c.public,
            )
            .join(projects, projects.c.id == dossier_events.c.project_id)
            .where(condition)
            .order_by(
                dossier_events.c.date.desc(),
                dossier_events.c.project_id.desc(),
                dossier_events.c.seq.desc(),
            )
            .limit(limit)
        )
        total = session.scalar(select(func.count()).select_from(dossier_events).where(condition))
        found = [
            {**row._mapping, "date": row.date.isoformat()} for row in session.execute(statement)
        ]
        return found[::-1], total


def _achieved(target: Target, plan_rows: list[Any]) -> float | None:
    """The target's figure from its plan's figures (None: a share with nothing to share)."""
    rows = [
        r for r in plan_rows
        if r.investment_form in target.forms and (not target.sectors or r.sector in target.sectors)
    ]  # fmt: skip
    if target.metric == "completed_share":
        approved = sum(r.approved for r in rows)
        return None if not approved else 100.0 * sum(r.completed for r in rows) / approved
    if target.metric == "new_projects":
        return float(sum(r.new_projects for r in rows))
    return float(sum(r.capital for r in rows))


def zeros() -> dict[str, float]:
    return {name: 0 if name in ("projects", "new_projects", "completed", "revoked") else 0.0
            for name in FIGURES}  # fmt: skip


def roll_up(
    rows: dict[Key, dict[str, float]], group_by: Sequence[str], keep: Sequence[str]
) -> dict[Key, dict[str, float]]:
    """Figures grouped by `group_by` added up into groups by `keep` (a part of it)."""
    at = [group_by.index(d) for d in keep]
    found: dict[Key, list] = {}
    for key, values in rows.items():
        found.setdefault(tuple(key[i] for i in at), []).append(values)
    return {key: add_up(values) for key, values in found.items()}


def add_up(rows) -> dict[str, float]:
    total = zeros()
    for row in rows:
        for name in FIGURES:
            total[name] += row[name]
    return total


def _numbers(row) -> dict[str, float]:
    return {name: float(row[name]) if name in CAPITALS else int(row[name]) for name in FIGURES}


def _year_before(group_by: Sequence[str], key: Key) -> Key:
    """The previous period's key beside `key`: the same, a year earlier if grouped by year."""
    if "year" not in group_by:
        return key
    at = group_by.index("year")
    return (*key[:at], key[at] - 1, *key[at + 1 :])


def _year_after(group_by: Sequence[str], key: Key) -> Key:
    if "year" not in group_by:
        return key
    at = group_by.index("year")
    return (*key[:at], key[at] + 1, *key[at + 1 :])


def day_bounds(period: Period) -> tuple[str, str]:
    """The period's days in Vietnam as UTC timestamps [low, high), as enquiries store them."""
    start = dt.datetime.combine(period.start, dt.time(), VIETNAM)
    end = dt.datetime.combine(period.end + dt.timedelta(days=1), dt.time(), VIETNAM)
    return utc_stamp(start), utc_stamp(end)


@lru_cache(maxsize=8)
def _communes(province: str) -> dict:
    return {c.code: c for c in communes_of_province(province)}


def _commune_names(province: str) -> dict[str, str]:
    return {code: c.name for code, c in _communes(province).items()}
