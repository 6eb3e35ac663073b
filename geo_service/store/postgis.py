"""The PostGIS store: layers as tables in a PostgreSQL database that any number of API processes
share, chosen when `GEO_SERVICE_DATABASE_URL` names PostgreSQL (see `open_store`).

    layer_catalogue     a layer id, the version it serves, whether (and as what) it is archived
    layer_versions      every version: its metadata, kind (upload, changes), who, when, count,
                        extent, and the generation (table) holding its rows
    layer_generations   a table of rows in `layer_data` (`postgis_tables.py`), written whole by an
                        upload and stamped by the change sets on top of it

Every change is one transaction under a per-layer advisory lock, so readers see the whole
version before or the whole version after, in every process at once: publishing writes a new
table and its version row, rollback and draft publishing move `current_version`, archiving
renames the catalogue row (the tables stay). Version numbers are never reused, archived
layers' included.

A request asks the catalogue which version is served (one indexed lookup), then reads that
version through the SQL query compiler (`sql_query.py`, `sql_reader.py`). A version never
changes once written, so what is derived from it is kept per process: its metadata, counts of
the queries asked, the box centres unfiltered grids are counted from. Reads may go to a replica
(`GEO_SERVICE_DATABASE_READ_URL`); writes and the reads that decide them go to the primary.
"""

from __future__ import annotations

import contextlib
import dataclasses
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar

import geopandas as gpd
import numpy as np
from psycopg import Cursor
from psycopg import errors as psycopg_errors
from psycopg.pq import Format
from sqlalchemy import (
    Connection,
    Engine,
    LargeBinary,
    Select,
    Table,
    and_,
    bindparam,
    event,
    func,
    insert,
    literal,
    select,
    true,
    update,
)
from sqlalchemy.dialects.postgresql import psycopg
from sqlalchemy.exc import DataError, DBAPIError, OperationalError, ProgrammingError

from .. import strict_json
from ..catalogue import LAYER_ID_PATTERN, LayerMeta
from ..clock import utc_now
from ..errors import (
    Conflict,
    InvalidParameter,
    LayerUnavailable,
    NotFound,
    check_existence,
    drafts_pending,
    no_collection,
    no_feature,
    no_version,
    not_found,
    not_newest,
)
from ..i18n import N_, _l
from ..listing import Listing, Skipped, unreadable
from ..memory_cache import latest_kept
from ..query import BBox, Query
from ..records.database import postgresql_engine
from ..records.schema import layer_catalogue, layer_generations, layer_versions
from ..tilematrix import Tile
from .awaited import AwaitedLookups
from .base import Facet, Feature, FeaturePage, GridCell, VectorTile, VersionSummary
from .centres import Centres
from .changes import (
    GEOMETRY,
    FeatureChange,
    FeatureDiff,
    FeatureRevision,
    changed_fields,
    geometry_moved_m,
)
from .etags import feature_etag
from .postgis_changes import Row, apply, changed_rows, differing_rows, feature_rows
from .postgis_tables import (
    FID,
    LAYER_SCHEMA,
    check_fields,
    copy_rows,
    create_indexes,
    described,
    frames_have_z,
    layer_table,
    table_name,
)
from .request_reads import forget, once, recalled
from .sql_query import QueryCompiler, SqlLayer, postgres_text
from .sql_reader import PageStatement, SqlReader, features_of
from .sqlite_sql import search_terms

T = TypeVar("T")
LOCK_CLASS = 0x6C61  # "la": advisory locks on layer ids
INDEX_MEMORY = "256MB"
"""`maintenance_work_mem` while a published version's indexes are built (GiST and trigrams
build several times faster than with PostgreSQL's default 64 MB)."""

_catalogue, _versions, _generations = (
    layer_catalogue.c,
    layer_versions.c,
    layer_generations.c,
)
_LISTED = _catalogue.archived_as.is_(None)
"""A catalogue row of a layer in the catalogue (not archived)."""
_VERSIONS_WITH_TABLES = layer_catalogue.join(
    layer_versions, _versions.layer_uid == _catalogue.uid
).join(layer_generations, _generations.uid == _versions.generation)
"""Each version of each layer beside the table holding its rows."""
_SERVED_VERSIONS = layer_catalogue.join(
    layer_versions,
    and_(_versions.layer_uid == _catalogue.uid, _versions.version == _catalogue.current_version),
).join(layer_generations, _generations.uid == _versions.generation)
"""Each layer's served version beside the table holding its rows."""
_SERVED_STATEMENT = (
    select(
        _catalogue.uid,
        _catalogue.current_version,
        _generations.table_name,
        _generations.first_version,
        _generations.head_version,
    )
    .select_from(_SERVED_VERSIONS)
    .where(_catalogue.id == bindparam("layer_id"), _LISTED)
)
"""Where a layer's served version is (`_Served`)."""
_SERVED = str(_SERVED_STATEMENT.compile(dialect=psycopg.dialect()))
"""The same as the driver's SQL: the one catalogue read of a request, compiled once rather
than on each."""


class _VersionReader(SqlReader):
    """Reads of one version, which never changes: counts of the queries asked are kept (and
    asked beside the page where not known yet), and so are the statements of the pages and
    tiles asked. A page of another box, limit or offset, or another tile, is the same statement
    with other parameters: built once (building a page's costs more than reading its rows)."""

    COUNTS = 256
    TILE_STATEMENTS = 64
    PAGE_STATEMENTS = 64

    def __init__(
        self, engine: Engine, lookups: Engine, streaming: SqlReader, features: int
    ) -> None:
        super().__init__(engine, lookups)
        self.streaming = streaming
        self.features = features
        self._counts = latest_kept(self.COUNTS)
        self._tile_statements = latest_kept(self.TILE_STATEMENTS)
        self._page_statements = latest_kept(self.PAGE_STATEMENTS)
        self._served_feature: Select | None = None
        self._served_feature_sql: tuple[str, dict[str, Any]] | None = None
        self._compiler: QueryCompiler | None = None

    def compiler(self, layer: SqlLayer) -> QueryCompiler:
        """The version's one compiler (its layer never changes), with its fields built once."""
        if self._compiler is None or self._compiler.layer is not layer:
            self._compiler = super().compiler(layer)
        return self._compiler

    def iter_features(
        self, layer: SqlLayer, query: Query, batch_size: int = 2000
    ) -> Iterator[list[Feature]]:
        return self.streaming.iter_features(layer, query, batch_size)

    counts_beside_page = True

    def known_count(self, query: Query) -> int | None:
        if query.bbox is None and query.filter is None and not search_terms(query.text):
            return self.features
        return self._counts.get((query.bbox, query.filter, query.text))

    def counted(self, query: Query, matched: int) -> None:
        self._counts.put((query.bbox, query.filter, query.text), matched)

    def page_statement(self, layer: SqlLayer, query: Query, beside: bool) -> PageStatement:
        bound = self.compiler(layer).box_bound(query)
        shape = (
            bound,  # a box bound by name: one statement for every such box, none for no box
            None if bound else query.bbox,
            query.filter,
            query.text,
            query.properties,
            query.sortby,
            query.limit is None,
            query.offset > 0,
            beside,
        )
        return self._page_statements.get_or_make(
            shape, lambda: super(_VersionReader, self).page_statement(layer, query, beside)
        )

    def tile_statement(self, layer: SqlLayer, query: Query, limit: int) -> Select:
        return self._tile_statements.get_or_make(
            (query.properties, query.filter, query.text, limit),
            lambda: super(_VersionReader, self).tile_statement(layer, query, limit),
        )

    def served_feature(
        self, layer: SqlLayer, feature_id: str
    ) -> tuple[_Served | None, Feature | None]:
        """In one statement, where the catalogue says the layer's served version is (None if
        the layer is not listed) and the feature of this version (None if it has none)."""
        statement, parameters = self._served_feature_statement(layer, feature_id)
        with self.lookups.connect() as connection:
            row = connection.execute(statement, parameters).first()
        return self.served_and_found(layer, row)

    def served_feature_sql(self, layer: SqlLayer, feature_id: str) -> tuple[str, dict[str, Any]]:
        """`served_feature`'s statement as the driver's SQL and its parameters (compiled once)."""
        statement, parameters = self._served_feature_statement(layer, feature_id)
        if self._served_feature_sql is None:
            compiled = statement.compile(dialect=self.lookups.dialect)
            self._served_feature_sql = str(compiled), compiled.params
        sql, constants = self._served_feature_sql
        return sql, {**constants, **parameters}

    def served_and_found(
        self, layer: SqlLayer, row: Sequence[Any] | None
    ) -> tuple[_Served | None, Feature | None]:
        """`served_feature`'s answer from its row."""
        if row is None:
            return None, None
        fields = self.compiler(layer).selected(None)
        found = None if row[5] is None else features_of([tuple(row[5:])], fields)[0]
        return _Served(*row[:5]), found

    def _served_feature_statement(
        self, layer: SqlLayer, feature_id: str
    ) -> tuple[Select, dict[str, str]]:
        postgres_text(feature_id)  # a 400 for what text cannot hold
        if self._served_feature is None:
            compiler = self.compiler(layer)
            served = _SERVED_STATEMENT.subquery("served")
            fields = compiler.selected(None)
            feature = compiler.feature(bindparam("feature_id"), fields).lateral("f")
            self._served_feature = select(served, feature).select_from(
                served.outerjoin(feature, true())
            )
        return self._served_feature, {"layer_id": layer.meta.id, "feature_id": feature_id}


CENTRES_PART = 1_000_000
"""Feature ids read per statement of `_read_centres`."""


def _read_centres(connection: Connection, layer: _Version) -> Centres:
    """The box centres of a version's features (those with a geometry), a range of feature ids
    at a time, each range's ids and coordinates packed by PostgreSQL into three byte strings
    (`int8send`, `float8send`: big-endian) that numpy reads as they are. Read as rows, 10
    million features cost a Python object each: about 50 s of CPU and gigabytes per worker, and
    one numpy call long enough for uvicorn to take the worker for dead and restart it."""
    fid = layer.table.c[FID]
    minx, miny, maxx, maxy = layer.sql.spatial.box()
    x, y = (minx + maxx) / 2, (miny + maxy) / 2
    source = layer.sql.source
    low, high = connection.execute(select(func.min(fid), func.max(fid)).select_from(source)).one()
    ids, xs, ys = [], [], []
    for start in range(low or 0, (high or -1) + 1, CENTRES_PART):
        packed = connection.execute(
            select(
                *(
                    func.string_agg(bytes_of, literal(b"", LargeBinary), type_=LargeBinary)
                    for bytes_of in (func.int8send(fid), func.float8send(x), func.float8send(y))
                )
            )
            .select_from(source)
            .where(fid.between(start, start + CENTRES_PART - 1), minx.is_not(None))
        ).one()
        if packed[0] is not None:
            ids.append(np.frombuffer(packed[0], dtype=">i8"))
            xs.append(np.frombuffer(packed[1], dtype=">f8"))
            ys.append(np.frombuffer(packed[2], dtype=">f8"))
    if not ids:
        return Centres(np.empty(0), np.empty(0), np.empty(0, dtype=np.int64))
    return Centres(
        np.concatenate(xs).astype(np.float64),
        np.concatenate(ys).astype(np.float64),
        np.concatenate(ids).astype(np.int64),
    )


@dataclass
class _Version:
    """One stored version as this process reads it."""

    served: _Served
    meta: LayerMeta
    table: Table
    sql: SqlLayer
    features: int
    extent: BBox | None
    reader: _VersionReader
    centres: Centres | None = None
    centres_lock: threading.Lock = field(default_factory=threading.Lock)


@dataclass(frozen=True)
class _Served:
    """Where the catalogue says a layer's served version is."""

    uid: int
    version: int
    table_name: str
    first: int
    head: int


class PostGISStore:
    """The `Store` over a PostgreSQL + PostGIS database (migrated: `records.upgrade`)."""

    CACHED_VERSIONS = 64
    WARM_CENTRES_FROM = 50_000
    """Layers larger than this have their grid centres read at start-up."""

    def __init__(self, url: str, read_url: str | None = None) -> None:
        self.engine = postgresql_engine(url)
        """Writes, and what GIS staff read of versions: the primary, in transactions."""
        reads = read_url or url
        self.read_engine = _requests_engine(reads)
        """Requests' reads: each statement on its own (a version never changes, so they need
        no snapshot in common), without BEGIN, COMMIT or a ping around each. A connection a
        restarted server dropped fails one request (503) and is replaced."""
        self.lookup_engine = _requests_engine(reads, prepared=True)
        """Lookups by a unique key (a feature by its id, a layer's served version), as the read
        engine but prepared: PostgreSQL planned a feature's statement, on a table of many
        indexes, in 0.4 of the 0.5 ms of CPU it spent on it."""
        self.awaited = AwaitedLookups(reads, _FOR_REQUESTS)
        """The lookup engine's feature by id, awaited on the event loop (`awaited_feature`)."""
        self.stream_engine = postgresql_engine(reads) if read_url else self.engine
        """Exports: a server-side cursor lives in a transaction."""
        self._cache: OrderedDict[tuple[int, int, int], _Version] = OrderedDict()
        self._cache_lock = threading.Lock()
        self._latest: dict[str, _Version] = {}
        """Each layer's version this process served last, which a feature is read from
        beside the catalogue (`feature`, `awaited_feature`)."""

    def dispose(self) -> None:
        for engine in {self.engine, self.read_engine, self.lookup_engine, self.stream_engine}:
            engine.dispose()

    # -- the served version -------------------------------------------------------------------
    def _served(self, layer_id: str) -> _Served:
        """Where the layer's served version is: read once a request (`request_reads`)."""
        if not LAYER_ID_PATTERN.fullmatch(layer_id):
            raise no_collection(layer_id)
        return once((id(self), layer_id), lambda: self._read_served(layer_id))

    def _read_served(self, layer_id: str) -> _Served:
        parameters = {"layer_id": layer_id}
        row = self._read(
            layer_id,
            lambda connection: connection.exec_driver_sql(_SERVED, parameters).first(),
            kept_planned=True,
        )
        if row is None:
            raise no_collection(layer_id)
        return _Served(*row)

    def _version(self, layer_id: str, version: int | None = None) -> _Version:
        """The served version of a layer, or one of its stored versions; `NotFound` if there
        is none such, `LayerUnavailable` if its metadata cannot be read."""
        served = self._served(layer_id) if version is None else self._stored(layer_id, version)
        key = (served.uid, served.version, served.head)
        with self._cache_lock:
            found = self._cache.get(key)
            if found is not None:
                self._cache.move_to_end(key)
        if found is None:
            fresh = self._read_version(layer_id, served)
            with self._cache_lock:
                found = self._cache.setdefault(key, fresh)
                while len(self._cache) > self.CACHED_VERSIONS:
                    self._cache.popitem(last=False)
        if version is None:
            self._latest[layer_id] = found
        return found

    def _stored(self, layer_id: str, version: int) -> _Served:
        if not LAYER_ID_PATTERN.fullmatch(layer_id):
            raise not_found("layer", layer_id)
        statement = (
            select(
                _catalogue.uid,
                _versions.version,
                _generations.table_name,
                _generations.first_version,
                _generations.head_version,
            )
            .select_from(_VERSIONS_WITH_TABLES)
            .where(_catalogue.id == layer_id, _LISTED, _versions.version == version)
        )
        row = self._read(layer_id, lambda connection: connection.execute(statement).first())
        if row is None:
            raise NotFound(
                no_version("layer", layer_id, version, self.version_numbers(layer_id)).description
            )
        return _Served(*row)

    def _read_version(self, layer_id: str, served: _Served) -> _Version:
        statement = select(
            _versions.metadata,
            _versions.features,
            _versions.max_fid,
            _versions.min_x,
            _versions.min_y,
            _versions.max_x,
            _versions.max_y,
        ).where(_versions.layer_uid == served.uid, _versions.version == served.version)
        found = self._read(layer_id, lambda connection: connection.execute(statement).one())
        raw, features, max_fid, *box = found
        meta = _parse_meta(layer_id, raw)
        table = layer_table(meta, served.table_name)
        dense = max_fid == features
        sql = described(meta, table, served.version, served.first, served.head, dense)
        extent = None if box[0] is None else tuple(box)
        reader = _VersionReader(
            self.read_engine, self.lookup_engine, SqlReader(self.stream_engine), features
        )
        return _Version(served, meta, table, sql, features, extent, reader)

    def _read(
        self, layer_id: str | None, work: Callable[[Connection], T], kept_planned: bool = False
    ) -> T:
        """`work` on a read connection (see `_retried`); `kept_planned`: on one whose
        statements PostgreSQL keeps planned, for lookups by a unique key."""
        engine = self.lookup_engine if kept_planned else self.read_engine

        def read() -> T:
            with engine.connect() as connection:
                return work(connection)

        return self._retried(layer_id, read)

    @staticmethod
    def _retried(layer_id: str | None, read: Callable[[], T]) -> T:
        """`read()`, and once more if the connection it was lent had been dropped by the
        server (restarted, or its backend ended): the pool has replaced it by then, so one
        dropped connection never costs a request."""
        with _database_errors(layer_id):
            try:
                return read()
            except DBAPIError as exc:
                if not exc.connection_invalidated:
                    raise
            return read()

    # -- reads ------------------------------------------------------------------------------
    def layers(self) -> Listing:
        present = func.to_regclass(f'{LAYER_SCHEMA}."' + _generations.table_name + '"').isnot(None)
        statement = (
            select(_catalogue.id, _versions.metadata, present)
            .select_from(_SERVED_VERSIONS)
            .where(_LISTED)
            .order_by(_catalogue.id)
        )
        rows = self._read(None, lambda connection: connection.execute(statement).all())
        found, skipped = [], []
        for layer_id, raw, table_present in rows:
            try:
                if not table_present:
                    raise _missing_table(layer_id)
                found.append(_parse_meta(layer_id, raw))
            except LayerUnavailable as exc:
                skipped.append(Skipped(layer_id, exc.description))
        return Listing(found, skipped)

    def layer(self, layer_id: str, version: int | None = None) -> LayerMeta:
        return self._version(layer_id, version).meta

    def extent(self, layer_id: str) -> BBox | None:
        return self._version(layer_id).extent

    def query(self, layer_id: str, query: Query) -> FeaturePage:
        layer = self._version(layer_id)
        return self._retried(layer_id, lambda: layer.reader.query(layer.sql, query))

    def geojson_page(self, layer_id: str, query: Query) -> None:
        return None  # features are written per request, from the rows PostgreSQL sends

    def keep_geojson(self, layer_id: str) -> int:
        return 0

    def iter_features(
        self, layer_id: str, query: Query, batch_size: int = 2000
    ) -> Iterator[list[Feature]]:
        """Every feature the query selects, in batches from a server-side cursor."""
        layer = self._version(layer_id)
        with _database_errors(layer_id):
            yield from layer.reader.iter_features(layer.sql, query, batch_size)

    def feature(self, layer_id: str, feature_id: str, version: int | None = None) -> Feature:
        """Of the served version, in one round trip where this process served the layer before:
        the feature of that version read beside the catalogue (`_in_kept_version`)."""
        latest = self._latest.get(layer_id) if version is None else None
        if latest is not None and recalled((id(self), layer_id)) is None:
            with self._forgotten_if_gone(latest):
                served, found = self._retried(
                    layer_id, lambda: latest.reader.served_feature(latest.sql, feature_id)
                )
            kept = self._in_kept_version(latest, feature_id, served, found)
            if kept is not None:
                return kept
        layer = self._version(layer_id, version)
        return self._retried(layer_id, lambda: layer.reader.feature(layer.sql, feature_id))

    async def awaited_feature(self, layer_id: str, feature_id: str) -> Feature | None:
        """`feature`'s round trip awaited (`AwaitedLookups`), where this process served the
        layer before and the lookups are open in the running loop; None elsewhere, or where
        the served version is another now: then `feature` reads it."""
        latest = self._latest.get(layer_id)
        if (
            latest is None
            or not self.awaited.available
            or recalled((id(self), layer_id)) is not None
        ):
            return None
        sql, parameters = latest.reader.served_feature_sql(latest.sql, feature_id)
        with self._forgotten_if_gone(latest), _database_errors(layer_id):
            row = await self.awaited.first(sql, parameters)
        served, found = latest.reader.served_and_found(latest.sql, row)
        return self._in_kept_version(latest, feature_id, served, found)

    def awaited_reads(self) -> contextlib.AbstractAsyncContextManager[None]:
        return self.awaited.opened()

    def _in_kept_version(
        self, latest: _Version, feature_id: str, served: _Served | None, found: Feature | None
    ) -> Feature | None:
        """The feature read beside the catalogue from the version this process served last:
        None if the catalogue now serves another, which is then this request's (`once`)."""
        layer_id = latest.meta.id
        if served is None:
            raise no_collection(layer_id)
        once((id(self), layer_id), lambda: served)
        if served != latest.served:
            return None
        if found is None:
            raise no_feature(feature_id, layer_id)
        return found

    @contextlib.contextmanager
    def _forgotten_if_gone(self, latest: _Version) -> Iterator[None]:
        """The version served last forgotten if its layer cannot be read: its table may be
        gone, so the next request asks as a first one does."""
        try:
            yield
        except LayerUnavailable:
            self._latest.pop(latest.meta.id, None)
            raise

    def facets(self, layer_id: str, query: Query, fields: tuple[str, ...]) -> dict[str, Facet]:
        layer = self._version(layer_id)
        return self._retried(layer_id, lambda: layer.reader.facets(layer.sql, query, fields))

    def grid(
        self, layer_id: str, query: Query, bbox: BBox, columns: int, rows: int
    ) -> list[GridCell]:
        layer = self._version(layer_id)
        if query.filter is None and not search_terms(query.text):
            return self._centres(layer).grid(bbox, columns, rows)
        return self._retried(
            layer_id, lambda: layer.reader.grid(layer.sql, query, bbox, columns, rows)
        )

    def tile(self, layer_id: str, query: Query, tile: Tile, limit: int) -> VectorTile:
        layer = self._version(layer_id)
        made = self._retried(layer_id, lambda: layer.reader.tile(layer.sql, query, tile, limit))
        return dataclasses.replace(made, version=layer.served.version)

    def warm(self) -> None:
        for meta in self.layers():
            with contextlib.suppress(NotFound, LayerUnavailable):
                layer = self._version(meta.id)
                if layer.features > self.WARM_CENTRES_FROM:
                    self._centres(layer)

    def _centres(self, layer: _Version) -> Centres:
        """The box centres of every feature of a version, read once (24 bytes a feature)."""
        with layer.centres_lock:
            if layer.centres is None:
                layer.centres = self._read(layer.meta.id, lambda c: _read_centres(c, layer))
            return layer.centres

    # -- versions ---------------------------------------------------------------------------
    def version_numbers(self, layer_id: str) -> list[int]:
        if not LAYER_ID_PATTERN.fullmatch(layer_id):
            return []
        statement = (
            select(_versions.version)
            .select_from(layer_catalogue.join(layer_versions))
            .where(_catalogue.id == layer_id, _LISTED)
            .order_by(_versions.version)
        )
        with self._writing_reads() as connection:
            return list(connection.execute(statement).scalars())

    def current_version(self, layer_id: str) -> int | None:
        if not LAYER_ID_PATTERN.fullmatch(layer_id):
            return None
        statement = select(_catalogue.current_version).where(_catalogue.id == layer_id, _LISTED)
        with self._writing_reads() as connection:
            return connection.execute(statement).scalar()

    def versions(self, layer_id: str) -> list[VersionSummary[LayerMeta]]:
        if not LAYER_ID_PATTERN.fullmatch(layer_id):
            raise not_found("layer", layer_id)
        statement = (
            select(
                _versions.version,
                _catalogue.current_version,
                _versions.written,
                _versions.metadata,
                _versions.features,
                _versions.kind,
                _versions.actor,
            )
            .select_from(layer_catalogue.join(layer_versions))
            .where(_catalogue.id == layer_id, _LISTED)
            .order_by(_versions.version)
        )
        with self._writing_reads() as connection:
            rows = connection.execute(statement).all()
        if not rows:
            raise not_found("layer", layer_id)
        listed = []
        for number, current, written, raw, features, kind, actor in rows:
            served = number == current
            try:
                meta = _parse_meta(f"{layer_id}/v{number:06d}", raw, N_("layer version"))
            except LayerUnavailable as exc:
                listed.append(
                    VersionSummary(number, served, problem=exc.description, kind=kind, actor=actor)
                )
                continue
            listed.append(
                VersionSummary(number, served, written, meta, features, kind=kind, actor=actor)
            )
        return listed

    @contextlib.contextmanager
    def _writing_reads(self) -> Iterator[Connection]:
        """A connection to the primary: what GIS staff see of versions is never behind."""
        with _database_errors(None), self.engine.connect() as connection:
            yield connection

    # -- writes -----------------------------------------------------------------------------
    def publish(
        self,
        meta: LayerMeta,
        frame: gpd.GeoDataFrame,
        *,
        new: bool | None = None,
        draft: bool = False,
        actor: str | None = None,
    ) -> int:
        return self.publish_frames(meta, [frame], new=new, draft=draft, actor=actor)

    def publish_frames(
        self,
        meta: LayerMeta,
        frames: Iterable[gpd.GeoDataFrame],
        *,
        new: bool | None = None,
        draft: bool = False,
        actor: str | None = None,
        z: bool | None = None,
    ) -> int:
        """`publish` for a layer given in parts (a bulk load larger than memory): each frame's
        rows follow the previous one's. `z`: whether the geometries have a third coordinate
        (found from the frames if None, which then must be a sequence)."""
        check_fields(meta)
        if z is None:
            frames = list(frames)
            z = frames_have_z(frames)
        with self._changing(meta.id) as (connection, uid):
            check_existence("layer", meta.id, uid is not None, new)
            version = _next_version(connection, meta.id)
            if uid is None:
                uid = _new_entry(connection, meta.id)
            self._write_version(connection, uid, meta, frames, version, z, actor)
            if not draft:
                _serve(connection, uid, version)
        return version

    def adopt(
        self, versions: Sequence[Adopted], current: int | None, archived_as: str | None
    ) -> None:
        """Take in a layer kept elsewhere with its versions as they were numbered (`migrate-store`),
        in one transaction: serving `current` (None: only drafts), or archived as `archived_as`.
        `Conflict` if the target already has any of those version numbers for the id."""
        layer_id = versions[0].meta.id
        with self._changing(layer_id) as (connection, uid):
            taken = _next_version(connection, layer_id) - 1
            if taken >= versions[0].meta.version or (uid is not None and archived_as is None):
                raise Conflict(
                    _l("layer {layer_id!r} is already in the target store", layer_id=layer_id)
                )
            uid = _new_entry(connection, layer_id)
            for adopted in versions:
                self._write_version(
                    connection, uid, adopted.meta, adopted.frames, adopted.meta.version, adopted.z,
                    adopted.actor, adopted.written,
                )  # fmt: skip
            if current is not None:
                _serve(connection, uid, current)
            if archived_as is not None:
                connection.execute(
                    update(layer_catalogue)
                    .where(_catalogue.uid == uid)
                    .values(archived_as=archived_as)
                )

    def _write_version(
        self,
        connection: Connection,
        uid: int,
        meta: LayerMeta,
        frames: Iterable[gpd.GeoDataFrame],
        version: int,
        z: bool,
        actor: str | None,
        written: str | None = None,
    ) -> None:
        """A new generation holding `frames` as `version`, its indexes and its version row."""
        generation = connection.exec_driver_sql(
            "SELECT nextval(pg_get_serial_sequence('layer_generations', 'uid'))"
        ).scalar_one()
        stored = meta.model_copy(update={"version": version})
        table = layer_table(stored, table_name(generation, meta.id), z)
        table.create(connection)
        loaded = copy_rows(connection, table, stored, frames, version)
        connection.exec_driver_sql(f"SET LOCAL maintenance_work_mem = '{INDEX_MEMORY}'")
        create_indexes(connection, table, stored)
        connection.exec_driver_sql(f'ANALYZE {LAYER_SCHEMA}."{table.name}"')
        connection.execute(
            insert(layer_generations).values(
                uid=generation,
                layer_uid=uid,
                table_name=table.name,
                first_version=version,
                head_version=version,
            )
        )
        self._record_version(
            connection, uid, version, generation, "upload", actor, stored, loaded.features,
            loaded.features, loaded.bounds, written,
        )  # fmt: skip

    def activate(self, layer_id: str, version: int) -> None:
        with self._changing(layer_id) as (connection, uid):
            if uid is None:
                raise not_found("layer", layer_id)
            numbers = _numbers(connection, uid)
            if version not in numbers:
                raise no_version("layer", layer_id, version, numbers)
            _serve(connection, uid, version)

    def archive(self, layer_id: str) -> str:
        with self._changing(layer_id) as (connection, uid):
            served = (
                uid is not None
                and connection.execute(
                    select(_catalogue.current_version).where(_catalogue.uid == uid)
                ).scalar()
            )
            if not served:
                raise not_found("layer", layer_id)
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
            name = f"{layer_id}-{stamp}"
            connection.execute(
                update(layer_catalogue).where(_catalogue.uid == uid).values(archived_as=name)
            )
        return name

    @contextlib.contextmanager
    def _changing(self, layer_id: str) -> Iterator[tuple[Connection, int | None]]:
        """One transaction on the primary holding the layer's lock, with the layer's catalogue
        row (None if it is not in the catalogue); commits if the block ends without error."""
        if not LAYER_ID_PATTERN.fullmatch(layer_id):
            raise not_found("layer", layer_id)
        with _database_errors(None), self.engine.begin() as connection:
            connection.exec_driver_sql(
                "SELECT pg_advisory_xact_lock(%(class)s, hashtext(%(id)s))",
                {"class": LOCK_CLASS, "id": layer_id},
            )
            uid = connection.execute(
                select(_catalogue.uid).where(_catalogue.id == layer_id, _LISTED)
            ).scalar()
            yield connection, uid
        forget((id(self), layer_id))

    @staticmethod
    def _record_version(
        connection: Connection,
        uid: int,
        version: int,
        generation: int,
        kind: str,
        actor: str | None,
        meta: LayerMeta,
        features: int,
        max_fid: int,
        bounds: BBox | None,
        written: str | None = None,
    ) -> None:
        box = dict(zip(("min_x", "min_y", "max_x", "max_y"), bounds or (None,) * 4, strict=True))
        connection.execute(
            insert(layer_versions).values(
                layer_uid=uid,
                version=version,
                generation=generation,
                kind=kind,
                actor=actor,
                written=written or utc_now(),
                metadata=meta.model_dump_json(),
                features=features,
                max_fid=max_fid,
                **box,
            )
        )

    # -- per-feature changes ------------------------------------------------------------------
    def apply_changes(
        self,
        layer_id: str,
        changes: Sequence[FeatureChange],
        *,
        base_version: int,
        draft: bool = False,
        actor: str,
    ) -> int:
        """One new version stamped into the newest version's table (`postgis_changes.apply`):
        its cost is that of the changed features, whatever the size of the layer."""
        with self._changing(layer_id) as (connection, uid):
            if uid is None:
                raise not_found("layer", layer_id)
            newest = _newest(connection, uid)
            if base_version != newest.version:
                raise not_newest("layer", layer_id, base_version, newest.version)
            served = connection.execute(
                select(_catalogue.current_version).where(_catalogue.uid == uid)
            ).scalar()
            if not draft and served != base_version:
                raise drafts_pending("layer", layer_id, base_version, served)
            meta = _parse_meta(layer_id, newest.metadata)
            version = _next_version(connection, layer_id)
            table = layer_table(meta, newest.table_name)
            with _refused_values():
                applied = apply(
                    connection, table, meta, changes, version, newest.features, newest.extent
                )
            connection.execute(
                update(layer_generations)
                .where(_generations.uid == newest.generation)
                .values(head_version=version)
            )
            written = utc_now()
            # the day of the last change is the layer's date, as a GeoPackage change set's
            stored = meta.model_copy(update={"version": version, "updated": written[:10]})
            self._record_version(
                connection, uid, version, newest.generation, "changes", actor, stored,
                applied.features, applied.max_fid, applied.extent, written,
            )  # fmt: skip
            if not draft:
                _serve(connection, uid, version)
        return version

    def feature_etag(self, layer_id: str, feature_id: str) -> str:
        return feature_etag(self.feature(layer_id, feature_id))

    def feature_history(self, layer_id: str, feature_id: str) -> list[FeatureRevision]:
        """Read from each table the layer's versions live in: the feature's rows, then its
        state in every version, compared with the one before."""
        records = self._version_records(layer_id)

        def rows_by_table(connection: Connection) -> dict[str, list[Row]]:
            held: dict[str, list[Row]] = {}
            for record in records:
                if record.table_name not in held:
                    table = layer_table(record.meta, record.table_name)
                    held[record.table_name] = feature_rows(
                        connection, table, record.meta, feature_id
                    )
            return held

        held = self._read(layer_id, rows_by_table)
        revisions, before = [], None
        for record in records:
            state = next((r for r in held[record.table_name] if r.holds(record.version)), None)
            change = _revision(before, state)
            if change is not None:
                kind, fields = change
                revisions.append(
                    FeatureRevision(record.version, kind, fields, record.actor, record.written)
                )
            before = None if state is None else (record.table_name, state)
        if not revisions:
            raise no_feature(feature_id, layer_id)
        return revisions

    def diff(self, layer_id: str, from_version: int, to_version: int) -> Iterator[FeatureDiff]:
        """Within one table, only the rows stamped between the two versions are read; across an
        upload, the database compares the two versions feature by feature. Unknown versions are
        refused before the first difference is asked for (a streamed answer has begun by then)."""
        records = {r.version: r for r in self._version_records(layer_id)}
        for number in (from_version, to_version):
            if number not in records:
                raise NotFound(no_version("layer", layer_id, number, sorted(records)).description)
        return self._differences(layer_id, records[from_version], records[to_version])

    def _differences(self, layer_id: str, first: _Record, second: _Record) -> Iterator[FeatureDiff]:
        a = (layer_table(first.meta, first.table_name), first.meta, first.version)
        b = (layer_table(second.meta, second.table_name), second.meta, second.version)
        with _database_errors(layer_id), self.stream_engine.connect() as connection:
            if first.table_name == second.table_name:
                pairs = _pairs_within(connection, a, b)
            else:
                pairs = differing_rows(connection, a, b)
            for before, after in pairs:
                found = _difference(before, after)
                if found is not None:
                    yield found

    def _version_records(self, layer_id: str) -> list[_Record]:
        """Every version of a listed layer with where its rows are, oldest first."""
        if not LAYER_ID_PATTERN.fullmatch(layer_id):
            raise not_found("layer", layer_id)
        statement = (
            select(
                _versions.version,
                _generations.table_name,
                _versions.metadata,
                _versions.actor,
                _versions.written,
            )
            .select_from(_VERSIONS_WITH_TABLES)
            .where(_catalogue.id == layer_id, _LISTED)
            .order_by(_versions.version)
        )
        found = self._read(layer_id, lambda connection: connection.execute(statement).all())
        if not found:
            raise not_found("layer", layer_id)
        return [
            _Record(version, table, _parse_meta(layer_id, raw), actor, written)
            for version, table, raw, actor, written in found
        ]


@dataclass(frozen=True)
class _Record:
    """A version as history and diffs need it."""

    version: int
    table_name: str
    meta: LayerMeta
    actor: str | None
    written: str


@dataclass(frozen=True)
class _Newest:
    version: int
    generation: int
    table_name: str
    metadata: str
    features: int
    extent: BBox | None


def _newest(connection: Connection, uid: int) -> _Newest:
    row = connection.execute(
        select(
            _versions.version,
            _versions.generation,
            _generations.table_name,
            _versions.metadata,
            _versions.features,
            _versions.min_x,
            _versions.min_y,
            _versions.max_x,
            _versions.max_y,
        )
        .select_from(
            layer_versions.join(layer_generations, _generations.uid == _versions.generation)
        )
        .where(_versions.layer_uid == uid)
        .order_by(_versions.version.desc())
        .limit(1)
    ).one()
    version, generation, table_name, metadata, features, *box = row
    extent = None if box[0] is None else tuple(box)
    return _Newest(version, generation, table_name, metadata, features, extent)


def _revision(
    before: tuple[str, Row] | None, state: Row | None
) -> tuple[str, tuple[str, ...]] | None:
    """How a feature changed from one version to the next (None: it did not)."""
    if before is None:
        return None if state is None else ("created", ())
    if state is None:
        return "deleted", ()
    _, previous = before
    if previous is state:
        return None
    fields = tuple(changed_fields(previous.properties, state.properties))
    if geometry_moved_m(previous.geometry, state.geometry) is not None:
        fields = (*fields, GEOMETRY)
    return ("changed", fields) if fields else None


def _pairs_within(
    connection: Connection, a: tuple[Table, LayerMeta, int], b: tuple[Table, LayerMeta, int]
) -> Iterator[tuple[Row | None, Row | None]]:
    """Each feature's state in two versions of one table, for the features stamped between
    them, in id order."""
    table, meta, first = a
    second = b[2]
    low, high = sorted((first, second))
    by_feature: dict[str, list[Row]] = {}
    for row in changed_rows(connection, table, meta, low, high):
        by_feature.setdefault(row.feature_id, []).append(row)
    for _, stamped in sorted(by_feature.items()):
        yield (
            next((r for r in stamped if r.holds(first)), None),
            next((r for r in stamped if r.holds(second)), None),
        )


def _difference(before: Row | None, after: Row | None) -> FeatureDiff | None:
    if before is None and after is None:
        return None
    if before is None:
        return FeatureDiff(after.feature_id, "added", {}, None)
    if after is None:
        return FeatureDiff(before.feature_id, "removed", {}, None)
    fields = changed_fields(before.properties, after.properties)
    moved = geometry_moved_m(before.geometry, after.geometry)
    if not fields and moved is None:
        return None
    return FeatureDiff(after.feature_id, "changed", fields, moved)


@contextlib.contextmanager
def _refused_values() -> Iterator[None]:
    """A value the database cannot hold (a number out of range, text with NUL) is a 400."""
    try:
        yield
    except DataError as exc:
        detail = str(exc.orig).strip().splitlines()[0]
        raise InvalidParameter(_l("the value is not valid: {detail}", detail=detail)) from None


@dataclass(frozen=True)
class Adopted:
    """One version of a layer taken in from another store (`PostGISStore.adopt`)."""

    meta: LayerMeta
    """Its metadata, `version` its number."""
    frames: Iterable[gpd.GeoDataFrame]
    z: bool
    written: str | None = None
    actor: str | None = None


def _new_entry(connection: Connection, layer_id: str) -> int:
    statement = insert(layer_catalogue).values(id=layer_id).returning(_catalogue.uid)
    return connection.execute(statement).scalar_one()


def _parse_meta(layer_id: str, raw: str, what: str = N_("layer")) -> LayerMeta:
    try:
        return LayerMeta.model_validate(strict_json.loads(raw))
    except ValueError as exc:
        raise unreadable(what, layer_id, exc) from None


def _numbers(connection: Connection, uid: int) -> list[int]:
    statement = select(_versions.version).where(_versions.layer_uid == uid)
    return sorted(connection.execute(statement).scalars())


def _next_version(connection: Connection, layer_id: str) -> int:
    """One more than any version the id ever had, archived layers' included."""
    statement = (
        select(func.max(_versions.version))
        .select_from(layer_catalogue.join(layer_versions))
        .where(_catalogue.id == layer_id)
    )
    return (connection.execute(statement).scalar() or 0) + 1


def _serve(connection: Connection, uid: int, version: int) -> None:
    connection.execute(
        update(layer_catalogue).where(_catalogue.uid == uid).values(current_version=version)
    )


class _BinaryResultsCursor(Cursor):
    """A cursor whose results PostgreSQL sends in its binary format: the same Python values,
    but a tile's bytes as they are rather than as hex text twice their size, which the
    server writes and the client reads back (measured: 860 kB of hex for a 430 kB tile at zoom
    12, about 3 ms of the two processes' CPU)."""

    def __init__(self, connection: Any, *, row_factory: Any = None) -> None:
        super().__init__(connection, row_factory=row_factory)
        self.format = Format.BINARY


def _requests_engine(url: str, prepared: bool = False) -> Engine:
    """An engine for requests' reads: autocommit, no ping, connections `_prepared_for_requests`."""
    engine = postgresql_engine(url, ping=False, prepared=prepared, autocommit=True)
    event.listen(engine, "connect", _prepared_for_requests)
    return engine


_FOR_REQUESTS = "SET max_parallel_workers_per_gather = 0"
"""What every connection for requests' reads sets once (`_prepared_for_requests`)."""


def _prepared_for_requests(dbapi_connection: Any, _record: Any) -> None:
    """A read connection answers in binary (`_BinaryResultsCursor`) and plans without parallel
    workers: many requests run side by side, so a worker process started for one of them (a
    tile, a count) takes a core from another and costs its start-up on top; measured, tiles
    at zoom 8–14 come faster without. The engine made the connection autocommit before this
    runs, so the setting opens no transaction."""
    dbapi_connection.cursor_factory = _BinaryResultsCursor
    dbapi_connection.execute(_FOR_REQUESTS)


@contextlib.contextmanager
def _database_errors(layer_id: str | None) -> Iterator[None]:
    """A database that does not answer, or a layer's table gone from it, is `LayerUnavailable`
    (503), never a 500; refusals of a query itself pass."""
    try:
        yield
    except (OperationalError, psycopg_errors.OperationalError) as exc:
        raise LayerUnavailable(
            _l("the layer store's database does not answer; try again shortly")
        ) from exc
    except (ProgrammingError, psycopg_errors.ProgrammingError) as exc:
        driver_error = getattr(exc, "orig", exc)  # SQLAlchemy's wraps the driver's
        if layer_id is None or getattr(driver_error, "sqlstate", None) != "42P01":  # no table
            raise
        raise _missing_table(layer_id) from None


def _missing_table(layer_id: str) -> LayerUnavailable:
    return unreadable(N_("layer"), layer_id, LookupError("its table is missing from the database"))
