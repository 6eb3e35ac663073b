"""The kinds in force: the files' definitions, and the newer ones admins put through the API.

An admin's definition is kept as a numbered, immutable version beside the layers
(`DATA_DIR/_kinds/<kind>/v000001.json`, in `store.versioned`'s layout), so every earlier one stays
listable; the newest takes the place of the kind's file, or adds a kind no file defines. Both are
read again when they change, so every process serving the data directory sees a new definition
at its next request.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from .errors import InvalidParameter, not_found
from .i18n import _l, said
from .kinds import Kind, Kinds, kind_from_document, load_kinds
from .store.versioned import VersionedFolder

FOLDER = "_kinds"


class KindRegistry:
    """Kinds from the files in `folder`, overridden by the versions stored under `data_dir`."""

    def __init__(self, folder: Path, data_dir: Path) -> None:
        self.folder = Path(folder)
        self.versions = VersionedFolder(Path(data_dir) / FOLDER, ".json", "kind")
        self._cached: tuple[Kinds, tuple, Kinds] | None = None
        """The files' kinds and the stored versions in force it was made from, and the kinds."""

    def current(self) -> Kinds:
        """Every kind in force: `InvalidKinds` when a file is wrong."""
        files = load_kinds(self.folder)
        stored = tuple((i, self.versions.current_version(i)) for i in self.versions.ids())
        if self._cached is not None and self._cached[:2] == (files, stored):
            return self._cached[2]
        kinds = files
        for kind_id, version in stored:
            if version is not None:
                kinds = kinds.replaced(self._stored(files, kind_id, version))
        self._cached = (files, stored, kinds)
        return kinds

    def _stored(self, files: Kinds, kind_id: str, version: int) -> Kind:
        saved = self._read(kind_id, version)
        return kind_from_document(
            kind_id, saved["definition"], files.common, f"version {version}", version
        )

    def _read(self, kind_id: str, version: int) -> dict[str, Any]:
        return json.loads(self.versions.path(kind_id, version).read_text(encoding="utf-8"))

    def checked(self, kind_id: str, document: Any) -> Kind:
        """A definition sent for `kind_id`, checked against the common fields; 400 naming the
        problem and where it is."""
        if not isinstance(document, dict):
            raise InvalidParameter(_l("a kind's definition is a JSON object"))
        try:
            return kind_from_document(kind_id, document, self.current().common, "request", None)
        except ValueError as exc:
            raise InvalidParameter(
                _l("kind {kind!r} is not valid: {exc}", kind=kind_id, exc=said(exc))
            ) from None

    def put(self, kind: Kind, actor: str) -> Kind:
        """Store `kind`'s definition as its next version and serve it."""
        saved = {
            "definition": kind.definition.model_dump(mode="json", exclude_none=True),
            "actor": actor,
            "saved": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
        text = json.dumps(saved, ensure_ascii=False, indent=1)

        def write(version: int, path: Path) -> None:
            path.write_text(text, encoding="utf-8")

        version = self.versions.publish(kind.id, write)
        return Kind(kind.id, kind.definition, kind.common, f"version {version}", version)

    def history(self, kind_id: str) -> list[dict[str, Any]]:
        """Every definition the kind had, oldest first: its file's (if any), then each stored
        version, with who stored it and when, and which one is in force."""
        kinds = self.current()
        files = load_kinds(self.folder)
        in_force = kinds.kinds.get(kind_id)
        entries = []
        if kind_id in files.kinds:
            own = files.kinds[kind_id]
            entries.append(
                {
                    "version": None,
                    "origin": own.origin,
                    "current": in_force is not None and in_force.version is None,
                    "definition": own.definition.model_dump(mode="json", exclude_none=True),
                }
            )
        for number in self.versions.numbers(kind_id):
            saved = self._read(kind_id, number)
            entries.append(
                {
                    "version": number,
                    "origin": f"version {number}",
                    "current": in_force is not None and in_force.version == number,
                    "actor": saved["actor"],
                    "saved": saved["saved"],
                    "definition": saved["definition"],
                }
            )
        if not entries:
            raise not_found("kind", kind_id)
        return entries
