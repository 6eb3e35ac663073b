"""Vietnamese text: NFC normalisation and diacritic-insensitive folding for search."""

from __future__ import annotations

import unicodedata

_D_TO_ASCII = str.maketrans({"đ": "d", "Đ": "D"})


def nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


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
