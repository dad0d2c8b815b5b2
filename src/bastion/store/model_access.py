"""Per-model access lists, naming users and groups (:mod:`bastion.store.groups`).

A model without a list is open to admins only: a newly added upstream model must not
become usable by every account before an administrator decides who may use it.

Both tables are small and read on every completion. A process that sees every write
(one worker on SQLite, as for revocations) keeps them in memory and reloads after each
of its own writes; any other reads the database each time, so a change made through
another worker applies at once.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

from bastion.store.db import Database
from bastion.store.groups import GroupStore
from bastion.store.models import ModelAccess


@dataclass(frozen=True, slots=True)
class AccessList:
    model_id: str
    user_ids: tuple[str, ...] = ()
    groups: tuple[str, ...] = ()

    def public(self) -> dict[str, object]:
        return {"model_id": self.model_id, "user_ids": self.user_ids, "groups": self.groups}


def _access(row: ModelAccess) -> AccessList:
    return AccessList(row.model_id, tuple(row.user_ids), tuple(row.groups))


class ModelAccessStore:
    def __init__(self, db: Database, groups: GroupStore, *, cache: bool) -> None:
        self._db = db
        self.groups = groups
        self._cache = cache
        self._lists: dict[str, AccessList] | None = None

    async def _cached(self) -> dict[str, AccessList] | None:
        if not self._cache:
            return None
        if self._lists is None:
            async with self._db.session() as session:
                rows = (await session.scalars(select(ModelAccess))).all()
            self._lists = {row.model_id: _access(row) for row in rows}
        return self._lists

    async def get(self, model_id: str) -> AccessList:
        if (lists := await self._cached()) is not None:
            return lists.get(model_id) or AccessList(model_id)
        async with self._db.session() as session:
            row = await session.get(ModelAccess, model_id)
        return AccessList(model_id) if row is None else _access(row)

    async def all(self) -> dict[str, AccessList]:
        if (lists := await self._cached()) is not None:
            return lists
        async with self._db.session() as session:
            rows = (await session.scalars(select(ModelAccess))).all()
        return {row.model_id: _access(row) for row in rows}

    async def groups_of(self, user_id: str) -> frozenset[str]:
        return await self.groups.groups_of(user_id)

    async def set(self, access: AccessList) -> None:
        async with self._db.session() as session, session.begin():
            await session.merge(
                ModelAccess(
                    model_id=access.model_id,
                    user_ids=list(access.user_ids),
                    groups=list(access.groups),
                )
            )
        self._lists = None
        for group_id in access.groups:
            await self.groups.ensure(group_id)
