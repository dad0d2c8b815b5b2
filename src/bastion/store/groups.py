"""Groups, their members and the permissions they grant.

Read on every completion (model access by group) and on every use of a feature a group
can grant, so, as for model access lists, a process that sees every write keeps them in
memory and reloads after each of its own writes; any other reads the database each time,
so a change made through another worker applies at once.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError

from bastion.auth.permissions import Permission, granted
from bastion.errors import Conflict
from bastion.store.db import Database
from bastion.store.models import Group, GroupMember


class GroupNameTaken(Conflict):
    code = "group_name_taken"
    detail = "A group with this name exists already."


@dataclass(frozen=True, slots=True)
class GroupRecord:
    id: str
    name: str
    description: str
    permissions: dict[str, Any]
    created_by: str | None
    created_at: datetime
    updated_at: datetime
    member_count: int = 0

    def public(self) -> dict[str, Any]:
        """open-webui's GroupResponse."""
        return {
            "id": self.id,
            "user_id": self.created_by,
            "name": self.name,
            "description": self.description,
            "permissions": self.permissions,
            "member_count": self.member_count,
            "created_at": int(self.created_at.timestamp()),
            "updated_at": int(self.updated_at.timestamp()),
        }


def _record(row: Group, member_count: int = 0) -> GroupRecord:
    return GroupRecord(
        id=row.id,
        name=row.name,
        description=row.description,
        permissions=dict(row.permissions or {}),
        created_by=row.created_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        member_count=member_count,
    )


@dataclass(frozen=True, slots=True)
class _Snapshot:
    groups_of: dict[str, frozenset[str]]  # user id -> group ids
    grants: dict[str, frozenset[Permission]] = field(default_factory=dict)  # group id -> ...


class GroupStore:
    def __init__(
        self, db: Database, *, cache: bool, clock: Callable[[], float] | None = None
    ) -> None:
        self._db = db
        self._cache = cache
        self._clock = clock
        self._snapshot: _Snapshot | None = None

    def _now(self) -> datetime:
        if self._clock is None:
            return datetime.now(UTC)
        return datetime.fromtimestamp(self._clock(), UTC)

    # --- what the checks read -----------------------------------------------------------

    async def _cached(self) -> _Snapshot | None:
        if not self._cache:
            return None
        if self._snapshot is None:
            async with self._db.session() as session:
                members = (await session.execute(select(GroupMember))).scalars().all()
                groups = (await session.execute(select(Group))).scalars().all()
            groups_of: dict[str, set[str]] = defaultdict(set)
            for member in members:
                groups_of[member.user_id].add(member.group_name)
            self._snapshot = _Snapshot(
                {user_id: frozenset(ids) for user_id, ids in groups_of.items()},
                {group.id: granted(group.permissions) for group in groups},
            )
        return self._snapshot

    async def groups_of(self, user_id: str) -> frozenset[str]:
        """The ids of the groups ``user_id`` belongs to."""
        if (snapshot := await self._cached()) is not None:
            return snapshot.groups_of.get(user_id, frozenset())
        async with self._db.session() as session:
            ids = await session.scalars(
                select(GroupMember.group_name).where(GroupMember.user_id == user_id)
            )
            return frozenset(ids)

    async def granted_to(self, user_id: str) -> frozenset[Permission]:
        """Every permission one of ``user_id``'s groups grants."""
        if (snapshot := await self._cached()) is not None:
            found: set[Permission] = set()
            for group_id in snapshot.groups_of.get(user_id, ()):
                found |= snapshot.grants.get(group_id, frozenset())
            return frozenset(found)
        async with self._db.session() as session:
            documents = await session.scalars(
                select(Group.permissions)
                .join(GroupMember, GroupMember.group_name == Group.id)
                .where(GroupMember.user_id == user_id)
            )
            return frozenset().union(*(granted(document) for document in documents))

    # --- administration -----------------------------------------------------------------

    async def all(self, *, member_id: str | None = None) -> list[GroupRecord]:
        counts = (
            select(GroupMember.group_name, func.count().label("members"))
            .group_by(GroupMember.group_name)
            .subquery()
        )
        query = (
            select(Group, func.coalesce(counts.c.members, 0))
            .outerjoin(counts, counts.c.group_name == Group.id)
            .order_by(Group.name)
        )
        if member_id is not None:
            mine = select(GroupMember.group_name).where(GroupMember.user_id == member_id)
            query = query.where(Group.id.in_(mine))
        async with self._db.session() as session:
            rows = (await session.execute(query)).all()
        return [_record(group, int(count)) for group, count in rows]

    async def get(self, group_id: str) -> GroupRecord | None:
        async with self._db.session() as session:
            row = await session.get(Group, group_id)
            if row is None:
                return None
            count = await session.scalar(
                select(func.count()).where(GroupMember.group_name == group_id)
            )
            return _record(row, int(count or 0))

    async def create(
        self, *, name: str, description: str, permissions: dict[str, Any], created_by: str
    ) -> GroupRecord:
        now = self._now()
        row = Group(
            id=str(uuid.uuid4()),
            name=name,
            description=description,
            permissions=permissions,
            created_by=created_by,
            created_at=now,
            updated_at=now,
        )
        try:
            async with self._db.session() as session, session.begin():
                session.add(row)
        except IntegrityError:
            raise GroupNameTaken from None
        self._snapshot = None
        return _record(row)

    async def ensure(self, group_id: str) -> None:
        """A group named only by an access list or a member list gets its row."""
        async with self._db.session() as session, session.begin():
            if await session.get(Group, group_id) is None:
                now = self._now()
                session.add(
                    Group(
                        id=group_id,
                        name=group_id,
                        permissions={},
                        created_at=now,
                        updated_at=now,
                    )
                )

    async def update(
        self, group_id: str, *, name: str, description: str, permissions: dict[str, Any]
    ) -> None:
        try:
            async with self._db.session() as session, session.begin():
                row = await session.get(Group, group_id)
                if row is None:
                    return
                row.name, row.description = name, description
                row.permissions, row.updated_at = permissions, self._now()
        except IntegrityError:
            raise GroupNameTaken from None
        self._snapshot = None

    async def delete(self, group_id: str) -> bool:
        async with self._db.session() as session, session.begin():
            await session.execute(delete(GroupMember).where(GroupMember.group_name == group_id))
            result = await session.execute(delete(Group).where(Group.id == group_id))
        self._snapshot = None
        return bool(result.rowcount)  # type: ignore[attr-defined]

    async def members(self, group_id: str) -> list[str]:
        async with self._db.session() as session:
            ids = await session.scalars(
                select(GroupMember.user_id)
                .where(GroupMember.group_name == group_id)
                .order_by(GroupMember.user_id)
            )
            return list(ids)

    async def set_members(self, group_id: str, user_ids: Sequence[str]) -> None:
        await self.ensure(group_id)
        async with self._db.session() as session, session.begin():
            await session.execute(delete(GroupMember).where(GroupMember.group_name == group_id))
            session.add_all(
                GroupMember(group_name=group_id, user_id=user_id)
                for user_id in dict.fromkeys(user_ids)
            )
        self._snapshot = None

    async def add_members(self, group_id: str, user_ids: Sequence[str]) -> None:
        await self.ensure(group_id)
        async with self._db.session() as session, session.begin():
            present = set(
                await session.scalars(
                    select(GroupMember.user_id).where(GroupMember.group_name == group_id)
                )
            )
            session.add_all(
                GroupMember(group_name=group_id, user_id=user_id)
                for user_id in dict.fromkeys(user_ids)
                if user_id not in present
            )
        self._snapshot = None

    async def remove_members(self, group_id: str, user_ids: Sequence[str]) -> None:
        async with self._db.session() as session, session.begin():
            await session.execute(
                delete(GroupMember).where(
                    GroupMember.group_name == group_id, GroupMember.user_id.in_(list(user_ids))
                )
            )
        self._snapshot = None
