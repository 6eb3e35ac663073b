"""Investors' enquiries about a project or a site, and how officers follow them up.

Anyone may send one (a few per client address per hour); only editors read them. The contact
details (name, organisation, email, phone) and the message are personal: they are returned only
to editors, and never written to the audit log. The client address is kept only as a hash, for
the rate limit. Status moves new → in_progress → answered → closed (closing is allowed from any
open status, e.g. for spam); each move keeps its time, so response times can be measured.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, func, insert, select, update

from ..clock import utc_now
from ..errors import Conflict, NotFound, ServiceError
from ..i18n import _l
from ..records import Records
from ..records.schema import enquiries
from .documents import EnquiryChange, EnquiryDocument

MOVES = {
    "new": ("in_progress", "closed"),
    "in_progress": ("answered", "closed"),
    "answered": ("closed", "in_progress"),
    "closed": (),
}
"""Which status may follow which (an answered enquiry may be reopened by a follow-up)."""
STATUS_TIMES = {"in_progress": "in_progress_at", "answered": "answered_at", "closed": "closed_at"}
PUBLIC_FIELDS = ("id", "status", "created_at")
"""All a sender is told back."""


class TooManyEnquiries(ServiceError):
    status = 429
    code = "TooManyEnquiries"


@dataclass(frozen=True)
class EnquiryFilters:
    status: str | None = None
    project: str | None = None


def client_hash(address: str) -> str:
    return hashlib.sha256(f"geo-service enquiry client {address}".encode()).hexdigest()


class EnquiryStore:
    def __init__(self, records: Records, per_client_hour: int) -> None:
        self.records = records
        self.per_client_hour = per_client_hour

    def create(self, document: EnquiryDocument, client: str) -> dict[str, Any]:
        """Store the enquiry; refuses (429) past the hourly limit of its client address."""
        now = utc_now()
        since = (
            (dt.datetime.now(dt.UTC) - dt.timedelta(hours=1))
            .isoformat(timespec="seconds")
            .replace("+00:00", "Z")
        )
        hashed = client_hash(client)
        row = {
            "id": "EQ-" + secrets.token_hex(6).upper(),
            "name": document.name,
            "organisation": document.organisation,
            "email": document.email,
            "phone": document.phone,
            "language": document.language,
            "message": document.message,
            "project_id": document.project,
            "site_collection": document.site.collection if document.site else None,
            "site_id": document.site.id if document.site else None,
            "status": "new",
            "officer": None,
            "reply_note": "",
            "client_hash": hashed,
            "created_at": now,
            "updated_at": now,
        }
        with self.records.writing() as session:
            recent = session.scalar(
                select(func.count())
                .select_from(enquiries)
                .where(and_(enquiries.c.client_hash == hashed, enquiries.c.created_at >= since))
            )
            if recent >= self.per_client_hour:
                raise TooManyEnquiries(
                    _l(
                        "at most {per_client_hour} enquiries an hour from one address; please try again later",
                        per_client_hour=self.per_client_hour,
                    )
                )
            session.execute(insert(enquiries).values(**row))
        return {name: row[name] for name in PUBLIC_FIELDS}

    def get(self, enquiry_id: str) -> dict[str, Any]:
        with self.records.reading() as session:
            row = session.execute(select(enquiries).where(enquiries.c.id == enquiry_id)).first()
        if row is None:
            raise NotFound(_l("no enquiry {enquiry_id!r}", enquiry_id=enquiry_id))
        return _document(row._mapping)

    def search(
        self, filters: EnquiryFilters, limit: int, offset: int
    ) -> tuple[list[dict[str, Any]], int]:
        terms = []
        if filters.status is not None:
            terms.append(enquiries.c.status == filters.status)
        if filters.project is not None:
            terms.append(enquiries.c.project_id == filters.project)
        condition = and_(*terms) if terms else enquiries.c.id.is_not(None)
        with self.records.reading() as session:
            matched = session.scalar(select(func.count()).select_from(enquiries).where(condition))
            rows = session.execute(
                select(enquiries)
                .where(condition)
                .order_by(enquiries.c.created_at.desc(), enquiries.c.id)
                .limit(limit)
                .offset(offset)
            ).mappings()
            return [_document(r) for r in rows], matched

    def change(self, enquiry_id: str, change: EnquiryChange) -> tuple[dict[str, Any], list[str]]:
        """Assign, move its status, note the reply: (the enquiry, the fields changed)."""
        now = utc_now()
        with self.records.writing() as session:
            row = session.execute(select(enquiries).where(enquiries.c.id == enquiry_id)).first()
            if row is None:
                raise NotFound(_l("no enquiry {enquiry_id!r}", enquiry_id=enquiry_id))
            values: dict[str, Any] = {}
            if change.officer is not None and change.officer != row.officer:
                values["officer"] = change.officer
            if change.reply_note is not None and change.reply_note != row.reply_note:
                values["reply_note"] = change.reply_note
            if change.status is not None and change.status != row.status:
                if change.status not in MOVES[row.status]:
                    allowed = ", ".join(MOVES[row.status]) or "none"
                    raise Conflict(
                        _l(
                            "an enquiry that is {status} cannot become {status2} (allowed: {allowed})",
                            status=row.status,
                            status2=change.status,
                            allowed=allowed,
                        )
                    )
                values["status"] = change.status
                values[STATUS_TIMES[change.status]] = now
            if values:
                session.execute(
                    update(enquiries)
                    .where(enquiries.c.id == enquiry_id)
                    .values(**values, updated_at=now)
                )
        return self.get(enquiry_id), sorted(k for k in values if not k.endswith("_at"))


def _document(row) -> dict[str, Any]:
    document = {k: v for k, v in dict(row).items() if k not in ("client_hash",)}
    collection, site = document.pop("site_collection"), document.pop("site_id")
    document["site"] = None if collection is None else {"collection": collection, "id": site}
    document["project"] = document.pop("project_id")
    return document
