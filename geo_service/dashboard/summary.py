"""The dashboard's figures: counts and capital by group for a period and the same period a year
earlier, progress against the plans' targets, late projects, enquiries and obstacles.

Every figure is counted by SQL statements over the records database (see `periods` for what is
counted; `dated` for the statements of a grouping by at most one dimension); Python only lays the
rows out, adds up what several statements give a group, fills the groups no project falls in
with zeros and adds the groups up into totals (and, for a kept summary brought up to date, adds
what the log of the spans' changes gives to its figures: see `Dashboard`; for the figures of a
day near one kept, adds what changed since: see `Dashboard._day_figures`).
"""

from __future__ import annotations

import datetime as dt
import itertools
import threading
from collections import Counter, OrderedDict
from collections.abc import Callable, Hashable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

from sqlalchemy import (
    TIMESTAMP,
    CompoundSelect,
    Integer,
    Select,
    and_,
    bindparam,
    cast,
    delete,
    func,
    literal,
    or_,
    select,
    true,
    union_all,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql import Executable

from ..clock import VIETNAM, utc_stamp
from ..errors import InvalidParameter
from ..i18n import LANGUAGES, _l, tr
from ..i18n.content import names_per_language
from ..memory_cache import MemoryCache, latest_kept
from ..pipeline.procedures import FORMS, Procedures
from ..pipeline.projects import PIPELINE_CHANGES, ProjectStore
from ..pipeline.stages import STAGES
from ..places import communes_of_province
from ..records.schema import (
    change_counters,
    dossier_events,
    enquiries,
    project_progress,
    project_state_changes,
    projects,
)
from .dated import dated_statement, month_before, pipeline_statements
from .periods import (
    CAPITALS,
    FIGURES,
    LOG,
    PROJECTION,
    Period,
    Spans,
    count_where,
    log_values,
    period_values,
)
from .plan_figures import checkpoint_day, plan_change_statement, plan_rows, plan_statement
from .targets import UNIT_NAMES, Plan, Target, stamped_targets

DIMENSIONS = ("investment_form", "sector", "stage", "commune_code", "year")
CAPITAL_DIGITS = 6
"""Places of the billion VND in capital answered (to the thousand đồng)."""
LATE_SHOWN = 20
LOG_FROM = "pipeline_log_from"
"""The change counter saying up to which change the log of state spans may have been pruned."""
MAX_CHANGED = 20_000
"""Changed spans (log rows) since a kept summary beyond which it is computed afresh instead (a
bulk import): counting the log would cost as much as counting the spans."""
LOG_KEPT = 2 * MAX_CHANGED
"""Log rows kept when a summary computed afresh prunes the log (`Dashboard.prune`): a kept summary
further behind than `MAX_CHANGED` rows is counted afresh anyway."""
SHARED_KEPT = 1024
"""Values shared by summaries (`Dashboard._shared`) kept per process: the figures of a day (by
plan, or in the pipeline by one dimension) are 20 kB at most, so some 20 MB in all."""
COUNTERS = select(change_counters.c.name, change_counters.c.value).where(
    change_counters.c.name.in_((PIPELINE_CHANGES, LOG_FROM))
)
"""The pipeline's change counter and the log's start, read first by each summary."""
NEAR_DAYS = 10
"""How many days back a day's figures are brought forward from a day kept (`_day_figures`)."""
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

    Summaries are kept (a few dozen, per process), each for its period, grouping, today's date
    and the targets files' state, with the value of the pipeline's change counter it was
    counted at (`records.schema.change_counters`, bumped by the database in the same
    transaction as every write to the tables counted here, by any process). Each request reads
    the counter first (one primary-key lookup), so an answer never misses a change committed
    before it. A kept summary the records have changed since is brought up to date: its figures
    plus the same statements over the log of the state spans inserted and deleted since
    (`project_state_changes`, each row counted `sign` times), read in one snapshot with the
    counter; late projects and enquiries are counted again (indexed reads). Without a kept
    summary, with the log pruned past it or with too many changes since, the summary is
    counted afresh (also in one snapshot). `computed` counts how each was made.
    """

    projects: ProjectStore
    targets_dir: Path
    province: str
    cache_size: int = 64
    max_changed: int = MAX_CHANGED
    log_kept: int = LOG_KEPT
    computed: Counter = field(default_factory=Counter, repr=False)
    _cache: OrderedDict = field(default_factory=OrderedDict, repr=False)
    _computing: dict = field(default_factory=dict, repr=False)
    _shared_values: MemoryCache = field(
        default_factory=lambda: latest_kept(SHARED_KEPT), repr=False
    )
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _pruned_at: dict = field(default_factory=dict, repr=False)
    """The change counter's value when this process last pruned the log (nothing to prune
    before the next change)."""

    @property
    def records(self):
        return self.projects.records

    @property
    def procedures(self) -> Procedures:
        return self.projects.procedures

    def warm(self) -> None:
        """Read what every summary lays out (the province's communes, the plans, the
        procedures) once at start-up, not in the first requests."""
        _communes(self.province)
        self.plans()
        _ = self.procedures

    def plans(self) -> list[Plan]:
        """The province's plans, the latest first."""
        return self._stamped_plans()[1]

    def _stamped_plans(self) -> tuple[tuple, list[Plan]]:
        """The targets files' stamp, taken before they were read, and the province's plans,
        the latest first."""
        stamp, plans = stamped_targets(self.targets_dir)
        mine = plans.for_province(self.province)
        return stamp, sorted(mine, key=lambda p: (p.period_end, p.period_start), reverse=True)

    # -- the summary ------------------------------------------------------------------------
    def summary(self, period: Period, group_by: Sequence[str], today: dt.date) -> dict[str, Any]:
        """The summary (see `api.dashboard.summary`): a dict of the caller's own, whose values
        are shared with other callers and must not be changed. Requests for a summary another
        thread of this process is bringing to the same change wait for its answer."""
        # one look at the targets files: the stamp the summary is kept under, and the plans
        targets_version, plans = self._stamped_plans()
        view = (period, tuple(group_by), today, targets_version)
        with self.records.snapshot() as session:
            counters = dict(session.execute(COUNTERS).all())
            changes = counters[PIPELINE_CHANGES]
            with self._lock:
                kept = self._cache.get(view)
                if kept is not None and kept.changes >= changes:
                    self._cache.move_to_end(view)
                    return dict(kept.document)
                computing = self._computing.get((view, changes))
                owner = computing is None
                if owner:
                    computing = self._computing[(view, changes)] = Future()
            if owner:
                try:
                    counted, afresh = self._count(
                        session, counters, period, group_by, today, targets_version, plans, kept
                    )
                except BaseException as error:
                    computing.set_exception(error)
                    raise
                finally:
                    with self._lock:
                        del self._computing[(view, changes)]
        if not owner:
            return dict(computing.result())
        with self._lock:
            latest = self._cache.get(view)
            if latest is None or latest.changes < counted.changes:
                self._cache[view] = counted
            self._cache.move_to_end(view)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        computing.set_result(counted.document)
        if afresh and self._pruned_at.get("changes") != counted.changes:
            self._pruned_at["changes"] = counted.changes
            self.prune()
        return dict(counted.document)

    def _count(
        self,
        session: Session,
        counters: dict[str, int],
        period: Period,
        group_by: Sequence[str],
        today: dt.date,
        targets_version: tuple,
        plans: list[Plan],
        kept: Counted | None,
    ) -> tuple[Counted, bool]:
        """The summary counted in the snapshot `session`, whose change `counters` were read:
        `kept` brought up to date when the log allows, else afresh (then True)."""
        changes = counters[PIPELINE_CHANGES]
        if kept is not None and (
            kept.changes < counters[LOG_FROM] or self._many_changes(session, kept, changes)
        ):
            kept = None
        spans, log = (PROJECTION, {}) if kept is None else (
            LOG, log_values(kept.changes, changes)
        )  # fmt: skip
        previous = period.previous()
        version = (changes, targets_version)
        current_rows = self.figures(session, period, group_by, spans, log, version)
        previous_rows = self.figures(session, previous, group_by, spans, log, version)
        if kept is None:
            figures = self.plan_figures(session, period.end, plans, version=version)
        else:
            figures = self.plan_figures(session, period.end, plans, spans, log)
            current_rows = _added(kept.current, current_rows, "projects")
            previous_rows = _added(kept.previous, previous_rows, "projects")
            figures = {
                plan: _added(kept.plans.get(plan, {}), rows, "approved")
                for plan, rows in figures.items()
            }
        received = self.enquiry_figures(session, period)
        late, late_total = self._shared(
            version, ("late", today), lambda: self.late_projects(session, today, LATE_SHOWN)
        )
        with self._lock:
            self.computed["afresh" if kept is None else "brought_up"] += 1
        procedures = self.procedures  # one look at the definition files for the whole layout
        document = {
            "period": period.as_json(),
            "previous_period": previous.as_json(),
            "group_by": list(group_by),
            "totals": {
                "current": shown(add_up(current_rows.values())),
                "previous": shown(add_up(previous_rows.values())),
            },
            "groups": self.groups(group_by, period, current_rows, previous_rows, procedures),
            "targets": self._progress(period.end, plans, figures),
            "enquiries": received,
            "late_projects": {"total": late_total, "as_of": today.isoformat(), "projects": late},
        }
        return Counted(changes, current_rows, previous_rows, figures, document), kept is None

    def _many_changes(self, session: Session, kept: Counted, changes: int) -> bool:
        """More than `max_changed` log rows since `kept` (read no further than that)."""
        log = project_state_changes.c
        beyond = (
            select(log.change)
            .where(log.change > kept.changes, log.change <= changes)
            .order_by(log.change)
            .offset(self.max_changed)
            .limit(1)
        )
        return session.scalar(beyond) is not None

    def prune(self) -> None:
        """Delete the log rows but the latest `log_kept` and raise `pipeline_log_from` to the
        last change deleted, in one transaction: a process whose kept summaries are older than
        that counts them afresh (whenever it looks, it sees both or neither)."""
        log = project_state_changes.c
        with self.records.reading() as session:
            last = session.scalar(
                select(log.change).order_by(log.change.desc()).offset(self.log_kept).limit(1)
            )
        if last is None:
            return
        with self.records.writing() as session:
            session.execute(delete(project_state_changes).where(log.change <= last))
            session.execute(
                update(change_counters)
                .where(change_counters.c.name == LOG_FROM, change_counters.c.value < last)
                .values(value=last)
            )
        with self._lock:
            self.computed["pruned"] += 1

    def groups(
        self,
        group_by: Sequence[str],
        period: Period,
        current_rows: dict[Key, dict[str, float]],
        previous_rows: dict[Key, dict[str, float]],
        procedures: Procedures,
    ) -> list[dict[str, Any]]:
        """Every group (see `group_keys`) with its label, its figures and the year before's."""
        return [
            {
                "key": dict(zip(group_by, key, strict=True)),
                "label": self.label(group_by, key, procedures),
                **({"commune": self.commune_point(key[group_by.index("commune_code")])}
                   if "commune_code" in group_by else {}),
                "current": shown(current_rows.get(key, zeros())),
                "previous": shown(previous_rows.get(_year_before(group_by, key), zeros())),
            }
            for key in self.group_keys(group_by, period, procedures, current_rows, previous_rows)
        ]  # fmt: skip

    def figures(
        self,
        session: Session,
        period: Period,
        group_by: Sequence[str],
        spans: Spans = PROJECTION,
        log: dict[str, int] | None = None,
        version: tuple | None = None,
    ) -> dict[Key, dict[str, float]]:
        """The figures of each group with at least one project, by group key (over the log:
        what the changes `log` names add to each group's). Given the `version` the session sees
        (see `_shared`), figures of a day are kept for it (`_day_figures`)."""
        if "year" not in group_by:
            return self._figures(session, period, tuple(group_by), spans, log, version)
        at = group_by.index("year")
        others = tuple(d for d in group_by if d != "year")
        found: dict[Key, dict[str, float]] = {}
        for year, part in period.years():
            for key, values in self._figures(session, part, others, spans, log, version).items():
                found[(*key[:at], year, *key[at:])] = values
        return found

    def _figures(
        self,
        session: Session,
        period: Period,
        group_by: tuple[str, ...],
        spans: Spans,
        log: dict[str, int] | None,
        version: tuple | None,
    ) -> dict[Key, dict[str, float]]:
        if spans is PROJECTION and len(group_by) <= 1:
            return self._dated_figures(session, period, group_by[0] if group_by else None, version)
        values = {**period_values(period.start, period.end), **(log or {})}
        return _added_rows({}, session, _figure_statements(spans, group_by), values, len(group_by))

    def _dated_figures(
        self, session: Session, period: Period, dimension: str | None, version: tuple | None
    ) -> dict[Key, dict[str, float]]:
        """By the value of `dimension`: the projects in the pipeline on the period's last day
        (`_in_pipeline`), and its new, completed and revoked projects (`dated`)."""
        found = {
            key: {**zeros(), "projects": count}
            for key, count in self._in_pipeline(session, dimension, period.end, version).items()
        }
        values = period_values(period.start, period.end)
        _added_rows(found, session, (dated_statement(dimension),), values, 1 if dimension else 0)
        # month counts name every value a span ever had; a group is one with a span on the day
        return {key: figures for key, figures in found.items() if figures["projects"]}

    def _in_pipeline(
        self, session: Session, dimension: str | None, day: dt.date, version: tuple | None
    ) -> Counter:
        """The projects in the pipeline on `day` by the value of `dimension` (in total: key
        `()`), kept for the `version` the session sees, if given (see `_day_figures`)."""
        month_counts, changed = pipeline_statements(dimension)
        width = 1 if dimension else 0

        def counted(statements: Sequence[Executable], earlier: dt.date, kept: Counter) -> Counter:
            found = Counter(kept)
            for statement in statements:
                for row in session.execute(statement, {"earlier": earlier, "end": day}):
                    found[tuple(row[:width])] += int(row[width])
            return found

        def count() -> Counter:
            return counted((month_counts, changed), month_before(day), Counter())

        if version is None:
            return count()
        return self._day_figures(
            version,
            ("pipeline", dimension),
            day,
            count,
            lambda kept, earlier: counted((changed,), earlier, kept),
        )

    def _day_figures(
        self,
        version: tuple,
        key: tuple,
        day: dt.date,
        count: Callable[[], Any],
        forward: Callable[[Any, dt.date], Any],
    ) -> Any:
        """Figures that follow from `day` alone (`key` says which), kept for `version`: those of
        the latest day kept within `NEAR_DAYS` before, brought `forward(kept, that day)` (what
        is dated between), else `count()`. So the days asked one after another each cost the
        spans dated since the one before. A day another thread is making counts as kept, once
        made: requests arriving together share the work. (Only earlier days are waited for,
        so threads never wait for each other in a circle.)"""

        def make() -> Any:
            for back in range(1, NEAR_DAYS + 1):
                earlier = day - dt.timedelta(days=back)
                kept = self._shared_kept(version, (*key, earlier))
                if kept is not None:
                    return forward(kept, earlier)
            return count()

        return self._shared(version, (*key, day), make)

    def group_keys(
        self,
        group_by: Sequence[str],
        period: Period,
        procedures: Procedures,
        *found: dict[Key, Any],
    ) -> list[Key]:
        """Every combination of the coded lists' codes, then any other key a project has
        (no code recorded, a code from elsewhere)."""
        if not group_by:
            return [()]
        codes = {
            "investment_form": list(FORMS),
            "sector": list(procedures.sectors),
            "stage": list(STAGES),
            "commune_code": list(_communes(self.province)),
            "year": [year for year, _ in period.years()],
        }
        keys = list(itertools.product(*(codes[d] for d in group_by)))
        known = set(keys)
        extra = {k for k in found[0] if k not in known}
        if len(found) > 1:
            extra |= {k for k in (_year_after(group_by, p) for p in found[1]) if k not in known}
        return keys + sorted(extra, key=lambda k: tuple((v is None, str(v)) for v in k))

    def label(self, group_by: Sequence[str], key: Key, procedures: Procedures) -> dict[str, str]:
        names = [self.code_name(d, v, procedures) for d, v in zip(group_by, key, strict=True)]
        return {lang: " · ".join(n[i] for n in names) for i, lang in enumerate(("vi", "en"))}

    def code_name(self, dimension: str, code: Any, procedures: Procedures) -> tuple[str, str]:
        if code is None:
            return ("Chưa ghi", "Not recorded")
        if dimension == "investment_form":
            procedure = procedures.procedure(code)
            return (procedure.title_vi, procedure.title_en) if procedure else (code, code)
        if dimension == "sector":
            sector = procedures.sectors.get(code)
            return (sector.name_vi, sector.name_en) if sector else (code, code)
        if dimension == "stage":
            return STAGES.get(code, (code, code))
        if dimension == "commune_code":
            commune = _communes(self.province).get(code)
            name = code if commune is None else commune.name
            return (name, name)
        return (str(code), str(code))

    def commune_point(self, code: str | None) -> dict[str, float] | None:
        commune = _communes(self.province).get(code)
        return None if commune is None else {"lon": commune.lon, "lat": commune.lat}

    # -- targets ----------------------------------------------------------------------------
    def target_progress(self, session: Session, as_of: dt.date) -> list[dict[str, Any]]:
        plans = self.plans()
        return self._progress(as_of, plans, self.plan_figures(session, as_of, plans))

    def _progress(
        self, as_of: dt.date, plans: list[Plan], figures: dict[str, dict[Key, dict[str, float]]]
    ) -> list[dict[str, Any]]:
        return [
            self._target(plan, target, as_of, figures.get(plan.id, {}))
            for plan in plans
            for target in plan.targets
        ]

    def _shared(self, version: tuple, key: Hashable, compute: Callable[[], Any]) -> Any:
        """What `compute` gives for `key` while `version` (the change counter and the targets
        files) holds, kept per process: summaries of other periods and groupings share it
        (read-only), such as the plans' figures on a day and the late projects of a day."""
        return self._shared_values.get_or_make((version, key), compute)

    def _shared_kept(self, version: tuple, key: Hashable) -> Any:
        """What `_shared` keeps for `key` while `version` holds, or is making in another
        thread (then once made), if it does (None: nothing)."""
        return self._shared_values.get((version, key), wait=True)

    def plan_figures(
        self,
        session: Session,
        as_of: dt.date,
        plans: list[Plan],
        spans: Spans = PROJECTION,
        log: dict[str, int] | None = None,
        version: tuple | None = None,
    ) -> dict[str, dict[Key, dict[str, float]]]:
        """Each plan's figures (`_plan_figures`) by plan id."""
        return {
            plan.id: self._plan_figures(session, plan, as_of, spans, log, version) for plan in plans
        }

    def _plan_figures(
        self,
        session: Session,
        plan: Plan,
        as_of: dt.date,
        spans: Spans,
        log: dict[str, int] | None,
        version: tuple | None,
    ) -> dict[Key, dict[str, float]]:
        """By investment form and sector (on the plan's last counted day): the projects whose
        policy was approved or investor selected within the plan's period so far, those of them
        not revoked, those completed and not revoked, and the registered capital of those not
        revoked. Empty before the plan starts.

        Given the `version` the session sees (see `_shared`), the projection's figures are kept
        per day: see `_plan_day`."""
        day = min(as_of, plan.period_end)
        if day < plan.period_start:
            return {}
        if version is None or spans is not PROJECTION:
            values = {**period_values(plan.period_start, day), **(log or {})}
            return plan_rows(session, plan_statement(spans), values)
        return self._plan_day(session, plan, day, version)

    def _plan_day(
        self, session: Session, plan: Plan, day: dt.date, version: tuple
    ) -> dict[Key, dict[str, float]]:
        """The plan's figures on `day` (within its period), kept for `version`: those of a day
        kept shortly before brought forward (`_day_figures`), else those of the checkpoint day
        before (`plan_figures.checkpoint_day`, kept in turn). A checkpoint day's own come from
        the checkpoint before when that is kept (or the plan had not started), else are counted
        in full: so a day costs the spans dated within ten days or so, not every project
        approved since the plan started."""

        def count() -> dict[Key, dict[str, float]]:
            earlier = checkpoint_day(day - dt.timedelta(days=1))
            if earlier < plan.period_start:
                before = {}
            elif checkpoint_day(day) == day:
                before = self._shared_kept(version, ("plan", plan.id, earlier))
            else:
                before = self._plan_day(session, plan, earlier, version)
            if before is None:
                values = period_values(plan.period_start, day)
                return plan_rows(session, plan_statement(PROJECTION), values)
            return self._plan_changed(session, plan, before, earlier, day)

        def forward(kept: dict[Key, dict[str, float]], earlier: dt.date) -> dict[Key, dict]:
            return self._plan_changed(session, plan, kept, earlier, day)

        return self._day_figures(version, ("plan", plan.id), day, count, forward)

    def _plan_changed(
        self,
        session: Session,
        plan: Plan,
        before: dict[Key, dict[str, float]],
        earlier: dt.date,
        day: dt.date,
    ) -> dict[Key, dict[str, float]]:
        """The plan's figures on `day` from `before`, those on an `earlier` day."""
        values = {**period_values(plan.period_start, day), "earlier": earlier}
        statement = plan_change_statement(self.records.dialect)
        return _added(before, plan_rows(session, statement, values), "approved")

    def _target(
        self, plan: Plan, target: Target, as_of: dt.date, plan_rows: dict[Key, dict[str, float]]
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
            "unit_name": {lang: tr(lang, UNIT_NAMES[target.unit]) for lang in LANGUAGES},
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
    def enquiry_figures(self, session: Session, period: Period) -> dict[str, dict[str, Any]]:
        """For the period and the same days a year earlier ("current", "previous"): enquiries
        received, how many were answered by its end, and the median time from receipt to
        answer (hours) of those. (Both periods in one statement, their medians in another.)"""
        counts, middle = _enquiry_statements(self.records.dialect)
        periods = (period, period.previous())
        bound: dict[str, Any] = {}
        for i, each in enumerate(periods):
            bound[f"low{i}"], bound[f"high{i}"] = day_bounds(each)
        found = session.execute(counts, bound).one()
        received, answered = found[0::2], found[1::2]
        hours: list[list[float]] = [[] for _ in periods]
        if any(answered):
            for i, count in enumerate(answered):  # the middle one or two of those answered
                bound[f"limit{i}"] = 2 - count % 2 if count else 0
                bound[f"offset{i}"] = (count - 1) // 2 if count else 0
            for which, value in session.execute(middle, bound):
                hours[which].append(float(value))
        return {
            name: {
                "received": received[i],
                "answered": answered[i],
                "median_hours_to_answer": sum(hours[i]) / len(hours[i]) if hours[i] else None,
            }
            for i, name in enumerate(("current", "previous"))
        }

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
        procedures = self.procedures  # one look at the definition files, not one per row
        for row in session.execute(statement):
            procedure = procedures.procedure(row.investment_form)
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


@lru_cache(maxsize=64)
def _figure_statements(spans: Spans, group_by: tuple[str, ...]) -> tuple[Select, ...]:
    """The statements giving a period's figures by group (see `periods`), one per part of the
    spans on the period's last day."""
    keys = [spans.c[d].label(f"key_{d}") for d in group_by]
    new = spans.new()
    figures = [
        spans.count().label("projects"),
        spans.count_where(new).label("new_projects"),
        spans.count_where(spans.completed()).label("completed"),
        spans.count_where(spans.revoked()).label("revoked"),
        *[spans.sum_where(new, c).label(c) for c in CAPITALS],
    ]
    return tuple(select(*keys, *figures).where(part).group_by(*keys) for part in spans.on_end())


@lru_cache(maxsize=4)
def _enquiry_statements(dialect: str) -> tuple[Select, CompoundSelect]:
    """For two periods (bound as `low0`, `high0` and `low1`, `high1`): the count of the
    enquiries received from `low` to before `high` and of those answered by then, for each in
    turn; and, by the period's index (0, 1), the `limit` middle hours to answer from `offset`
    (the median's)."""
    created, answered_at = enquiries.c.created_at, enquiries.c.answered_at
    if dialect == "sqlite":
        hours = (func.julianday(answered_at) - func.julianday(created)) * 24.0
    else:
        stamp = TIMESTAMP(timezone=True)
        hours = func.extract("epoch", cast(answered_at, stamp) - cast(created, stamp)) / 3600.0
    hours = hours.label("hours")
    counts, received_in, middles = [], [], []
    for i in range(2):
        high = bindparam(f"high{i}")
        received = and_(created >= bindparam(f"low{i}"), created < high)
        answered = and_(received, answered_at.is_not(None), answered_at < high)
        counts += [count_where(received), count_where(answered)]
        received_in.append(received)
        middle = (
            select(hours)
            .where(answered)
            .order_by(hours)
            .limit(bindparam(f"limit{i}", type_=Integer))
            .offset(bindparam(f"offset{i}", type_=Integer))
            .subquery()
        )
        middles.append(select(literal(i).label("period"), middle.c.hours))
    statement = select(*counts).select_from(enquiries).where(or_(*received_in))
    return statement, union_all(*middles)


@dataclass(frozen=True)
class Counted:
    """A summary and the figures it was laid out from, as of one value of the change counter."""

    changes: int
    current: dict[Key, dict[str, float]]
    previous: dict[Key, dict[str, float]]
    plans: dict[str, dict[Key, dict[str, float]]]
    document: dict[str, Any]


def _added_rows(
    found: dict[Key, dict[str, float]],
    session: Session,
    statements: Sequence[Select],
    values: dict[str, Any],
    width: int,
) -> dict[Key, dict[str, float]]:
    """`found`, with what the statements' rows give each group added (a row's group key: its
    first `width` columns; its other columns: figures named as in `periods.FIGURES`)."""
    for statement in statements:
        names = [c.name for c in statement.selected_columns][width:]
        for row in session.execute(statement, values):
            key = tuple(row[:width])
            figures = found.get(key)
            if figures is None:
                figures = found[key] = zeros()
            for name, value in zip(names, row[width:], strict=True):
                figures[name] += float(value) if name in CAPITALS else int(value)
    return found


def _added(
    kept: dict[Key, dict[str, float]], changed: dict[Key, dict[str, float]], count: str
) -> dict[Key, dict[str, float]]:
    """Figures by group plus what changed in them; a group left with no span (its `count`
    figure 0) goes, as a count afresh would not find it."""
    found = dict(kept)
    for key, values in changed.items():
        before = found.get(key)
        total = values if before is None else {n: before[n] + values[n] for n in values}
        if total[count]:
            found[key] = total
        else:
            found.pop(key, None)
    return found


def _achieved(target: Target, plan_rows: dict[Key, dict[str, float]]) -> float | None:
    """The target's figure from its plan's figures (None: a share with nothing to share)."""
    rows = [
        values for (form, sector), values in plan_rows.items()
        if form in target.forms and (not target.sectors or sector in target.sectors)
    ]  # fmt: skip
    if target.metric == "completed_share":
        approved = sum(r["approved"] for r in rows)
        return None if not approved else 100.0 * sum(r["completed"] for r in rows) / approved
    if target.metric == "new_projects":
        return float(sum(r["new_projects"] for r in rows))
    return round(sum(r["capital"] for r in rows), CAPITAL_DIGITS)


def shown(values: dict[str, float]) -> dict[str, float]:
    """Figures as answered: capital to `CAPITAL_DIGITS` places, so that an answer does not
    depend on the order the database added the amounts in (nor show 7853.699999999999)."""
    return {n: round(v, CAPITAL_DIGITS) if n in CAPITALS else v for n, v in values.items()}


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
