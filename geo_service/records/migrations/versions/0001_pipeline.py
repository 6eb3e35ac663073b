"""Investment pipeline: projects, their linked sites, append-only dossier events, the progress
projection, and investors' enquiries.

Revision ID: 0001_pipeline
Revises:
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001_pipeline"
down_revision = None
branch_labels = None
depends_on = None

TIMESTAMP = sa.String(20)
APPEND_ONLY = "dossier events are append-only"


def upgrade() -> None:
    op.create_table(
        "projects",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("name_vi", sa.Text(), nullable=False),
        sa.Column("name_en", sa.Text(), nullable=False),
        sa.Column("summary_vi", sa.Text(), nullable=False),
        sa.Column("summary_en", sa.Text(), nullable=False),
        sa.Column("sector", sa.String(64)),
        sa.Column("investment_form", sa.String(32)),
        sa.Column("location", sa.LargeBinary()),
        sa.Column("min_lon", sa.Float()),
        sa.Column("min_lat", sa.Float()),
        sa.Column("max_lon", sa.Float()),
        sa.Column("max_lat", sa.Float()),
        sa.Column("commune_code", sa.String(16)),
        sa.Column("area_ha", sa.Float()),
        sa.Column("capital_planned_billion_vnd", sa.Float()),
        sa.Column("capital_registered_billion_vnd", sa.Float()),
        sa.Column("capital_disbursed_billion_vnd", sa.Float()),
        sa.Column("investor", sa.Text()),
        sa.Column("responsible_agency", sa.Text()),
        sa.Column("public_contact", sa.Text()),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("data_quality", sa.String(32), nullable=False),
        sa.Column("search_text", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_projects"),
    )
    op.create_index("ix_projects_investment_form", "projects", ["investment_form"])
    op.create_index("ix_projects_sector", "projects", ["sector"])
    op.create_index("ix_projects_commune_code", "projects", ["commune_code"])
    op.create_index(
        "ix_projects_min_lon_max_lon_min_lat_max_lat",
        "projects",
        ["min_lon", "max_lon", "min_lat", "max_lat"],
    )

    op.create_table(
        "project_sites",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("collection", sa.String(63), nullable=False),
        sa.Column("feature_id", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_project_sites_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "collection", "feature_id", name="pk_project_sites"),
    )
    op.create_index(
        "ix_project_sites_collection_feature_id", "project_sites", ["collection", "feature_id"]
    )

    op.create_table(
        "dossier_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("step", sa.String(64)),
        sa.Column("date", sa.Date()),
        sa.Column("planned_date", sa.Date()),
        sa.Column("document", sa.Text()),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("recorded_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_dossier_events_project_id_projects"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_dossier_events"),
        sa.UniqueConstraint("project_id", "seq", name="uq_dossier_events_project_id_seq"),
    )
    _forbid_changes_to_events()

    op.create_table(
        "project_progress",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("current_step", sa.String(64)),
        sa.Column("steps_completed", sa.Integer(), nullable=False),
        sa.Column("steps_total", sa.Integer(), nullable=False),
        sa.Column("earliest_open_planned", sa.Date()),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_project_progress_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name="pk_project_progress"),
    )
    op.create_index("ix_project_progress_stage", "project_progress", ["stage"])
    op.create_index(
        "ix_project_progress_earliest_open_planned", "project_progress", ["earliest_open_planned"]
    )

    op.create_table(
        "enquiries",
        sa.Column("id", sa.String(32), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("organisation", sa.Text(), nullable=False),
        sa.Column("email", sa.Text()),
        sa.Column("phone", sa.Text()),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("project_id", sa.String(64)),
        sa.Column("site_collection", sa.String(63)),
        sa.Column("site_id", sa.String(200)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("officer", sa.Text()),
        sa.Column("reply_note", sa.Text(), nullable=False),
        sa.Column("client_hash", sa.String(64), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("in_progress_at", TIMESTAMP),
        sa.Column("answered_at", TIMESTAMP),
        sa.Column("closed_at", TIMESTAMP),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.ForeignKeyConstraint(
            ["project_id"], ["projects.id"], name="fk_enquiries_project_id_projects"
        ),
        sa.PrimaryKeyConstraint("id", name="pk_enquiries"),
    )
    op.create_index("ix_enquiries_status_created_at", "enquiries", ["status", "created_at"])
    op.create_index(
        "ix_enquiries_client_hash_created_at", "enquiries", ["client_hash", "created_at"]
    )


def _forbid_changes_to_events() -> None:
    """The database itself refuses UPDATE and DELETE on dossier events."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION dossier_events_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{APPEND_ONLY}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER dossier_events_append_only BEFORE UPDATE OR DELETE ON dossier_events "
            "FOR EACH ROW EXECUTE FUNCTION dossier_events_append_only()"
        )
        return
    for action in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER dossier_events_no_{action.lower()} BEFORE {action} ON dossier_events "
            f"BEGIN SELECT RAISE(ABORT, '{APPEND_ONLY}'); END"
        )


def downgrade() -> None:
    op.drop_table("enquiries")
    op.drop_table("project_progress")
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER dossier_events_append_only ON dossier_events")
        op.execute("DROP FUNCTION dossier_events_append_only()")
    op.drop_table("dossier_events")
    op.drop_table("project_sites")
    op.drop_table("projects")
