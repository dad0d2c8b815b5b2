"""Per-model access lists and the groups they name.

A model without a list is open to admins only: a newly added upstream model must not
become usable by every account before an administrator decides who may use it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import delete, select

from bastion.store.db import Database
from bastion.store.models import GroupMember, ModelAccess


@dataclass(frozen=True, slots=True)
class AccessList:
    model_id: str
    user_ids: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def public(self) -> dict[str, object]:
        return {"model_id": self.model_id, "user_ids": self.user_ids, "groups": self.groups}


class ModelAccessStore:
    def __init__(self, db: Database) -> None:
        self._db = db

    async def get(self, model_id: str) -> AccessList:
        async with self._db.session() as session:
            row = await session.get(ModelAccess, model_id)
        if row is None:
            return AccessList(model_id)
        return AccessList(model_id, tuple(row.user_ids), tuple(row.groups))

    async def all(self) -> dict[str, AccessList]:
        async with self._db.session() as session:
            rows = (await session.scalars(select(ModelAccess))).all()
        return {
            row.model_id: AccessList(row.model_id, tuple(row.user_ids), tuple(row.groups))
            for row in rows
        }

    async def set(self, access: AccessList) -> None:
        async with self._db.session() as session, session.begin():
            await session.merge(
                ModelAccess(
                    model_id=access.model_id,
                    user_ids=list(access.user_ids),
                    groups=list(access.groups),
                )
            )

    async def groups_of(self, user_id: str) -> frozenset[str]:
        async with self._db.session() as session:
            names = await session.scalars(
                select(GroupMember.group_name).where(GroupMember.user_id == user_id)
            )
            return frozenset(names)

    async def members(self, group: str) -> list[str]:
        async with self._db.session() as session:
            ids = await session.scalars(
                select(GroupMember.user_id)
                .where(GroupMember.group_name == group)
                .order_by(GroupMember.user_id)
            )
            return list(ids)

    async def set_members(self, group: str, user_ids: Sequence[str]) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(delete(GroupMember).where(GroupMember.group_name == group))
            session.add_all(
                GroupMember(group_name=group, user_id=user_id)
                for user_id in dict.fromkeys(user_ids)
            )
