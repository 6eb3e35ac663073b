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


def _tagged(context: Context, values: Mapping[str, Any] | None, stem: str) -> tuple[Markup, Any]:
    """`local` as element content, and the fallback language it is in (None if in the page's)."""
    text, shown = localized(values or {}, context["lang"], stem)
    if shown == context["lang"]:
        return escape(text), None
    return Markup('<span lang="{0}">{1}</span>').format(HTML_TAGS[shown], text), shown  # type: ignore[index]


@pass_context
def local_tagged(context: Context, values: Mapping[str, Any] | None, stem: str = "") -> Markup:
    """`local`, a fallback in an element saying its language (`<span lang="en">…</span>`), for
    assistive technology and fonts: labels and names of steps, stages and forms, where naming
    the language each time would crowd the page."""
    return _tagged(context, values, stem)[0]


@pass_context
def local_marked(context: Context, values: Mapping[str, Any] | None, stem: str = "") -> Markup:
    """`local_tagged`, a fallback named too: `<span lang="en">…</span> <small>(English)</small>`,
    for a project's name and summary."""
    tagged, shown = _tagged(context, values, stem)
    if shown is None:
        return tagged
    return tagged + Markup(' <small class="fallback-lang" lang="{0}">({1})</small>').format(
        HTML_TAGS[shown],  # type: ignore[index]
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
    environment.filters.update(local=local, local_tagged=local_tagged, local_marked=local_marked)
    return environment
