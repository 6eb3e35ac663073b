"""The SQL query compiler against the GeoPackage store: the same layer in a plain SQL table, on
SQLite and on PostgreSQL (PostGIS), must give the GeoPackage store's answers to the same
queries: every filter operator, CQL2 text, bbox and S_INTERSECTS, free text without diacritics,
sorting, paging, property selection, streaming, facets, grids and the extent. Generated CQL2
never ends in anything but an answer or a 400."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest
import shapely
from hypothesis import given
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    DateTime,
    Float,
    LargeBinary,
    MetaData,
    Table,
    Text,
    insert,
)

from geo_service.catalogue import ID_FIELD, FieldSpec
from geo_service.cql2 import CQL2Error, parse_cql2_text
from geo_service.errors import InvalidParameter
from geo_service.query import (
    And,
    Between,
    Comparison,
    Function,
    GeometryLiteral,
    In,
    IsNull,
    Like,
    Literal,
    Not,
    Or,
    Property,
    Query,
    SortKey,
    SpatialPredicate,
)
from geo_service.records import Records
from geo_service.store.gpkg_write import SEARCH_COLUMNS
from geo_service.store.sql_query import BoxedWkb, DaysSince, FoldedText, SqlLayer
from geo_service.store.sql_reader import SqlReader
from geo_service.text import fold

from .conftest import grid_layer
from .test_fuzz import CQL_TEXT, budget

SQL_TYPES = {"string": Text, "integer": BigInteger, "number": Float, "date": Date,
             "datetime": DateTime, "boolean": Boolean}  # fmt: skip
P, L = Property, Literal


def grid_table() -> tuple[Table, list[dict]]:
    """The `grid` test layer as a plain table: a column per field, ISO WKB and its box, and the
    folded text the GeoPackage store searches."""
    meta, records, geometries = grid_layer()
    table = Table(
        "grid_rows",
        MetaData(),
        *(Column(f.name, SQL_TYPES[f.type](), primary_key=f.name == ID_FIELD) for f in meta.fields),
        Column("geometry", LargeBinary),
        *(Column(name, Float) for name in ("min_x", "min_y", "max_x", "max_y")),
        Column("search", Text),
    )
    rows = []
    for record, geometry in zip(records, geometries, strict=True):
        row = {f.name: record.get(f.name) for f in meta.fields}
        row["updated_at"] = dt.date.fromisoformat(row["updated_at"])
        row["geometry"] = shapely.to_wkb(geometry)
        row.update(zip(("min_x", "min_y", "max_x", "max_y"), geometry.bounds, strict=True))
        row["search"] = fold(" ".join(str(row[c]) for c in SEARCH_COLUMNS if row.get(c)))
        rows.append(row)
    return table, rows


def described(table: Table, today: dt.date | None = None) -> SqlLayer:
    """The table as a layer; with `today`, a computed field `days_since` its `updated_at`."""
    meta, _, _ = grid_layer()
    if today is not None:
        days = FieldSpec(name="days_since", type="integer", label_vi="Số ngày", label_en="Days")
        meta = meta.model_copy(update={"fields": [*meta.fields, days]})
    c = table.c
    return SqlLayer(
        meta=meta,
        source=table,
        id=c.code,
        columns={f.name: c[f.name] for f in meta.fields if f.name in c and f.name != ID_FIELD},
        spatial=BoxedWkb(c.geometry, c.min_x, c.min_y, c.max_x, c.max_y),
        search=FoldedText(c.search),
        derived={} if today is None else {"days_since": DaysSince(c.updated_at, today)},
    )


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def sql_grid(request, tmp_path_factory) -> Iterator[tuple[SqlReader, SqlLayer]]:
    """The grid in a table of a fresh database, on each backend in turn."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('sql-grid') / 'grid.sqlite'}"
        factory = None
    else:
        factory = request.getfixturevalue("postgres_databases")
        url = factory.create(factory.template)  # migrated: postgis and unaccent are there
    records = Records(url)
    table, rows = grid_table()
    with records.engine.begin() as connection:
        table.create(connection)
        connection.execute(insert(table), rows)
    try:
        yield SqlReader(records.engine), described(table)
    finally:
        records.dispose()
        if factory is not None:
            factory.drop(url)


def answers(store, layer_id: str, query: Query) -> tuple[list[str], int] | str:
    """The ids of a page and `numberMatched`, or "400" when the query is refused."""
    try:
        page = store.query(layer_id, query)
    except InvalidParameter:
        return "400"
    return [f.id for f in page.features], page.number_matched


def sql_answers(sql_grid, query: Query):
    reader, layer = sql_grid
    try:
        page = reader.query(layer, query)
    except InvalidParameter:
        return "400"
    return [f.id for f in page.features], page.number_matched


OPERATORS = [
    Comparison("=", P("status"), L("operating")),
    Comparison("<>", P("status"), L("operating")),
    Comparison("<", P("area_ha"), L(10)),
    Comparison("<=", P("area_ha"), L(10)),
    Comparison(">", P("area_ha"), L(90)),
    Comparison(">=", P("area_ha"), L(90.0)),
    Comparison("=", P("approved_year"), L(2005)),
    Comparison(">", P("area_ha"), L(89.5)),
    Between(P("area_ha"), L(10), L(19)),
    Between(P("area_ha"), L(10), L(19), negated=True),
    In(P("status"), (L("planned"), L("operating"))),
    In(P("status"), (L("planned"),), negated=True),
    IsNull(P("developer")),
    IsNull(P("developer"), negated=True),
    Like(P("name_vi"), L("Khu Mộc Châu%")),
    Like(P("name_vi"), L("khu mộc châu%")),
    Like(P("name_vi"), L("Khu Đà Bắc 1_")),
    Like(P("name_vi"), L("%Sơn%"), negated=True),
    Like(P("name_en"), L("Zone 1\\_")),
    Like(P("name_en"), L("Zone *")),
    Like(P("name_en"), L("Zone [1]")),
    Like(P("name_en"), L("Zone 1\\")),
    Like(L(0), L(0)),
    Like(P("name_en"), P("approved_year")),
    Comparison("=", P("updated_at"), L(dt.date(2025, 3, 1))),
    Comparison(">=", P("updated_at"), L("2025-11-01")),
    Between(P("updated_at"), L("2025-02-01"), L("2025-04-01")),
    Comparison("=", Function("casei", P("name_en")), Function("casei", L("ZONE 7"))),
    Like(Function("casei", P("name_vi")), Function("casei", L("KHU MỘC CHÂU%"))),
    Comparison("=", Function("accenti", P("commune_name")), Function("accenti", L("Xa Da Bac"))),
    Like(Function("casei", Function("accenti", P("name_vi"))), L("khu moc chau 1%")),
    Comparison(">", P("area_ha"), P("approved_year")),
    Comparison("<", L(1), L(2)),
    IsNull(L(None)),
    Comparison("=", P("developer"), L(None)),
    And((Comparison("=", P("status"), L("planned")), Comparison(">", P("area_ha"), L(50)))),
    Or((Comparison("=", P("code"), L("G-0-0")), Comparison("=", P("code"), L("G-9-9")))),
    Not(Comparison("=", P("status"), L("planned"))),
    Not(IsNull(P("developer"))),
    And(tuple(Comparison("<>", P("code"), L(f"X-{n}")) for n in range(3000))),
    Or(tuple(Comparison("=", P("code"), L(f"G-{n % 10}-0")) for n in range(3000))),
    SpatialPredicate(
        "s_intersects",
        P("geometry"),
        GeometryLiteral(shapely.Polygon([(104.0, 21.0), (104.1, 21.0), (104.0, 21.1)])),
    ),
    SpatialPredicate("s_intersects", P("geom"), GeometryLiteral(shapely.Point(104.055, 21.065))),
    SpatialPredicate("s_intersects", P("geometry"), GeometryLiteral(shapely.Point())),
    Literal(True),
    Literal(False),
]


@pytest.mark.parametrize("expr", OPERATORS, ids=lambda e: repr(e)[:80])
def test_every_operator_answers_as_the_geopackage_store(geopackage_grid_store, sql_grid, expr):
    query = Query(filter=expr, limit=None)
    expected = answers(geopackage_grid_store, "grid", query)
    assert expected != "400"
    assert sql_answers(sql_grid, query) == expected


CQL2 = [
    "status = 'operating' AND area_ha > 20",
    "status IN ('planned', 'calling_investment') OR developer IS NULL",
    "NOT (area_ha BETWEEN 10 AND 60) AND approved_year >= 2010",
    "name_en LIKE 'Zone 1%' AND NOT name_en LIKE 'Zone 1_'",
    "CASEI(name_en) LIKE 'zone 4%'",
    "ACCENTI(CASEI(commune_name)) = 'xa moc chau'",
    "updated_at > DATE('2025-06-01') AND updated_at <= DATE('2025-09-01')",
    "updated_at > TIMESTAMP('2025-06-01T10:00:00Z')",
    "S_INTERSECTS(geometry, BBOX(104.005, 21.005, 104.025, 21.015))",
    "S_INTERSECTS(geometry, POLYGON((104.2 21.2, 104.25 21.2, 104.25 21.25, 104.2 21.2)))",
    "S_INTERSECTS(geometry, BBOX(104.23, 21.23, 104.235, 21.235))",
    "area_ha > approved_year OR leasable_area_ha IS NULL",
    "developer = 'Developer 1' OR developer = 'Developer 3'",
    "zone_type = 'industrial_zone' AND status <> 'operating'",
    "status = 'x''; DROP TABLE t; --'",
    "TRUE AND NOT FALSE",
]


@pytest.mark.parametrize("text", CQL2)
def test_cql2_answers_as_the_geopackage_store(geopackage_grid_store, sql_grid, text):
    query = Query(filter=parse_cql2_text(text), limit=None)
    expected = answers(geopackage_grid_store, "grid", query)
    assert expected != "400"
    assert sql_answers(sql_grid, query) == expected


@pytest.mark.parametrize(
    "query",
    [
        Query(bbox=(104.032, 21.042, 104.033, 21.043)),
        Query(bbox=(104.0091, 21.0, 104.0099, 21.2)),
        Query(bbox=(104.21, 21.23, 104.215, 21.235)),
        Query(text="moc chau"),
        Query(text="MỘC CHÂU"),
        Query(text="Đà"),
        Query(text="xa mai son 22"),
        Query(text="50%"),
        Query(text="a\\"),
        Query(sortby=(SortKey("area_ha", descending=True),), limit=3),
        Query(sortby=(SortKey("status"), SortKey("area_ha")), limit=2),
        Query(sortby=(SortKey("developer"),), limit=30),
        Query(sortby=(SortKey("developer", descending=True),), limit=30, offset=70),
        Query(limit=7, offset=14),
        Query(limit=10, offset=500),
        Query(limit=0),
        Query(
            bbox=(104.0, 21.0, 104.05, 21.1),
            filter=Comparison("=", P("status"), L("operating")),
            text="moc",
            sortby=(SortKey("area_ha"),),
            limit=2,
        ),
    ],
    ids=repr,
)
def test_bbox_text_sorting_and_paging_answer_as_the_geopackage_store(
    geopackage_grid_store, sql_grid, query
):
    assert sql_answers(sql_grid, query) == answers(geopackage_grid_store, "grid", query)


@pytest.mark.parametrize(
    "expr",
    [
        Comparison(">", P("area_ha"), L("big")),
        Comparison("=", P("nope"), L(1)),
        Comparison("=", P("geometry"), L(1)),
        Comparison("=", P("name_vi"), P("area_ha")),
        Comparison("=", L(1), L("a")),
        Comparison("=", Function("casei", P("area_ha")), L("1")),
        Comparison("=", P("updated_at"), L("not a date")),
        SpatialPredicate("s_intersects", P("status"), GeometryLiteral(shapely.Point(1, 1))),
        Literal("x"),
    ],
    ids=repr,
)
def test_what_cannot_be_compared_is_a_400(sql_grid, expr):
    reader, layer = sql_grid
    with pytest.raises(InvalidParameter):
        reader.query(layer, Query(filter=expr))


def test_unknown_properties_and_sort_keys_are_a_400(sql_grid):
    reader, layer = sql_grid
    with pytest.raises(InvalidParameter, match="unknown property"):
        reader.query(layer, Query(properties=("nope",)))
    with pytest.raises(InvalidParameter, match="unknown property"):
        reader.query(layer, Query(sortby=(SortKey("nope"),)))


def test_features_streams_and_selection_are_the_geopackage_stores(geopackage_grid_store, sql_grid):
    reader, layer = sql_grid
    for code in ("G-3-4", "L-SHAPE"):
        assert reader.feature(layer, code) == geopackage_grid_store.feature("grid", code)
    with pytest.raises(Exception, match="no feature"):
        reader.feature(layer, "G-99-99")
    selected = Query(properties=("name_vi", "area_ha", "updated_at"), limit=5, offset=3)
    assert reader.query(layer, selected) == geopackage_grid_store.query("grid", selected)
    operating = Query(filter=Comparison("=", P("status"), L("operating")), limit=None)
    batches = list(reader.iter_features(layer, operating, batch_size=10))
    assert [len(b) for b in batches] == [10, 10, 10, 3]
    assert [f for b in batches for f in b] == geopackage_grid_store.query(
        "grid", operating
    ).features


def test_facets_grids_and_extent_are_the_geopackage_stores(geopackage_grid_store, sql_grid):
    reader, layer = sql_grid
    fields = ("status", "developer", "area_ha", "approved_year", "updated_at", "zone_type")
    for query in (Query(), Query(filter=Comparison(">", P("area_ha"), L(40)), text="khu")):
        assert reader.facets(layer, query, fields) == geopackage_grid_store.facets(
            "grid", query, fields
        )
    assert reader.extent(layer) == pytest.approx(geopackage_grid_store.extent("grid"))
    view = (103.9987, 20.9983, 104.1013, 21.1017)  # no box centre on a cell's edge
    for query, columns, rows in (
        (Query(), 4, 3),
        (Query(filter=parse_cql2_text("area_ha > 30")), 7, 5),
    ):
        expected = geopackage_grid_store.grid("grid", query, view, columns, rows)
        cells = reader.grid(layer, query, view, columns, rows)
        assert [(c.count, c.bbox) for c in cells] == [(c.count, c.bbox) for c in expected]
        centres = [v for c in cells for v in (c.x, c.y)]  # the R-tree's boxes are float32
        assert centres == pytest.approx([v for c in expected for v in (c.x, c.y)], abs=1e-5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        # days since updated_at, with "today" 2025-12-01: updated on the 1st of each month
        ("days_since > 30", lambda d: d > 30),
        ("days_since >= 30", lambda d: d >= 30),
        ("days_since > 29.5", lambda d: d > 29.5),
        ("days_since < 61", lambda d: d < 61),
        ("days_since <= 60.5", lambda d: d <= 60.5),
        ("days_since = 30", lambda d: d == 30),
        ("days_since = 0", lambda d: d == 0),
        ("days_since <> 30", lambda d: d != 30),
        ("30 < days_since", lambda d: d > 30),
        ("days_since BETWEEN 30 AND 100", lambda d: 30 <= d <= 100),
        ("days_since NOT BETWEEN 30 AND 100", lambda d: not 30 <= d <= 100),
        ("days_since IN (30, 61, 7)", lambda d: d in (30, 61, 7)),
        ("days_since NOT IN (30, 61)", lambda d: d not in (30, 61)),
        ("days_since > -1", lambda d: True),
        ("days_since = 2.5", lambda d: False),
        ("days_since IS NULL", lambda d: False),
        ("days_since IS NOT NULL", lambda d: True),
        ("NOT days_since > 100", lambda d: not d > 100),
    ],
)
def test_a_computed_field_filters_on_its_stored_date(sql_grid, text, expected):
    reader, layer = sql_grid
    today = dt.date(2025, 12, 1)
    layer = described(layer.source, today)
    everything = reader.query(layer, Query(properties=("days_since", "updated_at"), limit=None))
    days = {f.id: f.properties["days_since"] for f in everything.features}
    assert days["G-0-0"] == (today - dt.date(2025, 1, 1)).days and days["G-1-1"] == 0
    wanted = sorted(i for i, d in days.items() if expected(d))
    found = reader.query(layer, Query(filter=parse_cql2_text(text), limit=None))
    assert sorted(f.id for f in found.features) == wanted
    ordered = reader.query(layer, Query(sortby=(SortKey("days_since", True),), limit=None))
    assert [f.properties["days_since"] for f in ordered.features] == sorted(
        days.values(), reverse=True
    )
    facet = reader.facets(layer, Query(), ("days_since",))["days_since"]
    assert (facet.minimum, facet.maximum, facet.count) == (
        min(days.values()),
        max(days.values()),
        len(days),
    )
    for refused in ("days_since = 'x'", "days_since > area_ha", "CASEI(days_since) = 'a'",
                    "days_since LIKE '1%'"):  # fmt: skip
        with pytest.raises(InvalidParameter, match="days_since"):
            reader.query(layer, Query(filter=parse_cql2_text(refused)))


@budget(120)
@given(CQL_TEXT)
def test_generated_filters_answer_or_are_a_400(geopackage_grid_store, sql_grid, text):
    """Never an error of the database: an answer, the GeoPackage store's wherever both answer,
    or a 400."""
    try:
        expr = parse_cql2_text(text)
    except CQL2Error:
        return
    query = Query(filter=expr, limit=None)
    found = sql_answers(sql_grid, query)
    if found != "400":
        expected = answers(geopackage_grid_store, "grid", query)
        assert expected in ("400", found), text


def test_a_one_to_one_join_is_counted_over_the_one_table_a_filter_needs(tmp_path):
    """A layer over two tables joined one to one: its counts, facets and extent read only the
    table they need (through its indexes), and give the join's answers."""
    metadata = MetaData()
    sites = Table("sites", metadata, Column("code", Text, primary_key=True),
                  Column("geometry", LargeBinary),
                  *(Column(n, Float) for n in ("min_x", "min_y", "max_x", "max_y")))  # fmt: skip
    states = Table("states", metadata, Column("code", Text, primary_key=True),
                   Column("status", Text))  # fmt: skip
    meta, records, geometries = grid_layer()
    meta = meta.model_copy(update={"fields": [meta.field("code"), meta.field("status")]})
    layer = SqlLayer(
        meta=meta,
        source=sites.join(states, sites.c.code == states.c.code),
        id=sites.c.code,
        columns={"status": states.c.status},
        spatial=BoxedWkb(
            sites.c.geometry, sites.c.min_x, sites.c.min_y, sites.c.max_x, sites.c.max_y
        ),  # fmt: skip
        tables=(sites, states),
    )
    records_db = Records(f"sqlite:///{tmp_path / 'two.sqlite'}")
    try:
        with records_db.engine.begin() as connection:
            metadata.create_all(connection)
            connection.execute(insert(sites), [
                {"code": r["code"], "geometry": shapely.to_wkb(g),
                 **dict(zip(("min_x", "min_y", "max_x", "max_y"), g.bounds, strict=True))}
                for r, g in zip(records, geometries, strict=True)
            ])  # fmt: skip
            connection.execute(insert(states), [{"code": r["code"], "status": r["status"]}
                                                for r in records])  # fmt: skip
        reader = SqlReader(records_db.engine)
        compiler = reader.compiler(layer)
        operating = Query(filter=Comparison("=", P("status"), L("operating")), limit=0)
        assert " JOIN " not in str(compiler.count(compiler.where(operating)))
        assert "FROM states" in str(compiler.count(compiler.where(operating)))
        assert "FROM sites" in str(compiler.extent())
        boxed = Query(bbox=(104.0, 21.0, 104.05, 21.05), filter=operating.filter, limit=0)
        assert " JOIN " in str(compiler.count(compiler.where(boxed)))
        assert reader.query(layer, operating).number_matched == 33
        assert reader.query(layer, Query(limit=1)).number_matched == 101
        assert reader.facets(layer, Query(), ("status",))["status"].count == 101
        grid_store_answer = sum(r["status"] == "operating" for r in records[:100]
                                if r["code"][2] < "5" and r["code"][4] < "5")  # fmt: skip
        assert reader.query(layer, boxed).number_matched == grid_store_answer
    finally:
        records_db.dispose()
