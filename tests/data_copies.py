"""Copies of data directories and SQLite databases that tests still have open.

An open database is copied with SQLite's backup, never read as a file: closing any handle on a
file drops every POSIX lock this process holds on it, SQLite's own included. A process that
then closes the database takes it for unused and deletes its WAL under the connections still
open here, which fail with "disk I/O error"."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

RECORDS = "records.sqlite"


def sqlite_backup(source: Path, target: Path) -> None:
    """`target` made a copy of the SQLite database `source`."""
    reading = sqlite3.connect(source)
    writing = sqlite3.connect(target)
    try:
        reading.backup(writing)
    finally:
        writing.close()
        reading.close()


def copy_data_dir(source: Path, target: Path) -> Path:
    """`target` made a copy of the data directory `source`: its files (links kept, shortlists of
    an earlier release left out) and its records database."""
    shutil.copytree(
        source,
        target,
        symlinks=True,
        ignore=shutil.ignore_patterns("shortlists.sqlite*", f"{RECORDS}*"),
    )
    if (source / RECORDS).exists():
        sqlite_backup(source / RECORDS, target / RECORDS)
    return target
