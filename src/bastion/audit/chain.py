"""The hash chain that makes the audit log tamper-evident, and its verification.

Each entry carries ``prev`` (the previous entry's hash) and ``hash``: SHA-256 over the
canonical JSON of the entry without ``hash``. Editing an entry breaks its own hash;
removing or inserting one breaks the next entry's ``prev``. The chain continues across
rotated files and across the worker processes that write the same log. An attacker who
can rewrite the whole tail of the log can recompute the chain, so the hashes prove
integrity against partial edits; forwarding events off the host (the webhook) covers
the rest.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

GENESIS = "0" * 64
# Rotated files are named ``<log>.<UTC time of rotation>.gz``, so that names sort in time
# (without ``.gz`` when compressing failed, e.g. on a full disk).
ROTATED_SUFFIX = re.compile(r"\.(\d{8}T\d{12}Z)(?:-\d+)?(?:\.gz)?$")


# One encoder for every entry: json.dumps with options builds a new one on each call.
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=True)


def canonical(entry: dict[str, Any]) -> bytes:
    """The bytes that are hashed: sorted keys, no spaces, ASCII only."""
    return _CANONICAL.encode(entry).encode("ascii")


# What a dropped entry keeps of the original: where it came from, never what it said.
_DROPPED_FIELDS = ("type", "method", "path", "status", "client_ip", "user_id")
_DROPPED_FIELD_LENGTH = 256


def dropped_entry(entry: dict[str, Any], error: BaseException) -> dict[str, Any]:
    """An ``audit.entry_dropped`` event in place of an entry that cannot be encoded.

    An entry's content may come from a client; if it could make the encoder fail and the
    entry simply vanish, a client could erase what it did. The replacement says which
    entry it was (type, method, path, status, address), in plain bounded strings and
    numbers that always encode, and why; none of the content that failed.
    """
    timestamp = entry.get("time")
    if isinstance(timestamp, int | float) and not isinstance(timestamp, bool):
        timestamp = datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="microseconds")
    details: dict[str, Any] = {"error": type(error).__name__}
    for name in _DROPPED_FIELDS:
        value = entry.get(name)
        if isinstance(value, str):
            details[name] = value.encode("ascii", "backslashreplace").decode()[
                :_DROPPED_FIELD_LENGTH
            ]
        elif isinstance(value, int) and not isinstance(value, bool):
            details[name] = value
    return {
        "time": timestamp if isinstance(timestamp, str) else None,
        "type": "audit.entry_dropped",
        "outcome": "failure",
        "details": details,
    }


def encodable(entry: dict[str, Any]) -> bytes:
    """``canonical(entry)``; an entry that cannot be encoded is first replaced in place.

    Each entry is encoded on its own, so one that fails never takes the others with it.
    """
    try:
        return canonical(entry)
    except (TypeError, ValueError, RecursionError) as exc:
        prev = entry.get("prev")
        replacement = dropped_entry(entry, exc)
        entry.clear()
        entry.update(replacement)
        if prev is not None:
            entry["prev"] = prev
        return canonical(entry)


def seal(entry: dict[str, Any], prev: str) -> tuple[bytes, str]:
    """The line to append (newline included) for ``entry`` chained after ``prev``."""
    entry.pop("hash", None)  # a batch that failed to write is sealed again on retry
    entry["prev"] = prev
    body = encodable(entry)
    digest = hashlib.sha256(body).hexdigest()
    entry["hash"] = digest
    # The hash goes last (verification re-sorts the keys), so one encoding serves both.
    # ensure_ascii: a newline or control character in any field is escaped, never raw,
    # so no value can end the line early or forge a second entry.
    return body[:-1] + b',"hash":"' + digest.encode("ascii") + b'"}\n', digest


def chain_order(paths: Iterable[Path]) -> list[Path]:
    """Rotated files oldest first, then the files being written to.

    The writers' lock file and half-compressed files are left out, so that a shell glob
    such as ``audit.log*`` names exactly the log.
    """

    def key(path: Path) -> tuple[int, str, str]:
        match = ROTATED_SUFFIX.search(path.name)
        return (0, match.group(1), path.name) if match else (1, "", path.name)

    return sorted(
        (path for path in paths if not path.name.endswith((".lock", ".partial"))), key=key
    )


def read_lines(path: Path) -> Iterator[bytes]:
    """The lines of a log file, plain or gzip, without their newline."""
    opener = gzip.open if path.name.endswith(".gz") else open
    with opener(path, "rb") as handle:
        for line in handle:
            yield line.rstrip(b"\n")


@dataclass(frozen=True, slots=True)
class Break:
    """The first place where the chain does not hold."""

    path: Path
    line: int
    problem: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.problem}"


def verify(paths: Iterable[Path]) -> tuple[int, Break | None]:
    """Check the chain through ``paths`` (any order); the entry count and the first break.

    The very first entry may follow an entry in a file that retention has deleted, so
    its ``prev`` is taken as given; every later link is checked.
    """
    prev: str | None = None
    before_prev: str | None = None
    prev_at: tuple[Path, int] | None = None
    count = 0
    for path in chain_order(paths):
        for number, raw in enumerate(read_lines(path), start=1):
            try:
                entry = json.loads(raw)
                digest = entry.pop("hash")
                claimed_prev = entry["prev"]
            except (ValueError, KeyError, TypeError, AttributeError):
                return count, Break(path, number, "not an audit entry (inserted or damaged)")
            if hashlib.sha256(canonical(entry)).hexdigest() != digest:
                return count, Break(path, number, "the entry was altered")
            if prev is not None and claimed_prev != prev:
                if claimed_prev == before_prev and prev_at is not None:
                    return count, Break(*prev_at, "the entry was inserted")
                return count, Break(path, number, "an entry before this one was removed")
            before_prev, prev, prev_at = prev, digest, (path, number)
            count += 1
    return count, None
