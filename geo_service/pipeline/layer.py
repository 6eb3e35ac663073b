"""Pipeline projects as the `investment_projects` collection, served live from the records
database through the store boundary.

`ProjectLayer` is a read-only `Store` over the projects and their progress rows, so items, CQL2,
queryables, facets, grids, exports, shortlists, site sheets, nearby and the ranking see projects
as any layer, with their stage and days behind schedule as of today (in Vietnam). Its metadata
(bilingual labels, units, the code lists of investment forms, sectors and stages) is built from
the pipeline's own data. It is listed while it holds a project. Writes are refused: projects
change through /projects and the spreadsheet import.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any, NoReturn

from sqlalchemy import ColumnElement, String, case, func, literal, select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement

from ..catalogue import ID_FIELD, FieldSpec, LayerMeta
from ..clock import today_in_vietnam
from ..errors import LayerUnavailable, NotFound, ReadOnlyCollection, no_collection
from ..i18n import _l
from ..i18n.content import further_names
from ..listing import Listing, Skipped
from ..places import UnmatchedPlace, commune_by_code
from ..query import BBox, Query
from ..records.schema import project_progress, projects
from ..store import VectorTile
from ..store.base import BlockingReads, Facet, Feature, FeaturePage, GridCell, Store, VersionSummary
from ..store.changes import FeatureChange, FeatureDiff, FeatureRevision
from ..store.etags import feature_etag
from ..store.routed import RoutedStore
from ..store.sql_query import BoxedWkb, DaysSince, SqlLayer
from ..store.sql_reader import SqlReader
from ..tilematrix import Tile
from .procedures import InvalidProcedures, Procedures
from .projects import SEARCH, ProjectStore
from .spreadsheet import DATA_QUALITY, codes_of, project_fields

log = logging.getLogger(__name__)

LAYER_ID = "investment_projects"
KIND = "investment_project"
SCHEDULE = {
    "late": ("Chậm tiến độ", "Behind schedule"),
    "on_schedule": ("Đúng tiến độ", "On schedule"),
}
"""Whether a step is past its planned completion date; empty when no open step has one."""
LAYER_FIELDS = (
    "name_vi", "name_en", "summary_vi", "summary_en", *further_names("name", "summary"),
    "investment_form", "sector", "stage",
    "schedule", "days_behind", "current_step", "steps_completed", "steps_total", "commune_code",
    "area_ha", "capital_planned_billion_vnd", "capital_registered_billion_vnd",
    "capital_disbursed_billion_vnd", "investor", "responsible_agency", "public_contact",
    "source", "data_quality", "updated_at",
)  # fmt: skip
"""The collection's fields after `code`, in order."""
PROGRESS_FIELDS = ("stage", "current_step", "steps_completed", "steps_total")
"""Fields read from a project's progress row (derived from its events)."""
TEXTS = {
    "title_vi": "Dự án đầu tư (danh mục, tiến độ thủ tục)",
    "title_en": "Investment projects (pipeline and dossier progress)",
    "description_vi": "Các dự án của danh mục dự án đầu tư, đọc trực tiếp từ hệ thống theo dõi "
    "(GET /projects): hình thức đầu tư, lĩnh vực, giai đoạn và số ngày chậm tiến độ tính đến hôm "
    "nay. Mỗi dự án ghi nguồn và chất lượng dữ liệu của mình; «synthetic_demo» là dữ liệu mô "
    "phỏng. Dự án được cập nhật qua /projects, không qua tải lớp dữ liệu.",
    "description_en": "The projects of the investment pipeline, read live from its records "
    "(GET /projects): investment form, sector, stage and days behind schedule as of today. "
    "Each project states its own source and data quality; «synthetic_demo» marks simulated "
    "data. Projects change through /projects, not through layer uploads.",
    "source": "Investment pipeline records (GET /projects); each project states its source",
}
QUALITY_ORDER = tuple(DATA_QUALITY)
"""From the most trusted to the least: a collection is as trustworthy as its weakest record."""


def layer_fields(procedures: Procedures) -> list[FieldSpec]:
    """The collection's schema: the spreadsheet's columns, the id as `code`, the last update as
    a date, and the schedule."""
    specs = {s.name: s for s in project_fields(procedures)}
    specs[ID_FIELD] = specs["id"].model_copy(update={"name": ID_FIELD})
    specs["updated_at"] = specs["updated_at"].model_copy(update={"type": "date"})
    specs["schedule"] = FieldSpec(
        name="schedule",
        type="string",
        label_vi="Tiến độ",
        label_en="Schedule",
        codes=codes_of(SCHEDULE),
        description_vi="Chậm tiến độ khi có bước quá ngày hoàn thành theo kế hoạch",
        description_en="Behind schedule when a step is past its planned completion date",
    )
    specs["days_behind"] = specs["days_behind"].model_copy(
        update={
            "description_vi": "Số ngày bước chậm nhất đã quá ngày hoàn thành theo kế hoạch, "
            "tính đến hôm nay",
            "description_en": "Days the step furthest behind is past its planned completion, "
            "as of today",
        }
    )
    return [specs[name] for name in (ID_FIELD, *LAYER_FIELDS)]


class VietnamDate(FunctionElement):
    """The date in Vietnam (UTC+7, no summer time) of a stored UTC timestamp
    (`YYYY-MM-DDTHH:MM:SSZ`), as `YYYY-MM-DD`: what a reader there calls the day of a change."""

    type = String()
    inherit_cache = True


@compiles(VietnamDate, "sqlite")
def _vietnam_date_sqlite(element: VietnamDate, compiler: Any, **kw: Any) -> str:
    return f"date({compiler.process(element.clauses, **kw)}, '+7 hours')"


@compiles(VietnamDate, "postgresql")
def _vietnam_date_postgresql(element: VietnamDate, compiler: Any, **kw: Any) -> str:
    stamp = compiler.process(element.clauses, **kw)
    return f"to_char(CAST({stamp} AS timestamp) + interval '7 hours', 'YYYY-MM-DD')"


def describe(meta: LayerMeta, today: dt.date) -> SqlLayer:
    """Where each field of the collection is in the records database, as of `today`."""
    p, progress = projects.c, project_progress.c
    earliest = progress.earliest_open_planned
    columns: dict[str, ColumnElement] = {name: p[name] for name in LAYER_FIELDS if name in p}
    columns.update({name: progress[name] for name in PROGRESS_FIELDS})
    columns["updated_at"] = VietnamDate(p.updated_at)
    columns["schedule"] = case(
        (earliest.is_(None), literal(None, String)),
        (earliest < today, literal("late", String)),
        else_=literal("on_schedule", String),
    )
    return SqlLayer(
        meta=meta,
        source=projects.join(project_progress, p.id == progress.project_id),
        id=p.id,
        columns=columns,
        spatial=BoxedWkb(p.location, p.min_lon, p.min_lat, p.max_lon, p.max_lat),
        search=SEARCH,
        derived={"days_behind": DaysSince(earliest, today)},
        tables=(projects, project_progress),
    )


class ProjectLayer(BlockingReads):
    """The read-only `Store` of the `investment_projects` collection."""

    META_SECONDS = 5.0
    """How long one process reuses the collection's metadata (its version, weakest data quality
    and provinces: one pass over the projects) before reading it again."""

    def __init__(self, projects: ProjectStore) -> None:
        self.projects = projects
        self.reader = SqlReader(projects.records.engine)
        self._cached: tuple[dt.date, Procedures, float, LayerMeta] | None = None
        self._lock = threading.Lock()

    # -- the collection as of now -------------------------------------------------------------
    def meta(self) -> LayerMeta:
        """The collection's metadata; `NotFound` while it holds no project."""
        today = today_in_vietnam()
        procedures = self.projects.procedures  # the same object while its files are unchanged
        with self._lock:
            cached = self._cached
        if cached is not None:
            day, read_with, at, meta = cached
            fresh = time.monotonic() - at < self.META_SECONDS
            if day == today and read_with is procedures and fresh:
                return meta
        with self.projects.records.reading() as session:
            by_quality = session.execute(
                select(projects.c.data_quality, func.sum(projects.c.version))
                .group_by(projects.c.data_quality)
            ).all()  # fmt: skip
            if not by_quality:
                raise NotFound(
                    _l(
                        "no collection {layer_id!r} (the pipeline holds no project yet)",
                        layer_id=LAYER_ID,
                    )
                )
            communes = session.scalars(select(projects.c.commune_code).distinct()).all()
        meta = LayerMeta(
            id=LAYER_ID,
            kind=KIND,
            geometry_type="polygon",
            fields=layer_fields(procedures),
            updated=today.isoformat(),  # stages and delays are as of today
            data_quality=max((row[0] for row in by_quality), key=QUALITY_ORDER.index),
            provinces=sorted({p for p in map(_province, communes) if p}),
            # every write raises a project's version: their sum names the data's state
            version=max(1, sum(row[1] for row in by_quality)),
            **TEXTS,
        )
        with self._lock:
            self._cached = (today, procedures, time.monotonic(), meta)
        return meta

    def _layer(self, layer_id: str) -> SqlLayer:
        """The collection as a described table, for reads (an empty one answers empty)."""
        if layer_id != LAYER_ID:
            raise no_collection(layer_id)
        procedures = self.projects.procedures
        schema = LayerMeta(id=LAYER_ID, kind=KIND, geometry_type="polygon", updated="",
                           fields=layer_fields(procedures), **TEXTS)  # fmt: skip
        return describe(schema, today_in_vietnam())

    # -- reads --------------------------------------------------------------------------------
    def layers(self) -> Listing:
        """The collection while it holds a project; named in `skipped` while the procedures
        are invalid or the records database does not answer, so the other layers still list."""
        try:
            with _answering():
                return Listing([self.meta()])
        except NotFound:
            return Listing()
        except (InvalidProcedures, LayerUnavailable) as exc:
            return Listing(skipped=[Skipped(LAYER_ID, exc.description)])

    def layer(self, layer_id: str, version: int | None = None) -> LayerMeta:
        if layer_id != LAYER_ID:
            raise no_collection(layer_id)
        with _answering():
            meta = self.meta()
        if version is not None and version != meta.version:
            raise NotFound(
                _l(
                    "collection {layer_id!r} is read live; it keeps no version {version}",
                    layer_id=layer_id,
                    version=version,
                )
            )
        return meta

    def extent(self, layer_id: str) -> BBox | None:
        with _answering():
            return self.reader.extent(self._layer(layer_id))

    def query(self, layer_id: str, query: Query) -> FeaturePage:
        with _answering():
            return self.reader.query(self._layer(layer_id), query)

    def geojson_page(self, layer_id: str, query: Query) -> None:
        return None  # projects change by the day (stages, delays): nothing is kept written

    def keep_geojson(self, layer_id: str) -> int:
        return 0

    def iter_features(
        self, layer_id: str, query: Query, batch_size: int = 2000
    ) -> Iterator[list[Feature]]:
        with _answering():
            yield from self.reader.iter_features(self._layer(layer_id), query, batch_size)

    def feature(self, layer_id: str, feature_id: str, version: int | None = None) -> Feature:
        """`version` is ignored: projects have one state, the records' newest."""
        with _answering():
            return self.reader.feature(self._layer(layer_id), feature_id)

    def facets(self, layer_id: str, query: Query, fields: tuple[str, ...]) -> dict[str, Facet]:
        with _answering():
            return self.reader.facets(self._layer(layer_id), query, fields)

    def grid(
        self, layer_id: str, query: Query, bbox: BBox, columns: int, rows: int
    ) -> list[GridCell]:
        with _answering():
            return self.reader.grid(self._layer(layer_id), query, bbox, columns, rows)

    def tile(self, layer_id: str, query: Query, tile: Tile, limit: int) -> VectorTile:
        with _answering():
            return self.reader.tile(self._layer(layer_id), query, tile, limit)

    def warm(self) -> None:
        """Nothing to prepare: the database keeps its own indexes."""

    def dispose(self) -> None:
        """Nothing to close here: the records database is its owner's (`Records.dispose`)."""

    # -- writes: refused ----------------------------------------------------------------------
    def publish(self, meta: LayerMeta, frame: Any, *, new: bool | None = None,
                draft: bool = False) -> int:  # fmt: skip
        self._refuse(meta.id)

    def version_numbers(self, layer_id: str) -> list[int]:
        self._refuse(layer_id)

    def current_version(self, layer_id: str) -> int | None:
        self._refuse(layer_id)

    def versions(self, layer_id: str) -> list[VersionSummary]:
        self._refuse(layer_id)

    def activate(self, layer_id: str, version: int) -> None:
        self._refuse(layer_id)

    def archive(self, layer_id: str) -> str:
        self._refuse(layer_id)

    def apply_changes(self, layer_id: str, changes: Sequence[FeatureChange], *,
                      base_version: int, draft: bool = False, actor: str) -> int:  # fmt: skip
        self._refuse(layer_id)

    def feature_etag(self, layer_id: str, feature_id: str) -> str:
        return feature_etag(self.feature(layer_id, feature_id))

    def feature_history(self, layer_id: str, feature_id: str) -> list[FeatureRevision]:
        self._refuse(layer_id)  # a project's history is its dossier events (/projects/{id})

    def diff(self, layer_id: str, from_version: int, to_version: int) -> Iterator[FeatureDiff]:
        self._refuse(layer_id)

    @staticmethod
    def _refuse(layer_id: str) -> NoReturn:
        raise ReadOnlyCollection(
            _l(
                "collection {layer_id!r} is read from the investment pipeline: projects change through /projects (POST, PATCH, events) or `geo-service projects import`, not through layer uploads",
                layer_id=layer_id,
            )
        )


def with_projects(layers: Store, projects: ProjectStore) -> RoutedStore:
    """The catalogue's store: `layers` for every collection but the pipeline's projects."""
    return RoutedStore(layers, {LAYER_ID: ProjectLayer(projects)})


@contextlib.contextmanager
def _answering() -> Iterator[None]:
    """A records database that does not answer (down, unreachable, damaged) makes the
    collection unavailable (503), as a damaged layer file does, never a server error."""
    try:
        yield
    except SQLAlchemyError as exc:
        log.warning("the %s collection cannot be read: %s", LAYER_ID, type(exc).__name__)
        raise LayerUnavailable(
            _l(
                "collection {layer_id!r} cannot be read now: the records database does not answer ({name})",
                layer_id=LAYER_ID,
                name=type(exc).__name__,
            )
        ) from None


def _province(commune_code: str | None) -> str | None:
    try:
        return None if commune_code is None else commune_by_code(commune_code).province_code
    except UnmatchedPlace:
        return None
