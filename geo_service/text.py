"""Vietnamese text: NFC normalisation and diacritic-insensitive folding for search; the text
types of what clients send to be stored."""

from __future__ import annotations

import unicodedata
from typing import Annotated

from pydantic import AfterValidator

from .i18n import _l

_D_TO_ASCII = str.maketrans({"đ": "d", "Đ": "D"})


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def without_nul(text: str) -> str:
    """`text` itself, or a `ValueError` (a 400 in a document) if it holds NUL: no one means it,
    and PostgreSQL cannot store it, so neither records database is given it."""
    if "\x00" in text:
        raise ValueError(_l("text values cannot hold the NUL character"))
    return text


def stored_text(text: str) -> str:
    return nfc(without_nul(text))


Text = Annotated[str, AfterValidator(stored_text)]
"""Text a person wrote, stored NFC."""
TextId = Annotated[str, AfterValidator(without_nul)]
"""An id or address sent as text, stored as it came."""


def unaccent(text: str) -> str:
    """Strip diacritics («đ» as «d»), keep case: the CQL2 ACCENTI view of a string."""
    decomposed = unicodedata.normalize("NFD", text.translate(_D_TO_ASCII))
    return nfc("".join(ch for ch in decomposed if not unicodedata.combining(ch)))


def lower(text: str) -> str:
    """Unicode-aware lower case (SQLite's own lower() only knows ASCII)."""
    return nfc(text).casefold()


def fold(text: str) -> str:
    """Lower-case and unaccented: «Mộc Châu», «MOC CHAU» and «moc chau» fold alike."""
    return unaccent(text).casefold()
