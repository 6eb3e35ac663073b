"""Shortlists: a planner's named list of sites from any layers, shared by an unguessable id.

Anyone with the id reads a list; only its edit key (returned once, stored hashed) changes or
deletes it. Lists live in `DATA_DIR/shortlists.sqlite` (WAL, so several workers read and write
safely) and survive restarts, but not disuse: a list nobody has read or changed for
`expiry_days` is gone (404) and purged. Items are references (`collection`, `id`): a feature that
has since gone is reported as missing, never a failure of the list.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import json
import secrets
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from . import clock
from .errors import Forbidden, NotFound, ServiceError, TooLarge, Unauthorized

FILE_NAME = "shortlists.sqlite"
USE_RESOLUTION = dt.timedelta(days=1)
"""A read refreshes a list's last use only when the stored one is older than this: expiry is
counted in days, and most reads then write nothing."""


class TooManyShortlists(ServiceError):
    status = 429
    code = "TooManyShortlists"


class ShortlistExpired(NotFound):
    """Not used for longer than the expiry: deleted when found so."""


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


def new_id() -> str:
    """An unguessable id that never starts with '-', which a command line would take for an
    option (`geo-service export --shortlist ID`)."""
    while (candidate := secrets.token_urlsafe(16))[0] == "-":
        pass
    return candidate


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _unique(items: list[ItemRef]) -> list[ItemRef]:
    return list(dict.fromkeys(items))


class ShortlistStore:
    def __init__(
        self, data_dir: Path, max_items: int, max_per_client: int, expiry_days: float = 365
    ) -> None:
        self.path = Path(data_dir) / FILE_NAME
        self.max_items = max_items
        self.max_per_client = max_per_client
        self.expiry = dt.timedelta(days=expiry_days)

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        connection = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        connection.execute("PRAGMA journal_mode=WAL")
        connection.execute(
            "CREATE TABLE IF NOT EXISTS shortlists (id TEXT PRIMARY KEY, key_hash TEXT NOT NULL, "
            "name TEXT NOT NULL, note TEXT NOT NULL, items TEXT NOT NULL, client TEXT NOT NULL, "
            "created TEXT NOT NULL, updated TEXT NOT NULL, used TEXT)"
        )
        columns = {row[1] for row in connection.execute("PRAGMA table_info(shortlists)")}
        if "used" not in columns:  # a file from before lists expired: last use = last change
            with contextlib.suppress(sqlite3.OperationalError):  # another worker added it
                connection.execute("ALTER TABLE shortlists ADD COLUMN used TEXT")
        return connection

    @contextlib.contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        """A write transaction, committed unless the block fails; the purge of an expired list
        found on the way stands."""
        with contextlib.closing(self._connect()) as db:
            db.execute("BEGIN IMMEDIATE")
            try:
                yield db
            except ShortlistExpired:
                db.execute("COMMIT")
                raise
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def _expired_before(self) -> str:
        """Lists last used before this moment have expired."""
        return clock.utc_stamp(clock.now() - self.expiry)

    def _purge(self, db: sqlite3.Connection) -> None:
        db.execute(
            "DELETE FROM shortlists WHERE coalesce(used, updated) < ?", (self._expired_before(),)
        )

    def _live_row(self, db: sqlite3.Connection, shortlist_id: str) -> tuple:
        """(id, name, note, items, created, updated, key_hash, last used) of a list; `NotFound`
        if there is none, `ShortlistExpired` (and it is deleted) if it has not been used for
        longer than the expiry."""
        row = db.execute(
            "SELECT id, name, note, items, created, updated, key_hash, coalesce(used, updated) "
            "FROM shortlists WHERE id = ?",
            (shortlist_id,),
        ).fetchone()
        if row is None:
            raise NotFound(f"no shortlist {shortlist_id!r} / không có danh sách {shortlist_id!r}")
        if row[7] < self._expired_before():
            db.execute("DELETE FROM shortlists WHERE id = ?", (shortlist_id,))
            days = self.expiry.days
            raise ShortlistExpired(
                f"shortlist {shortlist_id!r} was not used for {days} days and has been removed "
                f"/ danh sách không được dùng trong {days} ngày nên đã bị xóa"
            )
        return row

    @staticmethod
    def _check_key(row: tuple, key: str | None) -> None:
        if not key:
            raise Unauthorized(
                "changing a shortlist needs its edit key in the X-Shortlist-Key header / "
                "cần khóa sửa trong tiêu đề X-Shortlist-Key"
            )
        if not hmac.compare_digest(row[6], _hash(key)):
            raise Forbidden(
                "the edit key does not match this shortlist / khóa sửa không khớp danh sách"
            )

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
        now = clock.utc_now()
        shortlist = Shortlist(new_id(), name, note, items, now, now)
        with self._writing() as db:
            self._purge(db)  # expired lists no longer count against the client's quota
            (count,) = db.execute(
                "SELECT count(*) FROM shortlists WHERE client = ?", (client,)
            ).fetchone()
            if count >= self.max_per_client:
                raise TooManyShortlists(
                    f"this client already has {count} shortlists, the most allowed is {self.max_per_client}"
                )
            db.execute(
                "INSERT INTO shortlists VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (shortlist.id, _hash(key), name, note, _items_json(items), client, now, now, now),
            )
        return shortlist, key

    def get(self, shortlist_id: str) -> Shortlist:
        """The list; reading it counts as using it."""
        with contextlib.closing(self._connect()) as db:  # each statement commits on its own
            row = self._live_row(db, shortlist_id)
            now = clock.now()
            if row[7] < clock.utc_stamp(now - USE_RESOLUTION):
                db.execute(
                    "UPDATE shortlists SET used = ? WHERE id = ?",
                    (clock.utc_stamp(now), shortlist_id),
                )
        return _shortlist(row[:6])

    def delete(self, shortlist_id: str, key: str | None) -> None:
        with self._writing() as db:
            self._check_key(self._live_row(db, shortlist_id), key)
            db.execute("DELETE FROM shortlists WHERE id = ?", (shortlist_id,))

    def update(
        self,
        shortlist_id: str,
        key: str | None,
        name: str | None = None,
        note: str | None = None,
        add: list[ItemRef] | None = None,
        remove: list[ItemRef] | None = None,
    ) -> Shortlist:
        with self._writing() as db:
            row = self._live_row(db, shortlist_id)
            self._check_key(row, key)
            shortlist = _shortlist(row[:6])
            gone = set(remove or [])
            items = _unique([i for i in shortlist.items if i not in gone] + list(add or []))
            self._check_size(items)
            shortlist.items = items
            shortlist.name = shortlist.name if name is None else name
            shortlist.note = shortlist.note if note is None else note
            shortlist.updated = clock.utc_now()
            db.execute(
                "UPDATE shortlists SET name = ?, note = ?, items = ?, updated = ?, used = ? "
                "WHERE id = ?",
                (
                    shortlist.name,
                    shortlist.note,
                    _items_json(items),
                    shortlist.updated,
                    shortlist.updated,
                    shortlist_id,
                ),
            )
        return shortlist


def _items_json(items: list[ItemRef]) -> str:
    return json.dumps([{"collection": i.collection, "id": i.id} for i in items], ensure_ascii=False)


def _shortlist(row: tuple) -> Shortlist:
    shortlist_id, name, note, items, created, updated = row
    refs = [ItemRef(i["collection"], i["id"]) for i in json.loads(items)]
    return Shortlist(shortlist_id, name, note, refs, created, updated)
