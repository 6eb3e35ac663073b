"""The strict JSON parser refuses what `json.loads` lets through."""

import pytest

from geo_service.strict_json import MAX_DEPTH, StrictJSONError, loads


@pytest.mark.parametrize(
    "text",
    [
        "NaN",
        "[0, Infinity]",
        '{"a": -Infinity}',
        "1e999",
        '"\\ud800"',
        '{"\\udfff": 1}',
        "1" * 31,
        "[" * (MAX_DEPTH + 2) + "]" * (MAX_DEPTH + 2),
        "[" * 5000 + "]" * 5000,
        "{",
        b"\xff",
    ],
)
def test_refused(text):
    with pytest.raises(StrictJSONError):
        loads(text)


def test_ordinary_documents_parse():
    assert loads('{"a": [1, 2.5, "Mộc Châu", null, true], "b": {"c": -9223372036854775808}}') == {
        "a": [1, 2.5, "Mộc Châu", None, True],
        "b": {"c": -9223372036854775808},
    }
    assert loads("[" * MAX_DEPTH + "]" * MAX_DEPTH) is not None
