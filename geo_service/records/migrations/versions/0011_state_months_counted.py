"""How many state spans each dimension's value gained and lost in each month, kept by the
database in the same transaction as each change to the spans, so that the projects in the
pipeline on a day, by form, sector, stage or commune, are the months before it added up (a few
thousand rows) plus the spans starting or ending in its own month, instead of every span.

`project_state_months` holds, for each dimension counted (`investment_form`, `sector`, `stage`,
`commune_code`), value ('' where none is recorded) and month (its first day), the spans of that
value starting in the month less those ending in it (a span is on day D when since <= D < until).
Triggers on `project_states` add a span's +1 and -1 when it is inserted, take them back when it
is deleted, and do both on an update: row triggers on SQLite, statement triggers over the
transition tables on PostgreSQL (one update of each month row per statement, however many spans
it writes), which first take the pipeline's change counter (as the log's trigger of 0010 does),
so the transactions that write spans hold it before any month row and cannot deadlock on those.
Existing spans are counted once here. On PostgreSQL the primary key's index also holds `delta`,
so that the months are read from the index alone: a transaction writing many spans one statement
at a time (an import) updates a month row as often, and the dead versions it leaves spread the
live rows over many more table pages than they fill.

The spans' start and their selection, completion and revocation dates get an index each, led by
the date and holding every column counted, so a period reads only the spans dated within it and
nothing else; the selection date's index replaces the targets' index of 0008, which it covers.

Revision ID: 0011_state_months_counted
Revises: 0010_state_changes_logged
Create Date: 2026-12-02
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011_state_months_counted"
down_revision = "0010_state_changes_logged"
branch_labels = None
depends_on = None

MONTHS = "project_state_months"
DIMENSIONS = ("investment_form", "sector", "stage", "commune_code")
COUNTED = ["since", "until", "selected_on", "completed_on", "revoked_on", "investment_form",
           "stage", "sector", "commune_code", "capital_planned_billion_vnd",
           "capital_registered_billion_vnd", "capital_disbursed_billion_vnd"]  # fmt: skip
INDEXES = {
    f"ix_project_states_{name}": [lead, *(c for c in COUNTED if c != lead)]
    for name, lead in (("since", "since"), ("selected", "selected_on"),
                       ("completed", "completed_on"), ("revoked", "revoked_on"))
}  # fmt: skip
OLD_TARGET_INDEX = "ix_project_states_targets"
OLD_TARGET_COLUMNS = ["selected_on", "since", "until", "investment_form", "sector",
                      "completed_on", "revoked_on", "capital_registered_billion_vnd"]  # fmt: skip
TRANSITIONS = {
    "INSERT": "NEW TABLE AS new_spans",
    "UPDATE": "OLD TABLE AS old_spans NEW TABLE AS new_spans",
    "DELETE": "OLD TABLE AS old_spans",
}
ACTIONS = {"INSERT": ((1, "NEW"),), "UPDATE": ((-1, "OLD"), (1, "NEW")), "DELETE": ((-1, "OLD"),)}


def _month(day: str, dialect: str) -> str:
    if dialect == "postgresql":
        return f"date_trunc('month', {day})::date"
    return f"date({day}, 'start of month')"


def _counted(sign: int, row: str, dialect: str, source: str = "") -> str:
    """The statement adding `sign` times the span in `row` (`NEW`, `OLD`, or each row of the
    table named, read `source`) to the month counts: +sign in the month it starts, -sign in
    the month it ends (if it does)."""
    spans = " UNION ALL ".join(
        f"SELECT '{d}' AS dimension, COALESCE({row}.{d}, '') AS value, {row}.{side} AS day, "
        f"{sign * side_sign} AS delta {source}"
        for d in DIMENSIONS
        for side, side_sign in (("since", 1), ("until", -1))
    )
    return (
        f"INSERT INTO {MONTHS} (dimension, value, month, delta) "
        f"SELECT dimension, value, {_month('day', dialect)}, SUM(delta) FROM ({spans}) AS span "
        "WHERE day IS NOT NULL GROUP BY 1, 2, 3 "
        f"ON CONFLICT (dimension, value, month) DO UPDATE SET delta = {MONTHS}.delta + "
        "excluded.delta"
    )


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    op.create_table(
        MONTHS,
        sa.Column("dimension", sa.String(16), nullable=False),
        sa.Column("value", sa.String(64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("delta", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint(
            "dimension", "value", "month", name=f"pk_{MONTHS}", postgresql_include=["delta"]
        ),
        sqlite_with_rowid=False,
    )
    op.execute(_counted(1, "project_states", dialect, "FROM project_states"))
    op.drop_index(OLD_TARGET_INDEX, "project_states")
    for name, columns in INDEXES.items():
        op.create_index(name, "project_states", columns)
    if dialect == "postgresql":
        # statement triggers over the transition tables: a statement writing many spans (an
        # import, a rebuild) updates each month row once, not once per span
        branches = (
            f"IF TG_OP <> 'INSERT' THEN {_counted(-1, 'old_spans', dialect, 'FROM old_spans')}; "
            f"END IF; IF TG_OP <> 'DELETE' THEN "
            f"{_counted(1, 'new_spans', dialect, 'FROM new_spans')}; END IF;"
        )
        op.execute(
            "CREATE FUNCTION count_project_state_months() RETURNS trigger LANGUAGE plpgsql "
            f"AS $$ BEGIN PERFORM pipeline_change(); {branches} RETURN NULL; END $$"
        )
        for action, tables in TRANSITIONS.items():
            op.execute(
                f"CREATE TRIGGER project_states_months_{action.lower()} AFTER {action} "
                f"ON project_states REFERENCING {tables} FOR EACH STATEMENT "
                "EXECUTE FUNCTION count_project_state_months()"
            )
        op.execute(
            "CREATE FUNCTION project_state_months_truncated() RETURNS trigger "
            f"LANGUAGE plpgsql AS $$ BEGIN DELETE FROM {MONTHS}; RETURN NULL; END $$"
        )
        op.execute(
            "CREATE TRIGGER project_states_months_truncated AFTER TRUNCATE ON project_states "
            "FOR EACH STATEMENT EXECUTE FUNCTION project_state_months_truncated()"
        )
        return
    for action, rows in ACTIONS.items():
        counted = "; ".join(_counted(sign, row, dialect) for sign, row in rows)
        op.execute(
            f"CREATE TRIGGER project_states_months_{action.lower()} AFTER {action} "
            f"ON project_states BEGIN {counted}; END"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER project_states_months_truncated ON project_states")
        op.execute("DROP FUNCTION project_state_months_truncated()")
        for action in TRANSITIONS:
            op.execute(f"DROP TRIGGER project_states_months_{action.lower()} ON project_states")
        op.execute("DROP FUNCTION count_project_state_months()")
    else:
        for action in ACTIONS:
            op.execute(f"DROP TRIGGER project_states_months_{action.lower()}")
    for name in INDEXES:
        op.drop_index(name, "project_states")
    op.create_index(OLD_TARGET_INDEX, "project_states", OLD_TARGET_COLUMNS)
    op.drop_table(MONTHS)
