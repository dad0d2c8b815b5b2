"""Chats shared read-only with given accounts or groups (besides the link share).

A grant is checked on every read, against the reader's groups at that moment: leaving a
group, or the owner taking the grant back, ends access at the next request.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from sqlalchemy import ColumnElement, and_, delete, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from bastion.store.chats import ChatRecord, Chats, chat_records
from bastion.store.db import Database
from bastion.store.models import Chat, ChatGrant

PrincipalType = Literal["user", "group"]


@dataclass(frozen=True, slots=True)
class Grant:
    principal_type: PrincipalType
    principal_id: str

    def public(self) -> dict[str, str]:
        """open-webui's access grant."""
        return {
            "principal_type": self.principal_type,
            "principal_id": self.principal_id,
            "permission": "read",
        }


class ChatGrants:
    def __init__(self, db: Database, chats: Chats, *, clock: Callable[[], float]) -> None:
        self._db = db
        self._chats = chats
        self._clock = clock

    async def of(self, owner_id: str, chat_id: str) -> list[Grant] | None:
        """The chat's grants, or None when ``owner_id`` has no such chat."""
        async with self._db.session() as session:
            if await self._owned(session, owner_id, chat_id) is None:
                return None
            rows = await session.scalars(
                select(ChatGrant)
                .where(ChatGrant.chat_id == chat_id)
                .order_by(ChatGrant.principal_type, ChatGrant.principal_id)
            )
            return [Grant(row.principal_type, row.principal_id) for row in rows]  # type: ignore[arg-type]

    async def replace(self, owner_id: str, chat_id: str, grants: Sequence[Grant]) -> bool:
        """Make ``grants`` the chat's whole list; False when the owner has no such chat."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        async with self._db.session() as session, session.begin():
            if await self._owned(session, owner_id, chat_id) is None:
                return False
            await session.execute(delete(ChatGrant).where(ChatGrant.chat_id == chat_id))
            session.add_all(
                ChatGrant(
                    chat_id=chat_id,
                    principal_type=grant.principal_type,
                    principal_id=grant.principal_id,
                    granted_at=now,
                )
                for grant in dict.fromkeys(grants)
            )
        return True

    async def readable(
        self, chat_id: str, user_id: str, group_ids: Collection[str]
    ) -> ChatRecord | None:
        """The chat, if a grant names ``user_id`` or one of ``group_ids``."""
        async with self._db.session() as session:
            owner = await session.scalar(
                select(Chat.user_id)
                .join(ChatGrant, ChatGrant.chat_id == Chat.id)
                .where(Chat.id == chat_id, _names(user_id, group_ids))
                .limit(1)
            )
        if owner is None:
            return None
        return await self._chats.get(owner, chat_id)

    async def shared_with(self, user_id: str, group_ids: Collection[str]) -> list[ChatRecord]:
        """The chats others granted to ``user_id`` or its groups, newest first.

        One query for the chats and one for their tags, however many there are.
        """
        granted = select(ChatGrant.chat_id).where(_names(user_id, group_ids))
        async with self._db.session() as session:
            rows = await session.scalars(
                select(Chat)
                .where(Chat.id.in_(granted), Chat.user_id != user_id)
                .order_by(Chat.updated_at.desc(), Chat.id)
            )
            return await chat_records(session, rows)

    @staticmethod
    async def _owned(session: AsyncSession, owner_id: str, chat_id: str) -> str | None:
        return await session.scalar(
            select(Chat.id).where(Chat.id == chat_id, Chat.user_id == owner_id)
        )


def _names(user_id: str, group_ids: Collection[str]) -> ColumnElement[bool]:
    named_user = and_(ChatGrant.principal_type == "user", ChatGrant.principal_id == user_id)
    if not group_ids:
        return named_user
    named_group = and_(
        ChatGrant.principal_type == "group", ChatGrant.principal_id.in_(list(group_ids))
    )
    return or_(named_user, named_group)
