"""Pipeline projects in the records database: create, change (with a version), append dossier
events, search with SQL filters and paging.

Each project has one `project_progress` row: the result of `progress.derive` over its events,
rewritten in the same transaction as every event appended (or a change of investment form) and
never edited otherwise, so `stage=` and `behind=true` are plain indexed SQL over 100,000
projects. `rebuild_progress` recomputes every row from the events.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import shapely
from sqlalchemy import Row, and_, bindparam, func, insert, select, true, update
from sqlalchemy.orm import Session

from ..clock import utc_now
from ..errors import Conflict, NotFound, ServiceError
from ..i18n import _l
from ..i18n.content import further_names
from ..records import Records
from ..records.schema import (
    change_counters,
    dossier_events,
    project_progress,
    project_sites,
    projects,
)
from ..store.sql_query import FoldedText
from ..store.sqlite_sql import search_terms
from ..text import fold
from . import history
from .documents import EDITABLE, CheckedProject, EventDocument
from .procedures import Procedures, load_procedures, stamped_procedures
from .progress import DossierEvent, Progress, derive

SEARCHED = ("id", "name_vi", "name_en", *further_names("name"), "investor")
"""The columns free-text search (`q`) looks in, diacritics ignored."""
SEARCH = FoldedText(projects.c.search_text)


class PreconditionRequired(ServiceError):
    status = 428
    code = "PreconditionRequired"


class PreconditionFailed(ServiceError):
    status = 412
    code = "PreconditionFailed"


@dataclass(frozen=True)
class ProjectFilters:
    investment_form: str | None = None
    stage: str | None = None
    sector: str | None = None
    commune_code: str | None = None
    behind: bool = False
    q: str | None = None


@dataclass(frozen=True)
class ProjectRecord:
    """A stored project: its columns, linked sites and progress row."""

    values: dict[str, Any]
    sites: list[tuple[str, str]] = field(default_factory=list)

    @property
    def id(self) -> str:
        return self.values["id"]

    @property
    def version(self) -> int:
        return self.values["version"]

    @property
    def etag(self) -> str:
        return f'"v{self.version}"'

    def document(self) -> dict[str, Any]:
        """The editable fields as a client writes them (the target of a merge patch)."""
        location = self.values["location"]
        document = {name: self.values.get(name) for name in EDITABLE if name != "location"}
        document["location"] = (
            None if location is None else shapely.geometry.mapping(shapely.from_wkb(location))
        )
        document["sites"] = [{"collection": c, "id": i} for c, i in self.sites]
        return {"id": self.id, **{k: v for k, v in document.items() if v is not None}}


def _row(checked: CheckedProject) -> dict[str, Any]:
    document = checked.document
    values = {
        name: getattr(document, name) for name in EDITABLE if name not in ("location", "sites")
    }
    values.update({name: values[name] or None for name in further_names("name", "summary")})
    values["commune_code"] = checked.commune_code
    geometry = checked.geometry
    values["location"] = None if geometry is None else shapely.to_wkb(geometry)
    bounds = (None,) * 4 if geometry is None else geometry.bounds
    values.update(zip(("min_lon", "min_lat", "max_lon", "max_lat"), bounds, strict=True))
    values["search_text"] = fold(" ".join(str(getattr(document, c) or "") for c in SEARCHED))
    return {"id": document.id, **values}


def _progress_values(progress: Progress) -> dict[str, Any]:
    return {
        "stage": progress.stage,
        "current_step": progress.current_step,
        "steps_completed": progress.steps_completed,
        "steps_total": len(progress.steps),
        "earliest_open_planned": progress.earliest_open_planned,
        "events": progress.events,
    }


def _site_rows(checked: CheckedProject) -> list[dict[str, Any]]:
    """The project's linked sites as rows, in order, each once."""
    unique = dict.fromkeys((s.collection, s.id) for s in checked.document.sites)
    return [
        {"project_id": checked.document.id, "collection": c, "feature_id": i, "position": n}
        for n, (c, i) in enumerate(unique)
    ]


@dataclass(frozen=True)
class KeptAnswer:
    """An encoded JSON answer about the pipeline and its headers, kept in memory."""

    body: bytes
    headers: tuple[tuple[str, str], ...]


PIPELINE_CHANGES = "pipeline"
"""The `change_counters` row of the pipeline's tables."""


CHANGES = select(change_counters.c.value).where(change_counters.c.name == PIPELINE_CHANGES)


class ProjectStore:
    def __init__(self, records: Records, procedures_dir: Path) -> None:
        self.records = records
        self.procedures_dir = procedures_dir

    @property
    def procedures(self) -> Procedures:
        return load_procedures(self.procedures_dir)

    def stamped_procedures(self) -> tuple[tuple, Procedures]:
        """The procedures and the stamp of their files taken before they were read: an answer
        made from them may be kept under it."""
        return stamped_procedures(self.procedures_dir)

    # -- reading ---------------------------------------------------------------------------
    def changes(self) -> int:
        """The pipeline's change counter now: the database bumps it in the same transaction as
        every write to the pipeline's tables, by any process (migration 0007), so an answer kept
        under one value is current while the counter still reads it."""
        with self.records.engine.connect() as connection:  # a third of a session's cost
            return connection.scalar(CHANGES)

    def get(self, project_id: str) -> ProjectRecord:
        with self.records.reading() as session:
            found = self._records(session, projects.c.id == project_id)
        if not found:
            raise NotFound(_l("no project {project_id!r}", project_id=project_id))
        return found[0]

    def exists(self, project_id: str) -> bool:
        with self.records.reading() as session:
            return (
                session.scalar(select(projects.c.id).where(projects.c.id == project_id)) is not None
            )

    def events(self, project_id: str, include_internal: bool = False) -> list[DossierEvent]:
        """The project's events, oldest first; internal ones only if asked."""
        self.get(project_id)
        with self.records.reading() as session:
            return self._events(session, project_id, include_internal)

    def progress(self, project_id: str, today: dt.date) -> tuple[ProjectRecord, Progress]:
        """The project and its progress derived afresh from every event."""
        with self.records.reading() as session:
            found = self._records(session, projects.c.id == project_id)
            if not found:
                raise NotFound(_l("no project {project_id!r}", project_id=project_id))
            events = self._events(session, project_id, True)
        record = found[0]
        procedure = self.procedures.procedure(record.values["investment_form"])
        return record, derive(procedure, events, today)

    def search(
        self, filters: ProjectFilters, limit: int, offset: int, today: dt.date
    ) -> tuple[list[ProjectRecord], int]:
        """One page of matching projects (ordered by id) and how many match in all."""
        condition = self._where(filters, today)
        with self.records.reading() as session:
            matched = session.scalar(self._count(filters, condition))
            page = self._records(session, condition, limit, offset) if limit else []
        return page, matched

    @staticmethod
    def _count(filters: ProjectFilters, condition):
        """Count over the one table the filters need when they need one (each project has
        exactly one progress row), so `behind=true` counts within an index."""
        on_projects = any(
            getattr(filters, n) for n in ("investment_form", "sector", "commune_code", "q")
        )
        on_progress = filters.stage is not None or filters.behind
        if on_projects and on_progress:
            source = projects.join(project_progress)
        else:
            source = project_progress if on_progress else projects
        return select(func.count()).select_from(source).where(condition)

    def batches(
        self, filters: ProjectFilters, today: dt.date, size: int = 2000
    ) -> Iterator[list[ProjectRecord]]:
        """Every matching project, in batches by id (keyset paging, no long transaction)."""
        condition = self._where(filters, today)
        last = ""
        while True:
            with self.records.reading() as session:
                batch = self._records(session, and_(condition, projects.c.id > last), size)
            if not batch:
                return
            yield batch
            last = batch[-1].id

    def forms_fixed_by_steps(self, ids: list[str]) -> dict[str, str | None]:
        """The investment form of each of these projects that has procedure steps recorded
        (its form can no longer change)."""
        fixed: dict[str, str | None] = {}
        with self.records.reading() as session:
            for start in range(0, len(ids), 500):
                stepped = select(dossier_events.c.project_id).where(
                    dossier_events.c.step.is_not(None),
                    dossier_events.c.project_id.in_(ids[start : start + 500]),
                )
                rows = session.execute(
                    select(projects.c.id, projects.c.investment_form).where(
                        projects.c.id.in_(stepped)
                    )
                )
                fixed.update({row.id: row.investment_form for row in rows})
        return fixed

    def count(self) -> int:
        with self.records.reading() as session:
            return session.scalar(select(func.count()).select_from(projects))

    def _where(self, filters: ProjectFilters, today: dt.date):
        terms = []
        for name in ("investment_form", "sector", "commune_code"):
            value = getattr(filters, name)
            if value is not None:
                terms.append(projects.c[name] == value)
        if filters.stage is not None:
            terms.append(project_progress.c.stage == filters.stage)
        if filters.behind:
            terms.append(project_progress.c.earliest_open_planned < today)
        if filters.q:  # every word, as the catalogue's `q`
            terms.append(SEARCH.matches(search_terms(filters.q)))
        return and_(true(), *terms)

    def _records(
        self, session: Session, condition, limit: int | None = None, offset: int = 0
    ) -> list[ProjectRecord]:
        statement = (
            select(projects, *[c for c in project_progress.c if c.name != "project_id"])
            .join(project_progress)
            .where(condition)
            .order_by(projects.c.id)
            .offset(offset)
        )
        if limit is not None:
            statement = statement.limit(limit)
        rows = session.execute(statement).mappings().all()
        if not rows:
            return []
        sites: dict[str, list[tuple[str, str]]] = {}
        linked = session.execute(
            select(project_sites)
            .where(project_sites.c.project_id.in_([r["id"] for r in rows]))
            .order_by(project_sites.c.project_id, project_sites.c.position)
        )
        for link in linked:
            sites.setdefault(link.project_id, []).append((link.collection, link.feature_id))
        return [ProjectRecord(dict(r), sites.get(r["id"], [])) for r in rows]

    def _events(self, session: Session, project_id: str, include_internal: bool) -> list:
        statement = (
            select(dossier_events)
            .where(dossier_events.c.project_id == project_id)
            .order_by(dossier_events.c.seq)
        )
        if not include_internal:
            statement = statement.where(dossier_events.c.public.is_(True))
        return [DossierEvent.from_row(row) for row in session.execute(statement)]

    # -- writing ---------------------------------------------------------------------------
    def create(self, checked: CheckedProject, today: dt.date) -> ProjectRecord:
        with self.records.writing() as session:
            if self.records.lock_row(session, projects, checked.document.id) is not None:
                raise Conflict(
                    _l("project {id!r} exists; change it with PATCH", id=checked.document.id)
                )
            self._insert(session, [checked], today)
        return self.get(checked.document.id)

    def update(
        self,
        project_id: str,
        checked: CheckedProject,
        if_match: str | None,
        today: dt.date,
        actor: str = "",
    ) -> ProjectRecord:
        """Replace the editable fields, if `if_match` names the stored version (else 412); a
        change of investment form is recorded as a `form_changed` event by `actor`."""
        with self.records.writing() as session:
            current = self.records.lock_row(session, projects, project_id)
            if current is None:
                raise NotFound(_l("no project {project_id!r}", project_id=project_id))
            check_version(current.version, if_match)
            self._replace(session, {project_id: current}, [checked], today, actor)
        return self.get(project_id)

    def append_event(
        self, project_id: str, document: EventDocument, actor: str, today: dt.date
    ) -> tuple[DossierEvent, Progress]:
        """Append the event if the procedure allows it; rewrite the progress row with it."""
        with self.records.writing() as session:
            current = self.records.lock_row(session, projects, project_id)
            if current is None:
                raise NotFound(_l("no project {project_id!r}", project_id=project_id))
            events = self._events(session, project_id, True)
            new = document.event(actor)
            procedure = self.procedures.procedure(current.investment_form)
            progress = derive(procedure, [*events, new], today)
            stored = dataclasses.replace(new, seq=len(events) + 1, recorded_at=utc_now())
            session.execute(
                insert(dossier_events).values(project_id=project_id, **dataclasses.asdict(stored))
            )
            self._write_progress(session, project_id, progress)
            history.write(
                session,
                {
                    project_id: history.replay(
                        self.procedures,
                        current.investment_form,
                        history.recorded_day(current.created_at),
                        [*events, stored],
                    )
                },
            )
            session.execute(
                update(projects)
                .where(projects.c.id == project_id)
                .values(version=projects.c.version + 1, updated_at=stored.recorded_at)
            )
        return stored, progress

    def import_projects(
        self, checked: Sequence[CheckedProject], today: dt.date, actor: str = "import"
    ) -> tuple[int, int]:
        """Create new projects and replace existing ones, all or nothing: (created, updated)."""
        with self.records.writing() as session:
            ids = [c.document.id for c in checked]
            existing = {
                row.id: row
                for start in range(0, len(ids), 500)
                for row in session.execute(
                    select(projects).where(projects.c.id.in_(ids[start : start + 500]))
                )
            }
            fresh = [c for c in checked if c.document.id not in existing]
            self._insert(session, fresh, today)
            self._replace(
                session, existing, [c for c in checked if c.document.id in existing], today, actor
            )
        return len(fresh), len(checked) - len(fresh)

    def rebuild_progress(self, today: dt.date) -> int:
        """Recompute every project's progress row from its events; returns how many."""
        ids = []
        with self.records.reading() as session:
            ids = list(session.scalars(select(projects.c.id).order_by(projects.c.id)))
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            with self.records.writing() as session:
                forms = dict(
                    session.execute(
                        select(projects.c.id, projects.c.investment_form).where(
                            projects.c.id.in_(chunk)
                        )
                    ).all()
                )
                grouped: dict[str, list[DossierEvent]] = {i: [] for i in chunk}
                for row in session.execute(
                    select(dossier_events)
                    .where(dossier_events.c.project_id.in_(chunk))
                    .order_by(dossier_events.c.project_id, dossier_events.c.seq)
                ):
                    grouped[row.project_id].append(DossierEvent.from_row(row))
                for project_id in chunk:
                    procedure = self.procedures.procedure(forms[project_id])
                    progress = derive(procedure, grouped[project_id], today)
                    self._write_progress(session, project_id, progress)
        with self.records.writing() as session:
            history.rebuild(session, self.procedures)
        return len(ids)

    def _insert(self, session: Session, checked: Sequence[CheckedProject], today: dt.date) -> None:
        if not checked:
            return
        now = utc_now()
        rows = [{**_row(c), "created_at": now, "updated_at": now, "version": 1} for c in checked]
        session.execute(insert(projects), rows)
        links = [row for c in checked for row in _site_rows(c)]
        if links:
            session.execute(insert(project_sites), links)
        procedures = self.procedures
        session.execute(
            insert(project_progress),
            [
                {
                    "project_id": c.document.id,
                    **_progress_values(
                        derive(procedures.procedure(c.document.investment_form), [], today)
                    ),
                }
                for c in checked
            ],
        )
        created_on = history.recorded_day(now)
        history.write(
            session,
            {
                c.document.id: history.replay(
                    procedures, c.document.investment_form, created_on, []
                )
                for c in checked
            },
        )

    def _replace(
        self,
        session: Session,
        current: dict[str, Row],
        checked: Sequence[CheckedProject],
        today: dt.date,
        actor: str,
    ) -> None:
        """Replace stored projects (`current`, by id) with `checked`, in a few statements; each
        change of investment form is appended to the project's events (`form_changed`)."""
        if not checked:
            return
        ids = [c.document.id for c in checked]
        moved = [
            c.document.id
            for c in checked
            if c.document.investment_form != current[c.document.id].investment_form
        ]
        events: dict[str, list[DossierEvent]] = {i: [] for i in moved}
        for start in range(0, len(moved), 500):
            rows = session.execute(
                select(dossier_events)
                .where(dossier_events.c.project_id.in_(moved[start : start + 500]))
                .order_by(dossier_events.c.project_id, dossier_events.c.seq)
            )
            for row in rows:
                events[row.project_id].append(DossierEvent.from_row(row))
        if any(e.step for stored in events.values() for e in stored):
            raise Conflict(
                _l("the investment form cannot change once steps of its procedure are recorded")
            )
        now = utc_now()
        rows = [
            {**_row(c), "version": current[c.document.id].version + 1, "updated_at": now}
            for c in checked
        ]
        session.execute(
            update(projects).where(projects.c.id == bindparam("project")),
            [{"project": r.pop("id"), **r} for r in rows],
        )
        history.copy_project_values(session, ids)
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            session.execute(project_sites.delete().where(project_sites.c.project_id.in_(chunk)))
        links = [row for c in checked for row in _site_rows(c)]
        if links:
            session.execute(insert(project_sites), links)
        procedures = self.procedures
        forms = {c.document.id: c.document.investment_form for c in checked}
        changes = []
        for project_id in moved:
            change = DossierEvent(
                kind="form_changed",
                date=today,
                actor=actor,
                recorded_at=now,
                seq=len(events[project_id]) + 1,
                form_before=current[project_id].investment_form,
                form_after=forms[project_id],
            )
            replayed = [*events[project_id], change]
            progress = derive(procedures.procedure(forms[project_id]), replayed, today)
            self._write_progress(session, project_id, progress)
            changes.append({"project_id": project_id, **dataclasses.asdict(change)})
            history_of = history.replay(
                procedures,
                forms[project_id],
                history.recorded_day(current[project_id].created_at),
                replayed,
            )
            history.write(session, {project_id: history_of})
        if changes:
            session.execute(insert(dossier_events), changes)

    @staticmethod
    def _write_progress(session: Session, project_id: str, progress: Progress) -> None:
        session.execute(
            update(project_progress)
            .where(project_progress.c.project_id == project_id)
            .values(**_progress_values(progress))
        )


def check_version(version: int, if_match: str | None) -> None:
    """`If-Match` must name the stored version: 428 without it, 412 when it is stale."""
    if if_match is None or not if_match.strip():
        raise PreconditionRequired(
            _l(
                'send If-Match with the ETag of your last GET (e.g. If-Match: "v3"), so a change never overwrites one you have not seen'
            )
        )
    tags = [t.strip() for t in if_match.split(",")]
    if "*" not in tags and f'"v{version}"' not in tags:
        raise PreconditionFailed(
            _l(
                'the project has changed since (it is now "v{version}"): read it again, then apply your change',
                version=version,
            )
        )
