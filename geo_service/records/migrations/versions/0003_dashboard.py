"""Dashboard: events flagged as obstacles and changes of investment form on the dossier, each
project's states over time and its milestone dates (a projection replayed from the events).

Revision ID: 0003_dashboard
Revises: 0002_staff_and_shortlists
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_dashboard"
down_revision = "0002_staff_and_shortlists"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column(
        "dossier_events",
        sa.Column("obstacle", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.add_column("dossier_events", sa.Column("form_before", sa.String(32)))
    op.add_column("dossier_events", sa.Column("form_after", sa.String(32)))
    op.create_index("ix_dossier_events_obstacle_date", "dossier_events", ["obstacle", "date"])
    op.create_index("ix_enquiries_created_at", "enquiries", ["created_at"])
    # the newest change of each table, read at every summary to know whether a cached answer
    # still holds
    op.create_index("ix_projects_updated_at", "projects", ["updated_at"])
    op.create_index("ix_enquiries_updated_at", "enquiries", ["updated_at"])

    op.create_table(
        "project_states",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("until", sa.Date()),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("investment_form", sa.String(32)),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_project_states_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", "since", name="pk_project_states"),
    )
    # covering indexes: a period's figures read every project's state on a day, its dates and
    # a few of its columns, each join answered from an index instead of the wide rows
    op.create_index(
        "ix_project_states_until_since_project_id_stage_investment_form",
        "project_states",
        ["until", "since", "project_id", "stage", "investment_form"],
    )

    op.create_table(
        "project_milestones",
        sa.Column("project_id", sa.String(64), nullable=False),
        sa.Column("in_pipeline_from", sa.Date(), nullable=False),
        sa.Column("selected_on", sa.Date()),
        sa.Column("completed_on", sa.Date()),
        sa.Column("revoked_on", sa.Date()),
        sa.ForeignKeyConstraint(
            ["project_id"],
            ["projects.id"],
            name="fk_project_milestones_project_id_projects",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("project_id", name="pk_project_milestones"),
    )
    for column in ("selected_on", "completed_on", "revoked_on"):
        op.create_index(f"ix_project_milestones_{column}", "project_milestones", [column])
    op.create_index(
        "ix_project_milestones_dashboard",
        "project_milestones",
        ["project_id", "in_pipeline_from", "selected_on", "completed_on", "revoked_on"],
    )
    op.create_index(
        "ix_projects_dashboard",
        "projects",
        ["id", "sector", "commune_code", "capital_planned_billion_vnd",
         "capital_registered_billion_vnd", "capital_disbursed_billion_vnd"],
    )  # fmt: skip
    # the projection of projects recorded before this revision is replayed by 0008, with the
    # service's code of that revision


def downgrade() -> None:
    op.drop_index("ix_projects_dashboard", "projects")
    op.drop_table("project_milestones")
    op.drop_table("project_states")
    op.drop_index("ix_enquiries_updated_at", "enquiries")
    op.drop_index("ix_projects_updated_at", "projects")
    op.drop_index("ix_enquiries_created_at", "enquiries")
    op.drop_index("ix_dossier_events_obstacle_date", "dossier_events")
    with op.batch_alter_table("dossier_events") as batch:
        batch.drop_column("form_after")
        batch.drop_column("form_before")
        batch.drop_column("obstacle")
