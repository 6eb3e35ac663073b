"""GIS staff's tokens and the audit log, in `DATA_DIR/admin.sqlite`.

Tokens are random, shown once, and stored only as SHA-256 hashes. Every request looks its token
up afresh, so a token created or revoked from the command line counts from the next request, in
every worker. The audit log records who changed what, when, with the counts.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import sqlite3
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from .clock import utc_now

Role = Literal["editor", "reviewer", "admin"]
ROLES: tuple[Role, ...] = ("editor", "reviewer", "admin")
"""Weakest first; each role may do what the ones before it may: an editor uploads and edits, a
reviewer also publishes others' drafts when review is required, an admin also archives layers
and reads the audit log."""
FILE_NAME = "admin.sqlite"


@dataclass(frozen=True)
class Token:
    id: str
    role: Role
    label: str
    created: str
    revoked: str | None


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class AdminStore:
    def __init__(self, data_dir: Path) -> None:
        self.path = Path(data_dir) / FILE_NAME

    def _connect(self) -> sqlite3.Connection:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        db = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        db.execute("PRAGMA journal_mode=WAL")
        db.execute(
            "CREATE TABLE IF NOT EXISTS tokens (id TEXT PRIMARY KEY, hash TEXT UNIQUE NOT NULL, "
            "role TEXT NOT NULL, label TEXT NOT NULL, created TEXT NOT NULL, revoked TEXT)"
        )
        db.execute(
            "CREATE TABLE IF NOT EXISTS audit (at TEXT NOT NULL, actor TEXT NOT NULL, "
            "action TEXT NOT NULL, layer TEXT, details TEXT NOT NULL)"
        )
        return db

    # -- tokens -----------------------------------------------------------------------------
    def create_token(self, role: Role, label: str = "") -> tuple[Token, str]:
        if role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}")
        secret = "gst_" + secrets.token_urlsafe(32)
        token = Token(secrets.token_hex(4), role, label, utc_now(), None)
        with closing(self._connect()) as db:
            db.execute(
                "INSERT INTO tokens VALUES (?, ?, ?, ?, ?, NULL)",
                (token.id, _hash(secret), role, label, token.created),
            )
        self.record(f"cli:{token.id}", "token.create", None, {"role": role, "label": label})
        return token, secret

    def tokens(self) -> list[Token]:
        with closing(self._connect()) as db:
            rows = db.execute(
                "SELECT id, role, label, created, revoked FROM tokens ORDER BY created, id"
            ).fetchall()
        return [Token(*row) for row in rows]

    def revoke(self, token_id: str) -> bool:
        with closing(self._connect()) as db:
            changed = db.execute(
                "UPDATE tokens SET revoked = ? WHERE id = ? AND revoked IS NULL",
                (utc_now(), token_id),
            ).rowcount
        if changed:
            self.record(f"cli:{token_id}", "token.revoke", None, {})
        return bool(changed)

    def authenticate(self, secret: str) -> Token | None:
        """The live token with this secret, or None."""
        with closing(self._connect()) as db:
            row = db.execute(
                "SELECT id, role, label, created, revoked FROM tokens WHERE hash = ? AND revoked IS NULL",
                (_hash(secret),),
            ).fetchone()
        return None if row is None else Token(*row)

    # -- audit ------------------------------------------------------------------------------
    def record(self, actor: str, action: str, layer: str | None, details: dict[str, Any]) -> None:
        with closing(self._connect()) as db:
            db.execute(
                "INSERT INTO audit VALUES (?, ?, ?, ?, ?)",
                (utc_now(), actor, action, layer, json.dumps(details, ensure_ascii=False)),
            )

    def audit(self, layer: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        sql = "SELECT at, actor, action, layer, details FROM audit"
        params: tuple = ()
        if layer is not None:
            sql, params = sql + " WHERE layer = ?", (layer,)
        with closing(self._connect()) as db:
            rows = db.execute(sql + " ORDER BY rowid DESC LIMIT ?", (*params, limit)).fetchall()
        return [
            {
                "at": at,
                "actor": actor,
                "action": action,
                "layer": lyr,
                "details": json.loads(details),
            }
            for at, actor, action, lyr, details in rows
        ]
