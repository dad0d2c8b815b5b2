"""Folders of chats: every read and write is scoped to the owner, like chats."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.errors import Conflict, NotFound
from bastion.store.db import Database
from bastion.store.models import Chat, Folder


class FolderExists(Conflict):
    code = "folder_exists"
    detail = "A folder of that name is already there."


@dataclass(frozen=True, slots=True)
class FolderRecord:
    id: str
    user_id: str
    parent_id: str | None
    name: str
    is_expanded: bool
    created_at: datetime
    updated_at: datetime

    def public(self) -> dict[str, Any]:
        """open-webui's folder, its ``meta`` and ``data`` (unused here) null."""
        return {
            "id": self.id,
            "parent_id": self.parent_id,
            "user_id": self.user_id,
            "name": self.name,
            "meta": None,
            "data": None,
            "is_expanded": self.is_expanded,
            "created_at": int(self.created_at.timestamp()),
            "updated_at": int(self.updated_at.timestamp()),
        }


def _record(row: Folder) -> FolderRecord:
    return FolderRecord(
        id=row.id,
        user_id=row.user_id,
        parent_id=row.parent_id,
        name=row.name,
        is_expanded=row.is_expanded,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def _owned(session: AsyncSession, user_id: str, folder_id: str) -> Folder | None:
    return await session.scalar(
        select(Folder).where(Folder.id == folder_id, Folder.user_id == user_id).with_for_update()
    )


async def _check_name_free(
    session: AsyncSession, user_id: str, parent_id: str | None, name: str, *, other_than: str = ""
) -> None:
    # Names differing only in case are the same name, as in open-webui.
    siblings = await session.scalars(
        select(Folder.name).where(
            Folder.user_id == user_id,
            Folder.parent_id.is_(None) if parent_id is None else Folder.parent_id == parent_id,
            Folder.id != other_than,
        )
    )
    if any(sibling.casefold() == name.casefold() for sibling in siblings):
        raise FolderExists


class Folders:
    def __init__(self, db: Database, *, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def create(self, user_id: str, name: str, parent_id: str | None) -> FolderRecord:
        """A new folder; raises :class:`NotFound` for a parent that is not the user's."""
        now = self._now()
        row = Folder(
            id=str(uuid.uuid4()),
            user_id=user_id,
            parent_id=parent_id,
            name=name,
            is_expanded=False,
            created_at=now,
            updated_at=now,
        )
        async with self._db.session() as session, session.begin():
            if parent_id is not None and await _owned(session, user_id, parent_id) is None:
                raise NotFound("No such folder.")
            await _check_name_free(session, user_id, parent_id, name)
            session.add(row)
        return _record(row)

    async def list(self, user_id: str) -> list[FolderRecord]:
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Folder)
                .where(Folder.user_id == user_id)
                .order_by(Folder.created_at, Folder.id)
            )
            return [_record(row) for row in rows]

    async def get(self, user_id: str, folder_id: str) -> FolderRecord | None:
        async with self._db.session() as session:
            row = await session.scalar(
                select(Folder).where(Folder.id == folder_id, Folder.user_id == user_id)
            )
        return None if row is None else _record(row)

    async def rename(self, user_id: str, folder_id: str, name: str) -> FolderRecord | None:
        async with self._db.session() as session, session.begin():
            row = await _owned(session, user_id, folder_id)
            if row is None:
                return None
            await _check_name_free(session, user_id, row.parent_id, name, other_than=row.id)
            row.name = name
            row.updated_at = self._now()
        return _record(row)

    async def set_expanded(
        self, user_id: str, folder_id: str, expanded: bool
    ) -> FolderRecord | None:
        async with self._db.session() as session, session.begin():
            row = await _owned(session, user_id, folder_id)
            if row is None:
                return None
            row.is_expanded = expanded
            row.updated_at = self._now()
        return _record(row)

    async def delete(self, user_id: str, folder_id: str, *, delete_contents: bool) -> bool:
        """The folder and the folders in it; their chats deleted, or moved out of any folder."""
        async with self._db.session() as session, session.begin():
            if await _owned(session, user_id, folder_id) is None:
                return False
            rows = await session.execute(
                select(Folder.id, Folder.parent_id).where(Folder.user_id == user_id)
            )
            parents = {child: parent for child, parent in rows}
            subtree = {folder_id}
            grown = True
            while grown:
                inside = {child for child, parent in parents.items() if parent in subtree}
                grown = not inside <= subtree
                subtree |= inside
            chats = (Chat.user_id == user_id, Chat.folder_id.in_(subtree))
            if delete_contents:
                await session.execute(delete(Chat).where(*chats))
            else:
                await session.execute(update(Chat).where(*chats).values(folder_id=None))
            await session.execute(
                delete(Folder).where(Folder.user_id == user_id, Folder.id.in_(subtree))
            )
        return True
