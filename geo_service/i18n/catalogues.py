"""Build the catalogues' outputs from the `.po` files: the `.mo` gettext reads on the server and
the `messages.json` the pages' scripts read. Run by `scripts/setup.sh` (so `run.sh` and
`test.sh`), by the wheel's build backend (which loads this file alone: it needs Babel and
nothing else of the package) and by hand: `scripts/catalogues.sh compile`.

An entry no person has reviewed carries the translator comment `MACHINE` (`# machine
translation, not reviewed`), which `pybabel update` keeps; a reviewer deletes the comment.
"""

from __future__ import annotations

import json
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).resolve().parent.parent / "locale"
DOMAIN = "messages"

MACHINE = "machine translation, not reviewed"
SCRIPT_SUFFIXES = (".js",)
"""Entries used from these files go into the pages' JSON catalogue."""


def read_catalogue(lang: str, locale_dir: Path = LOCALE_DIR) -> Catalog:
    path = locale_dir / lang / "LC_MESSAGES" / f"{DOMAIN}.po"
    with path.open("rb") as po:
        return read_po(po, locale=lang, domain=DOMAIN)


def entries(catalogue: Catalog) -> list:
    """The catalogue's messages, without its header entry and obsolete ones."""
    return [m for m in catalogue if m.id]


def untranslated(catalogue: Catalog) -> list[str]:
    """The msgids the catalogue has no translation for (or only a fuzzy one gettext skips)."""
    return [m.id for m in entries(catalogue) if not m.string or m.fuzzy]


def machine_translated(catalogue: Catalog) -> list[str]:
    return [m.id for m in entries(catalogue) if any(MACHINE in c for c in m.user_comments)]


def page_messages(catalogue: Catalog) -> dict[str, str]:
    """The translations the pages' scripts use (entries found in a `.js` file)."""
    return {
        m.id: m.string
        for m in entries(catalogue)
        if m.string and not m.fuzzy and any(f.endswith(SCRIPT_SUFFIXES) for f, _ in m.locations)
    }


def compile_language(lang: str, locale_dir: Path = LOCALE_DIR) -> None:
    catalogue = read_catalogue(lang, locale_dir)
    folder = locale_dir / lang / "LC_MESSAGES"
    with (folder / f"{DOMAIN}.mo").open("wb") as mo:
        write_mo(mo, catalogue)
    document = {
        "lang": lang,
        "unreviewed": len(machine_translated(catalogue)),
        "messages": page_messages(catalogue),
    }
    (folder / f"{DOMAIN}.json").write_text(
        json.dumps(document, ensure_ascii=False, sort_keys=True), encoding="utf-8"
    )


def languages(locale_dir: Path = LOCALE_DIR) -> list[str]:
    """The languages with a catalogue (`<lang>/LC_MESSAGES/messages.po`)."""
    return sorted(p.parent.parent.name for p in locale_dir.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


def compile_all(locale_dir: Path = LOCALE_DIR) -> None:
    """Every language's `.mo` and `messages.json` from its `.po`."""
    for lang in languages(locale_dir):
        compile_language(lang, locale_dir)
