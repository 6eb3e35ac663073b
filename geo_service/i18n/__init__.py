"""The languages people read the service in, and the gettext catalogues that speak them.

Every string a person reads is an English `msgid` in `geo_service/locale/<lang>/LC_MESSAGES/
messages.po` (managed with Babel: `pybabel extract/update/compile`, see the README). The
compiled `.mo` files and the pages' JSON catalogues are build outputs (`catalogues.py`).

A language is chosen by `lang=`, else by `Accept-Language`, else Vietnamese. Errors and other
texts made before the language is known are `Text`: a message and its values, rendered in the
request's language when the answer leaves (`render`), and as `English / tiếng Việt` when
nobody chose one (the service's answer before it spoke more languages).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping, Sequence
from contextvars import ContextVar
from functools import cache
from gettext import NullTranslations
from typing import Any, Literal

from babel.support import Translations

from .catalogues import DOMAIN, LOCALE_DIR

log = logging.getLogger(__name__)

Lang = Literal["vi", "en", "ja", "ko", "zh"]
LANGUAGES: tuple[Lang, ...] = ("vi", "en", "ja", "ko", "zh")
DEFAULT: Lang = "vi"
FALLBACKS: tuple[Lang, ...] = ("en", "vi")
"""Content (a layer's or project's name, a code's label) missing in a language is shown in the
first of these it has."""
ENDONYMS: dict[Lang, str] = {
    "vi": "Tiếng Việt",
    "en": "English",
    "ja": "日本語",
    "ko": "한국어",
    "zh": "简体中文",
}
"""Each language named in itself, as a language menu shows it (the same in every language)."""
HTML_TAGS: dict[Lang, str] = {"vi": "vi", "en": "en", "ja": "ja", "ko": "ko", "zh": "zh-Hans"}
"""BCP 47 tags for `<html lang>` and `hreflang`: the Chinese catalogue is Simplified."""
LOCALES: dict[Lang, str] = {
    "vi": "vi-VN",
    "en": "en-GB",
    "ja": "ja-JP",
    "ko": "ko-KR",
    "zh": "zh-CN",
}
"""The locale the pages' scripts write numbers and dates in (`Intl`)."""

request_language: ContextVar[Lang | None] = ContextVar("request_language", default=None)
"""The language the current request chose (`lang=` or `Accept-Language`), None if neither."""


def parse_lang(value: str | None) -> Lang | None:
    """One of our languages for a tag such as `ja`, `zh-Hans-CN`, `en_GB` or `ko-KR`; else None.
    Chinese in any script gets the Simplified catalogue, the one there is."""
    if not value:
        return None
    primary = value.strip().replace("_", "-").split("-")[0].lower()
    return primary if primary in LANGUAGES else None  # type: ignore[return-value]


def accepted(header: str | None) -> Lang | None:
    """The first of our languages an `Accept-Language` header prefers (by its q values)."""
    choices = []
    for position, part in enumerate((header or "").split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        lang = parse_lang(tag)
        if lang and q > 0:
            choices.append((-q, position, lang))
    return min(choices)[2] if choices else None


def negotiate(param: str | None, header: str | None) -> Lang:
    """`lang=` if it names one of ours, else `Accept-Language`, else Vietnamese."""
    return parse_lang(param) or accepted(header) or DEFAULT


@cache
def translations(lang: str) -> NullTranslations:
    """The compiled catalogue of a language (English msgids answer for themselves)."""
    found = Translations.load(str(LOCALE_DIR), [lang], DOMAIN)
    if not isinstance(found, Translations) and lang != "en":
        log.warning("no compiled catalogue for %s in %s; showing English", lang, LOCALE_DIR)
    return found


def tr(lang: str, message: str, /, **values: Any) -> str:
    """`message` in `lang`, its `{name}` placeholders filled from `values` (a `Text` among
    them in `lang` too)."""
    text = translations(lang).gettext(message)
    if not values:
        return text
    return text.format(
        **{k: v.render(lang) if isinstance(v, Text) else v for k, v in values.items()}
    )


class Text(str):
    """A message whose language is chosen later: `str` of it (logs, older callers) reads
    `English / Tiếng Việt`, as the service's texts did; `render(lang)` gives one language."""

    message: str
    values: dict[str, Any]

    def __new__(cls, message: str, /, **values: Any) -> Text:
        english, vietnamese = tr("en", message, **values), tr("vi", message, **values)
        shown = english if vietnamese == english else f"{english} / {vietnamese}"
        text = super().__new__(cls, shown)
        text.message, text.values = message, values
        return text

    def render(self, lang: str | None) -> str:
        return str(self) if lang is None else tr(lang, self.message, **self.values)


class _Joined(Text):
    """Texts shown one after another, each in the reader's language."""

    def __new__(cls, parts: Sequence[str], separator: str) -> _Joined:
        text = str.__new__(cls, separator.join(map(str, parts)))
        text.message, text.values = separator, {}
        text.parts, text.separator = tuple(parts), separator
        return text

    def render(self, lang: str | None) -> str:
        if lang is None:
            return str(self)
        return self.separator.join(render(part, lang) for part in self.parts)


def joined(parts: Sequence[str], separator: str = "; ") -> Text:
    """`parts` (texts or `Text`s) one after another, each in the reader's language."""
    return _Joined(parts, separator)


def said(exc: BaseException) -> str:
    """What an exception says, a `Text` kept as one: `str(exc)` would give both languages
    where the reader asked for one."""
    return exc.args[0] if len(exc.args) == 1 and isinstance(exc.args[0], str) else str(exc)


def _l(message: str, /, **values: Any) -> Text:
    """Mark `message` for the catalogues and translate it when its reader is known."""
    return Text(message, **values)


def N_(message: str) -> str:
    """Mark `message` for the catalogues where it is only named, to be translated elsewhere."""
    return message


def render(text: str, lang: str | None = None) -> str:
    """A text in the request's language (or `lang`): a `Text` is translated, anything else (a
    value a person typed, a library's message) is given as it is."""
    chosen = lang or request_language.get()
    return text.render(chosen) if isinstance(text, Text) else text


def localized(values: Mapping[str, Any], lang: str, stem: str = "") -> tuple[Any, str]:
    """Content in `lang`, else in English, else in Vietnamese, with the language it is in.

    `values` maps languages to texts (`{"vi": …, "en": …}`) or, with `stem`, holds fields named
    `<stem>_<lang>` (`name_vi`, `name_ja`, …)."""
    for candidate in (lang, *FALLBACKS):
        value = values.get(f"{stem}_{candidate}" if stem else candidate)
        if value not in (None, ""):
            return value, candidate
    return "", lang


def in_language(values: Mapping[str, Any], stem: str, lang: str) -> dict[str, Any]:
    """`<stem>` in `lang` (else its fallback) from `values`' `<stem>_<lang>` fields, and
    `<stem>_lang`, the language it is in, so a client sees when it fell back: `{"title": "…",
    "title_lang": "en"}` for a request in Korean of a layer with no Korean title."""
    text, shown = localized(values, lang, stem)
    return {stem: text, f"{stem}_lang": shown}


def pick_marked(values: Mapping[str, Any], lang: str, stem: str = "") -> str:
    """`pick` as plain text (a PDF, a spreadsheet): a fallback followed by the name of its
    language, e.g. "Mai Son Industrial Park (English)"."""
    text, shown = localized(values, lang, stem)
    return f"{text} ({ENDONYMS[shown]})" if text and shown != lang else text  # type: ignore[index]


def per_language(item: Any, stem: str) -> dict[str, str]:
    """`<stem>_<lang>` of an object for each language it has one in (`title_vi`, `title_ja`, …)."""
    return {
        f"{stem}_{lang}": getattr(item, f"{stem}_{lang}")
        for lang in LANGUAGES
        if getattr(item, f"{stem}_{lang}", None)
    }


def pick(values: Mapping[str, Any], lang: str, stem: str = "") -> Any:
    """`localized` without the language it fell back to."""
    return localized(values, lang, stem)[0]


@cache
def page_catalogue(lang: str) -> dict[str, Any]:
    """What the pages' scripts read (`messages.json`, made by `catalogues.compile_all`): the
    messages scripts use, in `lang`, and how many of the catalogue's entries are unreviewed."""
    path = LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        if lang != "en":
            log.warning("no page catalogue for %s at %s; scripts show English", lang, path)
        return {"lang": lang, "unreviewed": 0, "messages": {}}


def catalogue_element(lang: str) -> str:
    """The `<script type="application/json" id="i18n-catalogue">` a page's scripts read their
    messages from (`maps/static/i18n.js`); data, so it runs nothing and needs no CSP hash."""
    document = {
        "lang": lang,
        "fallbacks": list(FALLBACKS),
        "locale": LOCALES.get(lang, "en-GB"),  # type: ignore[call-overload]
        "tags": HTML_TAGS,
        "endonyms": ENDONYMS,
        "messages": page_catalogue(lang)["messages"],
    }
    payload = json.dumps(document, ensure_ascii=False).replace("</", "<\\/")
    return f'<script type="application/json" id="i18n-catalogue">{payload}</script>'


def unreviewed(lang: str) -> bool:
    """Whether some of the language's translations were made by machine and no person has
    reviewed them yet (the page footer says so, in that language)."""
    return page_catalogue(lang)["unreviewed"] > 0


def machine_translation_note(lang: str) -> str:
    """The page footer's notice, in `lang`, when some of its translations were made by machine
    and no person has reviewed them ("" when every one was reviewed)."""
    return tr(lang, "Machine translation, not reviewed by a person.") if unreviewed(lang) else ""
