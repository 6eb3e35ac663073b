"""A log of the changes to the state spans, written by the database itself in the same
transaction as each change, so that a process keeping dashboard summaries brings them up to date
by counting the spans inserted and deleted since (a few rows) instead of every span again.

Each log row is a span's counted columns, its `sign` (+1 inserted, -1 deleted; an update logs
the old row -1 and the new one +1) and `change`: the pipeline change counter's value in the
writing transaction. On PostgreSQL the row trigger first bumps the counter (once per transaction,
as the statement triggers of 0007 do, which then find it bumped): the counter's row stays locked
until the transaction ends, so transactions that log take their values in commit order and all
rows of one transaction carry its value. SQLite has one writer at a time: its row triggers bump
the counter for each row, as 0007's triggers on this table (replaced here) did, and log the value
after the bump. The counter `pipeline_log_from` says up to which change the log may have been
pruned: it starts at the counter's value now (the spans already stored need no log rows).

Revision ID: 0010_state_changes_logged
Revises: 0009_project_texts_per_language
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010_state_changes_logged"
down_revision = "0009_project_texts_per_language"
branch_labels = None
depends_on = None

LOG = "project_state_changes"
COUNTER = "pipeline"
LOG_FROM = "pipeline_log_from"
FLAG = "geo_service.pipeline_changed"
BUMP = f"UPDATE change_counters SET value = value + 1 WHERE name = '{COUNTER}'"
COUNTED = ("since", "until", "stage", "investment_form", "sector", "commune_code",
           "capital_planned_billion_vnd", "capital_registered_billion_vnd",
           "capital_disbursed_billion_vnd", "selected_on", "completed_on", "revoked_on")  # fmt: skip
NAMES = ", ".join(COUNTED)
ACTIONS = {"INSERT": ((1, "NEW"),), "UPDATE": ((-1, "OLD"), (1, "NEW")), "DELETE": ((-1, "OLD"),)}


def _logged(value: str, sign: int, row: str) -> str:
    columns = ", ".join(f"{row}.{name}" for name in COUNTED)
    return f"INSERT INTO {LOG} (change, sign, {NAMES}) SELECT {value}, {sign}, {columns}"


def upgrade() -> None:
    op.create_table(
        LOG,
        sa.Column("change", sa.BigInteger(), nullable=False),
        sa.Column("sign", sa.SmallInteger(), nullable=False),
        sa.Column("since", sa.Date(), nullable=False),
        sa.Column("until", sa.Date()),
        sa.Column("stage", sa.String(32), nullable=False),
        sa.Column("investment_form", sa.String(32)),
        sa.Column("sector", sa.String(64)),
        sa.Column("commune_code", sa.String(16)),
        sa.Column("capital_planned_billion_vnd", sa.Float()),
        sa.Column("capital_registered_billion_vnd", sa.Float()),
        sa.Column("capital_disbursed_billion_vnd", sa.Float()),
        sa.Column("selected_on", sa.Date()),
        sa.Column("completed_on", sa.Date()),
        sa.Column("revoked_on", sa.Date()),
    )
    op.create_index(f"ix_{LOG}_change", LOG, ["change"])
    op.execute(
        f"INSERT INTO change_counters (name, value) SELECT '{LOG_FROM}', value "
        f"FROM change_counters WHERE name = '{COUNTER}'"
    )
    if op.get_bind().dialect.name == "postgresql":
        _postgresql_triggers()
        return
    for action, rows in ACTIONS.items():
        op.execute(f"DROP TRIGGER project_states_changes_{action.lower()}")
        value = f"(SELECT value FROM change_counters WHERE name = '{COUNTER}')"
        logged = "; ".join(_logged(value, sign, row) for sign, row in rows)
        op.execute(
            f"CREATE TRIGGER project_states_logged_{action.lower()} AFTER {action} "
            f"ON project_states BEGIN {BUMP}; {logged}; END"
        )


def _postgresql_triggers() -> None:
    # AFTER ROW triggers fire at the end of each statement, before its AFTER STATEMENT
    # triggers: the log's trigger bumps the counter itself, through the same function
    op.execute(
        "CREATE FUNCTION pipeline_change() RETURNS bigint LANGUAGE plpgsql AS $$ "
        f"BEGIN IF current_setting('{FLAG}', true) IS DISTINCT FROM txid_current()::text "
        f"THEN {BUMP}; PERFORM set_config('{FLAG}', txid_current()::text, true); END IF; "
        f"RETURN (SELECT value FROM change_counters WHERE name = '{COUNTER}'); END $$"
    )
    op.execute(
        "CREATE OR REPLACE FUNCTION bump_pipeline_changes() RETURNS trigger LANGUAGE plpgsql "
        "AS $$ BEGIN PERFORM pipeline_change(); RETURN NULL; END $$"
    )
    branches = (
        f"IF TG_OP <> 'INSERT' THEN {_logged('c', -1, 'OLD')}; END IF; "
        f"IF TG_OP <> 'DELETE' THEN {_logged('c', 1, 'NEW')}; END IF;"
    )
    op.execute(
        "CREATE FUNCTION log_project_state_change() RETURNS trigger LANGUAGE plpgsql AS $$ "
        f"DECLARE c bigint := pipeline_change(); BEGIN {branches} RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER project_states_logged AFTER INSERT OR UPDATE OR DELETE ON project_states "
        "FOR EACH ROW EXECUTE FUNCTION log_project_state_change()"
    )
    # TRUNCATE fires no row trigger: the log no longer holds every change, say so
    op.execute(
        "CREATE FUNCTION project_states_truncated() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "DECLARE c bigint := pipeline_change(); "
        f"BEGIN UPDATE change_counters SET value = c WHERE name = '{LOG_FROM}'; RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER project_states_truncated AFTER TRUNCATE ON project_states "
        "FOR EACH STATEMENT EXECUTE FUNCTION project_states_truncated()"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER project_states_truncated ON project_states")
        op.execute("DROP FUNCTION project_states_truncated()")
        op.execute("DROP TRIGGER project_states_logged ON project_states")
        op.execute("DROP FUNCTION log_project_state_change()")
        op.execute(  # as revision 0007 made it
            "CREATE OR REPLACE FUNCTION bump_pipeline_changes() RETURNS trigger "
            "LANGUAGE plpgsql AS $$ "
            f"BEGIN IF current_setting('{FLAG}', true) IS DISTINCT FROM txid_current()::text "
            f"THEN {BUMP}; PERFORM set_config('{FLAG}', txid_current()::text, true); END IF; "
            "RETURN NULL; END $$"
        )
        op.execute("DROP FUNCTION pipeline_change()")
    else:
        for action in ACTIONS:
            op.execute(f"DROP TRIGGER project_states_logged_{action.lower()}")
            op.execute(
                f"CREATE TRIGGER project_states_changes_{action.lower()} AFTER {action} "
                f"ON project_states BEGIN {BUMP}; END"
            )
    op.execute(f"DELETE FROM change_counters WHERE name = '{LOG_FROM}'")
    op.drop_index(f"ix_{LOG}_change", LOG)
    op.drop_table(LOG)
