"""Per-model access lists and the groups they name.

A model without a list is open to admins only: a newly added upstream model must not
become usable by every account before an administrator decides who may use it.

Both tables are small and read on every completion. A process that sees every write
(one worker on SQLite, as for revocations) keeps them in memory and reloads after each
of its own writes; any other reads the database each time, so a change made through
another worker applies at once.
"""

from __future__ import annotations

from collections import defaultdict
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


def _access(row: ModelAccess) -> AccessList:
    return AccessList(row.model_id, tuple(row.user_ids), tuple(row.groups))


@dataclass(frozen=True, slots=True)
class _Snapshot:
    lists: dict[str, AccessList]
    groups: dict[str, frozenset[str]]  # user id -> group names


class ModelAccessStore:
    def __init__(self, db: Database, *, cache: bool) -> None:
        self._db = db
        self._cache = cache
        self._snapshot: _Snapshot | None = None

    async def _cached(self) -> _Snapshot | None:
        if not self._cache:
            return None
        if self._snapshot is None:
            async with self._db.session() as session:
                lists = (await session.scalars(select(ModelAccess))).all()
                members = (await session.execute(select(GroupMember))).scalars().all()
            groups: dict[str, set[str]] = defaultdict(set)
            for member in members:
                groups[member.user_id].add(member.group_name)
            self._snapshot = _Snapshot(
                {row.model_id: _access(row) for row in lists},
                {user_id: frozenset(names) for user_id, names in groups.items()},
            )
        return self._snapshot

    async def get(self, model_id: str) -> AccessList:
        if (snapshot := await self._cached()) is not None:
            return snapshot.lists.get(model_id) or AccessList(model_id)
        async with self._db.session() as session:
            row = await session.get(ModelAccess, model_id)
        return AccessList(model_id) if row is None else _access(row)

    async def all(self) -> dict[str, AccessList]:
        if (snapshot := await self._cached()) is not None:
            return snapshot.lists
        async with self._db.session() as session:
            rows = (await session.scalars(select(ModelAccess))).all()
        return {row.model_id: _access(row) for row in rows}

    async def groups_of(self, user_id: str) -> frozenset[str]:
        if (snapshot := await self._cached()) is not None:
            return snapshot.groups.get(user_id, frozenset())
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

    async def set(self, access: AccessList) -> None:
        async with self._db.session() as session, session.begin():
            await session.merge(
                ModelAccess(
                    model_id=access.model_id,
                    user_ids=list(access.user_ids),
                    groups=list(access.groups),
                )
            )
        self._snapshot = None

    async def set_members(self, group: str, user_ids: Sequence[str]) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(delete(GroupMember).where(GroupMember.group_name == group))
            session.add_all(
                GroupMember(group_name=group, user_id=user_id)
                for user_id in dict.fromkeys(user_ids)
            )
        self._snapshot = None
