"""The tables of the records database, as SQLAlchemy Core tables (the migrations create them):
the investment pipeline, GIS staff's tokens and the audit log, planners' shortlists.

Portable across SQLite and PostgreSQL: a project's location is ISO WKB in WGS 84 with its bounding
box in four plain columns (no spatial extension needed); dates are SQL dates, timestamps ISO 8601
UTC text (`clock.utc_now`), as elsewhere in the catalogue.

The layer catalogue at the end is the PostGIS store's (`store/postgis.py`): on PostgreSQL the
layers live in the same database, their rows in tables of the `layer_data` schema made as each
version is published; on SQLite these tables stay empty.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
    and_,
    column,
    false,
    literal_column,
    or_,
)
from sqlalchemy.sql import ColumnElement

from ..i18n.content import further_names

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
    *(Column(name, Text) for name in further_names("name", "summary")),
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
    Index(None, "updated_at"),
    Index(
        "ix_projects_dashboard",
        "id",
        "sector",
        "commune_code",
        "capital_planned_billion_vnd",
        "capital_registered_billion_vnd",
        "capital_disbursed_billion_vnd",
    ),
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
    Column("obstacle", Boolean, nullable=False, server_default=false()),
    Column("form_before", String(32)),
    Column("form_after", String(32)),
    UniqueConstraint("project_id", "seq"),
    Index(None, "obstacle", "date"),
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

STATE_COUNTED = (
    "since", "until", "selected_on", "completed_on", "revoked_on", "investment_form", "stage",
    "sector", "commune_code", "capital_planned_billion_vnd", "capital_registered_billion_vnd",
    "capital_disbursed_billion_vnd",
)  # fmt: skip
STATE_MILESTONES = ("selected_on", "completed_on", "revoked_on")
STATE_DATE_INDEXES = {
    f"ix_project_states_{lead.removesuffix('_on')}": (
        lead,
        *(c for c in STATE_COUNTED if c != lead),
    )
    for lead in ("since", *STATE_MILESTONES)
}
"""Indexes led by each of the spans' dates, holding every column the dashboard counts, so
that it reads the spans dated within a period and nothing else (`dashboard.dated`); those of
the milestones hold only the spans open after the milestone (`open_after`)."""


def open_after(columns: Any, milestone: str) -> ColumnElement[bool]:
    """The span (of `columns`: a table's, or names to columns) is dated `milestone` and still
    open after that day. Only such a span can be the project's state on a day on or after its
    milestone, so only these are counted by the milestone (a span on a day D with a milestone
    by D has until > D >= the milestone). A statement that says so reads the milestone's
    index, which holds these alone: half of the spans with a selection date, a sixth of those
    with a completion date."""
    day, until = columns[milestone], columns["until"]
    return and_(day.is_not(None), or_(until.is_(None), until > day))


def _spans_held(lead: str) -> dict[str, ColumnElement[bool]]:
    """The condition on the spans an index led by `lead` holds, per dialect (none: all)."""
    if lead not in STATE_MILESTONES:
        return {}
    spans = open_after({name: column(name) for name in (lead, "until")}, lead)
    return {"sqlite_where": spans, "postgresql_where": spans}


project_states = Table(
    "project_states",
    metadata,
    Column("project_id", ForeignKey("projects.id", ondelete="CASCADE"), primary_key=True),
    Column("since", Date, primary_key=True),
    Column("until", Date),
    Column("stage", String(32), nullable=False),
    Column("investment_form", String(32)),
    Column("sector", String(64)),
    Column("commune_code", String(16)),
    Column("capital_planned_billion_vnd", Float),
    Column("capital_registered_billion_vnd", Float),
    Column("capital_disbursed_billion_vnd", Float),
    Column("selected_on", Date),
    Column("completed_on", Date),
    Column("revoked_on", Date),
    Index(
        "ix_project_states_period",
        "until",
        "since",
        "investment_form",
        "stage",
        "sector",
        "commune_code",
        "capital_planned_billion_vnd",
        "capital_registered_billion_vnd",
        "capital_disbursed_billion_vnd",
        "selected_on",
        "completed_on",
        "revoked_on",
    ),
    *(
        Index(name, *columns, **_spans_held(columns[0]))
        for name, columns in STATE_DATE_INDEXES.items()
    ),
)
"""Each project's stage and form over time, replayed from its dated events (`history`): the
state on day D is the row with since <= D < until (until NULL: still so). Each row also carries
what the dashboard counts, copied from the project (sector, commune, capital, as the record
holds them now) and from its replayed milestones (the same on every row of a project), so that
a period's figures read covering indexes, with no join."""

project_state_months = Table(
    "project_state_months",
    metadata,
    Column("dimension", String(16), nullable=False),
    Column("value", String(64), nullable=False),
    Column("month", Date, nullable=False),
    Column("delta", BigInteger, nullable=False),
    PrimaryKeyConstraint("dimension", "value", "month", postgresql_include=["delta"]),
    sqlite_with_rowid=False,
)
"""For each dimension (`investment_form`, `sector`, `stage`, `commune_code`), value ('' where
none is recorded) and month (its first day): the state spans of that value starting in the month
less those ending in it, kept by the database's triggers (migration `0011_state_months_counted`)
in the same transaction as every write to `project_states`."""

project_state_changes = Table(
    "project_state_changes",
    metadata,
    Column("change", BigInteger, nullable=False, index=True),
    Column("sign", SmallInteger, nullable=False),
    *(
        Column(c.name, c.type, nullable=c.nullable)
        for c in project_states.columns
        if c.name != "project_id"
    ),  # fmt: skip
)
"""The log of the writes to `project_states` (triggers, migration `0010_state_changes_logged`):
each span inserted (`sign` +1) or deleted (-1; an update is both), with the `pipeline` counter's
value of the writing transaction (`change`). The counter `pipeline_log_from` says up to which
change rows may have been pruned (`dashboard.summary` brings kept summaries up to date with it)."""

change_counters = Table(
    "change_counters",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)
"""Counters the database bumps itself (triggers, migration `0007_pipeline_changes`) in the same
transaction as every write to the tables they watch: `pipeline` counts the writes to projects,
their sites, events, progress, states and milestones, and enquiries; `pipeline_log_from` the
change up to which the log of state spans may have been pruned (`project_state_changes`)."""

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
    Index(None, "created_at"),
    Index(None, "updated_at"),
)

tokens = Table(
    "tokens",
    metadata,
    Column("id", String(16), primary_key=True),
    Column("secret_hash", String(64), nullable=False, unique=True),
    Column("role", String(16), nullable=False),
    Column("label", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("revoked_at", Timestamp),
    CheckConstraint("role IN ('editor', 'reviewer', 'admin')", name="role"),
)
"""GIS staff's tokens: only a SHA-256 hash of each secret is kept (looked up by its index)."""

audit_entries = Table(
    "audit_entries",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("at", Timestamp, nullable=False),
    Column("actor", Text, nullable=False),
    Column("action", String(64), nullable=False),
    Column("layer", String(63)),
    Column("details", JSON, nullable=False),
    Index(None, "at", "id"),
    Index(None, "layer", "at", "id"),
)
"""Who changed what and when, newest first by `at` (then `id`), for all layers or for one."""

shortlists = Table(
    "shortlists",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("key_hash", String(64), nullable=False),
    Column("name", Text, nullable=False),
    Column("note", Text, nullable=False),
    Column("client", Text, nullable=False),
    Column("created_at", Timestamp, nullable=False),
    Column("updated_at", Timestamp, nullable=False),
    Column("used_at", Timestamp, nullable=False),
    Index(None, "client"),
    Index(None, "used_at"),
)
"""Planners' shortlists: the edit key hashed, the client address for its quota, the last use
for expiry."""

shortlist_items = Table(
    "shortlist_items",
    metadata,
    Column("shortlist_id", ForeignKey("shortlists.id", ondelete="CASCADE"), primary_key=True),
    Column("collection", String(63), primary_key=True),
    Column("feature_id", String(200), primary_key=True),
    Column("position", Integer, nullable=False),
)

imported_files = Table(
    "imported_files",
    metadata,
    Column("fingerprint", String(64), primary_key=True),
    Column("name", Text, nullable=False),
    Column("imported_at", Timestamp, nullable=False),
)
"""SQLite files of earlier releases whose rows have been copied in (`records.legacy`), by a
hash of those rows: a file is never copied twice, even if renaming it failed."""
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
