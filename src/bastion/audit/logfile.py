"""One JSON-lines audit log shared by every worker process, rotated by size.

Several workers append to the same file. Each batch is written under an exclusive
``flock`` on ``<log>.lock``, with one ``O_APPEND`` write of whole lines, so no line is
lost or split; rotation happens under the same lock. The chain head (the hash of the last
entry) is read under that lock too, from the last line of the current file (or from the
lock file, which keeps it across a rotation), so the chain runs through every process.
After taking the lock the file's inode and size are compared with what this process last
wrote: another worker may have appended or rotated in between.
"""

from __future__ import annotations

import fcntl
import gzip
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bastion.audit.chain import GENESIS, ROTATED_SUFFIX, chain_order, seal

_TAIL = 65536  # an entry is far shorter: bodies are capped at MAX_BODY_LOG_SIZE


def rotated_files(path: Path) -> list[Path]:
    """The rotated files of the log at ``path``, oldest first."""
    prefix = path.name + "."
    return chain_order(
        candidate
        for candidate in path.parent.glob(prefix + "*")
        if ROTATED_SUFFIX.fullmatch(candidate.name[len(path.name) :])
    )


class LogFile:
    """Appends sealed entries to ``path``; rotates at ``rotation_size``, keeps ``retention``.

    ``write`` replaces ``os.write`` (tests inject a full disk with it).
    """

    def __init__(
        self,
        path: Path,
        *,
        rotation_size: int,
        retention: int,
        write: Callable[[int, memoryview], int] = os.write,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.path = path
        self.rotation_size = rotation_size
        self.retention = retention
        self.os_write = write
        self._now = now
        self._lock_path = path.with_name(path.name + ".lock")
        self._lock_fd: int | None = None
        # (inode, size, hash) of the file as this process last left it.
        self._head: tuple[int, int, str] | None = None

    def append(self, entries: list[dict[str, Any]]) -> list[bytes]:
        """Seal and append ``entries``; the lines written.

        On OSError no partial line stays behind, and ``entries`` keeps only the entries
        that were not written, for the retry.
        """
        with self._locked() as lock_fd:
            fd = self._open()
            written = 0  # entries already in a file, not to be written again on a retry
            try:
                stat = os.fstat(fd)
                size = stat.st_size
                head = self._chain_head(fd, stat.st_ino, size, lock_fd)
                buffer = bytearray()
                lines: list[bytes] = []
                for entry in entries:
                    line, digest = seal(entry, head)
                    if size + len(buffer) + len(line) > self.rotation_size and size + len(buffer):
                        self._write_all(fd, buffer, size)
                        written = len(lines)
                        os.close(fd)
                        fd = -1
                        self._rotate(lock_fd, head)
                        fd = self._open()
                        size = 0
                        buffer.clear()
                    buffer += line
                    lines.append(line)
                    head = digest
                self._write_all(fd, buffer, size)
                size += len(buffer)
                os.pwrite(lock_fd, head.encode("ascii"), 0)
                self._head = (os.fstat(fd).st_ino, size, head)
                return lines
            except OSError:
                del entries[:written]
                raise
            finally:
                if fd >= 0:
                    os.close(fd)

    def close(self) -> None:
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None

    @contextmanager
    def _locked(self) -> Iterator[int]:
        if self._lock_fd is None:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)
        try:
            yield self._lock_fd
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def _open(self) -> int:
        return os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o600)

    def _write_all(self, fd: int, data: bytearray, size: int) -> None:
        view = memoryview(data)
        try:
            while view:
                written = self.os_write(fd, view)
                view = view[written:]
        except OSError:
            # A part of a line must not stay behind: it would break the next entry.
            os.ftruncate(fd, size)
            self._head = None
            raise

    def _chain_head(self, fd: int, inode: int, size: int, lock_fd: int) -> str:
        stored = os.pread(lock_fd, 64, 0).decode("ascii", "replace")
        # Nobody wrote since this process did. The same inode and size alone do not say
        # so: another process may have rotated, and its new file taken the freed inode
        # and grown to the same size (entries of one length, on tmpfs); the head that
        # every append leaves in the lock file tells them apart.
        if self._head is not None and self._head == (inode, size, stored):
            return stored
        if size:
            tail = os.pread(fd, min(size, _TAIL), max(0, size - _TAIL))
            last = tail.rstrip(b"\n").rsplit(b"\n", 1)[-1]
            try:
                digest = json.loads(last)["hash"]
                if isinstance(digest, str):
                    return digest
            except (ValueError, KeyError, TypeError):
                pass  # a damaged last line: the lock file still knows the head
        return stored if len(stored) == 64 else GENESIS

    def _rotate(self, lock_fd: int, head: str) -> None:
        """Move the full file aside, compress it, and apply retention (under the lock)."""
        os.pwrite(lock_fd, head.encode("ascii"), 0)  # the new file's first entry follows it
        stamp = self._now().strftime("%Y%m%dT%H%M%S%fZ")
        target = self.path.with_name(f"{self.path.name}.{stamp}")
        counter = 0
        while target.exists() or target.with_name(target.name + ".gz").exists():
            counter += 1
            target = self.path.with_name(f"{self.path.name}.{stamp}-{counter}")
        os.rename(self.path, target)
        compressed = target.with_name(target.name + ".gz")
        partial = target.with_name(target.name + ".gz.partial")
        try:
            raw = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with (
                open(target, "rb") as source,
                open(raw, "wb") as compressed_file,
                gzip.GzipFile(fileobj=compressed_file, mode="wb") as sink,
            ):
                shutil.copyfileobj(source, sink)
            os.rename(partial, compressed)  # readers never see half a gzip file
            os.unlink(target)
        except OSError:
            # No room to compress: keep the plain file, it is still part of the chain.
            partial.unlink(missing_ok=True)
        for old in rotated_files(self.path)[: -self.retention or None]:
            old.unlink(missing_ok=True)
