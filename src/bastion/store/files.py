"""Uploads' rows in ``files``: who owns each file, its name, type, size and hash.

The bytes live in the upload directory (:mod:`bastion.files.storage`); what may be
uploaded, and in what order rows and bytes come and go, is :mod:`bastion.files.service`'s.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from bastion.store.db import Database
from bastion.store.models import StoredFile


@dataclass(frozen=True, slots=True)
class FileRecord:
    id: str
    user_id: str
    filename: str
    content_type: str
    size: int
    sha256: str
    created_at: datetime
    meta: dict[str, Any] | None = None  # the uploader's metadata, a small JSON object

    def public(self) -> dict[str, Any]:
        """The open-webui shape of a file (its ``meta.data`` is the uploader's metadata)."""
        meta: dict[str, Any] = {
            "name": self.filename,
            "content_type": self.content_type,
            "size": self.size,
        }
        if self.meta is not None:
            meta["data"] = self.meta
        return {
            "id": self.id,
            "user_id": self.user_id,
            "filename": self.filename,
            "hash": self.sha256,
            "meta": meta,
            "created_at": int(self.created_at.timestamp()),
        }


def _record(row: StoredFile) -> FileRecord:
    return FileRecord(
        id=row.id,
        user_id=row.user_id,
        filename=row.filename,
        content_type=row.content_type,
        size=row.size,
        sha256=row.sha256,
        created_at=row.created_at,
        meta=row.meta,
    )


class FileStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def add(self, record: FileRecord) -> None:
        async with self._db.session() as session, session.begin():
            session.add(StoredFile(**asdict(record)))

    async def get(self, file_id: str) -> FileRecord | None:
        async with self._db.session() as session:
            row = await session.get(StoredFile, file_id)
            return None if row is None else _record(row)

    async def list(self, user_id: str) -> Sequence[FileRecord]:
        """The account's files, newest first."""
        async with self._db.session() as session:
            rows = (
                await session.execute(
                    select(StoredFile)
                    .where(StoredFile.user_id == user_id)
                    .order_by(StoredFile.created_at.desc(), StoredFile.id)
                )
            ).scalars()
            return [_record(row) for row in rows]

    async def delete(self, file_id: str) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(delete(StoredFile).where(StoredFile.id == file_id))
