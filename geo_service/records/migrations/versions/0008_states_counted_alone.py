"""Each state span of a project carries what the dashboard counts (sector, commune, capital,
the milestone dates), so that a period's figures and the targets' progress read one covering
index of `project_states` instead of joining 100,000 rows of three tables; the separate
milestones table goes. Existing rows are filled from the projects and their milestones.

Revision ID: 0008_states_counted_alone
Revises: 0007_pipeline_changes
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008_states_counted_alone"
down_revision = "0007_pipeline_changes"
branch_labels = None
depends_on = None

PROJECT_VALUES = (
    "sector",
    "commune_code",
    "capital_planned_billion_vnd",
    "capital_registered_billion_vnd",
    "capital_disbursed_billion_vnd",
)
MILESTONES = ("selected_on", "completed_on", "revoked_on")
OLD_INDEX = "ix_project_states_until_since_project_id_stage_investment_form"
PERIOD_INDEX = "ix_project_states_period"
TARGET_INDEX = "ix_project_states_targets"
PERIOD_COLUMNS = ["until", "since", "investment_form", "stage", *PROJECT_VALUES, *MILESTONES]
TARGET_COLUMNS = ["selected_on", "since", "until", "investment_form", "sector", "completed_on",
                  "revoked_on", "capital_registered_billion_vnd"]  # fmt: skip


def upgrade() -> None:
    op.add_column("project_states", sa.Column("sector", sa.String(64)))
    op.add_column("project_states", sa.Column("commune_code", sa.String(16)))
    for name in PROJECT_VALUES[2:]:
        op.add_column("project_states", sa.Column(name, sa.Float()))
    for name in MILESTONES:
        op.add_column("project_states", sa.Column(name, sa.Date()))
    op.drop_index(OLD_INDEX, "project_states")
    _copy("projects", "id", PROJECT_VALUES)
    _copy("project_milestones", "project_id", MILESTONES)
    _replay_projects_without_states()
    op.create_index(PERIOD_INDEX, "project_states", PERIOD_COLUMNS)
    op.create_index(TARGET_INDEX, "project_states", TARGET_COLUMNS)
    op.drop_table("project_milestones")


def _copy(table: str, key: str, columns: tuple[str, ...]) -> None:
    names = ", ".join(columns)
    op.execute(
        f"UPDATE project_states SET ({names}) = "
        f"(SELECT {names} FROM {table} WHERE {table}.{key} = project_states.project_id)"
    )


def _replay_projects_without_states() -> None:
    """Projects recorded before revision 0003 have no projection yet: replay every project's
    events with the service's procedures (`history.rebuild` writes this revision's rows)."""
    connection = op.get_bind()
    unreplayed = sa.text(
        "SELECT 1 FROM projects WHERE NOT EXISTS "
        "(SELECT 1 FROM project_states WHERE project_states.project_id = projects.id) LIMIT 1"
    )
    if not connection.execute(unreplayed).first():
        return
    from geo_service.pipeline import history
    from geo_service.pipeline.procedures import load_procedures
    from geo_service.settings import Settings

    history.rebuild(connection, load_procedures(Settings().procedures_dir))


def downgrade() -> None:
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
    for column in MILESTONES:
        op.create_index(f"ix_project_milestones_{column}", "project_milestones", [column])
    op.create_index(
        "ix_project_milestones_dashboard",
        "project_milestones",
        ["project_id", "in_pipeline_from", *MILESTONES],
    )
    op.execute(
        "INSERT INTO project_milestones (project_id, in_pipeline_from, selected_on, "
        "completed_on, revoked_on) SELECT project_id, min(since), min(selected_on), "
        "min(completed_on), min(revoked_on) FROM project_states GROUP BY project_id"
    )
    op.drop_index(TARGET_INDEX, "project_states")
    op.drop_index(PERIOD_INDEX, "project_states")
    for name in (*MILESTONES, *PROJECT_VALUES):
        # not batch mode: recreating the table on SQLite would lose its triggers (0005)
        op.execute(f"ALTER TABLE project_states DROP COLUMN {name}")
    op.create_index(
        OLD_INDEX, "project_states", ["until", "since", "project_id", "stage", "investment_form"]
    )
