"""The one JSON reader: depth-limited, saying what is wrong and where, strict UTF-8."""

from __future__ import annotations

import pytest

from bastion.jsondata import InvalidJSON, parse_json, stored_json_problem


def _nested(depth: int, inner: object = None) -> list:
    value: list = [] if inner is None else [inner]
    for _ in range(depth - 1):
        value = [value]
    return value


def test_a_deep_body_is_refused_with_a_code_instead_of_recursing() -> None:
    with pytest.raises(InvalidJSON) as refused:
        parse_json(b"[" * 50_000 + b"]" * 50_000)
    assert (refused.value.status_code, refused.value.code) == (400, "invalid_json")
    assert refused.value.detail == "The JSON is nested deeper than 64 levels."


def test_a_body_just_past_the_depth_limit_is_refused_and_one_at_it_read() -> None:
    assert parse_json("[" * 63 + "1" + "]" * 63) == _nested(63, 1)
    with pytest.raises(InvalidJSON) as refused:
        parse_json("[" * 65 + "]" * 65)
    assert refused.value.detail == "The JSON is nested deeper than 64 levels."


def test_malformed_json_is_described_in_words_with_line_and_column() -> None:
    with pytest.raises(InvalidJSON) as refused:
        parse_json(b'{"model": "m",\n "messages": [] "x": 1}')
    assert refused.value.detail == "Invalid JSON at line 2, column 17: Expecting ',' delimiter"


def test_invalid_utf8_is_refused_not_replaced() -> None:
    with pytest.raises(InvalidJSON) as refused:
        parse_json(b'{"a": "\xff"}')
    assert refused.value.detail == "Invalid UTF-8 at byte 7."


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ({"a": [[[]]]}, None),
        ({"a": "line\nbreak\ttab"}, None),
        ({"a": "\x00"}, "holding a control character"),
        ({"k\x00": 1}, "holding a control character"),
        ({"a": "\ud800"}, "holding a control character"),
        ({"a": "[" * 40}, None),
        ({"a": _nested(40)}, "nested deeper than 32 levels"),
        ({"a": "x" * (4 * 1024 * 1024)}, "larger than 4194304 bytes"),
    ],
)
def test_stored_json_problems(value: dict, problem: str | None) -> None:
    assert stored_json_problem(value) == problem
