"""What the server's Jinja pages (dashboard, project page) share to speak every language:
`_()` from the catalogues, content per language with its fallback marked, the language menu
and the footer's machine-translation notice."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader, pass_context, select_autoescape
from jinja2.runtime import Context
from markupsafe import Markup, escape

from . import ENDONYMS, HTML_TAGS, LANGUAGES, catalogue_element, localized, tr
from . import machine_translation_note as _note


@pass_context
def _(context: Context, message: str, /, **values: Any) -> str:
    return tr(context["lang"], message, **values)


@pass_context
def local(context: Context, values: Mapping[str, Any] | None, stem: str = "") -> Any:
    """Content in the page's language, else English, else Vietnamese (`{{ g.label | local }}`,
    `{{ step | local("name") }}`)."""
    return localized(values or {}, context["lang"], stem)[0]


@pass_context
def local_marked(context: Context, values: Mapping[str, Any] | None, stem: str = "") -> Markup:
    """`local`, a fallback marked with its language and named: `<span lang="en">…</span>
    <small>(English)</small>`."""
    text, shown = localized(values or {}, context["lang"], stem)
    if shown == context["lang"]:
        return escape(text)
    tag = HTML_TAGS[shown]  # type: ignore[index]
    return Markup(
        '<span lang="{0}">{1}</span> <small class="fallback-lang" lang="{0}">({2})</small>'
    ).format(
        tag,
        text,
        ENDONYMS[shown],  # type: ignore[index]
    )


@pass_context
def language_menu(context: Context, params: Mapping[str, Any]) -> Markup:
    """Links to this page in every language, keeping the rest of its address (`params`)."""
    items = []
    for code in LANGUAGES:
        href = "?" + urlencode({**params, "lang": code})
        current = ' aria-current="true"' if code == context["lang"] else ""
        items.append(
            Markup('<li><a href="{0}" hreflang="{1}" lang="{1}"{2}>{3}</a></li>').format(
                href, HTML_TAGS[code], Markup(current), ENDONYMS[code]
            )
        )
    label = tr(context["lang"], "Language")
    return Markup('<ul class="lang-menu" aria-label="{0}">{1}</ul>').format(
        label, Markup("").join(items)
    )


@pass_context
def machine_note(context: Context) -> str:
    return _note(context["lang"])


@pass_context
def scripts_catalogue(context: Context) -> Markup:
    return Markup(catalogue_element(context["lang"]))


def page_environment(package: str) -> Environment:
    """The Jinja environment of a package's page templates (`<package>/templates/*.html`),
    autoescaped, with the functions above (each reads the page's `lang`)."""
    environment = Environment(
        loader=PackageLoader(package, "templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.globals.update(
        _=_,
        language_menu=language_menu,
        machine_note=machine_note,
        scripts_catalogue=scripts_catalogue,
        html_tag=lambda lang: HTML_TAGS.get(lang, lang),
    )
    environment.filters.update(local=local, local_marked=local_marked)
    return environment
