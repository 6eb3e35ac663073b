"""Shortlists: a planner's named list of sites from any layers, shared by an unguessable id.

Anyone with the id reads a list; only its edit key (returned once, stored hashed) changes it.
Lists live in `DATA_DIR/shortlists.sqlite` (WAL, so several workers read and write safely) and
survive restarts. Items are references (`collection`, `id`): a feature that has since gone is
reported as missing, never a failure of the list.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import secrets
import sqlite3
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

from .clock import utc_now
from .errors import Forbidden, NotFound, ServiceError, TooLarge, Unauthorized

FILE_NAME = "shortlists.sqlite"


class TooManyShortlists(ServiceError):
    status = 429
    code = "TooManyShortlists"


@dataclass(frozen=True)
class ItemRef:
    collection: str
    id: str


@dataclass
class Shortlist:
    id: str
    name: str
    note: str
    items: list[ItemRef] = field(default_factory=list)
    created: str = ""
    updated: str = ""


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _unique(items: list[ItemRef]) -> list[ItemRef]:
    return list(dict.fromkeys(items))


class ShortlistStore:
    def __init__(self, data_dir: Path, max_items: int, max_per_client: int) -> None:
        self.path = Path(data_dir) / FILE_NAME
        self.max_items = max_items
        self.max_per_client = max_per_client

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS shortlists (id TEXT PRIMARY KEY, key_hash TEXT NOT NULL, "
            "name TEXT NOT NULL, note TEXT NOT NULL, items TEXT NOT NULL, client TEXT NOT NULL, "
            "created TEXT NOT NULL, updated TEXT NOT NULL)"
        )
        return connection

    def _check_size(self, items: list[ItemRef]) -> None:
        if len(items) > self.max_items:
            raise TooLarge(
                f"a shortlist holds at most {self.max_items} items, this one would have {len(items)} / "
                f"danh sách tối đa {self.max_items} mục"
            )

    def create(
        self, name: str, note: str, items: list[ItemRef], client: str
    ) -> tuple[Shortlist, str]:
        items = _unique(items)
        self._check_size(items)
        key = secrets.token_urlsafe(24)
        now = utc_now()
        shortlist = Shortlist(secrets.token_urlsafe(16), name, note, items, now, now)
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            (count,) = db.execute(
                "SELECT count(*) FROM shortlists WHERE client = ?", (client,)
            ).fetchone()
            if count >= self.max_per_client:
                db.execute("ROLLBACK")
                raise TooManyShortlists(
                    f"this client already has {count} shortlists, the most allowed is {self.max_per_client}"
                )
            db.execute(
                "INSERT INTO shortlists VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (shortlist.id, _hash(key), name, note, _items_json(items), client, now, now),
            )
            db.execute("COMMIT")
        return shortlist, key

    def get(self, shortlist_id: str) -> Shortlist:
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT id, name, note, items, created, updated FROM shortlists WHERE id = ?",
                (shortlist_id,),
            ).fetchone()
        if row is None:
            raise NotFound(f"no shortlist {shortlist_id!r}")
        return _shortlist(row)

    def update(
        self,
        shortlist_id: str,
        key: str | None,
        name: str | None = None,
        note: str | None = None,
        add: list[ItemRef] | None = None,
        remove: list[ItemRef] | None = None,
    ) -> Shortlist:
        if not key:
            raise Unauthorized(
                "changing a shortlist needs its edit key in the X-Shortlist-Key header"
            )
        with closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            row = db.execute(
                "SELECT id, name, note, items, created, updated, key_hash FROM shortlists WHERE id = ?",
                (shortlist_id,),
            ).fetchone()
            if row is None:
                db.execute("ROLLBACK")
                raise NotFound(f"no shortlist {shortlist_id!r}")
            if not hmac.compare_digest(row[6], _hash(key)):
                db.execute("ROLLBACK")
                raise Forbidden("the edit key does not match this shortlist")
            shortlist = _shortlist(row[:6])
            gone = set(remove or [])
            items = _unique([i for i in shortlist.items if i not in gone] + list(add or []))
            try:
                self._check_size(items)
            except TooLarge:
                db.execute("ROLLBACK")
                raise
            shortlist.items = items
            shortlist.name = shortlist.name if name is None else name
            shortlist.note = shortlist.note if note is None else note
            shortlist.updated = utc_now()
            db.execute(
                "UPDATE shortlists SET name = ?, note = ?, items = ?, updated = ? WHERE id = ?",
                (
                    shortlist.name,
                    shortlist.note,
                    _items_json(items),
                    shortlist.updated,
                    shortlist_id,
                ),
            )
            db.execute("COMMIT")
        return shortlist


def _items_json(items: list[ItemRef]) -> str:
    return json.dumps([{"collection": i.collection, "id": i.id} for i in items], ensure_ascii=False)


def _shortlist(row: tuple) -> Shortlist:
    shortlist_id, name, note, items, created, updated = row
    refs = [ItemRef(i["collection"], i["id"]) for i in json.loads(items)]
    return Shortlist(shortlist_id, name, note, refs, created, updated)
