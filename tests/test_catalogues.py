"""The gettext catalogues: in step with the code, complete in every language, marked where no
person reviewed them; and no text a person reads left outside them (a static check of the
pages' scripts and templates, and of the Python modules).

`scripts/catalogues.sh pot FILE` extracts the messages exactly as `scripts/catalogues.sh extract`
does (Babel's extractors for Python, Jinja and JavaScript)."""

from __future__ import annotations

import ast
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from babel.messages.pofile import read_po
from jinja2 import Environment
from jinja2.ext import i18n

from geo_service.i18n import LANGUAGES, Text, _l, render, tr
from geo_service.i18n.catalogues import (
    LOCALE_DIR,
    MACHINE,
    entries,
    machine_translated,
    read_catalogue,
    untranslated,
)

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "geo_service"
VIETNAMESE = re.compile(
    "[ăâđêôơưàáảãạằắẳẵặầấẩẫậèéẻẽẹềếểễệìíỉĩịòóỏõọồốổỗộờớởỡợùúủũụừứửữựỳýỷỹỵ]", re.I
)
PLACEHOLDER = re.compile(r"\{(\w+)(?:![rs])?\}")
REVIEWED = {"vi", "en"}
"""Languages whose every entry a person wrote or reviewed; the others are machine translations."""


@pytest.fixture(scope="module")
def template(tmp_path_factory) -> list[str]:
    """The msgids the extractors find in the code now."""
    pot = tmp_path_factory.mktemp("pot") / "messages.pot"
    subprocess.run(["bash", str(ROOT / "scripts" / "catalogues.sh"), "pot", str(pot)],
                   check=True, capture_output=True)  # fmt: skip
    with pot.open("rb") as file:
        return [m.id for m in read_po(file) if m.id]


def test_every_language_has_a_catalogue_in_step_with_the_code(template):
    for lang in LANGUAGES:
        have = {m.id for m in entries(read_catalogue(lang))}
        new = sorted(set(template) - have)
        gone = sorted(have - set(template))
        assert not new, f"{lang}: not in the catalogue (run scripts/catalogues.sh extract): {new}"
        assert not gone, (
            f"{lang}: no longer in the code (run scripts/catalogues.sh extract): {gone}"
        )


@pytest.mark.parametrize("lang", LANGUAGES)
def test_no_entry_is_left_untranslated(lang):
    missing = untranslated(read_catalogue(lang))
    assert missing == [], f"{len(missing)} untranslated in {lang}:\n" + "\n".join(missing)


@pytest.mark.parametrize("lang", LANGUAGES)
def test_translations_keep_the_placeholders(lang):
    """A translation that drops or renames a `{name}` would fail when it is filled."""
    wrong = [
        (m.id, m.string)
        for m in entries(read_catalogue(lang))
        if m.string and sorted(PLACEHOLDER.findall(m.id)) != sorted(PLACEHOLDER.findall(m.string))
    ]
    assert wrong == []


@pytest.mark.parametrize("lang", LANGUAGES)
def test_machine_translations_are_marked_and_said(lang):
    catalogue = read_catalogue(lang)
    marked = machine_translated(catalogue)
    if lang in REVIEWED:
        assert marked == []
    else:
        assert len(marked) == len(entries(catalogue)), (
            "every ja/ko/zh entry is a machine translation"
        )
    compiled = json.loads((LOCALE_DIR / lang / "LC_MESSAGES" / "messages.json").read_text())
    assert compiled["unreviewed"] == len(marked)


def test_pybabel_update_keeps_the_machine_translation_mark(template, tmp_path):
    locale = tmp_path / "locale"
    shutil.copytree(
        LOCALE_DIR / "ja", locale / "ja", ignore=shutil.ignore_patterns("*.mo", "*.json")
    )
    pot = tmp_path / "messages.pot"
    subprocess.run(["bash", str(ROOT / "scripts" / "catalogues.sh"), "pot", str(pot)], check=True,
                   capture_output=True)  # fmt: skip
    subprocess.run([str(Path(shutil.which("pybabel") or ROOT / ".venv/bin/pybabel")), "update",
                    "-i", str(pot), "-d", str(locale), "--no-fuzzy-matching"],
                   check=True, capture_output=True)  # fmt: skip
    with (locale / "ja" / "LC_MESSAGES" / "messages.po").open("rb") as file:
        updated = read_po(file)
    assert all(any(MACHINE in c for c in m.user_comments) for m in entries(updated))


def test_every_script_message_is_extracted(template):
    """What the pages' scripts pass to `_()` is in the catalogues (an extractor that missed a
    form of call, e.g. inside a template string, would leave it in English)."""
    called = {
        json.loads(f'"{literal}"')
        for path in PACKAGE.rglob("static/*.js")
        for literal in re.findall(r'\b_\(\s*"((?:[^"\\]|\\.)*)"', path.read_text())
    }
    assert sorted(called - set(template)) == []


# -- text outside the catalogues ---------------------------------------------------------------
TEXT_PROPERTY = re.compile(
    r"""(?:\b(?:text|title|placeholder|alt|label)|"aria-label")\s*:\s*(?P<q>["'`])"""
    r"""(?P<text>(?:\\.|(?!(?P=q)).)*?[A-Za-z]{2}(?:\\.|(?!(?P=q)).)*)(?P=q)"""
)
TEXT_ASSIGNED = re.compile(
    r"""\.(?:textContent|innerText|title|placeholder)\s*=\s*(?P<q>["'`])(?P<text>[^"'`]*[A-Za-z]{2}[^"'`]*)(?P=q)"""
)


def script_strings(source: str) -> list[tuple[int, str]]:
    """Each string literal of a script with its line, comments and regular expressions
    skipped (enough of JavaScript's grammar for our own scripts)."""
    found, i, line = [], 0, 1
    regex_may_start = True
    while i < len(source):
        char = source[i]
        if source.startswith("//", i):
            i = source.find("\n", i)
            i = len(source) if i < 0 else i
            continue
        if source.startswith("/*", i):
            end = source.find("*/", i) + 2
            line += source.count("\n", i, end)
            i = end
            continue
        if char in "\"'`":
            j = i + 1
            while source[j] != char:
                j += 2 if source[j] == "\\" else 1
            found.append((line, source[i + 1 : j]))
            line += source.count("\n", i, j)
            i, regex_may_start = j + 1, False
            continue
        if char == "/" and regex_may_start:
            j = i + 1
            in_class = False
            while source[j] != "/" or in_class:
                in_class = (in_class or source[j] == "[") and source[j] != "]"
                j += 2 if source[j] == "\\" else 1
            i, regex_may_start = j + 1, False
            continue
        if char == "\n":
            line += 1
        if not char.isspace():
            regex_may_start = (
                char in "(,=:[!&|?{};+-*%<>~^" or source[max(0, i - 5) : i + 1] == "return"
            )
        i += 1
    return found


def untranslated_script_text(path: Path) -> list[str]:
    source = path.read_text(encoding="utf-8")
    problems = [
        f"{path.relative_to(ROOT)}:{line}: {text!r}"
        for line, text in script_strings(source)
        if VIETNAMESE.search(re.sub(r"\$\{[^}]*\}", "", text))
    ]
    for pattern in (TEXT_PROPERTY, TEXT_ASSIGNED):
        for match in pattern.finditer(source):
            # what a template string computes (`${_("…")}`, `${value}`) is not its text
            if re.search(r"[^\W\d_]{2}", re.sub(r"\$\{[^}]*\}", "", match["text"])):
                line = source.count("\n", 0, match.start()) + 1
                problems.append(f"{path.relative_to(ROOT)}:{line}: {match['text']!r}")
    return problems


def test_scripts_show_no_text_outside_the_catalogues():
    problems = [
        p for path in sorted(PACKAGE.rglob("static/*.js")) for p in untranslated_script_text(path)
    ]
    assert problems == [], "texts in scripts not through _():\n" + "\n".join(problems)


def test_the_script_check_finds_what_it_should():
    source = 'el("p", { text: "Close the card" }); x.title = "Đóng"; el("b", { text: _("Close") }); /a\'b/.test(s);'
    strings = [text for _, text in script_strings(source)]
    assert strings == ["p", "Close the card", "Đóng", "b", "Close"]
    assert TEXT_PROPERTY.search(source)["text"] == "Close the card"
    assert TEXT_ASSIGNED.search(source)["text"] == "Đóng"


TEMPLATE_TEXT = re.compile(r">([^<>]*[^\W\d_][^<>]*)<")
TEMPLATE_ATTRIBUTE = re.compile(r'\b(?:title|alt|placeholder|aria-label)="([^"{]*[^\W\d_][^"{]*)"')
ALLOWED_TEMPLATE_TEXT = {"ha"}
"""Unit symbols that read the same in every language."""


def test_templates_show_no_text_outside_the_catalogues():
    """The text between tags (with every `{{ … }}` and `{% … %}` taken out) of each page
    template, and its attributes people read: nothing left but punctuation and symbols."""
    problems = []
    for path in sorted(PACKAGE.rglob("templates/*.html")):
        source = path.read_text(encoding="utf-8")
        bare = re.sub(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", "", source, flags=re.S)
        bare = re.sub(r"<(script|style)\b.*?</\1>", "", bare, flags=re.S)
        for pattern in (TEMPLATE_TEXT, TEMPLATE_ATTRIBUTE):
            for match in pattern.finditer(bare):
                # an address the page prints is not text to translate
                text = " ".join(t for t in match[1].split() if not t.startswith(("/", "http")))
                words = set(re.findall(r"[^\W\d_]+", text))
                if words - ALLOWED_TEMPLATE_TEXT:
                    problems.append(f"{path.relative_to(ROOT)}: {match[1].strip()!r}")
    assert problems == [], "texts in templates not through _():\n" + "\n".join(problems)


def test_templates_translate_with_jinja_i18n_too():
    """The templates' `_()` calls are the ones Jinja's own i18n extension knows."""
    environment = Environment(extensions=[i18n])
    for path in PACKAGE.rglob("templates/*.html"):
        environment.parse(path.read_text(encoding="utf-8"))


API_DOCUMENTATION = {"summary", "description"}
"""Keywords (and document keys) whose text documents the API (OpenAPI, link titles), in
Vietnamese and English side by side: one document for every reader, not an answer in the
reader's language."""
API_DOCUMENTATION_CALLS = {"link", "Route"}
"""Calls whose texts are link titles and route summaries, the API's documentation too."""
DATA: dict[str, str] = {
    "geo_service/pipeline/stages.py": "the stages' code list, labelled per language",
    "geo_service/pipeline/progress.py": "the dossier events' code list, labelled per language",
    "geo_service/pipeline/layer.py": "the projects collection's title, description and codes",
    "geo_service/pipeline/spreadsheet.py": "the projects workbook's Vietnamese column headers",
    "geo_service/dashboard/summary.py": "a group's label per language",
    "geo_service/rasters/measures.py": "a derived raster's title per language",
    "geo_service/rasters/tiles.py": "a legend's nodata label per language",
    "geo_service/sample/__init__.py": "the sample's place names and land uses",
    "geo_service/sample/derived.py": "the sample's derived layer title per language",
    "geo_service/sample/projects.py": "the sample's synthetic projects",
    "geo_service/places.py": "Vietnamese administrative unit names",
    "geo_service/facts.py": "distance targets named per language; the bilingual citation a site stores in distances_source",
    "geo_service/text.py": "folding Vietnamese letters for search",
    "geo_service/ingest/validate.py": "province names; mojibake of Vietnamese letters",
    "geo_service/doctor.py": "province names",
    "geo_service/settings.py": "the default Vietnamese title; province names",
    "geo_service/i18n/__init__.py": "each language's name in itself",
}
"""Modules whose Vietnamese text is data, not a message: content that exists per language (and
falls back by language where it is shown), or Vietnamese itself (place names, the folding of
its letters)."""


def vietnamese_literals(path: Path) -> list[str]:
    """String constants with Vietnamese letters outside `_l()`, `N_()`, `tr()`, `both()`,
    docstrings and the API's own documentation: a person reads them, so they belong in the
    catalogues."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    marked, found = set(), []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in MARKERS:
            marked.update(id(n) for arg in node.args for n in ast.walk(arg))
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in API_DOCUMENTATION_CALLS:
            marked.update(id(n) for arg in node.args for n in ast.walk(arg))
        if isinstance(node, ast.keyword) and node.arg in API_DOCUMENTATION:
            marked.update(id(n) for n in ast.walk(node.value))
        if isinstance(node, ast.Dict):
            marked.update(
                id(value)
                for key, value in zip(node.keys, node.values, strict=True)
                if isinstance(key, ast.Constant) and key.value in API_DOCUMENTATION
            )
        documented = ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Module
        if isinstance(node, documented) and node.body and isinstance(node.body[0], ast.Expr):
            marked.add(id(node.body[0].value))
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Constant)
            and isinstance(node.value, str)
            and id(node) not in marked
            and VIETNAMESE.search(node.value)
        ):
            found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.value[:70]!r}")
    return found


MARKERS = {"_l", "N_", "tr", "both"}
"""The functions whose first text is a catalogue message (the keywords of `pybabel extract`)."""


def test_python_shows_no_vietnamese_outside_the_catalogues():
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        literals = vietnamese_literals(path)
        if literals:
            found[str(path.relative_to(ROOT))] = literals
    unexpected = {k: v for k, v in found.items() if k not in DATA}
    assert unexpected == {}, "Vietnamese text outside the catalogues:\n" + "\n".join(
        line for lines in unexpected.values() for line in lines
    )
    assert sorted(set(DATA) - set(found)) == [], "no longer data modules: take them off DATA"


# -- the language of API errors ----------------------------------------------------------------
def test_an_error_is_in_the_language_asked_for(grid_client):
    asked = {
        "ja": grid_client.get("/collections/nothing-here", params={"lang": "ja"}),
        "ko": grid_client.get("/collections/nothing-here", headers={"Accept-Language": "ko-KR"}),
        "zh": grid_client.get(
            "/collections/nothing-here", headers={"Accept-Language": "fr, zh-CN;q=0.8"}
        ),
        "en": grid_client.get(
            "/collections/nothing-here?lang=en", headers={"Accept-Language": "vi"}
        ),
    }
    for lang, response in asked.items():
        assert response.status_code == 404
        assert response.json()["description"] == tr(
            lang, "no collection {layer_id!r}", layer_id="nothing-here"
        )
    # nobody chose: Vietnamese and English together, as before the service spoke more languages
    plain = grid_client.get("/collections/nothing-here").json()["description"]
    assert plain == "no collection 'nothing-here' / không có lớp 'nothing-here'"


def test_a_text_is_rendered_late():
    text = _l("no shortlist {id!r}", id="x1")
    assert isinstance(text, Text) and str(text) == "no shortlist 'x1' / không có danh sách 'x1'"
    assert render(text, "ko") == "관심 목록 'x1'이(가) 없습니다"
    assert render("typed by a person", "ja") == "typed by a person"
