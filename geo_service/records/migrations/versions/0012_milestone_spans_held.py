"""The indexes of the spans' selection, completion and revocation dates hold only the spans
dated so and still open after that day: only those can be a project's state on a day on or
after the milestone, so only those count by it (`records.schema.open_after`). A period then
reads half of the spans it read by selection date, a sixth by completion date.

Revision ID: 0012_milestone_spans_held
Revises: 0011_state_months_counted
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012_milestone_spans_held"
down_revision = "0011_state_months_counted"
branch_labels = None
depends_on = None

COUNTED = ["since", "until", "selected_on", "completed_on", "revoked_on", "investment_form",
           "stage", "sector", "commune_code", "capital_planned_billion_vnd",
           "capital_registered_billion_vnd", "capital_disbursed_billion_vnd"]  # fmt: skip
MILESTONES = {"selected": "selected_on", "completed": "completed_on", "revoked": "revoked_on"}


def _create(name: str, lead: str, held: bool) -> None:
    where = sa.text(f"{lead} IS NOT NULL AND (until IS NULL OR until > {lead})") if held else None
    op.create_index(
        f"ix_project_states_{name}",
        "project_states",
        [lead, *(c for c in COUNTED if c != lead)],
        sqlite_where=where,
        postgresql_where=where,
    )


def upgrade() -> None:
    for name, lead in MILESTONES.items():
        op.drop_index(f"ix_project_states_{name}", "project_states")
        _create(name, lead, held=True)


def downgrade() -> None:
    for name, lead in MILESTONES.items():
        op.drop_index(f"ix_project_states_{name}", "project_states")
        _create(name, lead, held=False)
