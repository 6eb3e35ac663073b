"""`geo-service` as the tests run it: its `main`, in the test's own process.

What it prints and the status it returns are those of the installed command, without the
seconds a new process spends importing GDAL, pandas and the rest before its first line.
`geo-service serve` still runs as its own process (`server.running_server`), and the installed
command itself in `test_wheel.py` and `test_cli.py`."""

from __future__ import annotations

import contextlib
import io
import logging
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from unittest import mock

from geo_service.cli import main


@dataclass(frozen=True)
class Ran:
    """The parts of `subprocess.CompletedProcess` the tests read."""

    returncode: int
    stdout: str
    stderr: str


def geo_service(
    *args: str | Path, env: Mapping[str, str] | None = None, cwd: Path | None = None
) -> Ran:
    """`geo-service *args` with `env` added to the environment, run in `cwd`."""
    out, err = io.StringIO(), io.StringIO()
    with (
        mock.patch.dict(os.environ, env or {}),
        contextlib.chdir(cwd or Path.cwd()),
        contextlib.redirect_stdout(out),
        contextlib.redirect_stderr(err),
        _warnings_into(err),
    ):
        try:
            status = main([str(a) for a in args])
        except SystemExit as exc:  # argparse refusing the arguments, or --help
            status = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
    return Ran(status, out.getvalue(), err.getvalue())


@contextlib.contextmanager
def _warnings_into(stream: io.StringIO) -> Iterator[None]:
    """Log records of warnings and worse written to `stream`, message only: what Python's last
    resort handler prints on stderr in a process that set no logging up, as the command does."""
    handler = logging.StreamHandler(stream)
    handler.setLevel(logging.WARNING)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        yield
    finally:
        root.removeHandler(handler)
