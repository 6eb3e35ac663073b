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
TIMESTAMP = sa.String(20)


def _tokens(condition: str) -> sa.Table:
    """The tokens table as 0002 made it, with the role check `condition`: SQLite's copy of a
    table is made from this, since batch mode does not carry CHECK constraints over by name."""
    return sa.Table(
        "tokens",
        sa.MetaData(),
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP),
        sa.CheckConstraint(condition, name=CONSTRAINT),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("secret_hash", name="uq_tokens_secret_hash"),
    )


def _roles(condition: str) -> None:
    """Replace the check on `tokens.role` (SQLite copies the table to change a constraint)."""
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("tokens", recreate="always", copy_from=_tokens(condition)):
            pass
        return
    checks = op.get_bind().execute(
        sa.text(
            "SELECT conname FROM pg_constraint WHERE conrelid = 'tokens'::regclass "
            "AND contype = 'c' AND pg_get_constraintdef(oid) LIKE '%role%'"
        )
    )
    for (name,) in checks.all():  # 0002 named it through the naming convention a second time
        op.drop_constraint(op.f(name), "tokens", type_="check")
    op.create_check_constraint(op.f(CONSTRAINT), "tokens", sa.text(condition))


def upgrade() -> None:
    _roles("role IN ('editor', 'reviewer', 'admin')")


def downgrade() -> None:
    op.execute("DELETE FROM tokens WHERE role = 'reviewer'")
    _roles("role IN ('editor', 'admin')")
