"""Per-feature edits: an editor's operations on a layer (one, from OGC API – Features – Part 4,
or many, as a change set) checked as uploads are (`ingest.features`), published through the store
as one new version, and recorded in the audit log.

Every operation but a creation names the ETag the editor last saw (`If-Match`); the store
compares it with the feature's as it writes, so of two editors changing one feature from the
same state exactly one succeeds. A change set is made over the newest version; when another was
added meanwhile and the editor named no version of their own, the operations are checked and
sent again over the new one (their ETags still guard each feature), so edits of different
features all land. With review required (`Settings.review`), every change set is a draft.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import shapely

from .admin_store import AdminStore
from .catalogue import ID_FIELD, LayerMeta
from .errors import (
    InvalidParameter,
    NotFound,
    NotNewest,
    PreconditionRequired,
    TooLarge,
    no_feature,
    not_found,
    not_newest,
    stale_feature,
)
from .facts import with_completeness
from .i18n import _l
from .ingest.features import check_feature
from .ingest.validate import Report
from .settings import Settings
from .store import Store
from .store.changes import FeatureChange
from .store.etags import feature_etag

Op = Literal["create", "replace", "update", "delete"]
ATTEMPTS = 50
"""How often a change set is sent again over a newer version made meanwhile (each attempt
costs a wait for the layer's lock, not a new check)."""
AUDITED_CHANGES = 100
"""Operations a change set's audit entry lists one by one (it counts them all)."""
ANY = "*"
"""`If-Match: *`: whatever the feature holds now (HTTP's meaning), no ETag compared."""


@dataclass(frozen=True)
class Edit:
    """One operation as an editor sent it."""

    op: Op
    feature_id: str | None
    """None for a creation: the feature names itself (its `id` or `code`)."""
    body: Any = None
    """create, replace: a GeoJSON Feature; update: a JSON merge patch (RFC 7396) of one."""
    if_match: str | None = None
    """The feature's ETag as the editor last saw it, or `ANY`."""


@dataclass(frozen=True)
class Published:
    layer: str
    version: int
    draft: bool
    counts: dict[str, int]
    """Operations by kind."""
    features: tuple[str, ...]
    """The ids of the features changed, in the order of the edits."""


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7396: `patch` applied to `target` (a member set to null is removed)."""
    if not isinstance(patch, dict):
        return patch
    merged = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = merge_patch(merged.get(key), value)
    return merged


class Editing:
    """Per-feature edits of the layers of one store."""

    def __init__(self, store: Store, admin: AdminStore, settings: Settings) -> None:
        self.store = store
        self.admin = admin
        self.settings = settings

    def apply(
        self,
        layer_id: str,
        edits: Sequence[Edit],
        *,
        actor: str,
        draft: bool = False,
        base_version: int | None = None,
        action: str = "layer.changes",
    ) -> Published:
        """Check `edits` and publish them as one version over the newest (`base_version`, if the
        editor names one, must be it); a draft if asked or if review is required. Nothing is
        stored unless every edit passes: 428 for an edit without an ETag, 400 with the report,
        404, 409 or 412 from the store."""
        if len(edits) > self.settings.edit_max_changes:
            raise TooLarge(
                _l(
                    "{count:,} changes in one change set; at most {limit:,}",
                    count=len(edits),
                    limit=self.settings.edit_max_changes,
                )
            )
        unguarded = [e.feature_id for e in edits if e.op != "create" and e.if_match is None]
        if unguarded:
            raise PreconditionRequired(
                _l(
                    "changing a feature needs the ETag it had when you read it (If-Match); "
                    "missing for {features}",
                    features=", ".join(map(str, unguarded[:10])),
                ),
                extra={"features": unguarded[:100]},
            )
        draft = draft or self.settings.review_required
        base = self._base(layer_id, base_version)
        meta = self.store.layer(layer_id, base)
        changes, report = self._checked(layer_id, base, meta, edits)
        for attempt in range(1, ATTEMPTS + 1):
            try:
                version = self.store.apply_changes(
                    layer_id, changes, base_version=base, draft=draft, actor=actor
                )
                break
            except NotNewest:
                if base_version is not None or attempt == ATTEMPTS:
                    raise
            base = self._base(layer_id, None)
            newer = self.store.layer(layer_id, base)
            if newer.fields != meta.fields or any(e.if_match == ANY for e in edits):
                meta = newer  # an upload changed the schema, or ETags do not guard the merges
                changes, report = self._checked(layer_id, base, meta, edits)
        counts = {
            op: sum(e.op == op for e in edits) for op in ("create", "replace", "update", "delete")
        }
        self.admin.record(
            actor,
            action,
            layer_id,
            {
                "version": version,
                "base": base,
                "draft": draft,
                "counts": counts,
                "changes": [{"op": c.op, "id": c.feature_id} for c in changes[:AUDITED_CHANGES]],
                "report": {"findings": report.to_dict()["findings"]},
            },
        )
        ids = tuple(c.feature_id for c in changes)
        return Published(layer_id, version, draft, counts, ids)

    def etag(self, layer_id: str, feature_id: str, version: int) -> str:
        """A feature's ETag in one version (the one an edit just made, served or a draft)."""
        return feature_etag(self.store.feature(layer_id, feature_id, version))

    def _base(self, layer_id: str, named: int | None) -> int:
        """The version a change set goes over: the newest. (Whether it is also the one served,
        as a change set that is not a draft needs, the store checks under the layer's lock,
        `Store.apply_changes`: read here, the served version may be one another change set is
        about to move.) A served version newer than the newest read means one landed between
        the two reads: they are read again."""
        for _ in range(ATTEMPTS):
            numbers = self.store.version_numbers(layer_id)
            if not numbers:
                raise not_found("layer", layer_id)
            newest = numbers[-1]
            served = self.store.current_version(layer_id)
            if served is None or served <= newest:
                break
        if named is not None and named != newest:
            raise not_newest("layer", layer_id, named, newest)
        return newest

    def _checked(
        self, layer_id: str, base: int, meta: LayerMeta, edits: Sequence[Edit]
    ) -> tuple[list[FeatureChange], Report]:
        """The store's changes for `edits` over version `base` (whose metadata is `meta`), and
        the report of their checks (warnings); `ValidationFailed` with that report if any edit
        fails.

        The changes hold for any later version of the same schema in which the features have
        the ETags the editors sent: an update's merge is made over the state the editor saw
        (checked here), creations and replacements depend on no state, and the store checks
        the ETags again as it writes."""
        report = Report(layer_id, features=len(edits))
        changes = []
        for edit in edits:
            if_match = None if edit.if_match == ANY else edit.if_match
            if edit.op == "delete":
                changes.append(FeatureChange("delete", str(edit.feature_id), if_match=if_match))
                continue
            document = edit.body
            if edit.op == "update":
                document = self._patched(layer_id, base, meta, edit)
            checked, found = check_feature(meta, document, edit.feature_id, self.settings.province)
            report.absorb(found, str(edit.feature_id or (checked.id if checked else "?")))
            if checked is None:
                continue
            moved = edit.op != "update" or "geometry" in edit.body
            changes.append(
                FeatureChange(
                    edit.op,
                    checked.id,
                    with_completeness(meta.fields, checked.properties),
                    checked.geometry if moved else None,
                    if_match,
                )
            )
        if not report.ok:
            raise report.refusal("edit")
        return changes, report

    def _patched(self, layer_id: str, base: int, meta: LayerMeta, edit: Edit) -> dict[str, Any]:
        """The feature as version `base` holds it with the merge patch applied (412 if that is
        not the state the editor saw); its `area_ha` is derived again from a new geometry unless
        the patch gives it."""
        feature_id, patch = str(edit.feature_id), edit.body
        if not isinstance(patch, dict):
            raise InvalidParameter(
                _l(
                    "an update is a JSON merge patch of the feature: an object such as {example}",
                    example='{"properties": {"status": "operating"}}',
                )
            )
        try:
            current = self.store.feature(layer_id, feature_id, base)
        except NotFound:
            raise no_feature(feature_id, layer_id) from None
        etag = feature_etag(current)
        if edit.if_match not in (None, ANY) and edit.if_match != etag:
            raise stale_feature(feature_id, etag, str(edit.if_match))
        document = {
            "type": "Feature",
            "id": current.id,
            "geometry": None
            if current.geometry is None
            else json.loads(shapely.to_geojson(shapely.from_wkb(current.geometry))),
            "properties": current.properties,
        }
        patched = merge_patch(document, patch)
        properties = patched.get("properties")
        derived = "geometry" in patch and "area_ha" not in (patch.get("properties") or {})
        if isinstance(properties, dict) and derived and meta.geometry_type == "polygon":
            properties.pop("area_ha", None)
        if isinstance(properties, dict):
            properties.setdefault(ID_FIELD, feature_id)
        return patched
