"""The one reader of JSON from outside, and the rules for text and JSON Bastion stores.

Python's parser recurses once per nested array or object: a few kilobytes of ``[`` raise
``RecursionError``, and a stored value nested a few hundred deep breaks every later answer
that encodes it. So every body and every upstream answer is read here, with a depth limit,
and every stored string refuses the characters PostgreSQL cannot keep (NUL, lone
surrogates) and other control characters, the same on SQLite and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from typing import Annotated, Any

from pydantic import AfterValidator

from bastion.errors import BastionError

MAX_DEPTH = 64
MAX_STORED_DEPTH = 32
MAX_STORED_SIZE = 4 * 1024 * 1024

# C0 controls but tab, newline and carriage return, DEL, and lone surrogates (which
# PostgreSQL cannot encode): refused in every stored string, keys included.
_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ud800-\udfff]")


class InvalidJSON(BastionError, ValueError):
    """A body that is not JSON Bastion reads; a ValueError, so callers' handling holds."""

    status_code = 400
    code = "invalid_json"
    detail = "The body is not valid JSON."


def _position(doc: str, pos: int) -> str:
    line = doc.count("\n", 0, pos) + 1
    column = pos - (doc.rfind("\n", 0, pos) + 1) + 1
    return f"line {line}, column {column}"


def decode_error_detail(doc: str, pos: int, message: str) -> str:
    """``Invalid JSON at line 1, column 31: Expecting ',' delimiter``: what and where."""
    return f"Invalid JSON at {_position(doc, pos)}: {message}"


def depth_of(value: Any, limit: int) -> int:
    """The nesting depth of ``value``, counted without recursion, stopping past ``limit``."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if not isinstance(item, dict | list):
            continue
        deepest = max(deepest, depth)
        if deepest > limit:
            break
        children = item.values() if isinstance(item, dict) else item
        stack.extend((child, depth + 1) for child in children)
    return deepest


def parse_json(data: bytes | str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The JSON value in ``data``; raises :class:`InvalidJSON` saying what is wrong and where.

    Invalid UTF-8 is refused rather than replaced, so the value checked is the one sent.
    """
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidJSON(f"Invalid UTF-8 at byte {exc.start}.") from None
    try:
        value = json.loads(data)
    except json.JSONDecodeError as exc:
        raise InvalidJSON(decode_error_detail(exc.doc, exc.pos, exc.msg)) from None
    except RecursionError:
        raise InvalidJSON(f"The JSON is nested deeper than {max_depth} levels.") from None
    if depth_of(value, max_depth) > max_depth:
        raise InvalidJSON(f"The JSON is nested deeper than {max_depth} levels.")
    return value


def _strings(value: Any) -> list[str]:
    found: list[str] = []
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            found.append(item)
        elif isinstance(item, dict):
            found.extend(str(key) for key in item)
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return found


def stored_json_problem(value: Any) -> str | None:
    """Why ``value`` may not be stored (too deep, too large, a forbidden character), or None."""
    if depth_of(value, MAX_STORED_DEPTH) > MAX_STORED_DEPTH:
        return f"nested deeper than {MAX_STORED_DEPTH} levels"
    if any(_FORBIDDEN.search(text) for text in _strings(value)):
        return "holding a control character"
    try:
        encoded = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        return "not JSON"
    if len(encoded.encode("utf-8")) > MAX_STORED_SIZE:
        return f"larger than {MAX_STORED_SIZE} bytes"
    return None


def _stored_json(value: Any) -> Any:
    problem = stored_json_problem(value)
    if problem is not None:
        raise ValueError(f"The value is {problem}.")
    return value


def storable_text(value: str) -> str:
    """``value`` without the characters no stored string may hold (for text Bastion did
    not get from a person who could be told, such as a model's answer)."""
    return _FORBIDDEN.sub("", value)


def _stored_text(value: str) -> str:
    if _FORBIDDEN.search(value):
        raise ValueError("The text contains a control character.")
    return value


StoredJSON = Annotated[dict[str, Any], AfterValidator(_stored_json)]
StoredText = Annotated[str, AfterValidator(_stored_text)]
