"""The PostGIS store's catalogue: layers, their tables of rows (generations) and their versions;
on PostgreSQL also the `layer_data` schema the rows' tables are made in, `pg_trgm` for searching
inside names, and `layer_data.gs_search_text`, the diacritic- and case-insensitive text a layer's
names are searched in (`unaccent`, then lower case).

Revision ID: 0005_layer_store
Revises: 0004_query_extensions
Create Date: 2026-12-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_layer_store"
down_revision = "0004_query_extensions"
branch_labels = None
depends_on = None

TIMESTAMP = sa.String(20)
LAYER_SCHEMA = "layer_data"


def upgrade() -> None:
    op.create_table(
        "layer_catalogue",
        sa.Column("uid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("id", sa.String(63), nullable=False),
        sa.Column("current_version", sa.Integer()),
        sa.Column("archived_as", sa.String(100)),
        sa.PrimaryKeyConstraint("uid", name="pk_layer_catalogue"),
    )
    op.create_index(
        "uq_layer_catalogue_id_listed",
        "layer_catalogue",
        ["id"],
        unique=True,
        postgresql_where=sa.text("archived_as IS NULL"),
        sqlite_where=sa.text("archived_as IS NULL"),
    )
    op.create_table(
        "layer_generations",
        sa.Column("uid", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("layer_uid", sa.Integer(), nullable=False),
        sa.Column("table_name", sa.String(63), nullable=False),
        sa.Column("first_version", sa.Integer(), nullable=False),
        sa.Column("head_version", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["layer_uid"],
            ["layer_catalogue.uid"],
            name="fk_layer_generations_layer_uid_layer_catalogue",
        ),
        sa.PrimaryKeyConstraint("uid", name="pk_layer_generations"),
        sa.UniqueConstraint("table_name", name="uq_layer_generations_table_name"),
    )
    op.create_table(
        "layer_versions",
        sa.Column("layer_uid", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("actor", sa.Text()),
        sa.Column("written", TIMESTAMP, nullable=False),
        sa.Column("metadata", sa.Text(), nullable=False),
        sa.Column("features", sa.Integer(), nullable=False),
        sa.Column("max_fid", sa.BigInteger(), nullable=False),
        sa.Column("min_x", sa.Float()),
        sa.Column("min_y", sa.Float()),
        sa.Column("max_x", sa.Float()),
        sa.Column("max_y", sa.Float()),
        sa.ForeignKeyConstraint(
            ["layer_uid"],
            ["layer_catalogue.uid"],
            name="fk_layer_versions_layer_uid_layer_catalogue",
        ),
        sa.ForeignKeyConstraint(
            ["generation"],
            ["layer_generations.uid"],
            name="fk_layer_versions_generation_layer_generations",
        ),
        sa.PrimaryKeyConstraint("layer_uid", "version", name="pk_layer_versions"),
    )
    if op.get_bind().dialect.name != "postgresql":
        return
    op.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    op.execute(f"CREATE SCHEMA IF NOT EXISTS {LAYER_SCHEMA}")
    # unaccent is wherever it was installed (0002, or a database administrator): named in full,
    # so the function does not depend on the search_path of whoever calls it
    (schema,) = (
        op.get_bind()
        .exec_driver_sql(
            "SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace "
            "WHERE e.extname = 'unaccent'"
        )
        .one()
    )
    unaccent = f'"{schema}".unaccent'
    # IMMUTABLE, so that it may fill a generated column: the unaccent dictionary is fixed for
    # the life of a database
    op.execute(
        f"CREATE FUNCTION {LAYER_SCHEMA}.gs_search_text(VARIADIC parts text[]) RETURNS text "
        "LANGUAGE sql IMMUTABLE PARALLEL SAFE "
        f"AS $$ SELECT lower({unaccent}('{unaccent}'::regdictionary, "
        "array_to_string(parts, ' '))) $$"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP SCHEMA IF EXISTS {LAYER_SCHEMA} CASCADE")
    op.drop_table("layer_versions")
    op.drop_table("layer_generations")
    op.drop_index("uq_layer_catalogue_id_listed", table_name="layer_catalogue")
    op.drop_table("layer_catalogue")
