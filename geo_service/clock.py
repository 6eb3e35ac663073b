"""Timestamps as the catalogue writes them: UTC, to the second, ISO 8601 with a `Z`."""

from __future__ import annotations

import datetime as dt


def utc_now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
