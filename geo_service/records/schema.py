"""The tables of the records database, as SQLAlchemy Core tables (the migrations create them).

Portable across SQLite and PostgreSQL: a project's location is ISO WKB in WGS 84 with its bounding
box in four plain columns (no spatial extension needed); dates are SQL dates, timestamps ISO 8601
UTC text (`clock.utc_now`), as elsewhere in the catalogue.

The layer catalogue at the end is the PostGIS store's (`store/postgis.py`): on PostgreSQL the
layers live in the same database, their rows in tables of the `layer_data` schema made as each
version is published; on SQLite these tables stay empty.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    literal_column,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
Timestamp = String(20)
"""`2026-05-01T08:30:00Z`"""

projects = Table(
    "projects",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name_vi", Text, nullable=False),
    Column("name_en", Text, nullable=False),
    Column("summary_vi", Text, nullable=False),
    Column("summary_en", Text, nullable=False),
    Column("sector", String(64)),
    Column("investment_form", String(32)),
    Column("location", LargeBinary),
    Column("min_lon", Float),
    Column("min_lat", Float),
    Column("max_lon", Float),
    Column("max_lat", Float),
    Column("commune_code", String(16)),
    Column("area_ha", Float),
    Column("capital_planned_billion_vnd", Float),
    Column("capital_registered_billion_vnd", Float),
    Column("capital_disbursed_billion_vnd", Float),
    Column("investor", Text),
    Column("responsible_agency", Text),
    Column("public_contact", Text),
    Column("source", Text, nullable=False),
    Column("data_quality", String(32), nullable=False),
    Column("search_text", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("version", Integer, nullable=False),
    Index(None, "investment_form"),
    Index(None, "sector"),
    Index(None, "commune_code"),
    Index(None, "min_lon", "max_lon", "min_lat", "max_lat"),
)

project_sites = Table(
    "project_sites",
    metadata,
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("collection", String(63), primary_key=True),
    Column("feature_id", String(200), primary_key=True),
    Column("position", Integer, nullable=False),
    Index(None, "collection", "feature_id"),
)

dossier_events = Table(
    "dossier_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("project_id", ForeignKey("projects.id"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(32), nullable=False),
    Column("step", String(64)),
    Column("date", Date),
    Column("planned_date", Date),
    Column("document", Text),
    Column("note", Text, nullable=False),
    Column("public", Boolean, nullable=False),
    Column("actor", Text, nullable=False),
    Column("recorded_at", Timestamp, nullable=False),
    UniqueConstraint("project_id", "seq"),
)

project_progress = Table(
    "project_progress",
    metadata,
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("stage", String(32), nullable=False),
    Column("current_step", String(64)),
    Column("steps_completed", Integer, nullable=False),
    Column("steps_total", Integer, nullable=False),
    Column("earliest_open_planned", Date),
    Column("events", Integer, nullable=False),
    Index(None, "stage"),
    Index(None, "earliest_open_planned"),
)

enquiries = Table(
    "enquiries",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", Text, nullable=False),
    Column("organisation", Text, nullable=False),
    Column("email", Text),
    Column("phone", Text),
    Column("language", String(2), nullable=False),
    Column("message", Text, nullable=False),
    Column("project_id", ForeignKey("projects.id")),
    Column("site_collection", String(63)),
    Column("site_id", String(200)),
    Column("status", String(16), nullable=False),
    Column("officer", Text),
    Column("reply_note", Text, nullable=False),
    Column("client_hash", String(64), nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("in_progress_at", Timestamp),
    Column("answered_at", Timestamp),
    Column("closed_at", Timestamp),
    Column("updated_at", Timestamp, nullable=False),
    Index(None, "status", "created_at"),
    Index(None, "client_hash", "created_at"),
)

layer_catalogue = Table(
    "layer_catalogue",
    metadata,
    Column("uid", Integer, primary_key=True, autoincrement=True),
    Column("id", String(63), nullable=False),
    Column("current_version", Integer),  # the version served; NULL while only drafts
    Column("archived_as", String(100)),  # NULL while in the catalogue
    Index(
        "uq_layer_catalogue_id_listed",
        "id",
        unique=True,
        postgresql_where=literal_column("archived_as IS NULL"),
        sqlite_where=literal_column("archived_as IS NULL"),
    ),
)
"""A layer id in the catalogue, or archived (an id may be made again after an archive: a new
row, whose version numbers continue from the archived one's)."""

layer_generations = Table(
    "layer_generations",
    metadata,
    Column("uid", Integer, primary_key=True, autoincrement=True),
    Column("layer_uid", ForeignKey("layer_catalogue.uid"), nullable=False),
    Column("table_name", String(63), nullable=False, unique=True),
    Column("first_version", Integer, nullable=False),
    Column("head_version", Integer, nullable=False),  # the newest it holds rows of
)
"""A table of rows: written whole by an upload, then stamped by the change sets on top of it."""

layer_versions = Table(
    "layer_versions",
    metadata,
    Column("layer_uid", ForeignKey("layer_catalogue.uid"), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("generation", ForeignKey("layer_generations.uid"), nullable=False),
    Column("kind", String(16), nullable=False),  # upload or changes
    Column("actor", Text),
    Column("written", Timestamp, nullable=False),
    Column("metadata", Text, nullable=False),  # its LayerMeta as JSON
    Column("features", Integer, nullable=False),
    Column("max_fid", BigInteger, nullable=False),
    Column("min_x", Float),
    Column("min_y", Float),
    Column("max_x", Float),
    Column("max_y", Float),
)
"""One version of a layer: its metadata, who made it and when, its count and extent."""
