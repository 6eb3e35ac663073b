"""Pydantic's validation errors in the reader's language.

Pydantic writes its messages in English ("Field required", "Input should be greater than or
equal to 0", "String should match pattern '^[^@\\s<>]+@…'") and puts "Value error, " before what
our own validators raise, reduced to its `English / Tiếng Việt` string. Here each error is said
again from its type and context as a `Text`, rendered in the language the reader asked for; a
pattern is named by what it stands for ("must be an email address") where its module named it
(`named_pattern`); the rare types not listed keep pydantic's English.
"""

from __future__ import annotations

from pydantic import ValidationError
from pydantic_core import ErrorDetails

from . import N_, Text, _l, joined, said

_FORMS: dict[str, str] = {}


def named_pattern(pattern: str, form: str) -> str:
    """`pattern`, noting what a value matching it is in words (an `N_` message such as "an
    email address"), so that a value refused by it is told "must be an email address"."""
    _FORMS[pattern] = form
    return pattern


_MESSAGES: dict[str, str] = {
    "missing": N_("required"),
    "extra_forbidden": N_("not accepted here (an unknown member)"),
    "string_type": N_("must be text"),
    "string_too_long": N_("must have at most {max_length} characters"),
    "int_type": N_("must be a whole number"),
    "int_parsing": N_("must be a whole number"),
    "int_from_float": N_("must be a whole number"),
    "float_type": N_("must be a number"),
    "float_parsing": N_("must be a number"),
    "finite_number": N_("must be a finite number"),
    "bool_type": N_("must be true or false"),
    "bool_parsing": N_("must be true or false"),
    "greater_than": N_("must be greater than {gt}"),
    "greater_than_equal": N_("must be at least {ge}"),
    "less_than": N_("must be less than {lt}"),
    "less_than_equal": N_("must be at most {le}"),
    "date_type": N_("must be a date, YYYY-MM-DD"),
    "date_parsing": N_("must be a date, YYYY-MM-DD"),
    "date_from_datetime_parsing": N_("must be a date, YYYY-MM-DD"),
    "date_from_datetime_inexact": N_("must be a date, YYYY-MM-DD"),
    "datetime_type": N_("must be a date and time, such as 2026-01-31T09:00:00+07:00"),
    "datetime_parsing": N_("must be a date and time, such as 2026-01-31T09:00:00+07:00"),
    "datetime_from_date_parsing": N_("must be a date and time, such as 2026-01-31T09:00:00+07:00"),
    "list_type": N_("must be a list"),
    "tuple_type": N_("must be a list"),
    "too_short": N_("must have at least {min_length} items"),
    "too_long": N_("must have at most {max_length} items"),
    "dict_type": N_("must be an object"),
    "model_type": N_("must be an object"),
    "model_attributes_type": N_("must be an object"),
}


def what(error: ErrorDetails) -> str:
    """What is wrong with the value, in the reader's language (a `Text`), without where."""
    kind, context = error["type"], error.get("ctx", {})
    if kind in ("value_error", "assertion_error") and "error" in context:
        raised = context["error"]
        return said(raised) if isinstance(raised, BaseException) else str(raised)
    if kind == "string_too_short":
        if context.get("min_length") == 1:
            return _l("must not be empty")
        return _l("must have at least {min_length} characters", min_length=context["min_length"])
    if kind == "string_pattern_mismatch":
        form = _FORMS.get(context.get("pattern", ""))
        if form is not None:
            return _l("must be {form}", form=Text(form))
        return _l("does not have the expected form {pattern}", pattern=context.get("pattern"))
    if kind in ("literal_error", "enum"):
        choices = str(context.get("expected", "")).replace(" or ", ", ")
        return _l("must be one of: {choices}", choices=choices)
    if kind in _MESSAGES:
        return Text(_MESSAGES[kind], **{name: _shown(value) for name, value in context.items()})
    return error["msg"]


def _shown(value: object) -> object:
    """A bound as pydantic shows it: 0, not 0.0, for a float field's `ge=0`."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def placed(error: ErrorDetails, place: str | None) -> str:
    """One problem as `place: what`, or what alone where it has no place."""
    return _l("{place}: {problem}", place=place, problem=what(error)) if place else what(error)


def described(error: ValidationError, whole: str | None = None) -> Text:
    """Every problem of a validation as `place: what` (`sites.0.id: required`), one after
    another; a problem of the document as a whole is placed at `whole`, or said alone."""
    return joined([placed(e, place(e) or whole) for e in error.errors()])


def place(error: ErrorDetails, skipped: int = 0) -> str:
    """Where the problem is, dotted (`sites.0.id`), after the first `skipped` parts of its
    location (a request's `query` or `body`); empty for the document as a whole."""
    return ".".join(str(part) for part in error["loc"][skipped:])


def named_problems(errors: list[ErrorDetails], skipped: int = 0) -> list[tuple[str | None, str]]:
    """Each problem as (where, what), `where` None for the document as a whole: what
    `errors.refused` lists by name."""
    return [(place(e, skipped) or None, what(e)) for e in errors]
