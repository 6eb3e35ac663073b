"""GIS staff's tokens and the audit log, in the records database.

Tokens are random, shown once, and stored only as SHA-256 hashes. Every request looks its token
up afresh, so a token created or revoked from the command line counts from the next request, in
every worker and every API process sharing the database. The audit log records who changed
what, when, with the counts.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import Row, insert, select, update

from .clock import utc_now
from .i18n import _l
from .records import Records
from .records.schema import audit_entries, tokens

Role = Literal["editor", "reviewer", "admin"]
ROLES: tuple[Role, ...] = ("editor", "reviewer", "admin")
"""Weakest first; each role may do what the ones before it may: an editor uploads and edits, a
reviewer also publishes others' drafts when review is required, an admin also archives layers
and reads the audit log."""
AUDIT_PAGE = 200
"""Entries the audit listing shows, newest first."""


@dataclass(frozen=True)
class Token:
    id: str
    role: Role
    label: str
    created: str
    revoked: str | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def _token(row: Row) -> Token:
    return Token(row.id, row.role, row.label, row.created_at, row.revoked_at)


class AdminStore:
    def __init__(self, records: Records) -> None:
        self.records = records

    # -- tokens -----------------------------------------------------------------------------
    def create_token(self, role: Role, label: str = "") -> tuple[Token, str]:
        """A new token and its secret, which is not kept and cannot be shown again."""
        if role not in ROLES:
            raise ValueError(_l("role must be one of {value}", value=", ".join(ROLES)))
        secret = "gst_" + secrets.token_urlsafe(32)
        token = Token(secrets.token_hex(4), role, label, utc_now(), None)
        with self.records.writing() as session:
            session.execute(
                insert(tokens).values(
                    id=token.id,
                    secret_hash=_hash(secret),
                    role=role,
                    label=label,
                    created_at=token.created,
                )
            )
        self.record(f"cli:{token.id}", "token.create", None, {"role": role, "label": label})
        return token, secret

    def tokens(self) -> list[Token]:
        with self.records.reading() as session:
            rows = session.execute(select(tokens).order_by(tokens.c.created_at, tokens.c.id))
            return [_token(row) for row in rows]

    def revoke(self, token_id: str) -> bool:
        with self.records.writing() as session:
            changed = session.execute(
                update(tokens)
                .where(tokens.c.id == token_id, tokens.c.revoked_at.is_(None))
                .values(revoked_at=utc_now())
            ).rowcount
        if changed:
            self.record(f"cli:{token_id}", "token.revoke", None, {})
        return bool(changed)

    def authenticate(self, secret: str) -> Token | None:
        """The live token with this secret, or None."""
        with self.records.reading() as session:
            row = session.execute(
                select(tokens).where(
                    tokens.c.secret_hash == _hash(secret), tokens.c.revoked_at.is_(None)
                )
            ).first()
        return None if row is None else _token(row)

    # -- audit ------------------------------------------------------------------------------
    def record(self, actor: str, action: str, layer: str | None, details: dict[str, Any]) -> None:
        with self.records.writing() as session:
            session.execute(
                insert(audit_entries).values(
                    at=utc_now(), actor=actor, action=action, layer=layer, details=details
                )
            )

    def audit(self, layer: str | None = None, limit: int = AUDIT_PAGE) -> list[dict[str, Any]]:
        """The newest entries first, of one layer or of all."""
        statement = select(audit_entries).order_by(
            audit_entries.c.at.desc(), audit_entries.c.id.desc()
        )
        if layer is not None:
            statement = statement.where(audit_entries.c.layer == layer)
        with self.records.reading() as session:
            rows = session.execute(statement.limit(limit))
            return [
                {
                    "at": row.at,
                    "actor": row.actor,
                    "action": row.action,
                    "layer": row.layer,
                    "details": row.details,
                }
                for row in rows
            ]
