"""Chats: every read and write is scoped to the owner, so another user's id finds nothing."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import delete, func, select, update

from bastion.chats.history import search_text
from bastion.errors import BastionError
from bastion.jsondata import stored_json_problem
from bastion.store.db import Database
from bastion.store.models import Chat


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
            "created_at": int(self.created_at.timestamp()),
            "updated_at": int(self.updated_at.timestamp()),
        }


def _record(row: Chat) -> ChatRecord:
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
    )


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
        return None if row is None else _record(row)

    async def list(
        self,
        user_id: str,
        *,
        skip: int,
        limit: int,
        text: str | None = None,
        archived: bool = False,
        pinned: bool | None = None,
    ) -> tuple[list[ChatRecord], int]:
        """One page of the user's chats, newest first, and how many there are in all.

        Archived chats only with ``archived``, the others only without; with ``text``,
        only the chats whose title or messages hold it (any case); with ``pinned``, only
        the (un)pinned ones.
        """
        where = [Chat.user_id == user_id, Chat.archived.is_(archived)]
        if pinned is not None:
            where.append(Chat.pinned.is_(pinned))
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
            records = [_record(row) for row in rows]
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
        return _record(row)

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
        return None if row is None else _record(row)

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
        return None if row is None else _record(row)

    async def _update(self, user_id: str, chat_id: str, values: dict[str, Any]) -> bool:
        async with self._db.session() as session, session.begin():
            result = await session.execute(
                update(Chat).where(Chat.id == chat_id, Chat.user_id == user_id).values(**values)
            )
        return bool(result.rowcount)  # type: ignore[attr-defined]
