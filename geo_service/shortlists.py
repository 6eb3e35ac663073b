"""Shortlists: a planner's named list of sites from any layers, shared by an unguessable id.

Anyone with the id reads a list; only its edit key (returned once, stored hashed) changes or
deletes it. Lists live in the records database, so every worker and every API process sharing
it sees a change on its next request, and survive restarts, but not disuse: a list nobody has
read or changed for `expiry_days` is gone (404) and purged. Items are references (`collection`,
`id`): a feature that has since gone is reported as missing, never a failure of the list.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Row, delete, func, insert, select, update
from sqlalchemy.orm import Session

from . import clock
from .errors import Forbidden, NotFound, ServiceError, TooLarge, Unauthorized
from .i18n import _l
from .records import Records
from .records.schema import shortlist_items, shortlists

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


SHORTLIST_ID = re.compile(r"[A-Za-z0-9_-]{1,64}")
"""The shape of every shortlist id (`secrets.token_urlsafe`'s alphabet, in every release): text
of any other shape is no list, and never reaches the database (PostgreSQL refuses NUL in text)."""


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
        self, records: Records, max_items: int, max_per_client: int, expiry_days: float = 365
    ) -> None:
        self.records = records
        self.max_items = max_items
        self.max_per_client = max_per_client
        self.expiry = dt.timedelta(days=expiry_days)

    @classmethod
    def from_settings(cls, records: Records, settings: Any) -> ShortlistStore:
        return cls(
            records,
            settings.shortlist_max_items,
            settings.shortlists_per_client,
            settings.shortlist_expiry_days,
        )

    @contextlib.contextmanager
    def _session(self, shortlist_id: str, write: bool = True) -> Iterator[Session]:
        """A transaction on one list (committed unless the block fails); if the list is found
        expired, it is deleted, in a transaction of its own, before the 404 goes out; an id of
        another shape than a shortlist's is a 404 at once."""
        if not SHORTLIST_ID.fullmatch(shortlist_id):
            raise _no_shortlist(shortlist_id)
        try:
            with self.records.writing() if write else self.records.reading() as session:
                yield session
        except ShortlistExpired:
            with self.records.writing() as session:
                session.execute(
                    delete(shortlists).where(
                        shortlists.c.id == shortlist_id,
                        shortlists.c.used_at < self._expired_before(),
                    )
                )
            raise

    def _expired_before(self) -> str:
        """Lists last used before this moment have expired."""
        return clock.utc_stamp(clock.now() - self.expiry)

    def _live_row(self, session: Session, shortlist_id: str, lock: bool) -> Row:
        """The list's row (locked until the transaction ends if `lock`); `NotFound` if there is
        none, `ShortlistExpired` if it has not been used for longer than the expiry."""
        if lock:
            row = self.records.lock_row(session, shortlists, shortlist_id)
        else:
            row = session.execute(select(shortlists).where(shortlists.c.id == shortlist_id)).first()
        if row is None:
            raise _no_shortlist(shortlist_id)
        if row.used_at < self._expired_before():
            days = self.expiry.days
            raise ShortlistExpired(
                _l(
                    "shortlist {id!r} was not used for {days} days and has been removed",
                    id=shortlist_id,
                    days=days,
                )
            )
        return row

    @staticmethod
    def _check_key(row: Row, key: str | None) -> None:
        if not key:
            raise Unauthorized(
                _l("changing a shortlist needs its edit key in the X-Shortlist-Key header")
            )
        if not hmac.compare_digest(row.key_hash, _hash(key)):
            raise Forbidden(_l("the edit key does not match this shortlist"))

    def _check_size(self, items: list[ItemRef]) -> None:
        if len(items) > self.max_items:
            raise TooLarge(
                _l(
                    "a shortlist holds at most {most} items, this one would have {count}",
                    most=self.max_items,
                    count=len(items),
                )
            )

    def create(
        self, name: str, note: str, items: list[ItemRef], client: str
    ) -> tuple[Shortlist, str]:
        """A new list and its edit key; 429 once the client has `max_per_client` lists."""
        items = _unique(items)
        self._check_size(items)
        key = secrets.token_urlsafe(24)
        now = clock.utc_now()
        shortlist = Shortlist(new_id(), name, note, items, now, now)
        with self.records.writing() as session:
            # two creates by one client count one after the other, so both cannot pass
            self.records.lock_name(session, f"shortlists of {client}")
            # expired lists no longer count against the client's quota
            session.execute(delete(shortlists).where(shortlists.c.used_at < self._expired_before()))
            count = session.scalar(
                select(func.count()).select_from(shortlists).where(shortlists.c.client == client)
            )
            if count >= self.max_per_client:
                raise TooManyShortlists(
                    f"this client already has {count} shortlists, the most allowed is {self.max_per_client}"
                )
            session.execute(
                insert(shortlists).values(
                    id=shortlist.id,
                    key_hash=_hash(key),
                    name=name,
                    note=note,
                    client=client,
                    created_at=now,
                    updated_at=now,
                    used_at=now,
                )
            )
            _write_items(session, shortlist.id, items)
        return shortlist, key

    def get(self, shortlist_id: str) -> Shortlist:
        """The list; reading it counts as using it."""
        with self._session(shortlist_id, write=False) as session:
            row = self._live_row(session, shortlist_id, lock=False)
            shortlist = _shortlist(row, _read_items(session, shortlist_id))
        now = clock.now()
        if row.used_at < clock.utc_stamp(now - USE_RESOLUTION):
            stamp = clock.utc_stamp(now)
            with self.records.writing() as session:
                session.execute(
                    update(shortlists)
                    .where(shortlists.c.id == shortlist_id, shortlists.c.used_at < stamp)
                    .values(used_at=stamp)
                )
        return shortlist

    def delete(self, shortlist_id: str, key: str | None) -> None:
        with self._session(shortlist_id) as session:
            self._check_key(self._live_row(session, shortlist_id, lock=True), key)
            session.execute(delete(shortlists).where(shortlists.c.id == shortlist_id))

    def update(
        self,
        shortlist_id: str,
        key: str | None,
        name: str | None = None,
        note: str | None = None,
        add: list[ItemRef] | None = None,
        remove: list[ItemRef] | None = None,
    ) -> Shortlist:
        with self._session(shortlist_id) as session:
            row = self._live_row(session, shortlist_id, lock=True)
            self._check_key(row, key)
            shortlist = _shortlist(row, _read_items(session, shortlist_id))
            gone = set(remove or [])
            items = _unique([i for i in shortlist.items if i not in gone] + list(add or []))
            self._check_size(items)
            shortlist.items = items
            shortlist.name = shortlist.name if name is None else name
            shortlist.note = shortlist.note if note is None else note
            shortlist.updated = clock.utc_now()
            session.execute(
                update(shortlists)
                .where(shortlists.c.id == shortlist_id)
                .values(
                    name=shortlist.name,
                    note=shortlist.note,
                    updated_at=shortlist.updated,
                    used_at=shortlist.updated,
                )
            )
            session.execute(
                delete(shortlist_items).where(shortlist_items.c.shortlist_id == shortlist_id)
            )
            _write_items(session, shortlist_id, items)
        return shortlist


def _no_shortlist(shortlist_id: str) -> NotFound:
    return NotFound(_l("no shortlist {id!r}", id=shortlist_id))


def _write_items(session: Session, shortlist_id: str, items: list[ItemRef]) -> None:
    if items:
        session.execute(
            insert(shortlist_items),
            [
                {
                    "shortlist_id": shortlist_id,
                    "collection": i.collection,
                    "feature_id": i.id,
                    "position": n,
                }
                for n, i in enumerate(items)
            ],
        )


def _read_items(session: Session, shortlist_id: str) -> list[ItemRef]:
    rows = session.execute(
        select(shortlist_items.c.collection, shortlist_items.c.feature_id)
        .where(shortlist_items.c.shortlist_id == shortlist_id)
        .order_by(shortlist_items.c.position)
    )
    return [ItemRef(collection, feature_id) for collection, feature_id in rows]


def _shortlist(row: Row, items: list[ItemRef]) -> Shortlist:
    return Shortlist(row.id, row.name, row.note, items, row.created_at, row.updated_at)
