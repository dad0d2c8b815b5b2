"""Secrets never reach the audit log: redaction of fields, bodies and free text.

A value is replaced by ``[REDACTED]`` when its field name contains ``password``,
``secret``, ``token`` or ``key`` (``new_password``, ``api_key``, ``client_secret``…, and
``authorization`` or ``cookie``), except ``true``/``false``/``null``, which hide nothing; and
anywhere in any text when it looks like an ``sk-`` API key, a JWT or a bearer credential.
Bodies that are not JSON, or were cut at ``MAX_BODY_LOG_SIZE`` (so no longer parse), are
redacted with the same rules as regular expressions on the raw text: a truncated body is
exactly where a half-written secret would otherwise slip through.
"""

from __future__ import annotations

import json
import re
from typing import Any

REDACTED = "[REDACTED]"

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


def redact_value(value: Any) -> Any:
    """A copy of a JSON-like value with secret fields and secret-looking strings replaced."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, dict):
        return {
            str(name): (
                REDACTED
                if secret_name(str(name)) and not (item is None or isinstance(item, bool))
                else redact_value(item)
            )
            for name, item in value.items()
        }
    if isinstance(value, list | tuple):
        return [redact_value(item) for item in value]
    if value is None or isinstance(value, bool | int | float):
        return value
    return redact_text(str(value))


def redact_body(body: bytes, truncated: bool) -> Any:
    """A captured body for the log: redacted JSON when it parses, redacted text otherwise."""
    text = body.decode("utf-8", "replace")
    if not truncated:
        try:
            return redact_value(json.loads(text))
        except ValueError:
            pass
    return redact_text(text)
