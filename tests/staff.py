"""GIS staff's tokens and audit log as the command line writes them: in the records database an
app on the data directory uses (its SQLite file there, or `url`); and the command line itself."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path

from geo_service.admin_store import AdminStore, Role
from geo_service.records import Records, database_url, upgrade

from .command_line import Ran, geo_service


@contextlib.contextmanager
def admin_store(data_dir: Path, url: str | None = None) -> Iterator[AdminStore]:
    """The admin store of `url`, else of the database a test backend made for `data_dir`, else of
    the data directory's SQLite file."""
    from .conftest import env_of

    url = url or env_of(data_dir).get("GEO_SERVICE_DATABASE_URL")
    records = Records(database_url(url, data_dir))
    upgrade(records)
    try:
        yield AdminStore(records)
    finally:
        records.dispose()


def staff_token(data_dir: Path, role: Role, label: str = "", url: str | None = None) -> str:
    """A new token's secret."""
    with admin_store(data_dir, url) as admin:
        return admin.create_token(role, label)[1]


def bearer(secret: str) -> dict[str, str]:
    """The Authorization header of a token."""
    return {"Authorization": f"Bearer {secret}"}


def cli(*args: str, data_dir: Path, url: str | None = None) -> Ran:
    """`geo-service …` on the data directory, and on the records database at `url` if given."""
    return geo_service(
        *args, "--data-dir", data_dir, env={"GEO_SERVICE_DATABASE_URL": url} if url else None
    )
