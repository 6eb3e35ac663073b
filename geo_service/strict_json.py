"""JSON as the standard defines it, for every document a client or a file hands us.

Python's `json.loads` accepts `NaN`, `Infinity` and `1e999` (which becomes infinity), lone UTF-16
surrogates (`"\\ud800"`) and integers of any length; stored or echoed back, each of them later
breaks a writer, a SQL driver or an encoder far from where it came in. `loads` refuses them at the
door with one `StrictJSONError` saying what and where.
"""

from __future__ import annotations

import json
import math
from typing import Any

from .i18n import _l

MAX_DEPTH = 64
"""Deepest nesting of arrays and objects accepted."""
MAX_INTEGER_DIGITS = 30
"""Longest integer literal accepted (a 64-bit integer has 19 digits)."""


class StrictJSONError(ValueError):
    """The text is not a JSON document this service accepts."""


def _refuse_constant(name: str) -> Any:
    raise StrictJSONError(_l("{name} is not a JSON number", name=name))


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJSONError(_l("the number {value} is too large", value=text[:40]))
    return value


def _integer(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INTEGER_DIGITS:
        raise StrictJSONError(
            _l(
                "an integer of {count} digits is too long (at most {max_integer_digits})",
                count=len(text),
                max_integer_digits=MAX_INTEGER_DIGITS,
            )
        )
    return int(text)


def _check(value: Any, depth: int, path: str) -> None:
    if depth > MAX_DEPTH:
        raise StrictJSONError(
            _l("nesting deeper than {max_depth} levels at {path}", max_depth=MAX_DEPTH, path=path)
        )
    if isinstance(value, str):
        check_text(value, path)
    elif isinstance(value, dict):
        for key, item in value.items():
            check_text(key, path)
            _check(item, depth + 1, f"{path}.{key[:40]}")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, depth + 1, f"{path}[{index}]")


def check_text(text: str, where: str = "$") -> str:
    """`text` itself, or `StrictJSONError` when it holds a lone surrogate (not Unicode text)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        raise StrictJSONError(
            _l("text at {where} holds a lone surrogate, which is not Unicode text", where=where)
        ) from None
    return text


def loads(text: str | bytes) -> Any:
    """Parse one JSON document: finite numbers, bounded integers and nesting, real Unicode."""
    try:
        value = json.loads(
            text, parse_constant=_refuse_constant, parse_float=_finite_float, parse_int=_integer
        )
    except StrictJSONError:
        raise
    except RecursionError:
        raise StrictJSONError(
            _l("nesting deeper than {max_depth} levels", max_depth=MAX_DEPTH)
        ) from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise StrictJSONError(_l("not valid JSON: {exc}", exc=exc)) from None
    _check(value, 0, "$")
    return value
