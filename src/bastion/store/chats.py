"""Chats: every read and write is scoped to the owner, so another user's id finds nothing."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.chats.history import search_text
from bastion.errors import BastionError, NotFound
from bastion.jsondata import stored_json_problem
from bastion.store.db import Database
from bastion.store.models import Chat, ChatTag, Folder


class UnstorableChat(BastionError):
    """A change whose result a chat may not hold (larger or deeper than allowed)."""

    status_code = 413
    code = "chat_too_large"
    detail = "The chat would be larger than allowed."


@dataclass(frozen=True, slots=True)
class ChatRecord:
    id: str
    user_id: str
    title: str
    chat: dict[str, Any]
    share_id: str | None
    created_at: datetime
    updated_at: datetime
    pinned: bool = False
    archived: bool = False
    tags: tuple[str, ...] = ()  # tag ids, in the order they were added
    folder_id: str | None = None

    def public(self) -> dict[str, Any]:
        # A row stored before its contents were checked must not break a listing or a
        # share link for everyone: its unreadable contents are left out, the rest answers.
        chat = self.chat if stored_json_problem(self.chat) is None else {}
        return {
            "id": self.id,
            "user_id": self.user_id,
            "title": self.title,
            "chat": chat,
            "share_id": self.share_id,
            "pinned": self.pinned,
            "archived": self.archived,
            "meta": {"tags": list(self.tags)},
            "folder_id": self.folder_id,
            "created_at": int(self.created_at.timestamp()),
            "updated_at": int(self.updated_at.timestamp()),
        }

    def read_only(self) -> dict[str, Any]:
        """What someone the chat is shared with sees: the conversation, not how its owner
        files it."""
        return {key: value for key, value in self.public().items() if key not in OWNER_ONLY}


# How the owner files a chat is theirs: a shared chat shows the conversation only.
OWNER_ONLY = frozenset({"user_id", "pinned", "archived", "meta", "folder_id"})


@dataclass(frozen=True, slots=True)
class TagRecord:
    """open-webui's tag: ``id`` is the name in lower case with ``_`` for spaces."""

    id: str
    name: str
    user_id: str

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "user_id": self.user_id, "meta": None}


TagList = list[TagRecord]


def tag_id(name: str) -> str:
    return name.replace(" ", "_").lower()


def _record(row: Chat, tags: tuple[str, ...] = ()) -> ChatRecord:
    return ChatRecord(
        id=row.id,
        user_id=row.user_id,
        title=row.title,
        chat=row.chat,
        share_id=row.share_id,
        created_at=row.created_at,
        updated_at=row.updated_at,
        pinned=row.pinned,
        archived=row.archived,
        tags=tags,
        folder_id=row.folder_id,
    )


async def chat_records(session: AsyncSession, rows: Iterable[Chat]) -> list[ChatRecord]:
    """The rows as records, with their tags (one query for them all)."""
    rows = list(rows)
    tags: dict[str, list[str]] = {row.id: [] for row in rows}
    if rows:
        found = await session.execute(
            select(ChatTag.chat_id, ChatTag.tag_id)
            .where(ChatTag.chat_id.in_(tags))
            .order_by(ChatTag.added_at, ChatTag.tag_id)
        )
        for chat_id, tag in found:
            tags[chat_id].append(tag)
    return [_record(row, tuple(tags[row.id])) for row in rows]


async def _one(session: AsyncSession, row: Chat | None) -> ChatRecord | None:
    return None if row is None else (await chat_records(session, [row]))[0]


class Chats:
    def __init__(self, db: Database, *, clock: Callable[[], float]) -> None:
        self._db = db
        self._clock = clock

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def create(self, user_id: str, title: str, chat: dict[str, Any]) -> ChatRecord:
        now = self._now()
        row = Chat(
            id=str(uuid.uuid4()),
            user_id=user_id,
            title=title,
            chat=chat,
            share_id=None,
            created_at=now,
            updated_at=now,
            search_text=search_text(title, chat),
            pinned=False,
            archived=False,
        )
        async with self._db.session() as session, session.begin():
            session.add(row)
        return _record(row)

    async def get(self, user_id: str, chat_id: str) -> ChatRecord | None:
        async with self._db.session() as session:
            row = await session.scalar(
                select(Chat).where(Chat.id == chat_id, Chat.user_id == user_id)
            )
            return await _one(session, row)

    async def list(
        self,
        user_id: str,
        *,
        skip: int,
        limit: int,
        text: str | None = None,
        archived: bool = False,
        pinned: bool | None = None,
        tag: str | None = None,
        folder_id: str | None = None,
    ) -> tuple[list[ChatRecord], int]:
        """One page of the user's chats, newest first, and how many there are in all.

        Archived chats only with ``archived``, the others only without; with ``text``,
        only the chats whose title or messages hold it (any case); with ``pinned``, only
        the (un)pinned ones; with ``tag`` (an id), only the chats it is on; with
        ``folder_id``, only the chats in that folder.
        """
        where = [Chat.user_id == user_id, Chat.archived.is_(archived)]
        if pinned is not None:
            where.append(Chat.pinned.is_(pinned))
        if folder_id is not None:
            where.append(Chat.folder_id == folder_id)
        if tag is not None:
            tagged = select(ChatTag.chat_id).where(
                ChatTag.user_id == user_id, ChatTag.tag_id == tag
            )
            where.append(Chat.id.in_(tagged))
        if text:
            # autoescape: a % or _ in the text is only a character, not a wildcard.
            where.append(Chat.search_text.contains(text.casefold(), autoescape=True))
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Chat)
                .where(*where)
                .order_by(Chat.updated_at.desc(), Chat.id)
                .offset(skip)
                .limit(limit)
            )
            records = await chat_records(session, rows)
            total = await session.scalar(select(func.count()).select_from(Chat).where(*where))
        return records, total or 0

    async def owns(self, user_id: str, chat_id: str) -> bool:
        async with self._db.session() as session:
            found = await session.scalar(
                select(Chat.id).where(Chat.id == chat_id, Chat.user_id == user_id)
            )
        return found is not None

    async def update(
        self, user_id: str, chat_id: str, *, title: str | None, chat: dict[str, Any] | None
    ) -> ChatRecord | None:
        """Keys of ``chat`` replace the stored ones; keys it does not name are kept."""
        return await self.change(
            user_id,
            chat_id,
            lambda stored, _: stored if chat is None else {**stored, **chat},
            title=title,
        )

    async def change(
        self,
        user_id: str,
        chat_id: str,
        edit: Callable[[dict[str, Any], int], dict[str, Any]],
        *,
        title: str | None = None,
    ) -> ChatRecord | None:
        """The chat's JSON replaced by ``edit(stored, now)`` (``now`` in epoch seconds).

        Read and write happen in one transaction with the row locked (PostgreSQL), so two
        changes at once both land. A result that may not be stored (too large, too deep)
        raises :class:`UnstorableChat` and leaves the chat as it was.
        """
        async with self._db.session() as session, session.begin():
            row = await session.scalar(
                select(Chat).where(Chat.id == chat_id, Chat.user_id == user_id).with_for_update()
            )
            if row is None:
                return None
            now = self._now()
            stored = row.chat if isinstance(row.chat, dict) else {}
            changed = edit(stored, int(now.timestamp()))
            if changed is not stored:
                problem = stored_json_problem(changed)
                if problem is not None:
                    raise UnstorableChat(f"The chat would be {problem}.")
                row.chat = changed
            if title is not None:
                row.title = title
            if changed is not stored or title is not None:
                row.search_text = search_text(row.title, changed)
            row.updated_at = now
            return await _one(session, row)

    async def toggle(
        self, user_id: str, chat_id: str, flag: Literal["pinned", "archived"]
    ) -> ChatRecord | None:
        """The chat with ``flag`` turned over (open-webui's pin and archive buttons)."""
        column = getattr(Chat, flag)
        async with self._db.session() as session, session.begin():
            row = await session.scalar(
                update(Chat)
                .where(Chat.id == chat_id, Chat.user_id == user_id)
                .values({column: ~column})
                .returning(Chat)
            )
            return await _one(session, row)

    async def move(self, user_id: str, chat_id: str, folder_id: str | None) -> ChatRecord | None:
        """The chat in the user's folder ``folder_id`` (None: in none).

        Raises :class:`NotFound` for a folder that is not the user's.
        """
        async with self._db.session() as session, session.begin():
            if folder_id is not None:
                folder = await session.scalar(
                    select(Folder.id)
                    .where(Folder.id == folder_id, Folder.user_id == user_id)
                    .with_for_update()
                )
                if folder is None:
                    raise NotFound("No such folder.")
            row = await session.scalar(
                update(Chat)
                .where(Chat.id == chat_id, Chat.user_id == user_id)
                .values(folder_id=folder_id)
                .returning(Chat)
            )
            return await _one(session, row)

    async def tags_of(self, user_id: str, chat_id: str) -> TagList | None:
        """The chat's tags, or None when the user has no such chat."""
        async with self._db.session() as session:
            if not await self._owned(session, user_id, chat_id):
                return None
            return await self._tags_of(session, chat_id, user_id)

    async def add_tag(self, user_id: str, chat_id: str, name: str) -> TagList | None:
        """The chat's tags with ``name`` among them (kept as given; matched by its id)."""
        async with self._db.session() as session, session.begin():
            if not await self._owned(session, user_id, chat_id, lock=True):
                return None
            key = tag_id(name)
            present = await session.scalar(
                select(ChatTag.tag_id).where(ChatTag.chat_id == chat_id, ChatTag.tag_id == key)
            )
            if present is None:
                session.add(
                    ChatTag(
                        chat_id=chat_id,
                        tag_id=key,
                        user_id=user_id,
                        name=name,
                        added_at=self._now(),
                    )
                )
                await session.flush()
            return await self._tags_of(session, chat_id, user_id)

    async def remove_tag(self, user_id: str, chat_id: str, name: str) -> TagList | None:
        async with self._db.session() as session, session.begin():
            if not await self._owned(session, user_id, chat_id, lock=True):
                return None
            await session.execute(
                delete(ChatTag).where(ChatTag.chat_id == chat_id, ChatTag.tag_id == tag_id(name))
            )
            return await self._tags_of(session, chat_id, user_id)

    async def user_tags(self, user_id: str) -> TagList:
        """Every tag on one of the user's chats, by id (a tag on no chat is gone)."""
        async with self._db.session() as session:
            rows = await session.execute(
                select(ChatTag.tag_id, func.min(ChatTag.name))
                .where(ChatTag.user_id == user_id)
                .group_by(ChatTag.tag_id)
                .order_by(ChatTag.tag_id)
            )
            return [TagRecord(key, name, user_id) for key, name in rows]

    @staticmethod
    async def _owned(
        session: AsyncSession, user_id: str, chat_id: str, *, lock: bool = False
    ) -> bool:
        query = select(Chat.id).where(Chat.id == chat_id, Chat.user_id == user_id)
        return await session.scalar(query.with_for_update() if lock else query) is not None

    @staticmethod
    async def _tags_of(session: AsyncSession, chat_id: str, user_id: str) -> TagList:
        rows = await session.execute(
            select(ChatTag.tag_id, ChatTag.name)
            .where(ChatTag.chat_id == chat_id)
            .order_by(ChatTag.added_at, ChatTag.tag_id)
        )
        return [TagRecord(key, name, user_id) for key, name in rows]

    async def delete(self, user_id: str, chat_id: str) -> bool:
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                delete(Chat).where(Chat.id == chat_id, Chat.user_id == user_id)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def share(self, user_id: str, chat_id: str) -> str | None:
        """A new unguessable share id (any earlier link stops working)."""
        share_id = secrets.token_urlsafe(24)
        if not await self._update(user_id, chat_id, {"share_id": share_id}):
            return None
        return share_id

    async def unshare(self, user_id: str, chat_id: str) -> bool:
        return await self._update(user_id, chat_id, {"share_id": None})

    async def get_shared(self, share_id: str) -> ChatRecord | None:
        async with self._db.session() as session:
            row = await session.scalar(select(Chat).where(Chat.share_id == share_id))
        return None if row is None else _record(row)  # a share link shows no tags

    async def _update(self, user_id: str, chat_id: str, values: dict[str, Any]) -> bool:
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(Chat).where(Chat.id == chat_id, Chat.user_id == user_id).values(**values)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]
