"""A project's name and summary in Japanese, Korean and Chinese beside Vietnamese and English:
nullable columns, empty (NULL) for the projects recorded before; readers fall back to English,
then Vietnamese.

Revision ID: 0009_project_texts_per_language
Revises: 0008_states_counted_alone
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009_project_texts_per_language"
down_revision = "0008_states_counted_alone"
branch_labels = None
depends_on = None

COLUMNS = tuple(f"{stem}_{lang}" for stem in ("name", "summary") for lang in ("ja", "ko", "zh"))
"""Named here, not from the service's languages, so the revision stays what it was."""


def upgrade() -> None:
    for name in COLUMNS:
        op.add_column("projects", sa.Column(name, sa.Text()))


def downgrade() -> None:
    for name in COLUMNS:
        # not batch mode: recreating the table on SQLite would lose its triggers (0007)
        op.execute(f"ALTER TABLE projects DROP COLUMN {name}")
