"""Review of drafts before they are served.

With review required (`Settings.review`), every upload, change set and feature edit is stored as
a draft, and the drafts above the served version are served together only when a token holder
who made none of them publishes them: a reviewer, or an admin (roles are ordered editor <
reviewer < admin, so an admin may review too). Before that they see what the drafts' checks found
(their validation reports, kept in the audit log with each upload or change set) and what the
drafts change (the diff from the served version), and anyone on staff may comment. Comments and
publishing are recorded in the audit log, with the authors and the reviewer.

Rolling back to a version below the one served needs no review: each of those was served, or
passed over by a reviewer's publishing.
"""

from __future__ import annotations

from typing import Any

from .admin_store import ROLES, AdminStore, Token
from .errors import Forbidden, InvalidParameter, not_found
from .i18n import Text, _l, render
from .settings import Settings
from .store import Store
from .store.changes import FeatureDiff

PREVIEW_FEATURES = 500
"""Differences a preview lists one by one (it counts them all; the diff route has every one)."""
AUDIT_LOOKBACK = 5000
"""Audit entries of the layer, newest first, searched for the drafts' reports and comments."""
REPORTED_ACTIONS = ("layer.draft", "layer.publish", "layer.changes")


def actor_of(token: Token) -> str:
    """How the audit log and version records name a token's holder."""
    return f"token:{token.id}"


def diff_entry(difference: FeatureDiff) -> dict[str, Any]:
    """A difference as the API shows it."""
    entry: dict[str, Any] = {"id": difference.feature_id, "change": difference.change}
    if difference.change == "changed":
        entry["fields"] = {
            name: {"before": before, "after": after}
            for name, (before, after) in difference.fields.items()
        }
        entry["geometry_moved_m"] = (
            None if difference.geometry_moved_m is None else round(difference.geometry_moved_m, 3)
        )
    return entry


class Review:
    def __init__(self, store: Store, admin: AdminStore, settings: Settings) -> None:
        self.store = store
        self.admin = admin
        self.settings = settings

    def objection(self, token: Token, layer_id: str, version: int) -> Text | None:
        """Why `token` may not serve `version` of the layer, or None if it may."""
        if not self.settings.review_required:
            return None
        served = self.store.current_version(layer_id)
        if served is not None and version <= served:
            return None
        if ROLES.index(token.role) < ROLES.index("reviewer"):
            return _l(
                "review is required: publishing needs a reviewer or an admin; this token is "
                "an {role}'s",
                role=token.role,
            )
        authors = self._authors(layer_id, served, version)
        if actor_of(token) in authors:
            return _l(
                "review is required: another reviewer must publish a draft you made (part of)"
            )
        return None

    def check(self, token: Token, layer_id: str, version: int) -> dict[str, Any]:
        """`Forbidden` unless `token` may serve `version`; the audit details of serving it."""
        objection = self.objection(token, layer_id, version)
        if objection is not None:
            raise Forbidden(objection)
        if not self.settings.review_required:
            return {}
        served = self.store.current_version(layer_id)
        return {
            "reviewed": {
                "by": actor_of(token),
                "authors": sorted(self._authors(layer_id, served, version)),
                "from": served,
            }
        }

    def comment(self, token: Token, layer_id: str, text: str, version: int | None) -> dict:
        """Record a comment on a draft (the newest, unless `version` is named)."""
        numbers = self.store.version_numbers(layer_id)
        if not numbers:
            raise not_found("layer", layer_id)
        version = numbers[-1] if version is None else version
        if version not in numbers:
            raise InvalidParameter(
                _l(
                    "layer {layer_id!r} has no version {version}",
                    layer_id=layer_id,
                    version=version,
                )
            )
        details = {"version": version, "comment": text}
        self.admin.record(actor_of(token), "layer.review_comment", layer_id, details)
        return {"layer": layer_id, **details}

    def preview(self, token: Token, layer_id: str, diff_href: str) -> dict[str, Any]:
        """What publishing the newest draft would serve: the drafts with their reports, the
        difference from the served version, the comments, and whether `token` may publish."""
        summaries = self.store.versions(layer_id)
        served = next((s.number for s in summaries if s.current), None)
        newest = summaries[-1].number
        if served == newest:
            raise InvalidParameter(
                _l(
                    "{kind} {item_id!r} has no draft newer than the version served",
                    kind="layer",
                    item_id=layer_id,
                )
            )
        pending = [s for s in summaries if s.number > (served or 0)]
        numbers = {s.number for s in pending}
        reports, comments = {}, []
        for entry in self.admin.audit(layer_id, AUDIT_LOOKBACK):
            version = entry["details"].get("version")
            if version not in numbers:
                continue
            if entry["action"] == "layer.review_comment":
                comments.append(
                    {"at": entry["at"], "actor": entry["actor"], "version": version,
                     "comment": entry["details"].get("comment")}
                )  # fmt: skip
            elif entry["action"] in REPORTED_ACTIONS or entry["action"].startswith("feature."):
                reports.setdefault(version, entry["details"].get("report"))
        objection = self.objection(token, layer_id, newest)
        return {
            "layer": layer_id,
            "served": served,
            "draft": newest,
            "review": {
                "required": self.settings.review_required,
                "may_publish": objection is None,
                **({"why_not": render(objection)} if objection else {}),
            },
            "versions": [
                {
                    "version": s.number,
                    "kind": s.kind,
                    "actor": s.actor,
                    "written": s.written,
                    "features": s.features,
                    "problem": s.problem,
                    "report": reports.get(s.number),
                }
                for s in pending
            ],
            "diff": self._diff_preview(layer_id, served, newest, pending, diff_href),
            "comments": sorted(comments, key=lambda c: c["at"]),
        }

    def _diff_preview(
        self, layer_id: str, served: int | None, newest: int, pending: list, href: str
    ) -> dict[str, Any]:
        if served is None:  # a new layer: all of it is new
            return {"from": None, "to": newest, "counts": {"added": pending[-1].features}}
        counts = {"added": 0, "removed": 0, "changed": 0}
        listed = []
        for difference in self.store.diff(layer_id, served, newest):
            counts[difference.change] += 1
            if len(listed) < PREVIEW_FEATURES:
                listed.append(diff_entry(difference))
        return {
            "from": served,
            "to": newest,
            "counts": counts,
            "features": listed,
            "complete": sum(counts.values()) <= PREVIEW_FEATURES,
            "href": href,
        }

    def _authors(self, layer_id: str, served: int | None, version: int) -> set[str]:
        """Who made the versions above the served one, up to `version`."""
        return {
            s.actor
            for s in self.store.versions(layer_id)
            if (served or 0) < s.number <= version and s.actor
        }
