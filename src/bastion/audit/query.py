"""Reading the audit log back: the current file and the rotated ones, gzip included.

Blocking file work: call it through ``anyio.to_thread.run_sync``. Entries come oldest
first; the cursor is the hash of the last entry of a page, which stays the same when its
file is rotated, so paging is stable while the log grows.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio

from bastion.audit.logfile import rotated_files
from bastion.errors import BastionError


class InvalidCursor(BastionError):
    code = "invalid_cursor"
    detail = "The cursor does not name an entry of the audit log (it may have been rotated out)."


@dataclass(frozen=True, slots=True)
class Filter:
    since: datetime | None = None
    until: datetime | None = None
    user_id: str | None = None
    type: str | None = None

    def __post_init__(self) -> None:
        # The log is in UTC: a time given without a zone is taken as UTC.
        for name in ("since", "until"):
            value = getattr(self, name)
            if value is not None and value.tzinfo is None:
                object.__setattr__(self, name, value.replace(tzinfo=UTC))

    def matches(self, entry: dict[str, Any]) -> bool:
        if self.user_id is not None and entry.get("user_id") != self.user_id:
            return False
        if self.type is not None and entry.get("type") != self.type:
            return False
        if self.since is None and self.until is None:
            return True
        try:
            at = datetime.fromisoformat(entry["time"])
        except (KeyError, TypeError, ValueError):
            return False
        return (self.since is None or at >= self.since) and (self.until is None or at < self.until)


def _open_all(path: Path, stack: ExitStack) -> list[Iterable[bytes]]:
    """Open every file of the log at one instant, under the writers' lock (shared).

    Once open, a file reads to its end even if a writer then rotates or deletes it.
    """
    handles: list[Iterable[bytes]] = []
    lock_path = path.with_name(path.name + ".lock")
    try:
        lock_fd = os.open(lock_path, os.O_RDONLY | os.O_CREAT, 0o600)
    except FileNotFoundError:
        return handles  # not even the directory yet: nothing was logged
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_SH)
        for file in [*rotated_files(path), path]:
            try:
                if file.name.endswith(".gz"):
                    handles.append(stack.enter_context(gzip.open(file, "rb")))
                else:
                    handles.append(stack.enter_context(open(file, "rb")))
            except FileNotFoundError:
                continue
    finally:
        os.close(lock_fd)  # closing releases the lock
    return handles


def entries(path: Path) -> Iterator[dict[str, Any]]:
    """Every parseable entry of the log at ``path``, oldest first."""
    with ExitStack() as stack:
        for handle in _open_all(path, stack):
            for line in handle:
                try:
                    entry = json.loads(line)
                except ValueError:
                    continue
                if isinstance(entry, dict):
                    yield entry


async def search_off_loop(
    path: Path, where: Filter, *, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """:func:`search` in a worker thread: reading the log is blocking file I/O."""
    return await anyio.to_thread.run_sync(lambda: search(path, where, limit=limit, cursor=cursor))


def search(
    path: Path, where: Filter, *, limit: int, cursor: str | None = None
) -> tuple[list[dict[str, Any]], str | None]:
    """Up to ``limit`` matching entries after ``cursor``, and the cursor of the next page."""
    found: list[dict[str, Any]] = []
    seeking = cursor is not None
    for entry in entries(path):
        if seeking:
            seeking = entry.get("hash") != cursor
            continue
        if not where.matches(entry):
            continue
        if len(found) == limit:
            return found, found[-1].get("hash")
        found.append(entry)
    if seeking:
        raise InvalidCursor
    return found, None
