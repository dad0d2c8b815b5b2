"""Secrets never reach the audit log: redaction of fields, bodies and free text.

A value is replaced by ``[REDACTED]`` when its field name contains ``password``,
``secret``, ``token`` or ``key`` (``new_password``, ``api_key``, ``client_secret``…, and
``authorization`` or ``cookie``), except ``true``/``false``/``null``, which hide nothing; and
anywhere in any text when it looks like an ``sk-`` API key, a JWT or a bearer credential.
Bodies that are not JSON, or were cut at ``MAX_BODY_LOG_SIZE`` (so no longer parse), are
redacted with the same rules as regular expressions on the raw text: a truncated body is
exactly where a half-written secret would otherwise slip through.

Parsed values are walked to ``MAX_DEPTH`` levels at most. A client chooses its body, and
a thousand nested arrays in two kilobytes would otherwise exhaust the writer's stack and
cost the log every entry written with it; such a body is logged as redacted text instead,
with the reason it was not parsed (:data:`Opaque`).
"""

from __future__ import annotations

import codecs
import json
import re
from typing import Any, Literal

REDACTED = "[REDACTED]"
MAX_DEPTH = 64  # far deeper than any body Bastion's routes take

# Why a whole body is logged as text: nested too deep, not JSON, or not UTF-8.
Opaque = Literal["too_deep", "not_json", "invalid_utf8"]


class TooDeep(ValueError):
    """A value nested deeper than :data:`MAX_DEPTH`."""


_SECRET_NAME = re.compile(r"password|passwd|secret|token|key|authorization|cookie", re.I)
_SECRET_TEXT = re.compile(
    r"(?<![A-Za-z0-9])sk-[A-Za-z0-9_\-]+"  # API keys, even cut short
    r"|eyJ[A-Za-z0-9_\-]{4,}(?:\.[A-Za-z0-9_\-]*){0,2}"  # JWTs (header is base64 '{"')
    r"|(?i:bearer)\s+[^\s\"',;]+"
)
# "…password…": "value" in raw JSON text, the closing quote optional (a cut body).
_JSON_FIELD = re.compile(
    r'("[^"\\]*(?:password|passwd|secret|token|key)[^"\\]*"\s*:\s*)'
    r'(?:"(?:[^"\\]|\\.)*(?:"|\\?$)|[^,}\]\s]+)',
    re.I,
)
# …password…=value in form-encoded or query text; the value runs to the next & or line end
# (a raw, unencoded value may hold spaces).
_FORM_FIELD = re.compile(
    r"((?:^|[&;?\s])[^=&;\s]*(?:password|secret|token|key)[^=&;\s]*=)[^&;\r\n]*", re.I
)


def secret_name(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


# Every rule above needs one of these; most text (paths, user agents) has none.
_MARKERS = ("sk-", "eyj", "bearer", "password", "passwd", "secret", "token", "key")


def redact_text(text: str) -> str:
    lowered = text.lower()
    if not any(marker in lowered for marker in _MARKERS):
        return text
    text = _JSON_FIELD.sub(lambda m: m.group(1) + '"' + REDACTED + '"', text)
    text = _FORM_FIELD.sub(lambda m: m.group(1) + REDACTED, text)
    return _SECRET_TEXT.sub(REDACTED, text)


def redact_value(value: Any, depth: int = 0) -> Any:
    """A copy of a JSON-like value with secret fields and secret-looking strings replaced.

    Raises :class:`TooDeep` past :data:`MAX_DEPTH` levels: the copy is then never built,
    and nothing deeper ever reaches the (recursive) JSON encoder of the log.
    """
    if isinstance(value, str):
        return redact_text(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if depth >= MAX_DEPTH and isinstance(value, dict | list | tuple):
        raise TooDeep(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, dict):
        return {
            str(name): (
                REDACTED
                if secret_name(str(name)) and not (item is None or isinstance(item, bool))
                else redact_value(item, depth + 1)
            )
            for name, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(item, depth + 1) for item in value]
    return redact_text(str(value))


def redact_body(body: bytes, truncated: bool) -> tuple[Any, Opaque | None]:
    """A captured body for the log, and why it is text rather than parsed JSON, if it is.

    Redacted JSON when it parses; otherwise the redacted text, with the reason unless the
    body was cut (``…_truncated`` already says so). Nothing a client sends makes this raise.
    """
    try:
        # A cut body may end inside a character: that alone does not make it invalid.
        text = codecs.getincrementaldecoder("utf-8")().decode(body, final=not truncated)
    except UnicodeDecodeError:
        return redact_text(body.decode("utf-8", "replace")), "invalid_utf8"
    if truncated:
        return redact_text(text), None
    try:
        return redact_value(json.loads(text)), None
    except (TooDeep, RecursionError):  # the parser's own stack guard is a RecursionError
        return redact_text(text), "too_deep"
    except ValueError:
        return redact_text(text), "not_json"
