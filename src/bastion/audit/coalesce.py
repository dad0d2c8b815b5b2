"""Repeated refusals folded into one entry per key, reason and window, with their count.

Every refused request used to write a full entry: a client hammering a rate limit, a
bogus credential or the CSP report endpoint wrote hundreds of bytes a request, and size
retention then deleted the oldest files, so a flood of refusals wiped the history of real
security events. Here the first refusal of a (kind, client address, reason) in a window
is written at once, in full; the later ones only count, and the count is written as one
``audit.coalesced`` entry when the window has closed (seen on the next record, or at a
flush). A flood from one address costs a line a window; the number of open windows is
capped, so a flood from many addresses costs memory for ``max_keys`` of them at most.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import Any

# Security events that refuse a caller before it has proved anything.
REFUSAL_EVENTS = frozenset({"ratelimit.hit", "api_key.denied", "csp.report"})
# Request entries for requests refused before they did anything.
REFUSAL_STATUSES = frozenset({401, 413, 415, 429})

Key = tuple[str, object, object, object]


def refusal_key(record: dict[str, Any]) -> Key | None:
    """The (kind, address, user, reason) a refusal is counted under; None for the rest.

    The user is part of the key: two accounts behind one address are never folded into
    one count.
    """
    type_ = record.get("type")
    if type_ == "http.request":
        status = record.get("status")
        if status not in REFUSAL_STATUSES:
            return None
        return (type_, record.get("client_ip"), record.get("user_id"), status)
    if type_ in REFUSAL_EVENTS:
        details = record.get("details") or {}
        reason = details.get("limit") or details.get("reason") or details.get("effectiveDirective")
        return (str(type_), record.get("client_ip"), record.get("user_id"), str(reason)[:128])
    return None


class _Window:
    __slots__ = ("count", "first", "last", "start")

    def __init__(self, record: dict[str, Any], start: float) -> None:
        self.first = record
        self.start = start
        self.last = start
        self.count = 0  # refusals after the first, not yet written


class Coalescer:
    """Not thread-safe: the writer calls it under its own lock."""

    def __init__(self, window: float = 60.0, *, max_keys: int = 10_000) -> None:
        self.window = window
        self.max_keys = max_keys
        self._open: OrderedDict[Key, _Window] = OrderedDict()  # oldest window first

    def offer(self, record: dict[str, Any]) -> list[dict[str, Any]]:
        """The records to write now for ``record`` (its ``time`` the clock of windows)."""
        now = float(record["time"])
        out = self._expire(now)
        key = refusal_key(record)
        if key is None:
            out.append(record)
            return out
        window = self._open.get(key)
        if window is not None:
            window.count += 1
            window.last = now
            return out
        if len(self._open) >= self.max_keys:
            out.extend(self._close(next(iter(self._open))))
        self._open[key] = _Window(record, now)
        out.append(record)
        return out

    def drain(self) -> list[dict[str, Any]]:
        """The counts not written yet (at a flush or on close); the windows stay open."""
        out = []
        for window in self._open.values():
            if window.count:
                out.append(_summary(window))
                window.count = 0
        return out

    def _expire(self, now: float) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        while self._open:
            key, window = next(iter(self._open.items()))
            if now - window.start < self.window:
                break
            out.extend(self._close(key))
        return out

    def _close(self, key: Key) -> list[dict[str, Any]]:
        window = self._open.pop(key)
        return [_summary(window)] if window.count else []


def _summary(window: _Window) -> dict[str, Any]:
    first = window.first
    details = {
        "of": first.get("type"),
        "count": window.count,
        "window_start": window.start,
    }
    for name in ("status", "method", "path"):
        if name in first:
            details[name] = first[name]
    reason = first.get("details") or {}
    for name in ("limit", "reason", "effectiveDirective"):
        if name in reason:
            details[name] = reason[name]
    return {
        "time": window.last,
        "type": "audit.coalesced",
        "outcome": "info",
        "user_id": first.get("user_id"),
        "client_ip": first.get("client_ip"),
        "details": details,
    }
