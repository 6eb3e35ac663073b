"""The `reviewer` role between editor and admin: it publishes others' drafts when review is
required.

Revision ID: 0006_reviewer_role
Revises: 0005_layer_store
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006_reviewer_role"
down_revision = "0005_layer_store"
branch_labels = None
depends_on = None

CONSTRAINT = "ck_tokens_role"


def _roles(condition: str) -> None:
    """Replace the check on `tokens.role` (SQLite copies the table to change a constraint)."""
    check = sa.CheckConstraint(condition, name=CONSTRAINT)
    if op.get_bind().dialect.name == "sqlite":
        # batch mode does not reflect CHECK constraints: the copy is made with the new one alone
        with op.batch_alter_table("tokens", recreate="always", table_args=(check,)):
            pass
        return
    op.drop_constraint(CONSTRAINT, "tokens", type_="check")
    op.create_check_constraint(op.f(CONSTRAINT), "tokens", condition)


def upgrade() -> None:
    _roles("role IN ('editor', 'reviewer', 'admin')")


def downgrade() -> None:
    op.execute("DELETE FROM tokens WHERE role = 'reviewer'")
    _roles("role IN ('editor', 'admin')")
