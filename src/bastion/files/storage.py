"""Upload bytes on disk, inside ``UPLOAD_DIR`` and nowhere else (SPEC section 8).

Files are named by a server-generated UUID; the user's file name never reaches the file
system. Every open is relative to a descriptor of ``UPLOAD_DIR`` itself (``openat``),
with ``O_NOFOLLOW``, and only regular files are read: a symlink or a swapped directory
planted inside ``UPLOAD_DIR`` cannot lead anywhere else. Blocking I/O runs in worker
threads, never on the event loop.
See https://cheatsheetseries.owasp.org/cheatsheets/File_Upload_Cheat_Sheet.html
"""

from __future__ import annotations

import hashlib
import os
import stat
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio

from bastion.errors import NotFound, PayloadTooLarge

CHUNK_SIZE = 256 * 1024  # per worker-thread hop, reading and writing
_NOFOLLOW = os.O_NOFOLLOW | getattr(os, "O_CLOEXEC", 0)


class FileTooLarge(PayloadTooLarge):
    code = "file_too_large"
    detail = "The file is larger than allowed."


class UnsafeName(NotFound):
    """A name that is not a server-generated id: answered like a missing file."""

    detail = "No such file."


def storage_name(file_id: str) -> str:
    """The on-disk name of ``file_id``: its canonical UUID hex, or :class:`UnsafeName`."""
    try:
        parsed = uuid.UUID(hex=file_id)
    except (ValueError, TypeError, AttributeError):
        raise UnsafeName from None
    if str(parsed) != file_id:  # only the canonical spelling: one id, one name
        raise UnsafeName
    return parsed.hex


def contained_path(root: Path, name: str) -> Path:
    """``root / name`` if it names an entry directly inside ``root``, else :class:`UnsafeName`.

    The last component is deliberately not resolved: opens never follow it
    (``O_NOFOLLOW``), and deleting a planted symlink must remove the link itself.
    """
    if not name or "\x00" in name or "/" in name or "\\" in name or name in {".", ".."}:
        raise UnsafeName
    resolved_root = root.resolve()
    candidate = Path(os.path.normpath(resolved_root / name))
    if candidate.parent != resolved_root:
        raise UnsafeName
    return candidate


class UploadDir:
    """The directory of uploads, with writes capped at ``max_size`` bytes."""

    def __init__(self, root: Path, *, max_size: int) -> None:
        self.root = root.resolve()
        self.max_size = max_size

    def _open_root(self) -> int:
        return os.open(self.root, os.O_RDONLY | os.O_DIRECTORY | _NOFOLLOW)

    def _open(self, name: str, flags: int, mode: int = 0o600) -> int:
        contained_path(self.root, name)
        root_fd = self._open_root()
        try:
            return os.open(name, flags | _NOFOLLOW, mode, dir_fd=root_fd)
        finally:
            os.close(root_fd)

    async def new_writer(self) -> UploadWriter:
        """A new file under a fresh id (``O_EXCL``: never an existing name)."""
        file_id = str(uuid.uuid4())
        name = storage_name(file_id)
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL
        fd = await anyio.to_thread.run_sync(self._open, name, flags)
        return UploadWriter(self, file_id, name, fd)

    async def open(self, file_id: str) -> AsyncIterator[bytes]:
        """The bytes of a stored file, opened now, read in chunks as iterated.

        :class:`NotFound` unless it is a regular file (a planted symlink or directory is
        never followed).
        """
        name = storage_name(file_id)
        fd = await anyio.to_thread.run_sync(self._open_regular, name)
        return _chunks(fd)

    def _open_regular(self, name: str) -> int:
        try:
            fd = self._open(name, os.O_RDONLY | os.O_NONBLOCK)
        except OSError:  # missing, or a symlink (ELOOP): the same answer
            raise NotFound("No such file.") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise NotFound("No such file.")
        return fd

    async def delete(self, file_id: str) -> None:
        name = storage_name(file_id)
        await anyio.to_thread.run_sync(self._unlink, name)

    def _unlink(self, name: str) -> None:
        contained_path(self.root, name)
        root_fd = self._open_root()
        try:
            os.unlink(name, dir_fd=root_fd)  # removes a planted symlink, never its target
        except FileNotFoundError:
            pass
        finally:
            os.close(root_fd)


class UploadWriter:
    """One upload being written: counts, hashes and stops at the cap.

    Parts arrive in small pieces; they are gathered up to :data:`CHUNK_SIZE` so that
    each hop to a worker thread (hash and write) moves a useful amount.
    """

    def __init__(self, store: UploadDir, file_id: str, name: str, fd: int) -> None:
        self.store = store
        self.file_id = file_id
        self._name = name
        self._fd: int | None = fd
        self.size = 0
        self.head = b""  # the first bytes, for sniffing the type
        self._hash = hashlib.sha256()
        self._pending: list[bytes] = []
        self._pending_size = 0

    @property
    def sha256(self) -> str:
        return self._hash.hexdigest()

    async def write(self, data: bytes) -> None:
        if self._fd is None:
            raise RuntimeError("the upload is closed")
        self.size += len(data)
        if self.size > self.store.max_size:
            raise FileTooLarge(f"The file is larger than {self.store.max_size} bytes.")
        if len(self.head) < 4096:
            self.head += data[: 4096 - len(self.head)]
        self._pending.append(data)
        self._pending_size += len(data)
        if self._pending_size >= CHUNK_SIZE:
            await self._flush()

    async def _flush(self) -> None:
        if self._fd is None or not self._pending:
            return
        data = b"".join(self._pending)
        self._pending, self._pending_size = [], 0
        await anyio.to_thread.run_sync(_hash_and_write, self._hash, self._fd, data)

    async def finish(self) -> None:
        await self._flush()
        if self._fd is not None:
            fd, self._fd = self._fd, None
            await anyio.to_thread.run_sync(_sync_close, fd)

    async def discard(self) -> None:
        """Close and remove a refused or failed upload."""
        self._pending = []
        if self._fd is not None:
            fd, self._fd = self._fd, None
            os.close(fd)
        await anyio.to_thread.run_sync(self.store._unlink, self._name)


async def _chunks(fd: int) -> AsyncIterator[bytes]:
    try:
        while chunk := await anyio.to_thread.run_sync(os.read, fd, CHUNK_SIZE):
            yield chunk
    finally:
        os.close(fd)


def _hash_and_write(digest: Any, fd: int, data: bytes) -> None:
    digest.update(data)  # hashlib releases the GIL on large buffers
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _sync_close(fd: int) -> None:
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
