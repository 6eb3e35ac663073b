"""Run `geo-service serve` as a real process on a free 127.0.0.1 port, stopped by its PID."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import IO


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def running_server(
    data_dir: Path, workers: int = 1, timeout: float = 60, env: dict[str, str] | None = None
) -> Iterator[str]:
    """The server's base URL; `env` adds to its environment (e.g. GEO_SERVICE_DATABASE_URL)."""
    with server_process(data_dir, workers, timeout, env) as (url, _):
        yield url


@contextlib.contextmanager
def server_process(
    data_dir: Path,
    workers: int = 1,
    timeout: float = 60,
    env: dict[str, str] | None = None,
    program: list[str] | None = None,
    cwd: Path | None = None,
    base_env: Mapping[str, str] | None = None,
) -> Iterator[tuple[str, subprocess.Popen]]:
    """The server's URL and process (with one worker, the process that serves), with `env`
    added to the environment (`base_env`, by default this process's), after the database a
    PostGIS test backend made for `data_dir` if it did. `program` runs `geo-service` (by default
    this interpreter's), in `cwd`."""
    from .conftest import env_of

    port = free_port()
    command = [
        *(program or [sys.executable, "-m", "geo_service.cli"]), "serve",
        "--host", "127.0.0.1", "--port", str(port), "--data-dir", str(data_dir),
        "--workers", str(workers),
    ]  # fmt: skip
    # the log goes to a file: a pipe nobody reads fills up and then blocks the server
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            env=dict(os.environ if base_env is None else base_env) | env_of(data_dir) | (env or {}),
            cwd=cwd,
        )
        try:
            yield wait_until_up(f"http://127.0.0.1:{port}", process, log, timeout), process
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def wait_until_up(url: str, process: subprocess.Popen, log: IO[bytes], timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            log.seek(0)
            raise RuntimeError(f"server exited: {log.read().decode(errors='replace')}")
        try:
            with urllib.request.urlopen(f"{url}/conformance", timeout=2):
                return url
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"server on {url} did not start") from None
            time.sleep(0.2)
