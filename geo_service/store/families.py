"""What a filter may compare with what: the family of a field's type and of a literal's value,
and the refusal of a comparison across families, said alike by both stores' compilers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ..catalogue import FieldSpec
from ..errors import InvalidParameter
from ..i18n import N_, Text, _l

FIELD_FAMILY = {
    "string": "text",
    "integer": "number",
    "number": "number",
    "date": "date",
    "datetime": "datetime",
    "boolean": "boolean",
}
"""A field type's family: what it may be compared with."""

TIMES = ("date", "datetime")
_COMPARABLE = {frozenset(TIMES)}
"""Different families that compare all the same (a date with a timestamp)."""

_NAMES = {
    None: N_("NULL"),
    "text": N_("text"),
    "number": N_("a number"),
    "date": N_("a date"),
    "datetime": N_("a timestamp"),
    "boolean": N_("a boolean"),
}


def value_family(value: Any) -> str | None:
    """The family of a literal's value; None for NULL, which compares with anything."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, dt.datetime):
        return "datetime"
    if isinstance(value, dt.date):
        return "date"
    return "text"


def comparable(reference: str | None, family: str | None, literal: bool) -> bool:
    """Whether an operand of `family` (None: NULL) may be compared with operands of the
    `reference` family: the same family, a date with a timestamp, or a literal text (the ISO
    text of a date or timestamp) with either."""
    return (
        family is None
        or family == reference
        or frozenset({family, reference}) in _COMPARABLE
        or (literal and family == "text" and reference in TIMES)
    )


def family_name(family: str | None) -> Text:
    """A family as a reader says it ("a number"), in the reader's language."""
    return Text(_NAMES[family])


def not_comparable(
    reference: str | None, family: str | None, spec: FieldSpec | None
) -> InvalidParameter:
    """The refusal of comparing `reference` with `family`, naming the property compared."""
    if spec is None:
        return InvalidParameter(
            _l(
                "{reference} cannot be compared with {family}",
                reference=family_name(reference),
                family=family_name(family),
            )
        )
    return InvalidParameter(
        _l(
            "{reference} cannot be compared with {family} (property {name!r} is of type {type})",
            reference=family_name(reference),
            family=family_name(family),
            name=spec.name,
            type=spec.type,
        )
    )
