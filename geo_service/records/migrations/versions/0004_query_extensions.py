"""PostgreSQL extensions that compiled layer queries use: `postgis` (the exact spatial test of
S_INTERSECTS and bbox) and `unaccent` (CQL2 ACCENTI). SQLite needs none: its functions are
registered on each connection.

Revision ID: 0004_query_extensions
Revises: 0003_dashboard
Create Date: 2026-12-01
"""

from __future__ import annotations

from alembic import op

revision = "0004_query_extensions"
down_revision = "0003_dashboard"
branch_labels = None
depends_on = None

EXTENSIONS = ("postgis", "unaccent")


def upgrade() -> None:
    if op.get_bind().dialect.name != "postgresql":
        return
    for name in EXTENSIONS:
        # already there when a database administrator created it for a less privileged owner
        op.execute(f"CREATE EXTENSION IF NOT EXISTS {name}")


def downgrade() -> None:
    """The extensions stay: other schemas of the database may use them."""
