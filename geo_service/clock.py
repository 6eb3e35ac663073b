"""Timestamps as the catalogue writes them: UTC, to the second, ISO 8601 with a `Z`."""

from __future__ import annotations

import datetime as dt
from pathlib import Path


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def utc_stamp(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def utc_now() -> str:
    return utc_stamp(now())


def modified_at(path: Path) -> str:
    """When a file was last written, UTC to the second (as the version listings show it)."""
    return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC).isoformat(timespec="seconds")


VIETNAM = dt.timezone(dt.timedelta(hours=7), "ICT")
"""Vietnam's time zone (UTC+7 all year)."""


def today_in_vietnam() -> dt.date:
    """The calendar date where the province is: plans and delays are counted in it."""
    return dt.datetime.now(VIETNAM).date()
