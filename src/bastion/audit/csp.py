"""Content-Security-Policy violation reports, reduced to a few bounded fields.

Browsers post them without credentials, so anyone can send one: the body is capped, only
known fields are kept, each cut to ``MAX_FIELD`` bytes *as logged* (a non-ASCII character
is escaped to six bytes in the log, so cutting by characters let a report triple in
size), and at most ``MAX_REPORTS`` per request, so a report cannot flood the audit log
with attacker-chosen text. The endpoint is rate-limited per address too.
"""

from __future__ import annotations

import json
from typing import Any

from bastion.jsondata import parse_json

MAX_BODY = 8 * 1024
MAX_REPORTS = 3
MAX_FIELD = 256
CONTENT_TYPES = ("application/csp-report", "application/reports+json", "application/json")

# report-uri (CSP level 2) names on the left, Reporting API names on the right.
_FIELDS = {
    "document-uri": "documentURL",
    "referrer": "referrer",
    "violated-directive": "effectiveDirective",
    "effective-directive": "effectiveDirective",
    "blocked-uri": "blockedURL",
    "source-file": "sourceFile",
    "line-number": "lineNumber",
    "column-number": "columnNumber",
    "disposition": "disposition",
    "status-code": "statusCode",
}
_KEEP = {*_FIELDS.values()}


def _bounded(value: Any) -> str | int | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return value if -(2**53) <= value <= 2**53 else None
    # Cut by the escaped length: the bytes the text takes in the (ASCII) log line.
    kept, size = [], 0
    for char in str(value)[:MAX_FIELD]:
        size += len(json.dumps(char)) - 2
        if size > MAX_FIELD:
            break
        kept.append(char)
    return "".join(kept)


def parse_reports(body: bytes) -> list[dict[str, Any]]:
    """The violations in a ``csp-report`` or ``reports+json`` body; raises ValueError."""
    document = parse_json(body)
    if isinstance(document, dict) and isinstance(document.get("csp-report"), dict):
        raw = [{_FIELDS.get(k, k): v for k, v in document["csp-report"].items()}]
    elif isinstance(document, list):
        raw = [
            item["body"]
            for item in document
            if isinstance(item, dict)
            and item.get("type") == "csp-violation"
            and isinstance(item.get("body"), dict)
        ]
    else:
        raise ValueError("not a CSP report")
    return [
        {name: _bounded(report.get(name)) for name in sorted(_KEEP) if name in report}
        for report in raw[:MAX_REPORTS]
    ]
