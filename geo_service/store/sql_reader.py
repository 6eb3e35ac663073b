"""The read half of the `Store` protocol over described SQL tables (`sql_query.SqlLayer`).

Runs what `QueryCompiler` compiles on one SQLAlchemy engine and turns rows into the store's
answers: pages with `numberMatched`, streamed batches for exports (a server-side cursor on
PostgreSQL), one feature, facets, grid cells and the extent.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Connection, Engine, Row, Select

from ..errors import no_feature
from ..query import BBox, Query
from ..tilematrix import Tile
from .base import Facet, Feature, FeaturePage, GridCell
from .centres import grid_cells
from .mvt import (
    VectorTile,
    encode_features,
    postgis_tile_statement,
    tile_parameters,
    tile_query,
)
from .sql_query import (
    PostGISColumn,
    QueryCompiler,
    Selected,
    SqlLayer,
    plain_value,
    query_parameters,
)


@dataclass(frozen=True)
class PageStatement:
    """The statement of a page, with what it was built from: its condition (for a count of
    its own) and its fields (to read its rows)."""

    page: Select
    where: ColumnElement
    fields: list[Selected]


class SqlReader:
    """Reads of described tables in one database."""

    def __init__(self, engine: Engine, lookups: Engine | None = None) -> None:
        self.engine = engine
        self.lookups = lookups or engine
        """Where a feature is read by its id."""

    def compiler(self, layer: SqlLayer) -> QueryCompiler:
        return QueryCompiler(layer, self.engine.dialect.name)

    def query(self, layer: SqlLayer, query: Query) -> FeaturePage:
        """One page and how many match in all (counted only when the page does not tell).

        Where the count is not known already, a reader that `counts_beside_page` asks for it
        in the page's own statement: one round trip instead of two."""
        beside = (
            self.counts_beside_page and query.limit is not None and self.known_count(query) is None
        )
        built = self.page_statement(layer, query, beside)
        parameters = query_parameters(query)
        with self.engine.connect() as connection:
            rows = connection.execute(built.page, parameters).all()
            matched = None
            if beside and rows:
                matched = rows[0][-1]
                self.counted(query, matched)
                rows = [row[:-1] for row in rows]
            if query.limit is None or (len(rows) < query.limit and (rows or query.offset == 0)):
                matched = query.offset + len(rows)  # the page reached the end: no count
            elif matched is None:
                matched = self.count(connection, layer, query, built.where)
        return FeaturePage(features_of(rows, built.fields), matched)

    def page_statement(self, layer: SqlLayer, query: Query, beside: bool) -> PageStatement:
        """The statement of `query`'s page (with its count as the last column if `beside`),
        run with `query_parameters(query)`; a reader of tables that do not change may keep
        it for the next query of the same shape."""
        compiler = self.compiler(layer)
        where = compiler.where(query)
        fields = compiler.selected(query.properties)
        page = compiler.page(query, where, fields)
        return PageStatement(compiler.counted(page, where) if beside else page, where, fields)

    counts_beside_page = False
    """Whether a page whose count is not known is read with its count (PostgreSQL runs the
    count once, as an init plan)."""

    def count(
        self, connection: Connection, layer: SqlLayer, query: Query, where: ColumnElement
    ) -> int:
        """How many features match `where` (compiled from `query`); a reader of tables that do
        not change may remember the answer (`known_count`)."""
        known = self.known_count(query)
        if known is not None:
            return known
        statement = self.compiler(layer).count(where)
        counted = connection.execute(statement, query_parameters(query)).scalar_one()
        self.counted(query, counted)
        return counted

    def known_count(self, query: Query) -> int | None:
        """How many features `query` matches, if this reader remembers (see `counted`)."""
        return None

    def counted(self, query: Query, matched: int) -> None:
        """`query` matches `matched` features: a reader of tables that do not change may
        remember it."""

    def iter_features(
        self, layer: SqlLayer, query: Query, batch_size: int = 2000
    ) -> Iterator[list[Feature]]:
        """Every feature the query selects (its limit and offset too), in batches from one
        SELECT that streams."""
        compiler = self.compiler(layer)
        fields = compiler.selected(query.properties)
        statement = compiler.page(query, compiler.where(query), fields)
        with self.engine.connect() as connection:
            streaming = connection.execution_options(stream_results=True, yield_per=batch_size)
            for rows in streaming.execute(statement).partitions():
                yield features_of(rows, fields)

    def feature(self, layer: SqlLayer, feature_id: str) -> Feature:
        compiler = self.compiler(layer)
        fields = compiler.selected(None)
        with self.lookups.connect() as connection:
            row = connection.execute(compiler.feature(feature_id, fields)).first()
        if row is None:
            raise no_feature(feature_id, layer.meta.id)
        return features_of([row], fields)[0]

    def facets(self, layer: SqlLayer, query: Query, fields: tuple[str, ...]) -> dict[str, Facet]:
        compiler = self.compiler(layer)
        where = compiler.where(query)
        result = {}
        with self.engine.connect() as connection:
            for name in fields:
                statement, ranged = compiler.facet(where, name)
                if not ranged:
                    values = [(plain_value(v), n) for v, n in connection.execute(statement)]
                    result[name] = Facet(values=values, count=sum(n for _, n in values))
                    continue
                low, high, count = connection.execute(statement).one()
                days = layer.derived.get(name)
                if days is not None:  # the range of a date key, latest first
                    low, high = days.days_of_key(low), days.days_of_key(high)
                result[name] = Facet(
                    minimum=plain_value(low), maximum=plain_value(high), count=count
                )
        return result

    def grid(
        self, layer: SqlLayer, query: Query, bbox: BBox, columns: int, rows: int
    ) -> list[GridCell]:
        statement = self.compiler(layer).grid(query, bbox, columns, rows)
        with self.engine.connect() as connection:
            return grid_cells(connection.execute(statement).all(), bbox, columns, rows)

    def tile(self, layer: SqlLayer, query: Query, tile: Tile, limit: int) -> VectorTile:
        """A vector tile of the features `query` matches (see `mvt.py`): encoded by PostGIS
        where the table keeps a PostGIS geometry, else from the features read."""
        tiled = tile_query(query, tile, limit)
        compiler = self.compiler(layer)
        if isinstance(layer.spatial, PostGISColumn):
            statement = self.tile_statement(layer, tiled, limit)
            with self.engine.connect() as connection:
                found = connection.execute(statement, tile_parameters(tile)).one()
            data, drawn, reaching = found
            return VectorTile(bytes(data or b""), drawn, reaching >= limit)
        fields = compiler.selected(tiled.properties)
        with self.engine.connect() as connection:
            rows = connection.execute(compiler.page(tiled, compiler.where(tiled), fields)).all()
        return encode_features(features_of(rows, fields), tile, layer.meta.id, limit)

    def tile_statement(self, layer: SqlLayer, query: Query, limit: int) -> Select:
        """The PostGIS statement of `query`'s tiles (`postgis_tile_statement`); a reader of
        tables that do not change may keep it."""
        return postgis_tile_statement(layer, self.compiler(layer), query, limit)

    def extent(self, layer: SqlLayer) -> BBox | None:
        with self.engine.connect() as connection:
            row = connection.execute(self.compiler(layer).extent()).one()
        return None if row[0] is None else tuple(float(v) for v in row)


def features_of(rows: Sequence[Row | tuple], fields: list[Selected]) -> list[Feature]:
    """The features of rows read with `fields`: each one's id, geometry (WKB) and their values.
    The names are paired with the values in one call a row, and only the few fields that need
    it are decoded: a page of 100 parcels of 30 fields costs a fifth less than field by field."""
    names = [s.name for s in fields]
    decoded = [(i, s.name, s.decode) for i, s in enumerate(fields) if s.decode is not None]
    features = []
    for code, geometry, *values in rows:
        properties = dict(zip(names, values, strict=True))
        for index, name, decode in decoded:
            properties[name] = decode(values[index])
        features.append(
            Feature(str(code), None if geometry is None else bytes(geometry), properties)
        )
    return features
