"""Content in more languages than the two every text has: documents (layer metadata, a kind's
fields, a project) hold `<stem>_vi` and `<stem>_en`, and may hold `<stem>_<lang>` for each
further language in `LANGUAGES` (`title_ja`, `label_ko`, `name_zh`, …), which readers show
through `localized` with its fallback to English, then Vietnamese.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import BaseModel, Field, create_model

from . import LANGUAGES, Lang

EVERY_TEXT_HAS: tuple[Lang, ...] = ("vi", "en")
FURTHER: tuple[Lang, ...] = tuple(lang for lang in LANGUAGES if lang not in EVERY_TEXT_HAS)
"""The languages content may be given in beyond Vietnamese and English, each optional."""

Model = TypeVar("Model", bound=BaseModel)


def names_per_language(*stems: str) -> list[str]:
    """`<stem>_<lang>` for each stem and every language (`name_vi`, `name_en`, …, `name_zh`)."""
    return [f"{stem}_{lang}" for stem in stems for lang in LANGUAGES]


def further_names(*stems: str) -> list[str]:
    """`<stem>_<lang>` for each stem and each further language (`title_ja`, …, `title_zh`)."""
    return [f"{stem}_{lang}" for stem in stems for lang in FURTHER]


def in_further_languages(
    *stems: str, annotation: Any = str, **options: Any
) -> Callable[[type[Model]], type[Model]]:
    """A class decorator: the pydantic model with an optional field `<stem>_<lang>` (None when
    not given) of type `annotation` after its own, for each stem and each further language;
    `options` go to each `Field` (e.g. `max_length`)."""

    def extended(model: type[Model]) -> type[Model]:
        texts: dict[str, Any] = {
            name: (annotation | None, Field(None, **options)) for name in further_names(*stems)
        }
        made = create_model(  # type: ignore[call-overload]
            model.__name__, __base__=model, __module__=model.__module__, **texts
        )
        made.__qualname__, made.__doc__ = model.__qualname__, model.__doc__
        return made  # type: ignore[no-any-return]

    return extended
