"""Document citations for the sample's `source` texts.

A source text names documents by key in double brackets (`[[sl-56-kh-tu]]`); the build writes
each as its full citation (title, number, issuer, date) from `documents.json`, in Vietnamese in
`source` and in English in `source_en`, and dates the record by its newest dated document.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

TOKEN = re.compile(r"\[\[([a-z0-9-]+)\]\]")


@dataclass(frozen=True)
class Document:
    key: str
    vi: str
    en: str
    date: str | None


@lru_cache(maxsize=1)
def documents() -> dict[str, Document]:
    text = (resources.files(__package__) / "documents.json").read_text(encoding="utf-8")
    return {key: Document(key, **entry) for key, entry in json.loads(text).items()}


@dataclass(frozen=True)
class Citation:
    vi: str
    """The source text with each document written out in Vietnamese."""
    en: str
    """The cited documents in English (the quotes and notes stay in `vi`)."""
    date: str | None
    """The newest date among the cited documents; None if none is dated."""


def cite(text: str) -> Citation:
    """`text` with its `[[key]]` documents written out; an unknown key is an error."""
    known = documents()
    keys = list(dict.fromkeys(TOKEN.findall(text)))
    unknown = [k for k in keys if k not in known]
    if unknown:
        raise KeyError(f"unknown documents {unknown} in source {text[:60]!r}…")
    cited = [known[k] for k in keys]
    dates = [d.date for d in cited if d.date]
    return Citation(
        vi=TOKEN.sub(lambda m: known[m.group(1)].vi, text),
        en="; ".join(d.en for d in cited),
        date=max(dates) if dates else None,
    )
