"""GIS staff's tokens, the audit log and planners' shortlists, which earlier releases kept in
`admin.sqlite` and `shortlists.sqlite` in the data directory (`records.legacy` copies those in).

Revision ID: 0002_staff_and_shortlists
Revises: 0001_pipeline
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_staff_and_shortlists"
down_revision = "0001_pipeline"
branch_labels = None
depends_on = None

TIMESTAMP = sa.String(20)


def upgrade() -> None:
    op.create_table(
        "tokens",
        sa.Column("id", sa.String(16), nullable=False),
        sa.Column("secret_hash", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("label", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("revoked_at", TIMESTAMP),
        sa.CheckConstraint("role IN ('editor', 'admin')", name="ck_tokens_role"),
        sa.PrimaryKeyConstraint("id", name="pk_tokens"),
        sa.UniqueConstraint("secret_hash", name="uq_tokens_secret_hash"),
    )

    op.create_table(
        "audit_entries",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("at", TIMESTAMP, nullable=False),
        sa.Column("actor", sa.Text(), nullable=False),
        sa.Column("action", sa.String(64), nullable=False),
        sa.Column("layer", sa.String(63)),
        sa.Column("details", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_audit_entries"),
    )
    op.create_index("ix_audit_entries_at_id", "audit_entries", ["at", "id"])
    op.create_index("ix_audit_entries_layer_at_id", "audit_entries", ["layer", "at", "id"])

    op.create_table(
        "shortlists",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("key_hash", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("client", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMP, nullable=False),
        sa.Column("updated_at", TIMESTAMP, nullable=False),
        sa.Column("used_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("id", name="pk_shortlists"),
    )
    op.create_index("ix_shortlists_client", "shortlists", ["client"])
    op.create_index("ix_shortlists_used_at", "shortlists", ["used_at"])

    op.create_table(
        "shortlist_items",
        sa.Column("shortlist_id", sa.String(64), nullable=False),
        sa.Column("collection", sa.String(63), nullable=False),
        sa.Column("feature_id", sa.String(200), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["shortlist_id"],
            ["shortlists.id"],
            name="fk_shortlist_items_shortlist_id_shortlists",
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "shortlist_id", "collection", "feature_id", name="pk_shortlist_items"
        ),
    )

    op.create_table(
        "imported_files",
        sa.Column("fingerprint", sa.String(64), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("imported_at", TIMESTAMP, nullable=False),
        sa.PrimaryKeyConstraint("fingerprint", name="pk_imported_files"),
    )


def downgrade() -> None:
    op.drop_table("imported_files")
    op.drop_table("shortlist_items")
    op.drop_table("shortlists")
    op.drop_table("audit_entries")
    op.drop_table("tokens")
