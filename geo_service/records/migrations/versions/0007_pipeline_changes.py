"""A change counter of the pipeline, bumped by the database itself in the same transaction as
every write to a pipeline table, so that a process keeping answers computed from those tables
(the dashboard) knows with one primary-key read whether any process has changed them since.

Revision ID: 0007_pipeline_changes
Revises: 0006_reviewer_role
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007_pipeline_changes"
down_revision = "0006_reviewer_role"
branch_labels = None
depends_on = None

COUNTER = "pipeline"
TABLES = (
    "projects",
    "project_sites",
    "dossier_events",
    "project_progress",
    "project_states",
    "enquiries",
)
"""Every table a dashboard figure is read from (`project_milestones` is only ever written with
`project_states`, in the same transaction)."""
FLAG = "geo_service.pipeline_changed"
BUMP = f"UPDATE change_counters SET value = value + 1 WHERE name = '{COUNTER}'"


def upgrade() -> None:
    op.create_table(
        "change_counters",
        sa.Column("name", sa.String(32), nullable=False),
        sa.Column("value", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("name", name="pk_change_counters"),
    )
    op.execute(f"INSERT INTO change_counters (name, value) VALUES ('{COUNTER}', 0)")
    if op.get_bind().dialect.name == "postgresql":
        # once per transaction: every version of the one row a transaction updates again is
        # kept until it ends, so bumping it per row (a driver's executemany runs a statement
        # per row) made a bulk import quadratic; the flag is transaction-local (set_config)
        op.execute(
            "CREATE FUNCTION bump_pipeline_changes() RETURNS trigger LANGUAGE plpgsql AS $$ "
            f"BEGIN IF current_setting('{FLAG}', true) IS DISTINCT FROM txid_current()::text "
            f"THEN {BUMP}; PERFORM set_config('{FLAG}', txid_current()::text, true); END IF; "
            "RETURN NULL; END $$"
        )
        for table in TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_changes AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE "
                f"ON {table} FOR EACH STATEMENT EXECUTE FUNCTION bump_pipeline_changes()"
            )
        return
    for table in TABLES:  # SQLite has row triggers only; it updates the row in place
        for action in ("INSERT", "UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER {table}_changes_{action.lower()} AFTER {action} ON {table} "
                f"BEGIN {BUMP}; END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        for table in TABLES:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_changes ON {table}")
        op.execute("DROP FUNCTION bump_pipeline_changes()")
    else:
        for table in TABLES:
            for action in ("insert", "update", "delete"):
                op.execute(f"DROP TRIGGER IF EXISTS {table}_changes_{action}")
    op.drop_table("change_counters")
