"""A throwaway PostgreSQL cluster for the tests: initdb in a temporary folder, a free 127.0.0.1
port, stopped by its PID and removed at the end; or the server `GEO_SERVICE_TEST_DATABASE_URL`
names. Each test gets a fresh database copied from a template (CREATE DATABASE … TEMPLATE).

initdb and postgres refuse to run as root: as root (CI, these machines) they run as the
`postgres` user that Debian's packages create, in a folder that user owns.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from .server import free_port

SERVER_USER = "postgres"
START_TIMEOUT = 60.0


class PostgresUnavailable(RuntimeError):
    """PostgreSQL could not be found, initialised or started."""


def binaries() -> Path:
    """The newest PostgreSQL server's binaries from Debian's packages."""
    found = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"), key=lambda p: int(p.parent.parent.name)
    )
    if not found:
        raise PostgresUnavailable(
            "no PostgreSQL server binaries in /usr/lib/postgresql/*/bin: "
            "install postgresql-15 (scripts/test.sh does)"
        )
    return found[-1].parent


def _as_server_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        raise PostgresUnavailable(
            f"running as root, and there is no {SERVER_USER!r} user to run PostgreSQL as"
        ) from None
    return ["runuser", "-u", SERVER_USER, "--"]


@contextlib.contextmanager
def throwaway_cluster(settings: Mapping[str, str] | None = None) -> Iterator[str]:
    """Start a cluster; yields the URL of its `postgres` database (user `postgres`, trust).
    `settings`: server settings beside the tests' own (which favour speed over durability)."""
    bin_dir = binaries()
    prefix = _as_server_user()
    folder = Path(tempfile.mkdtemp(prefix="geo-service-pg-"))
    data = folder / "data"
    process = None
    try:
        if prefix:
            shutil.chown(folder, SERVER_USER, SERVER_USER)
        init = subprocess.run(
            [*prefix, str(bin_dir / "initdb"), "-D", str(data), "-U", "postgres",
             "--auth=trust", "--encoding=UTF8", "--locale=C.UTF-8", "--no-sync"],
            capture_output=True, text=True, check=False,
        )  # fmt: skip
        if init.returncode != 0:
            raise PostgresUnavailable(f"initdb failed: {init.stderr.strip() or init.stdout}")
        port = free_port()
        log = folder / "server.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [*prefix, str(bin_dir / "postgres"), "-D", str(data), "-p", str(port),
                 "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={folder}",
                 "-c", "fsync=off", "-c", "synchronous_commit=off",
                 "-c", "full_page_writes=off", "-c", "max_connections=200",
                 *itertools.chain.from_iterable(
                     ("-c", f"{name}={value}") for name, value in (settings or {}).items()
                 )],
                stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )  # fmt: skip
        url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
        _wait_until_up(url, process, log)
        yield url
    finally:
        if process is not None:
            _stop(data, process)
        shutil.rmtree(folder, ignore_errors=True)


def _wait_until_up(url: str, process: subprocess.Popen, log: Path) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while True:
        if process.poll() is not None:
            raise PostgresUnavailable(f"postgres exited: {log.read_text(errors='replace')}")
        try:
            with psycopg.connect(_libpq(url), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise PostgresUnavailable(
                    f"postgres did not accept connections: {log.read_text(errors='replace')}"
                ) from None
            time.sleep(0.2)


def _stop(data: Path, process: subprocess.Popen) -> None:
    """Fast shutdown by the postmaster's PID (its first line of postmaster.pid), then wait."""
    pid = None
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data / "postmaster.pid").read_text().splitlines()[0])
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid or process.pid, signal.SIGINT)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def _libpq(url: str) -> str:
    """A SQLAlchemy URL as libpq connection parameters."""
    parsed = make_url(url)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


class DatabaseFactory:
    """Fresh databases on one server: each a copy of a template migrated once."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self._names = (f"geo_test_{os.getpid()}_{n}" for n in itertools.count())
        self._made: set[str] = set()
        self.template: str | None = None

    def _admin(self, sql: str) -> None:
        with psycopg.connect(_libpq(self.server_url), autocommit=True) as connection:
            connection.execute(sql)

    def url(self, name: str) -> str:
        return make_url(self.server_url).set(database=name).render_as_string(hide_password=False)

    def create(self, template: str | None = None) -> str:
        """A new database (empty, or a copy of `template`); returns its URL."""
        name = next(self._names)
        self._create(name, template or "template0")
        return self.url(name)

    def _create(self, name: str, source: str) -> None:
        # copying the files costs less CPU than PostgreSQL 15's default, which writes every
        # page of the template to the WAL
        self._admin(f'CREATE DATABASE "{name}" TEMPLATE "{source}" STRATEGY FILE_COPY')
        self._made.add(name)

    def copy(self, url: str) -> str:
        """A new database copied from the one at `url`, whose connections are ended first."""
        source = make_url(url).database
        self._admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            f"WHERE datname = '{source}' AND pid <> pg_backend_pid()"
        )
        return self.create(source)

    def replace(self, url: str, template_url: str) -> None:
        """The database at `url` made anew as a copy of the one at `template_url`."""
        self.drop(url)
        self._create(make_url(url).database, make_url(template_url).database)

    def drop(self, url: str) -> None:
        name = make_url(url).database
        self._admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self._made.discard(name)

    def drop_all(self) -> None:
        """Every database made here and not dropped yet."""
        for name in list(self._made):
            self.drop(self.url(name))
