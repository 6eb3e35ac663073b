"""Alembic's environment: migrations run on the connection `records.migrate` hands over."""

from alembic import context

from geo_service.records.migrate import ours
from geo_service.records.schema import metadata

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    transactional_ddl=True,
    include_name=ours,
)
with context.begin_transaction():
    context.run_migrations()
