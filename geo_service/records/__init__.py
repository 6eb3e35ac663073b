"""Records: transactional data edited one by one (pipeline projects, dossier events, enquiries,
GIS staff's tokens, the audit log, shortlists), in a relational database through SQLAlchemy 2.0
with Alembic migrations."""

from .database import Records, database_url
from .migrate import current_revision, head_revision, upgrade

__all__ = ["Records", "current_revision", "database_url", "head_revision", "upgrade"]
